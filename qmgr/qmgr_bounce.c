/*
 * qmgr_bounce - qmgr's side of the notifications service (proto_bounce.h):
 * which recipients of a message a notice is due for, the requests that ask
 * bounce(8) to queue it, its reply, and the marker records that make "sent"
 * durable.  A notice is due for a recipient when its outcome calls for one
 * (bounced; delivered with NOTIFY=SUCCESS; still pending when a delay
 * warning is due), its NOTIFY allows it, the message has someone to tell
 * (bounce_notice_kind: never the null sender) and no marker record says it
 * was queued already.  The marker is written only after bounce has replied
 * that the notice is committed, and the original's file leaves the queue
 * only after the markers are durable: a crash in between queues the notice
 * a second time, never loses it.  A message with more recipients to report
 * than one request can name (BOUNCE_RCPTS_MAX) gets one notice per part,
 * each marked on its own.  The talking (without waiting) is
 * qmgr_bounce_client.c's; nothing here blocks but the marker's fdatasync.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "buf.h"
#include "ipc.h"
#include "log.h"
#include "proto_bounce.h"
#include "qmgr.h"
#include "queue_outcome.h"

static int
notice_bit(enum bounce_event ev)
{
	return ev == BOUNCE_FAILED ? QMGR_NOTICED_FAILED :
	    ev == BOUNCE_DELAYED ? QMGR_NOTICED_DELAYED :
	    QMGR_NOTICED_DELIVERED;
}

static char
notice_letter(enum bounce_event ev)
{
	return ev == BOUNCE_FAILED ? OUTCOME_NOTICE_FAILED :
	    ev == BOUNCE_DELAYED ? OUTCOME_NOTICE_DELAYED :
	    OUTCOME_NOTICE_DELIVERED;
}

/* Does recipient r's NOTIFY ask for a notice about ev?  Without NOTIFY,
 * RFC 3461 section 4.1: failures and delays. */
static int
notice_wanted(const struct queue_rcpt *r, enum bounce_event ev)
{
	if (r->notify & QUEUE_NOTIFY_NEVER)
		return 0;
	switch (ev) {
	case BOUNCE_FAILED:
		return r->notify == 0 || (r->notify & QUEUE_NOTIFY_FAILURE);
	case BOUNCE_DELAYED:
		return r->notify == 0 || (r->notify & QUEUE_NOTIFY_DELAY);
	default:
		return (r->notify & QUEUE_NOTIFY_SUCCESS) != 0;
	}
}

int
qmgr_notice_due(const struct queue_envelope *env, const unsigned char *noticed,
    enum bounce_event ev, int *idx)
{
	static const char want[] = { RCPT_BOUNCED, RCPT_PENDING,
	    RCPT_DELIVERED };
	int	 i, n = 0;

	if (env->version < 2 || bounce_notice_kind(env, ev) == BOUNCE_KIND_NONE)
		return 0;
	/* One delay warning per message, however many recipients wait. */
	for (i = 0; ev == BOUNCE_DELAYED && noticed != NULL &&
	    i < env->nrcpt; i++)
		if (noticed[i] & QMGR_NOTICED_DELAYED)
			return 0;
	for (i = 0; i < env->nrcpt; i++) {
		if (env->rcpt[i].status != want[ev] ||
		    (noticed != NULL && (noticed[i] & notice_bit(ev))) ||
		    !notice_wanted(&env->rcpt[i], ev))
			continue;
		idx[n++] = i;
	}
	return n;
}

int
qmgr_notice_request(const struct qmgr_msg *m, const struct qmgr_notice *n,
    struct ipc_msg *req)
{
	struct buf	 list;
	int		 k;

