/*
 * qmgr_message - the life of one message in the active set: its file is
 * opened, each pending recipient is routed (qmgr_route.c) and the
 * recipients are grouped into one entry per destination, queued in
 * qmgr_dest.c; the outcomes of each entry's requests are recorded, and when
 * every entry is done (every pending recipient tried once: a round) the
 * file is removed, deferred or (unusable) moved to corrupt/.  Every bounce
 * and every new reason for a deferral is appended to the file as an outcome
 * record (qmgr_record.c), durable with the batch's status bytes.  Recipients
 * routed to the internal "error" transport get their outcome here, with no
 * delivery agent.  The one rule here is the order of durable steps: a
 * recipient's status is on disk before anything else is done about it (or,
 * when the round finishes the message, the file is removed instead), and a
 * file is removed only when no recipient in it is pending.  Everything else
 * may be repeated after a crash; nothing may be skipped.  A file operation
 * that fails parks the message (qmgr_active.c) until the next scan.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "qmgr.h"
#include "queue_outcome.h"

static void
entry_free(struct qmgr *q, struct qmgr_entry *e)
{
	qmgr_dest_drop(q, e);
	TAILQ_REMOVE(&e->msg->entries, e, mlink);
	e->msg->nentries--;
	free(e->rcpt);
	free(e->batch);
	free(e);
}

/* Only with no request out: an entry on a connection must stay valid. */
static void
msg_unload(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_entry *e;

	while ((e = TAILQ_FIRST(&m->entries)) != NULL)
		entry_free(q, e);
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	if (m->loaded) {
		q->rcpt_loaded -= m->env.nrcpt;
		queue_envelope_free(&m->env);
	}
	qmgr_record_free(m);
	qmgr_notice_forget(m);
	m->loaded = 0;
}

/* A file operation failed (EIO, EMFILE, ...): keep the message in memory
 * and start its round again at the next scan, when things may be better.
 * The file is still in active/, so a restart would find it too. */
static void
msg_park(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(q, m);
	qmgr_active_park(q, m);
}

static void
msg_free(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(q, m);
	qmgr_active_remove(q, m);
}

/* Unusable file: keep it for a human, in corrupt/. */
static void
msg_corrupt(struct qmgr *q, struct qmgr_msg *m, const char *why)
{
	msg_unload(q, m);
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

/* Did bounce ever get a request about m?  A bounce still stuck on an old
 * one (qmgr timed out) may read the file later, after the notice was
 * marked at a later try.  Not the same as a marker in m->noticed: a
 * recipient whose notice duty a DSN-capable next hop took over (action
 * "relayed"/passed) is marked so that no success notice follows, but
 * bounce never heard of it, and its file may be reused. */
static int
msg_noticed(const struct qmgr_msg *m)
{
	return m->bounce_asked;
}

/* The message is done: its file leaves active/ for free/, where smtpd
 * will write a new message into it (see queue.h); but a message bounce
 * was asked about is unlinked, so that no stalled bounce reads another
 * sender's message through its file. */
static void
msg_remove(struct qmgr *q, struct qmgr_msg *m)
{
	char	 path[QUEUE_PATH_SIZE];
	off_t	 size = -1;
	int	 unlink_it = msg_noticed(m), r;

	/* Its size is known: read at load, grown only by our records. */
	if (m->loaded)
		size = m->env.outcome_end > m->env.file_size ?
		    m->env.outcome_end : m->env.file_size;
	msg_unload(q, m);
	if (unlink_it)
		r = queue_path(path, sizeof(path), QDIR_ACTIVE, m->id) < 0 ||
		    (unlink(path) < 0 && errno != ENOENT) ? -1 : 0;
	else
		r = queue_recycle_sized(QDIR_ACTIVE, m->id, size);
	if (r == -1) {
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

/* Postfix reports expired mail with 4.4.7 and action "failed". */
#define EXPIRED_DSN	"4.4.7"
#define EXPIRED_TEXT	"message expired in the queue"

/*
 * The queue lifetime is over: every pending recipient bounces, each with
 * its outcome record and status byte, all made durable by one fdatasync;
 * the failure notice that follows (msg_finish) reports them.
 */
static void
msg_expire(struct qmgr_msg *m)
{
	int	 i, n = 0;

	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->env.rcpt[i].status != RCPT_PENDING)
			continue;
		if (qmgr_record_write(m, i, OUTCOME_BOUNCED, EXPIRED_DSN,
		    EXPIRED_TEXT) == -1 ||
		    queue_rcpt_write(m->fd, &m->env, i, RCPT_BOUNCED) == -1)
			break;
		n++;
	}
	if (i < m->env.nrcpt || (n > 0 && fdatasync(m->fd) == -1)) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot record status=expired: "
		    "%s; will try again", strerror(errno));
		qmgr_record_forget(m);
		return;
	}
	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->env.rcpt[i].status != RCPT_PENDING)
			continue;
		m->env.rcpt[i].status = RCPT_BOUNCED;
		log_rcpt(m, i, LOG_LEVEL_INFO, "expired", EXPIRED_DSN,
		    EXPIRED_TEXT);
	}
}

