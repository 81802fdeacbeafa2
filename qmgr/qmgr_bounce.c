/*
 * qmgr_bounce - qmgr's side of the notifications service (proto_bounce.h):
 * which recipients of a message a notice is due for, asking bounce(8) to
 * queue it, and the marker records that make "sent" durable.  A notice is
 * due for a recipient when its outcome calls for one (bounced; delivered
 * with NOTIFY=SUCCESS; still pending when a delay warning is due), its
 * NOTIFY allows it, the message has someone to tell (bounce_notice_kind:
 * never the null sender) and no marker record says it was queued already.
 * The marker is written only after bounce has replied that the notice is
 * committed, and the original's file leaves the queue only after the
 * markers are durable: a crash in between queues the notice a second
 * time, never loses it.  The call blocks for at most QMGR_BOUNCE_TIMEOUT
 * (composing is one small read and one commit); when bounce fails, it is
 * not asked again for QMGR_BOUNCE_RETRY seconds and the message waits in
 * deferred/ with its notice still due.  A message with more recipients
 * to report than one request can name (BOUNCE_RCPTS_MAX) gets one notice
 * per part, each marked on its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

/* Ask bounce.  1: queued (its id in notice_id), 0: none was due, -1. */
static int
notice_ask(struct qmgr_msg *m, enum bounce_event ev, const int *idx, int n,
    long long until, char *notice_id)
{
	struct ipc_msg	 req, reply;
	struct buf	 list;
	const char	*st, *nid;
	int		 fd, k, r = -1;

	buf_init(&list, BOUNCE_RCPTS_MAX);
	for (k = 0; k < n; k++)
		if (buf_appendf(&list, k > 0 ? ",%d" : "%d", idx[k]) < 0)
			break;
	ipc_msg_init(&req, BOUNCE_T_NOTICE);
	if (k < n || ipc_msg_add_int(&req, "v", PROTO_BOUNCE_VERSION) < 0 ||
	    ipc_msg_add(&req, "id", m->id) < 0 ||
	    ipc_msg_add(&req, "event", bounce_event_name(ev)) < 0 ||
	    ipc_msg_add(&req, "rcpts", buf_str(&list)) < 0 ||
	    (ev == BOUNCE_DELAYED && ipc_msg_add_int(&req, "until", until) < 0)) {
		log_qid(LOG_LEVEL_ERROR, m->id, "notification request too "
		    "large");
		goto out;
	}
	if ((fd = ipc_connect(BOUNCE_SOCKET)) < 0) {
		log_qid(LOG_LEVEL_WARN, m->id, "cannot reach %s: %s",
		    BOUNCE_SOCKET, strerror(errno));
		goto out;
	}
	if (ipc_call(fd, &req, &reply, QMGR_BOUNCE_TIMEOUT * 1000) < 0) {
		log_qid(LOG_LEVEL_WARN, m->id, "no answer from %s: %s",
		    BOUNCE_SOCKET, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	st = ipc_msg_get(&reply, "status");
	nid = ipc_msg_get(&reply, "id");
	if (reply.type == BOUNCE_T_REPLY && st != NULL &&
	    strcmp(st, "none") == 0)
		r = 0;
	else if (reply.type == BOUNCE_T_REPLY && st != NULL &&
	    strcmp(st, "sent") == 0 && nid != NULL && queue_id_valid(nid)) {
		strlcpy(notice_id, nid, QUEUE_ID_SIZE);
		r = 1;
	} else
		log_qid(LOG_LEVEL_WARN, m->id, "%s refused the notification: "
		    "%s", BOUNCE_SOCKET, ipc_msg_get(&reply, IPC_A_TEXT) != NULL ?
		    ipc_msg_get(&reply, IPC_A_TEXT) : "bad reply");
	ipc_msg_free(&reply);
out:
	ipc_msg_free(&req);
	buf_free(&list);
	return r;
}

/* The notice is queued: its markers, durable, then the bits in memory. */
static int
notice_mark(struct qmgr_msg *m, enum bounce_event ev, const int *idx, int n,
    const char *notice_id)
{
	int	 k;

	for (k = 0; k < n; k++)
		if (qmgr_record_notice(m, idx[k], notice_letter(ev),
		    notice_id) < 0)
			break;
	if (k < n || fdatasync(m->fd) < 0) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot record the %s "
		    "notification %s: %s; it may be sent again", 
		    bounce_event_name(ev), notice_id, strerror(errno));
		return -1;
	}
	for (k = 0; k < n; k++)
		m->noticed[idx[k]] |= (unsigned char)notice_bit(ev);
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

/* One notice about idx[0..n), asked for and recorded. */
static int
notice_one(struct qmgr *q, struct qmgr_msg *m, enum bounce_event ev,
    const int *idx, int n, long long until)
{
	char	 notice_id[QUEUE_ID_SIZE] = "";
	int	 r;

	if ((r = notice_ask(m, ev, idx, n, until, notice_id)) < 0) {
		q->bounce_retry = time(NULL) + QMGR_BOUNCE_RETRY;
		return -1;
	}
	r = notice_mark(m, ev, idx, n, r == 1 ? notice_id : "-");
	if (notice_id[0] != '\0')
		qmgr_scan_notify(q, notice_id);
	return r;
}

int
qmgr_notice(struct qmgr *q, struct qmgr_msg *m, enum bounce_event ev,
    long long until)
{
	int	*idx, n, r, done, k;

	idx = xcalloc((size_t)(m->env.nrcpt > 0 ? m->env.nrcpt : 1),
	    sizeof(int));
	if ((n = qmgr_notice_due(&m->env, m->noticed, ev, idx)) == 0) {
		free(idx);
		return 0;
	}
	/* Markers unreadable (qmgr_record_load): it may have been sent, but
	 * it may not, so the message waits until they can be read. */
	if (m->noticed == NULL || time(NULL) < q->bounce_retry) {
		free(idx);
		return -1;
	}
	/* More recipients than one request can name: one notice per part
	 * (each marked on its own), rather than none ever. */
	for (r = 0, done = 0; r == 0 && done < n; done += k) {
		k = qmgr_notice_chunk(idx + done, n - done);
		r = notice_one(q, m, ev, idx + done, k, until);
	}
	free(idx);
	return r;
}
