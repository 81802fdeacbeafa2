/*
 * qmgr_deliver - the pool of connections to the delivery agents on
 * private/deliver, and the dispatcher that feeds it from the ready FIFO.
 * At most deliver_concurrency connections.  A request goes to an idle
 * connection first, then to a new one, and only when every connection
 * is busy is it pipelined behind others (up to DELIVER_PIPELINE_MAX per
 * connection): a deliver process that finds several requests waiting
 * handles them together and shares one fsync of a Maildir's new/ among
 * them, so the busier the queue, the cheaper each delivery.  The sockets
 * never block qmgr: requests and replies go through bufferevents, and a
 * connection that goes QMGR_REPLY_TIMEOUT without a reply while requests
 * are out counts as a crash of the agent.  After a crash its messages are
 * retried soon (the master restarts deliver within seconds), never dropped
 * and never sent to the long deferred back-off for a fault that was not
 * their own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "qmgr.h"

struct qmgr_conn {
	TAILQ_ENTRY(qmgr_conn)	 link;
	struct qmgr		*q;
	struct bufferevent	*bev;
	/* Requests out, oldest first: out[(head + k) % DELIVER_PIPELINE_MAX]
	 * for k < nout.  Replies come back in this order. */
	struct qmgr_msg		*out[DELIVER_PIPELINE_MAX];
	int			 head;
	int			 nout;
	/* Has answered a request: a deliver process has accepted it.  Until
	 * then it may still wait in the listen backlog. */
	int			 proven;
	long long		 sent_ms;	/* when the oldest request went out */
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	pool_waitcheck_cb(evutil_socket_t, short, void *);

static void
pool_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;

	(void)fd;
	(void)what;
	q->backing_off = 0;
	qmgr_active_kick(q);
}

void
qmgr_deliver_init(struct qmgr *q)
{
	TAILQ_INIT(&q->conns);
	q->nconns = 0;
	q->nfail = 0;
	q->backing_off = 0;
	q->backoff_ev = evtimer_new(q->base, pool_backoff_cb, q);
	q->waitcheck_ev = evtimer_new(q->base, pool_waitcheck_cb, q);
	if (q->backoff_ev == NULL || q->waitcheck_ev == NULL)
		log_fatal("qmgr: cannot create events");
}

/* Trouble with deliver: no new connection for a while.  Failures during
 * one pause count once, so four agents killed together cost one second,
 * not sixteen. */
static void
pool_failed(struct qmgr *q)
{
	struct timeval tv;

	if (q->backing_off)
		return;
	q->nfail++;
	tv.tv_sec = qmgr_retry_delay(q->nfail);
	tv.tv_usec = 0;
	q->backing_off = 1;
	evtimer_add(q->backoff_ev, &tv);
	log_warn("delivery agent trouble, %d time(s) in a row; new "
	    "connections in %ld s", q->nfail, (long)tv.tv_sec);
}