/* The queue lifetime of m: bounce_queue_lifetime for mail from <>
 * (notices, mostly), maximal_queue_lifetime for the rest. */
static int
msg_lifetime(const struct qmgr *q, const struct qmgr_msg *m)
{
	return m->env.sender[0] == '\0' ? q->par->bounce_queue_lifetime :
	    q->par->maximal_queue_lifetime;
}

/* The file waits in deferred/, its mtime being the time of the next
 * attempt: some recipients are pending, or a notice is still due. */
static void
msg_defer(struct qmgr *q, struct qmgr_msg *m)
{
	const struct qmgr_params *cfg = q->par;
	struct timespec	ts[2];
	long long	now;
	int		wait;

	now = (long long)time(NULL);
	wait = qmgr_backoff(now - m->env.arrival, cfg->minimal_backoff_time,
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

/* The notices due at the end of the round, in the order they are asked
 * for: failures, successes (NOTIFY=SUCCESS), and, when recipients are
 * still pending and delay_warning_time has passed, a delay warning (once
 * per message; if bounce fails it is asked for again at the next round).
 * -1 when the markers on file cannot be read. */
static int
msg_plan_notices(struct qmgr *q, struct qmgr_msg *m)
{
	long long	 age = (long long)time(NULL) - m->env.arrival;

	if (qmgr_notice_plan(m, BOUNCE_FAILED, 0) < 0 ||
	    qmgr_notice_plan(m, BOUNCE_DELIVERED, 0) < 0)
		return -1;
	if (q->par->delay_warning_time > 0 &&
	    age >= q->par->delay_warning_time &&
	    queue_pending_count(&m->env) > 0 &&
	    qmgr_notice_plan(m, BOUNCE_DELAYED, m->env.arrival +
	    msg_lifetime(q, m)) < 0)
		return -1;
	return 0;
}

/*
 * The round is over: every pending recipient has been tried once.  What
 * has outlived its queue lifetime bounces; then the notices that are due
 * are asked for (qmgr_bounce_client.c, without waiting: the message stays
 * loaded in active/ meanwhile), and only once they are queued and marked
 * may the file leave the queue (qmgr_msg_noticed()).  A notice that could
 * not be queued keeps the message, deferred, so it is tried again.
 */
static void
msg_finish(struct qmgr *q, struct qmgr_msg *m)
{
	if (queue_pending_count(&m->env) > 0 &&
	    qmgr_expired((long long)time(NULL) - m->env.arrival,
	    msg_lifetime(q, m)))
		msg_expire(m);
	m->notice_failed = 0;
	if (msg_plan_notices(q, m) < 0)
		m->notice_failed = 1;
	else if (!TAILQ_EMPTY(&m->notices) && qmgr_bounce_start(q, m) == 0)
		return;		/* qmgr_msg_noticed() follows */
	else if (!TAILQ_EMPTY(&m->notices))
		m->notice_failed = 1;
	qmgr_notice_forget(m);
	qmgr_msg_noticed(q, m);
}

/* Nothing left to deliver, but its notice was never queued in twice its
 * lifetime (bounce refuses it every time, say): hold/, where ternctl
 * shows it and can release it once the cause is fixed, rather than
 * retried for ever. */
static void
msg_hold(struct qmgr *q, struct qmgr_msg *m)
{
	msg_unload(q, m);
	if (queue_move(m->id, QDIR_ACTIVE, QDIR_HOLD) == -1) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot move to hold/: %s",
		    strerror(errno));
		msg_park(q, m);
		return;
	}
	log_qid(LOG_LEVEL_ERROR, m->id, "its delivery status notification "
	    "could not be queued in twice its queue lifetime: moved to hold/ "
	    "(ternctl queue release, once bounce can make it)");
	msg_free(q, m);
}

