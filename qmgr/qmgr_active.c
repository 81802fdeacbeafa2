/*
 * qmgr_active - the active set: every message whose file is in active/ and
 * that qmgr is working on, the FIFO of those ready for a delivery agent,
 * and what happens to a message once deliver has answered.  The one rule
 * here is the order of durable steps: a recipient's status is on disk
 * before anything else is done about it (or, when the round finishes the
 * message, the file is removed instead), and a file is removed only when
 * no recipient in it is pending.  Everything else may be repeated after a
 * crash; nothing may be skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "log.h"
#include "qmgr.h"

static void
active_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	qmgr_deliver_dispatch(arg);
}

static void
active_rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;

	(void)fd;
	(void)what;
	q->backlog = 0;		/* the scans set it again if still short */
	qmgr_scan_incoming(q);
	qmgr_scan_deferred(q, 0);
}

void
qmgr_active_init(struct qmgr *q)
{
	TAILQ_INIT(&q->msgs);
	TAILQ_INIT(&q->fifo);
	TAILQ_INIT(&q->parked);
	q->nactive = 0;
	if (q->active_max <= 0)
		q->active_max = QMGR_ACTIVE_MAX;
	q->kick_ev = event_new(q->base, -1, 0, active_kick_cb, q);
	q->rescan_ev = event_new(q->base, -1, 0, active_rescan_cb, q);
	if (q->kick_ev == NULL || q->rescan_ev == NULL)
		log_fatal("qmgr: cannot create events");
}

int
qmgr_active_room(const struct qmgr *q)
{
	return q->nactive < q->active_max;
}

/* Deferred, not immediate: callers may be deep inside a callback that is
 * about to touch the connection or message again. */
void
qmgr_active_kick(struct qmgr *q)
{
	if (!TAILQ_EMPTY(&q->fifo))
		event_active(q->kick_ev, 0, 0);
	/* Refill in big steps, so a long backlog costs one directory read per
	 * half a set, not one per finished message. */
	if (q->backlog && q->nactive <= q->active_max / 2)
		event_active(q->rescan_ev, 0, 0);
}

void
qmgr_active_add(struct qmgr *q, const char *id)
{
	struct qmgr_msg *m;

	m = xcalloc(1, sizeof(*m));
	strlcpy(m->id, id, sizeof(m->id));
	m->fd = -1;
	m->state = QMGR_MSG_READY;
	TAILQ_INSERT_TAIL(&q->msgs, m, all);
	TAILQ_INSERT_TAIL(&q->fifo, m, ready);
	q->nactive++;
	qmgr_active_kick(q);
}

static void
msg_unload(struct qmgr_msg *m)
{
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->loaded)
		queue_envelope_free(&m->env);
	m->loaded = 0;
	free(m->batch);
	m->batch = NULL;
	m->nbatch = 0;
}

static void
msg_unlink_lists(struct qmgr *q, struct qmgr_msg *m)
{
	if (m->state == QMGR_MSG_READY)
		TAILQ_REMOVE(&q->fifo, m, ready);
	else if (m->state == QMGR_MSG_PARKED)
		TAILQ_REMOVE(&q->parked, m, ready);
	m->state = QMGR_MSG_BUSY;
}

static void
msg_free(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(m);
	msg_unlink_lists(q, m);
	TAILQ_REMOVE(&q->msgs, m, all);
	free(m);
	q->nactive--;
	qmgr_active_kick(q);
}

void
qmgr_active_free(struct qmgr *q)
{
	struct qmgr_msg *m;

	while ((m = TAILQ_FIRST(&q->msgs)) != NULL) {
		msg_unload(m);
		msg_unlink_lists(q, m);
		TAILQ_REMOVE(&q->msgs, m, all);
		free(m);
	}
	q->nactive = 0;
	if (q->kick_ev)
		event_free(q->kick_ev);
	if (q->rescan_ev)
		event_free(q->rescan_ev);
	q->kick_ev = q->rescan_ev = NULL;
}

struct qmgr_msg *
qmgr_active_next(struct qmgr *q)
{
	struct qmgr_msg *m;

	if ((m = TAILQ_FIRST(&q->fifo)) == NULL)
		return NULL;
	TAILQ_REMOVE(&q->fifo, m, ready);
	m->state = QMGR_MSG_BUSY;
	return m;
}