static void
conn_close(struct qmgr_conn *c)
{
	struct qmgr *q = c->q;

	TAILQ_REMOVE(&q->conns, c, link);
	q->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

static struct qmgr_msg *
conn_pop(struct qmgr_conn *c)
{
	struct qmgr_msg *m = c->out[c->head];

	c->out[c->head] = NULL;
	c->head = (c->head + 1) % DELIVER_PIPELINE_MAX;
	c->nout--;
	return m;
}

/* The connection is gone with requests on it: as far as qmgr knows their
 * recipients were not delivered, so the batches go back to the FIFO. */
static void
conn_lost(struct qmgr_conn *c, const char *why)
{
	struct qmgr	*q = c->q;
	struct qmgr_msg	*m;
	int		 lost = c->nout > 0;

	TAILQ_REMOVE(&q->conns, c, link);
	q->nconns--;
	bufferevent_free(c->bev);
	while (c->nout > 0) {
		m = conn_pop(c);
		log_qid(LOG_LEVEL_WARN, m->id, "delivery agent %s; will retry",
		    why);
		qmgr_msg_retry(q, m, 1);
	}
	free(c);
	if (lost)
		pool_failed(q);
	qmgr_active_kick(q);
}

static void
conn_timeouts(struct qmgr_conn *c)
{
	struct timeval busy = { QMGR_REPLY_TIMEOUT, 0 };
	struct timeval idle = { QMGR_IDLE_TIMEOUT, 0 };

	if (c->nout > 0)
		bufferevent_set_timeouts(c->bev, &busy, &busy);
	else
		bufferevent_set_timeouts(c->bev, &idle, NULL);
}

static struct qmgr_conn *
conn_open(struct qmgr *q)
{
	struct sockaddr_un	 sun;
	struct qmgr_conn	*c;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, DELIVER_SOCKET, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_error("socket: %s", strerror(errno));
		return NULL;
	}
	/* A local connect completes at once or fails (EAGAIN: backlog
	 * full); it never leaves a half-open socket to wait for. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("connect to %s: %s", DELIVER_SOCKET, strerror(errno));
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->q = q;
	c->bev = bufferevent_socket_new(q->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IPC_FRAME_MAX + 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&q->conns, c, link);
	q->nconns++;
	return c;
}

static struct qmgr_conn *
pool_idle(struct qmgr *q)
{
	struct qmgr_conn *c;

	TAILQ_FOREACH(c, &q->conns, link)
		if (c->nout == 0)
			return c;
	return NULL;
}

/* The proven connection with the fewest requests out that has room for
 * one more.  Not an unproven one: it may still wait in the listen
 * backlog, and a request behind it would wait too. */
static struct qmgr_conn *
pool_least_busy(struct qmgr *q)
{
	struct qmgr_conn *c, *best = NULL;

	TAILQ_FOREACH(c, &q->conns, link)
		if (c->proven && c->nout < DELIVER_PIPELINE_MAX &&
		    (best == NULL || c->nout < best->nout))
			best = c;
	return best;
}

static int
pool_limit(const struct qmgr *q)
{
	return q->cfg->deliver_concurrency > 0 ?
	    q->cfg->deliver_concurrency : 1;
}

/*
 * A deliver process serves one connection at a time, so with fewer deliver
 * processes than deliver_concurrency some of our connections wait in the
 * listen backlog while others hold the processes.  A connection whose
 * first request has gone unanswered for QMGR_BACKLOG_MS probably waits so;
 * then an answered connection is closed instead of kept, freeing its
 * process for the waiting one.  With enough processes nobody waits and
 * connections persist.
 */
static struct qmgr_conn *
pool_oldest_unanswered(struct qmgr *q, const struct qmgr_conn *self)
{
	struct qmgr_conn *c, *old = NULL;

	TAILQ_FOREACH(c, &q->conns, link)
		if (c != self && c->nout > 0 && !c->proven &&
		    (old == NULL || c->sent_ms < old->sent_ms))
			old = c;
	return old;
}

static int
pool_someone_waits(struct qmgr *q, const struct qmgr_conn *self)
{
	struct qmgr_conn *old = pool_oldest_unanswered(q, self);

	return old != NULL && io_now_ms() - old->sent_ms >= QMGR_BACKLOG_MS;
}

/* Check again when the oldest unanswered request will have waited
 * QMGR_BACKLOG_MS. */
static void
pool_waitcheck_arm(struct qmgr *q)
{
	struct qmgr_conn	*old;
	struct timeval		 tv;
	long long		 ms;

	if ((old = pool_oldest_unanswered(q, NULL)) == NULL)
		return;
	ms = old->sent_ms + QMGR_BACKLOG_MS - io_now_ms();
	if (ms < 1)
		ms = 1;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (!evtimer_pending(q->waitcheck_ev, NULL))
		evtimer_add(q->waitcheck_ev, &tv);
}

/* Idle connections hold deliver processes too: let them go while a
 * request waits, and look again while one still does. */
static void
pool_waitcheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr		*q = arg;
	struct qmgr_conn	*c, *next;

	(void)fd;
	(void)what;
	if (pool_someone_waits(q, NULL))
		for (c = TAILQ_FIRST(&q->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, link);
			if (c->nout == 0)
				conn_close(c);
		}
	pool_waitcheck_arm(q);
}

static void
conn_send(struct qmgr_conn *c, struct qmgr_msg *m, const struct ipc_msg *req)
{
	if (c->nout == 0)
		c->sent_ms = io_now_ms();
	c->out[(c->head + c->nout) % DELIVER_PIPELINE_MAX] = m;
	c->nout++;
	if (ipc_evbuffer_put(bufferevent_get_output(c->bev), req) == -1) {
		conn_lost(c, "request could not be encoded");
		return;
	}
	conn_timeouts(c);
	if (!c->proven)
		pool_waitcheck_arm(c->q);
	log_debug("%s: request for %d recipient(s) sent", m->id, m->nbatch);
}

