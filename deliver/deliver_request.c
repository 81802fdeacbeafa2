/*
 * deliver_request - deliver's side of proto_deliver.h beyond the codec:
 * the outcome of each recipient as the transport fills it, the reply made
 * of the outcomes, and the log line of each.  Checking a request is the
 * codec's (proto_deliver_request_decode), so every transport checks alike.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "buf.h"
#include "log.h"
#include "proto_deliver.h"
#include "queue.h"
#include "deliver.h"

void
deliver_result_set(struct deliver_result *r, enum deliver_status status,
    const char *dsn, const char *fmt, ...)
{
	va_list	 ap;

	r->status = status;
	r->expanded = 0;
	r->mailbox = 0;
	strlcpy(r->dsn, dsn != NULL ? dsn : "", sizeof(r->dsn));
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* The reply for n results, in request order (texts cut short if the whole
 * would not fit in a frame).  0, or -1 (m is left empty). */
int
deliver_reply_build(struct ipc_msg *m, const struct deliver_result *res, int n)
{
	struct deliver_outcome	*out;
	int			 i, r;

	out = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		out[i].status = res[i].status;
		out[i].dsn = res[i].dsn;
		out[i].text = res[i].text;
		out[i].action = res[i].status == DELIVER_OK &&
		    res[i].expanded ? DELIVER_ACTION_EXPANDED :
		    DELIVER_ACTION_DELIVERED;
		out[i].mailbox = res[i].mailbox;
	}
	r = proto_deliver_reply_encode(m, out, n);
	free(out);
	return r;
}

/* One line per recipient and outcome, Postfix style, so that
 * "grep <queue id>" shows where every copy went, and in Postfix's order
 * up to the status (relay, delay, dsn, status), which log summarizers
 * such as pflogsumm parse; the mailbox comes after. */
void
deliver_log(const char *id, const char *rcpt, const char *relay,
    const char *mailbox, const struct deliver_result *r)
{
	static const char *const word[] = {
		[DELIVER_OK] = "sent",
		[DELIVER_DEFER] = "deferred",
		[DELIVER_BOUNCE] = "bounced",
	};
	char	 delay[32];

	queue_id_delay(id, delay, sizeof(delay));
	log_qid(LOG_LEVEL_INFO, id,
	    "to=<%s>, relay=%s, delay=%s, dsn=%s, status=%s (%s)%s%s", rcpt,
	    relay, delay, r->dsn, word[r->status], r->text,
	    mailbox != NULL ? ", mailbox=" : "", mailbox != NULL ? mailbox : "");
}