void
qmgr_active_requeue(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unlink_lists(q, m);
	m->state = QMGR_MSG_READY;
	TAILQ_INSERT_HEAD(&q->fifo, m, ready);
	qmgr_active_kick(q);
}

/* A file operation failed (EIO, EMFILE, ...): keep the message in memory
 * and start its round again at the next scan, when things may be better.
 * The file is still in active/, so a restart would find it too. */
static void
msg_park(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(m);
	msg_unlink_lists(q, m);
	m->cursor = 0;
	m->state = QMGR_MSG_PARKED;
	TAILQ_INSERT_TAIL(&q->parked, m, ready);
}

void
qmgr_active_unpark(struct qmgr *q)
{
	struct qmgr_msg *m;

	while ((m = TAILQ_FIRST(&q->parked)) != NULL) {
		TAILQ_REMOVE(&q->parked, m, ready);
		m->state = QMGR_MSG_READY;
		TAILQ_INSERT_TAIL(&q->fifo, m, ready);
	}
	qmgr_active_kick(q);
}

/* Unusable file: keep it for a human, in corrupt/. */
static void
msg_corrupt(struct qmgr *q, struct qmgr_msg *m, const char *why)
{
	msg_unload(m);
	if (queue_move(m->id, QDIR_ACTIVE, QDIR_CORRUPT) == -1) {
		log_qid(LOG_LEVEL_ERROR, m->id, "corrupt queue file (%s), and "
		    "cannot move it to corrupt/: %s", why, strerror(errno));
		msg_park(q, m);
		return;
	}
	log_qid(LOG_LEVEL_ERROR, m->id, "corrupt queue file (%s), moved to "
	    "corrupt/", why);
	msg_free(q, m);
}

/* The message is done: its file leaves active/ for free/, where smtpd
 * will write a new message into it (see queue.h). */
static void
msg_remove(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(m);
	if (queue_recycle(QDIR_ACTIVE, m->id) == -1) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot remove active/%s: %s",
		    m->id, strerror(errno));
		msg_park(q, m);
		return;
	}
	log_qid(LOG_LEVEL_INFO, m->id, "removed");
	msg_free(q, m);
}

static void
log_rcpt(struct qmgr_msg *m, int i, enum log_level level, const char *status,
    const char *dsn, const char *text)
{
	char addr[QUEUE_ADDR_MAX], safe[QMGR_TEXT_MAX];

	qmgr_text_safe(addr, sizeof(addr), m->env.rcpt[i].addr);
	qmgr_text_safe(safe, sizeof(safe), text);
	if (dsn != NULL && log_verbose())
		log_qid(level, m->id, "to=<%s>, status=%s (%s) dsn=%s", addr,
		    status, safe, dsn);
	else
		log_qid(level, m->id, "to=<%s>, status=%s (%s)", addr, status,
		    safe);
}

/*
 * A recipient will never be delivered: bounced by deliver, or expired.
 * TODO(bounce): this and qmgr_msg_done() are the places where a delivery
 * status notification to the sender (RFC 3464) must be queued - durably,
 * before the status byte is set or the file removed, so a crash cannot lose
 * the bounce.  Until then the outcome is only logged.
 */
static int
msg_bounce(struct qmgr_msg *m, int i, const char *status, const char *dsn,
    const char *text)
{
	if (queue_rcpt_mark(m->fd, &m->env, i, RCPT_BOUNCED) == -1) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot record status=%s for "
		    "recipient %d: %s; will try again", status, i,
		    strerror(errno));
		return -1;
	}
	m->env.rcpt[i].status = RCPT_BOUNCED;
	log_rcpt(m, i, LOG_LEVEL_INFO, status, dsn, text);
	return 0;
}

/* Some recipients remain pending: either the queue lifetime is over (then
 * they bounce as expired) or the file waits in deferred/, its mtime being
 * the time of the next attempt. */