void
qmgr_msg_noticed(struct qmgr *q, struct qmgr_msg *m)
{
	if (queue_pending_count(&m->env) == 0 && !m->notice_failed)
		msg_remove(q, m);
	else if (queue_pending_count(&m->env) == 0 &&
	    qmgr_notice_abandoned((long long)time(NULL) - m->env.arrival,
	    msg_lifetime(q, m)))
		msg_hold(q, m);
	else
		msg_defer(q, m);
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
	q->rcpt_loaded += m->env.nrcpt;
	qmgr_record_load(m);
	if (!m->announced) {	/* once, not on every retry or batch */
		m->announced = 1;
		qmgr_text_safe(sender, sizeof(sender), m->env.sender);
		/* Postfix's "from=<>, size=N, nrcpt=N": pflogsumm takes the
		 * sender and the size from it. */
		log_qid(LOG_LEVEL_INFO, m->id, "from=<%s>, size=%lld, nrcpt=%d, "
		    "pending=%d (queue active)", sender,
		    (long long)(m->env.data_len > 0 ? m->env.data_len : 0),
		    m->env.nrcpt, queue_pending_count(&m->env));
	}
	return 0;
}

static struct qmgr_entry *
entry_new(struct qmgr_msg *m, struct qmgr_dest *d, int size)
{
	struct qmgr_entry *e;

	e = xcalloc(1, sizeof(*e));
	e->msg = m;
	e->dest = d;
	e->rcpt = xreallocarray(NULL, (size_t)size, sizeof(int));
	e->batch = xreallocarray(NULL, (size_t)size, sizeof(int));
	TAILQ_INSERT_TAIL(&m->entries, e, mlink);
	m->nentries++;
	return e;
}

/* The entry is done.  If it was the round's last, the message is finished,
 * deferred or, if a request could not be built for it, moved to corrupt/. */
static void
entry_finish(struct qmgr *q, struct qmgr_entry *e)
{
	struct qmgr_msg *m = e->msg;

	if (e->dest != NULL)
		qmgr_dest_back(q, e, 0);
	entry_free(q, e);
	if (m->nentries > 0)
		return;
	if (m->corrupt != NULL)
		msg_corrupt(q, m, m->corrupt);
	else
		msg_finish(q, m);
}

/* The outcome of a recipient whose transport is not in the table: the
 * "error" transport bounces with the route's reason (defers, for a 4.x.y
 * status), "retry" defers, "discard" counts as delivered; any other (a
 * transport_maps entry naming a service qmgr does not know) defers. */
static void
route_outcome(const struct qmgr_route *r, struct qmgr_outcome *o)
{
	o->dsn = r->dsn;
	o->text = r->text;
	if (strcmp(r->transport, QMGR_TRANSPORT_ERROR) == 0)
		o->status = r->dsn[0] == '4' ? QMGR_RCPT_DEFER :
		    QMGR_RCPT_BOUNCE;
	else if (strcmp(r->transport, QMGR_TRANSPORT_RETRY) == 0)
		o->status = QMGR_RCPT_DEFER;
	else if (strcmp(r->transport, QMGR_TRANSPORT_DISCARD) == 0)
		o->status = QMGR_RCPT_OK;
	else {
		o->status = QMGR_RCPT_DEFER;
		o->dsn = "4.3.5";
		o->text = "mail transport unavailable";
	}
}

/* The entry of m for d, made if this round has none yet.  Few entries per
 * message (one per next hop), so a walk is enough. */
static struct qmgr_entry *
msg_entry_for(struct qmgr_msg *m, struct qmgr_dest *d)
{
	struct qmgr_entry *e;

	TAILQ_FOREACH(e, &m->entries, mlink)
		if (e->dest == d)
			return e;
	return entry_new(m, d, m->env.nrcpt);
}

/*
 * Route every pending recipient.  Those with a destination join its entry
 * (queued at once, so a message's destinations all get their turn); those
 * whose outcome is already known form one entry that is recorded here,
 * last, when the others are queued and so keep the message alive.
 */
static void
msg_route(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_route	*r;
	struct qmgr_outcome	*out;
	struct qmgr_transport	*t;
	struct qmgr_entry	*e, *here = NULL;
	int			 i;

	r = xcalloc((size_t)m->env.nrcpt, sizeof(*r));
	out = xcalloc((size_t)m->env.nrcpt, sizeof(*out));
	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->env.rcpt[i].status != RCPT_PENDING)
			continue;
		if (!qmgr_route_virtual(q->cfg, q->virt, m->env.rcpt[i].addr,
		    &r[i]))
			qmgr_route(q->cfg, q->par, &q->transport_maps,
			    m->env.rcpt[i].addr, &r[i]);
		t = qmgr_transport_find(q, r[i].transport);
		if (t == NULL) {
			if (here == NULL)
				here = entry_new(m, NULL, m->env.nrcpt);
			route_outcome(&r[i], &out[here->nbatch]);
			here->rcpt[here->nbatch] = i;
			here->batch[here->nbatch++] = i;
			continue;
		}
		e = msg_entry_for(m, qmgr_dest_get(q, t, r[i].nexthop));
		e->rcpt[e->nrcpt++] = i;
	}
	TAILQ_FOREACH(e, &m->entries, mlink)
		if (e->dest != NULL)
			qmgr_dest_put(q, e);
	if (here != NULL) {
		here->nrcpt = here->cursor = here->nbatch;
		qmgr_entry_done(q, here, out);
	}
	free(out);
	free(r);
	qmgr_active_kick(q);
}