	buf_init(&list, BOUNCE_RCPTS_MAX);
	for (k = 0; k < n->n; k++)
		if (buf_appendf(&list, k > 0 ? ",%d" : "%d", n->idx[k]) < 0)
			break;
	ipc_msg_init(req, BOUNCE_T_NOTICE);
	if (k < n->n || ipc_msg_add_int(req, "v", PROTO_BOUNCE_VERSION) < 0 ||
	    ipc_msg_add(req, "id", m->id) < 0 ||
	    ipc_msg_add(req, "event", bounce_event_name(n->ev)) < 0 ||
	    ipc_msg_add(req, "rcpts", buf_str(&list)) < 0 ||
	    (n->ev == BOUNCE_DELAYED &&
	    ipc_msg_add_int(req, "until", n->until) < 0)) {
		ipc_msg_free(req);
		buf_free(&list);
		return -1;
	}
	buf_free(&list);
	return 0;
}

int
qmgr_notice_reply(const struct ipc_msg *reply, char *notice_id,
    const char **err)
{
	const char	*st, *nid;

	st = ipc_msg_get(reply, "status");
	nid = ipc_msg_get(reply, "id");
	*err = NULL;
	if (reply->type == BOUNCE_T_REPLY && st != NULL &&
	    strcmp(st, "none") == 0)
		return 0;
	if (reply->type == BOUNCE_T_REPLY && st != NULL &&
	    strcmp(st, "sent") == 0 && nid != NULL && queue_id_valid(nid)) {
		strlcpy(notice_id, nid, QUEUE_ID_SIZE);
		return 1;
	}
	if (reply->type == IPC_T_ERROR)
		*err = ipc_msg_get(reply, IPC_A_TEXT);
	if (*err == NULL)
		*err = "bad reply";
	return -1;
}

int
qmgr_notice_mark(struct qmgr_msg *m, const struct qmgr_notice *n,
    const char *notice_id)
{
	int	 k;

	for (k = 0; k < n->n; k++)
		if (qmgr_record_notice(m, n->idx[k], notice_letter(n->ev),
		    notice_id) < 0)
			break;
	if (k < n->n || fdatasync(m->fd) < 0) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot record the %s "
		    "notification %s: %s; it may be sent again",
		    bounce_event_name(n->ev), notice_id, strerror(errno));
		return -1;
	}
	for (k = 0; k < n->n; k++)
		m->noticed[n->idx[k]] |= (unsigned char)notice_bit(n->ev);
	return 0;
}

int
qmgr_notice_chunk(const int *idx, int n)
{
	char	 num[16];
	size_t	 len = 0;
	int	 k;

	for (k = 0; k < n; k++) {
		len += (size_t)snprintf(num, sizeof(num), "%d", idx[k]) +
		    (k > 0 ? 1 : 0);
		if (len > BOUNCE_RCPTS_MAX)
			break;
	}
	return k;
}

int
qmgr_notice_plan(struct qmgr_msg *m, enum bounce_event ev, long long until)
{
	struct qmgr_notice	*n;
	int			*idx, due, done, k, parts = 0;

	idx = xcalloc((size_t)(m->env.nrcpt > 0 ? m->env.nrcpt : 1),
	    sizeof(int));
	due = qmgr_notice_due(&m->env, m->noticed, ev, idx);
	/* Markers unreadable (qmgr_record_load): it may have been sent, but
	 * it may not, so the message waits until they can be read. */
	if (due > 0 && m->noticed == NULL) {
		free(idx);
		return -1;
	}
	/* More recipients than one request can name: one notice per part
	 * (each marked on its own), rather than none ever. */
	for (done = 0; done < due; done += k, parts++) {
		k = qmgr_notice_chunk(idx + done, due - done);
		n = xcalloc(1, sizeof(*n) + (size_t)k * sizeof(int));
		n->ev = ev;
		n->until = until;
		n->n = k;
		memcpy(n->idx, idx + done, (size_t)k * sizeof(int));
		TAILQ_INSERT_TAIL(&m->notices, n, link);
	}
	free(idx);
	return parts;
}

void
qmgr_notice_forget(struct qmgr_msg *m)
{
	struct qmgr_notice *n;

	while ((n = TAILQ_FIRST(&m->notices)) != NULL) {
		TAILQ_REMOVE(&m->notices, n, link);
		free(n);
	}
}