static void
msg_defer(struct qmgr *q, struct qmgr_msg *m)
{
	const struct tern_config *cfg = q->cfg;
	struct timespec	ts[2];
	long long	now, age;
	int		i, wait;

	now = (long long)time(NULL);
	age = now - m->env.arrival;
	if (qmgr_expired(age, cfg->maximal_queue_lifetime)) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (m->env.rcpt[i].status == RCPT_PENDING)
				(void)msg_bounce(m, i, "expired", "5.4.7",
				    "message expired in the queue");
		if (queue_pending_count(&m->env) == 0) {
			msg_remove(q, m);
			return;
		}
	}
	wait = qmgr_backoff(age, cfg->minimal_backoff_time,
	    cfg->maximal_backoff_time);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)(now + wait);
	ts[1].tv_nsec = 0;
	if (futimens(m->fd, ts) == -1 ||
	    queue_move(m->id, QDIR_ACTIVE, QDIR_DEFERRED) == -1) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot defer: %s",
		    strerror(errno));
		msg_park(q, m);
		return;
	}
	log_qid(LOG_LEVEL_INFO, m->id, "deferred, %d recipient(s) pending, "
	    "next attempt in %d s", queue_pending_count(&m->env), wait);
	msg_free(q, m);
}

/* The round is over: every pending recipient has been tried once. */
static void
msg_finish(struct qmgr *q, struct qmgr_msg *m)
{
	if (queue_pending_count(&m->env) == 0)
		msg_remove(q, m);
	else
		msg_defer(q, m);
}

static int
msg_pending_from(const struct qmgr_msg *m, int from)
{
	int i;

	for (i = from; i < m->env.nrcpt; i++)
		if (m->env.rcpt[i].status == RCPT_PENDING)
			return 1;
	return 0;
}

static int
msg_open(struct qmgr *q, struct qmgr_msg *m)
{
	const char	*err = NULL;
	char		 sender[QUEUE_ADDR_MAX];

	memset(&m->env, 0, sizeof(m->env));
	errno = 0;
	if (queue_file_open(QDIR_ACTIVE, m->id, O_RDWR, &m->env, &m->fd,
	    &err) == -1) {
		m->fd = -1;
		if (errno == EINVAL && err != NULL)
			msg_corrupt(q, m, err);
		else if (errno == ENOENT) {
			log_qid(LOG_LEVEL_WARN, m->id, "queue file vanished "
			    "from active/");
			msg_free(q, m);
		} else {
			log_qid(LOG_LEVEL_ERROR, m->id, "cannot open queue "
			    "file: %s", strerror(errno));
			msg_park(q, m);
		}
		return -1;
	}
	m->loaded = 1;
	if (!m->announced) {	/* once, not on every retry or batch */
		m->announced = 1;
		qmgr_text_safe(sender, sizeof(sender), m->env.sender);
		log_qid(LOG_LEVEL_INFO, m->id, "from=<%s>, nrcpt=%d, pending=%d "
		    "(queue active)", sender, m->env.nrcpt,
		    queue_pending_count(&m->env));
	}
	return 0;
}

/* deliver crashed on this message QMGR_CONN_FAIL_MAX times in a row: it is
 * probably the cause, so stop hammering deliver and take the normal
 * back-off. */
static void
msg_give_up(struct qmgr *q, struct qmgr_msg *m)
{
	int i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (m->env.rcpt[i].status == RCPT_PENDING)
			log_rcpt(m, i, LOG_LEVEL_WARN, "deferred", "4.3.0",
			    "delivery agent failed repeatedly");
	m->conn_fail = 0;
	msg_defer(q, m);
}

int
qmgr_msg_load(struct qmgr *q, struct qmgr_msg *m, struct ipc_msg *req)
{
	if (!m->loaded && msg_open(q, m) == -1)
		return 0;
	if (queue_pending_count(&m->env) == 0) {
		msg_remove(q, m);
		return 0;
	}
	if (m->conn_fail >= QMGR_CONN_FAIL_MAX) {
		msg_give_up(q, m);
		return 0;
	}
	if (!msg_pending_from(m, m->cursor)) {
		msg_finish(q, m);
		return 0;
	}
	if (m->batch == NULL)
		m->batch = xreallocarray(NULL, DELIVER_RCPT_MAX, sizeof(int));
	m->batch_start = m->cursor;
	if (qmgr_request_bounce_remote(q, m))	/* until qmgr routes */
		return 0;
	if (qmgr_request_build(&m->env, &m->cursor, req, m->batch,
	    &m->nbatch) == -1) {
		msg_corrupt(q, m, "sender or recipient too long for a "
		    "delivery request");
		return 0;
	}
	if (m->nbatch == 0) {	/* cannot happen: pending checked above */
		msg_finish(q, m);
		return 0;
	}
	m->state = QMGR_MSG_BUSY;
	return 1;
}