/* Where the next request goes: an idle connection; else NULL while a new
 * one may be opened; else the least busy proven one with room.  Not while
 * a connection waits for a deliver process: the busy ones must run dry so
 * that one of them can be closed and its process freed. */
static struct qmgr_conn *
pool_pick(struct qmgr *q)
{
	struct qmgr_conn *c;

	if ((c = pool_idle(q)) != NULL)
		return c;
	if ((!q->backing_off && q->nconns < pool_limit(q)) ||
	    pool_someone_waits(q, NULL))
		return NULL;
	return pool_least_busy(q);
}

void
qmgr_deliver_dispatch(struct qmgr *q)
{
	struct qmgr_conn	*c;
	struct qmgr_msg		*m;
	struct ipc_msg		 req;
	int			 n;

	for (n = 0; n < QMGR_KICK_BATCH && !TAILQ_EMPTY(&q->fifo); n++) {
		c = pool_pick(q);
		if (c == NULL && (q->backing_off || q->nconns >= pool_limit(q)))
			return;
		m = qmgr_active_next(q);
		if (qmgr_msg_load(q, m, &req) == 0)
			continue;	/* finished, or set aside */
		if (c == NULL && (c = conn_open(q)) == NULL) {
			ipc_msg_free(&req);
			qmgr_msg_retry(q, m, 0);
			pool_failed(q);
			return;
		}
		conn_send(c, m, &req);
		ipc_msg_free(&req);
	}
	/* Bounded work per loop turn: let the clients in, then go on. */
	qmgr_active_kick(q);
}

static void
conn_reply(struct qmgr_conn *c, struct ipc_msg *reply)
{
	struct qmgr		*q = c->q;
	struct qmgr_msg		*m = conn_pop(c);
	struct qmgr_outcome	*out;
	const char		*err = NULL;
	char			 safe[QMGR_TEXT_MAX];

	c->proven = 1;
	c->sent_ms = io_now_ms();
	q->nfail = 0;
	out = xreallocarray(NULL, m->nbatch > 0 ? m->nbatch : 1, sizeof(*out));
	if (qmgr_reply_parse(reply, m->nbatch, out, &err) == -1) {
		qmgr_text_safe(safe, sizeof(safe), err);
		log_qid(LOG_LEVEL_ERROR, m->id, "bad reply from delivery "
		    "agent: %s", safe);
	}
	qmgr_msg_done(q, m, out);
	free(out);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct qmgr_conn	*c = arg;
	struct qmgr		*q = c->q;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct ipc_msg		 reply;
	int			 r;

	while ((r = ipc_evbuffer_take(in, IPC_FRAME_MAX + 4, &reply)) != 0) {
		if (r == -1) {
			log_error("malformed frame from delivery agent");
			conn_lost(c, "sent a malformed frame");
			return;
		}
		if (c->nout == 0) {
			ipc_msg_free(&reply);
			log_error("delivery agent sent more replies than "
			    "there were requests");
			conn_lost(c, "protocol error");
			return;
		}
		conn_reply(c, &reply);
		ipc_msg_free(&reply);
	}
	if (c->nout > 0) {
		conn_timeouts(c);
		qmgr_active_kick(q);
		return;
	}
	/* An idle connection that holds up a waiting one is closed by
	 * pool_waitcheck_cb. */
	if (pool_someone_waits(q, c))
		conn_close(c);
	else
		conn_timeouts(c);
	qmgr_active_kick(q);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct qmgr_conn *c = arg;

	(void)bev;
	if (c->nout == 0) {
		/* Idle: timed out, or the agent went away; nothing lost. */
		log_debug("idle delivery agent connection closed");
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_lost(c, "did not answer in time");
	else if (what & BEV_EVENT_EOF)
		conn_lost(c, "closed the connection");
	else
		conn_lost(c, "connection failed");
}

void
qmgr_deliver_free(struct qmgr *q)
{
	struct qmgr_conn *c;

	/* Outstanding messages stay in active/ and belong to the active set,
	 * which frees them; a restart delivers them again. */
	while ((c = TAILQ_FIRST(&q->conns)) != NULL)
		conn_close(c);
	if (q->backoff_ev != NULL)
		event_free(q->backoff_ev);
	if (q->waitcheck_ev != NULL)
		event_free(q->waitcheck_ev);
	q->backoff_ev = q->waitcheck_ev = NULL;
}