void
qmgr_msg_load(struct qmgr *q, struct qmgr_msg *m)
{
	if (!m->loaded && msg_open(q, m) == -1)
		return;
	if (queue_pending_count(&m->env) == 0) {
		/* Done but for its notices (bounce was down, or a crash
		 * came between the last outcome and the notice). */
		msg_finish(q, m);
		return;
	}
	msg_route(q, m);
}

void
qmgr_entry_defer(struct qmgr *q, struct qmgr_entry *e, const char *dsn,
    const char *text)
{
	int k;

	for (k = e->cursor; k < e->nrcpt; k++)
		log_rcpt(e->msg, e->rcpt[k], LOG_LEVEL_WARN, "deferred", dsn,
		    text);
	entry_finish(q, e);
}

/* An agent crashed on this message QMGR_CONN_FAIL_MAX times in a row: it
 * is probably the cause, so stop hammering the agents; what is left of
 * the entry waits for the normal back-off with the rest of the round. */
static void
entry_give_up(struct qmgr *q, struct qmgr_entry *e)
{
	qmgr_entry_defer(q, e, "4.3.0", "delivery agent failed repeatedly");
}

/* The request goes over the entry's recipients from the cursor on, as a
 * view of the envelope that holds only them. */
int
qmgr_entry_request(struct qmgr *q, struct qmgr_entry *e, struct ipc_msg *req)
{
	struct qmgr_msg		*m = e->msg;
	struct queue_envelope	 view;
	int			 k, used = 0, r;

	if (m->corrupt != NULL) {
		entry_finish(q, e);
		return 0;
	}
	if (m->conn_fail >= QMGR_CONN_FAIL_MAX) {
		entry_give_up(q, e);
		return 0;
	}
	view = m->env;
	view.nrcpt = e->nrcpt - e->cursor;
	/* smtp_destination_recipient_limit: the rest goes in the next
	 * request. */
	if (e->dest->transport->rcpt_limit > 0 &&
	    view.nrcpt > e->dest->transport->rcpt_limit)
		view.nrcpt = e->dest->transport->rcpt_limit;
	view.rcpt = xreallocarray(NULL, (size_t)(view.nrcpt > 0 ?
	    view.nrcpt : 1), sizeof(*view.rcpt));
	for (k = 0; k < view.nrcpt; k++)
		view.rcpt[k] = m->env.rcpt[e->rcpt[e->cursor + k]];
	r = qmgr_request_build(&view, &used, req, e->batch, &e->nbatch,
	    e->dest->nexthop);
	free(view.rcpt);
	if (r == -1) {
		m->corrupt = "sender or recipient too long for a delivery "
		    "request";
		entry_finish(q, e);
		return 0;
	}
	if (e->nbatch == 0) {	/* cannot happen: all were pending */
		entry_finish(q, e);
		return 0;
	}
	for (k = 0; k < e->nbatch; k++)
		e->batch[k] = e->rcpt[e->cursor + e->batch[k]];
	e->batch_start = e->cursor;
	e->cursor += used;
	return 1;
}

void
qmgr_entry_retry(struct qmgr *q, struct qmgr_entry *e, int crashed)
{
	e->cursor = e->batch_start;
	e->nbatch = 0;
	if (crashed)
		e->msg->conn_fail++;
	qmgr_dest_back(q, e, 1);
	qmgr_active_kick(q);
}

/* The outcome record of one recipient of a batch, if it needs one: a
 * bounce always, a deferral when its reason changed.  1, 0 or -1. */