void
qmgr_msg_retry(struct qmgr *q, struct qmgr_msg *m, int crashed)
{
	m->cursor = m->batch_start;
	msg_unload(m);
	if (crashed)
		m->conn_fail++;
	qmgr_active_requeue(q, m);
}

/*
 * Write the status bytes of the batch's finished recipients and make them
 * durable with one fdatasync.  0, or -1 (errno): then none of them counts as
 * recorded, and they stay pending in memory.
 */
static int
msg_record(struct qmgr_msg *m, const struct qmgr_outcome *out)
{
	int k, n = 0;

	for (k = 0; k < m->nbatch; k++) {
		if (out[k].status == QMGR_RCPT_DEFER)
			continue;
		if (queue_rcpt_write(m->fd, &m->env, m->batch[k],
		    out[k].status == QMGR_RCPT_OK ? RCPT_DELIVERED :
		    RCPT_BOUNCED) == -1)
			return -1;
		n++;
	}
	return n > 0 ? fdatasync(m->fd) : 0;
}

/*
 * A batch's outcomes.  If they finish the message (no recipient deferred,
 * none pending outside this batch) the file leaves active/ for free/ next,
 * and the status bytes are not written at all: leaving is the record.  A
 * crash before it repeats these deliveries, as a crash between deliver's
 * fsync and a status mark always could; Postfix does the same.  Otherwise every
 * delivered or bounced recipient of the batch is marked, with one fdatasync
 * for all of them, before anything acts on the outcomes.
 */
void
qmgr_msg_done(struct qmgr *q, struct qmgr_msg *m,
    const struct qmgr_outcome *out)
{
	int k, i, final, recorded, err = 0;

	m->conn_fail = 0;
	final = !msg_pending_from(m, m->cursor) &&
	    queue_pending_count(&m->env) == m->nbatch;
	for (k = 0; k < m->nbatch && final; k++)
		if (out[k].status == QMGR_RCPT_DEFER)
			final = 0;
	recorded = final;
	if (!final) {
		recorded = msg_record(m, out) == 0;
		err = errno;
	}
	for (k = 0; k < m->nbatch; k++) {
		i = m->batch[k];
		switch (out[k].status) {
		case QMGR_RCPT_OK:
			if (!recorded) {
				/* Still pending on disk: it will be
				 * delivered again. */
				log_qid(LOG_LEVEL_ERROR, m->id, "cannot record "
				    "status=sent for recipient %d: %s; it will "
				    "be repeated", i, strerror(err));
				break;
			}
			m->env.rcpt[i].status = RCPT_DELIVERED;
			/* deliver has logged it, with the mailbox; one line
			 * per delivery, as in Postfix. */
			if (log_verbose())
				log_rcpt(m, i, LOG_LEVEL_INFO, "sent",
				    out[k].dsn, out[k].text);
			break;
		case QMGR_RCPT_BOUNCE:
			if (!recorded) {
				log_qid(LOG_LEVEL_ERROR, m->id, "cannot record "
				    "status=bounced for recipient %d: %s; will "
				    "try again", i, strerror(err));
				break;
			}
			m->env.rcpt[i].status = RCPT_BOUNCED;
			log_rcpt(m, i, LOG_LEVEL_INFO, "bounced", out[k].dsn,
			    out[k].text);
			break;
		case QMGR_RCPT_DEFER:
			log_rcpt(m, i, LOG_LEVEL_INFO, "deferred", out[k].dsn,
			    out[k].text);
			break;
		}
	}
	m->nbatch = 0;
	if (msg_pending_from(m, m->cursor)) {
		/* More than one request's worth: the next batch keeps the
		 * message's place at the head of the FIFO. */
		msg_unload(m);
		qmgr_active_requeue(q, m);
		return;
	}
	msg_finish(q, m);
}
