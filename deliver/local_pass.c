/*
 * local_pass - mailbox_transport, with Postfix's meaning: once aliases and
 * .forward have made a recipient an account's mailbox, the mailbox
 * delivery is handed to another transport ("lmtp:unix:private/dovecot-lmtp"
 * gives it to Dovecot) instead of being made here, as Postfix's local(8)
 * passes it with deliver_pass().  local.c collects these mailboxes for the
 * batch; at the flush each message's go to the transport's service
 * (private/<transport>, the socket qmgr would use) in one delivery request
 * of common/proto_deliver.h with the transport's next hop, and the reply
 * gives each its outcome.  A mailbox named twice for one message (an alias
 * and the account itself) is sent once, the second taking the first's
 * outcome, as local.c does for Maildirs.
 *
 * The address given is the recipient's own when it is its own mailbox
 * (the service then finds its line in the queue file and records the
 * delivery there, queue_mark.h, as it does for qmgr's requests), else
 * account@myhostname (local.c).  deliver records a recipient whose own
 * outcome this is (an alias with one mailbox too) itself as well.  The service runs under its own time-outs; deliver
 * waits for it until the batch's deadline at most.  Every failure defers,
 * never bounces: a malformed mailbox_transport (4.3.5), a service that
 * cannot be reached or does not answer in time, a reply that cannot be
 * used (4.3.0).  A service that answers after the deadline has still made
 * its deliveries and recorded them, so the retry finds them done.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "deliver.h"

#define LOCAL_PASS_MIN_WAIT	1000	/* ms, even past the deadline */

/* mailbox_transport as "transport:nexthop": the service's socket and the
 * next hop.  0, or -1 if malformed. */
int
local_pass_parse(const char *value, char *socket, size_t socketlen,
    const char **nexthop)
{
	const char	*colon = strchr(value, ':');
	size_t		 i, tlen;

	if (colon == NULL || colon == value || colon[1] == '\0')
		return -1;
	tlen = (size_t)(colon - value);
	for (i = 0; i < tlen; i++)
		if (!islower((unsigned char)value[i]) &&
		    !isdigit((unsigned char)value[i]) && value[i] != '-' &&
		    value[i] != '_')
			return -1;
	/* "local" would hand the mailbox back to deliver: a loop. */
	if (tlen == 5 && strncmp(value, "local", 5) == 0)
		return -1;
	for (i = 0; colon[1 + i] != '\0'; i++)
		if ((unsigned char)colon[1 + i] <= ' ' ||
		    (unsigned char)colon[1 + i] >= 0x7f)
			return -1;
	if (i > DELIVER_NEXTHOP_MAX ||
	    snprintf(socket, socketlen, "private/%.*s", (int)tlen, value) >=
	    (int)socketlen)
		return -1;
	*nexthop = colon + 1;
	return 0;
}

static void
pass_fail(struct local_pass_item *it, int n, const char *dsn,
    const char *fmt, const char *arg)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (it[i].leader < 0)
			deliver_result_set(it[i].res, DELIVER_DEFER, dsn, fmt, arg);
}

/* One request for the leaders of it[0..n), all of one message; their
 * outcomes from the reply.  0, or -1 with every leader deferred. */
static int
pass_call(struct deliver_ctx *ctx, struct local_pass_item *it, int n,
    const char *socket, const char *nexthop)
{
	const struct deliver_request *rq = it[0].msg->req;
	struct deliver_request	 req;
	struct deliver_outcome	*out;
	struct ipc_msg		 m, reply;
	const char		**rcpt, *err = "cannot encode the request";
	long long		 wait = ctx->deadline_ms - io_now_ms();
	int			 fd, i, k, r = -1;

	rcpt = xcalloc((size_t)n, sizeof(*rcpt));
	out = xcalloc((size_t)n, sizeof(*out));
	for (i = k = 0; i < n; i++)
		if (it[i].leader < 0)
			rcpt[k++] = it[i].addr;
	req = *rq;
	req.nexthop = nexthop;
	req.nrcpt = k;
	req.rcpt = rcpt;
	ipc_msg_init(&reply, IPC_T_ERROR);
	if (proto_deliver_request_encode(&m, &req) == 0) {
		if ((fd = ipc_connect(socket)) < 0)
			err = strerror(errno);
		else {
			if (ipc_call(fd, &m, &reply, (int)(wait >
			    LOCAL_PASS_MIN_WAIT ? wait : LOCAL_PASS_MIN_WAIT))
			    < 0)
				err = errno == ETIMEDOUT ? "no reply in time" :
				    strerror(errno);
			else if (proto_deliver_reply_decode(&reply, k, out,
			    &err) >= 0)
				r = 0;
			close(fd);
		}
		ipc_msg_free(&m);
	}
	if (r == 0) {
		for (i = k = 0; i < n; i++)
			if (it[i].leader < 0) {
				deliver_result_set(it[i].res, out[k].status,
				    out[k].dsn, "%s", out[k].text);
				k++;
			}
	} else
		pass_fail(it, n, "4.3.0", "mailbox_transport: %s", err);
	ipc_msg_free(&reply);
	free(out);
	free(rcpt);
	return r;
}

void
local_pass_message(struct deliver_ctx *ctx, struct local_pass_item *it,
    int n)
{
	char		 socket[64], where[64 + DELIVER_NEXTHOP_MAX];
	const char	*nexthop = NULL, *mt = ctx->par->mailbox_transport;
	int		 i, k;

	for (i = 0; i < n; i++)
		for (it[i].leader = -1, k = 0; k < i && it[i].leader < 0; k++)
			if (it[k].leader < 0 &&
			    strcmp(it[k].name, it[i].name) == 0)
				it[i].leader = k;
	if (local_pass_parse(mt, socket, sizeof(socket), &nexthop) < 0)
		pass_fail(it, n, "4.3.5", "malformed mailbox_transport: %.100s",
		    mt);
	else
		(void)pass_call(ctx, it, n, socket, nexthop);
	snprintf(where, sizeof(where), "%s", mt);
	for (i = 0; i < n; i++) {
		if (it[i].leader >= 0)
			*it[i].res = *it[it[i].leader].res;
		if (it[i].record && it[i].res->status == DELIVER_OK)
			deliver_record_mark(it[i].msg, it[i].j);
		deliver_log(it[i].msg->req->id, it[i].msg->req->rcpt[it[i].j],
		    "local", where, it[i].res);
	}
}