static int
msg_record_outcome(struct qmgr_msg *m, int i, const struct qmgr_outcome *o)
{
	switch (o->status) {
	case QMGR_RCPT_OK:
		/* Only what a success notice needs: relayed to a server
		 * without DSN is reported as such; a server with DSN took
		 * the notice on, so ours is marked as not due. */
		if (!(m->env.rcpt[i].notify & QUEUE_NOTIFY_SUCCESS))
			return 0;
		if (o->action == DELIVER_ACTION_RELAYED)
			return qmgr_record_write(m, i, OUTCOME_RELAYED, o->dsn,
			    o->text);
		if (o->action == DELIVER_ACTION_EXPANDED)
			return qmgr_record_write(m, i, OUTCOME_EXPANDED,
			    o->dsn, o->text);
		if (o->action == DELIVER_ACTION_PASSED)
			return qmgr_record_notice(m, i,
			    OUTCOME_NOTICE_DELIVERED, QMGR_NOTICE_PASSED) < 0 ? -1 : 1;
		return 0;
	case QMGR_RCPT_BOUNCE:
		return qmgr_record_write(m, i, OUTCOME_BOUNCED, o->dsn,
		    o->text);
	case QMGR_RCPT_DEFER:
		return qmgr_record_write(m, i, OUTCOME_DELAYED, o->dsn,
		    o->text);
	default:
		return 0;
	}
}

/*
 * Write the status bytes of the batch's finished recipients and the
 * outcome records of its bounced and (newly) deferred ones, and make them
 * durable with one fdatasync.  0, or -1 (errno): then none of them counts
 * as recorded, and they stay pending in memory.
 */
static int
msg_record(struct qmgr_msg *m, const struct qmgr_entry *e,
    const struct qmgr_outcome *out)
{
	int k, r, n = 0;

	for (k = 0; k < e->nbatch; k++) {
		if ((r = msg_record_outcome(m, e->batch[k], &out[k])) == -1)
			goto fail;
		n += r;
		if (out[k].status == QMGR_RCPT_DEFER)
			continue;
		if (queue_rcpt_write(m->fd, &m->env, e->batch[k],
		    out[k].status == QMGR_RCPT_OK ? RCPT_DELIVERED :
		    RCPT_BOUNCED) == -1)
			goto fail;
		n++;
	}
	if (n == 0 || fdatasync(m->fd) == 0)
		return 0;
fail:
	qmgr_record_forget(m);
	return -1;
}

/*
 * A batch's outcomes.  If they finish the message (every recipient
 * delivered: none deferred or bounced, whose outcome records must be kept,
 * none pending outside this batch, in this entry or another) the file
 * leaves active/ for free/ next, and the status bytes are not written at
 * all: leaving is the record, and deliver has marked the deliveries in the
 * file before its reply, so a crash before the move repeats none of them
 * (a restart finds them marked).  Otherwise every
 * delivered or bounced recipient of the batch is marked, with one fdatasync
 * for all of them, before anything acts on the outcomes.
 */
void
qmgr_entry_done(struct qmgr *q, struct qmgr_entry *e,
    const struct qmgr_outcome *out)
{
	struct qmgr_msg	*m = e->msg;
	int		 k, i, final, recorded, err = 0;

	m->conn_fail = 0;
	final = e->cursor >= e->nrcpt &&
	    queue_pending_count(&m->env) == e->nbatch;
	/* A success notice is due after the message leaves active/ no more:
	 * the delivered status bytes must be on file for it. */
	for (k = 0; k < e->nbatch && final; k++)
		if (out[k].status != QMGR_RCPT_OK ||
		    (m->env.rcpt[e->batch[k]].notify & QUEUE_NOTIFY_SUCCESS))
			final = 0;
	recorded = final;
	if (!final) {
		recorded = msg_record(m, e, out) == 0;
		err = errno;
	}
	if (!recorded)	/* the delivered and bounced say it again below */
		log_qid(LOG_LEVEL_WARN, m->id, "cannot record outcomes: %s",
		    strerror(err));
	for (k = 0; k < e->nbatch; k++) {
		i = e->batch[k];
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
			if (out[k].action == DELIVER_ACTION_PASSED &&
			    m->noticed != NULL)
				m->noticed[i] |= QMGR_NOTICED_DELIVERED;
			/* deliver has logged it, with the mailbox; one line
			 * per delivery, as in Postfix.  Without an agent
			 * ("discard") the line is ours. */
			if (e->dest == NULL || log_verbose())
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
	e->nbatch = 0;
	if (e->cursor < e->nrcpt) {
		/* More than one request's worth: the next batch keeps the
		 * entry's place at the head of its queue. */
		qmgr_dest_back(q, e, 1);
		qmgr_active_kick(q);
		return;
	}
	entry_finish(q, e);
}


void
qmgr_msg_free_all(struct qmgr *q)
{
	struct qmgr_msg *m;

	while ((m = TAILQ_FIRST(&q->msgs)) != NULL)
		msg_free(q, m);
}
