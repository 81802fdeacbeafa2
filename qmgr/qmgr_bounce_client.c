/*
 * qmgr_bounce_client - asking bounce(8) for notices without waiting for it
 * (proto_bounce.h, one request per connection).  A message whose round
 * has ended with notices due (m->notices, planned by qmgr_message.c) joins
 * a FIFO; at most QMGR_BOUNCE_CONCURRENCY requests are out at once, one
 * per message at a time, so that bounce never reads a file qmgr is still
 * marking, and a message's next part goes out when its previous one is
 * marked.  Requests and replies go through bufferevents on qmgr's event
 * loop: while a notice waits, the scans, the dispatcher and the other
 * messages go on.  Since nothing waits on it, the time-out is long
 * (qmgr_bounce_timeout, 5 minutes), and it runs only for the oldest
 * request out, the one bounce (one process, serving in turn) works on: a
 * request queued behind a slow one does not time out while it waits.  A
 * request that times out, a lost connection, a connection that fails or a
 * reply that is not one pause the client: bounce is not asked again for
 * QMGR_BOUNCE_RETRY seconds, so that the messages waiting go to deferred/
 * at once rather than wait for a bounce that is hung too.  A refusal (an
 * IPC_T_ERROR reply: this message's notice cannot be made now), a request
 * too large or a failed marker end only that message's turn, with
 * m->notice_failed: it goes to deferred/ with its notice still due (no
 * marker was written for it) and its normal back-off.  A notice bounce
 * committed after qmgr gave up on it (or before a crash) is asked for
 * again later: sent twice, never lost; bounce checks that its client is
 * still there before it composes and again right before it publishes, so
 * such a duplicate needs qmgr to give up within that last rename.  The
 * messages waiting here hold their files open: the dispatcher loads no new
 * message while QMGR_NOTICE_WAIT_MAX of them wait
 * (qmgr_dispatch_can_load()).  Completions always come from the loop
 * (bounce_ev), never from inside qmgr_bounce_start(), so its caller's state
 * stays valid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "log.h"
#include "qmgr.h"

/* One request out: its connection, the message it is for (the head of
 * m->notices). */
struct qmgr_bconn {
	TAILQ_ENTRY(qmgr_bconn)	 link;
	struct qmgr		*q;
	struct qmgr_msg		*m;
	struct bufferevent	*bev;
};

static void	bconn_read_cb(struct bufferevent *, void *);
static void	bconn_event_cb(struct bufferevent *, short, void *);

static void
bounce_schedule(struct qmgr *q)
{
	static const struct timeval now = { 0, 0 };

	if (!evtimer_pending(q->bounce_ev, NULL))
		(void)evtimer_add(q->bounce_ev, &now);
}

/* The message's turn is over (all asked, or one failed): it leaves us. */
static void
bounce_done(struct qmgr *q, struct qmgr_msg *m, int failed)
{
	if (failed)
		m->notice_failed = 1;
	qmgr_notice_forget(m);
	q->notice_msgs--;
	qmgr_msg_noticed(q, m);
}

static void
bounce_failed(struct qmgr *q)
{
	q->bounce_retry = time(NULL) + QMGR_BOUNCE_RETRY;
}

/* Start c's clock: it is the oldest request out, the one bounce works
 * on now (those behind it wait in bounce's accept queue). */
static void
bconn_clock(struct qmgr_bconn *c)
{
	struct timeval	 tv = { c->q->par->qmgr_bounce_timeout, 0 };

	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

static void
bconn_free(struct qmgr_bconn *c)
{
	struct qmgr	*q = c->q;
	int		 oldest = c == TAILQ_FIRST(&q->bconns);

	TAILQ_REMOVE(&q->bconns, c, link);
	q->bounce_out--;
	bufferevent_free(c->bev);
	free(c);
	if (oldest && !TAILQ_EMPTY(&q->bconns))
		bconn_clock(TAILQ_FIRST(&q->bconns));
}

/* Send the head of m->notices on a new connection.  0; -1 (logged) when
 * bounce cannot be reached; -2 (logged) when this request cannot be made. */
static int
bconn_open(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_bconn	*c;
	struct ipc_msg		 req;
	int			 fd;

	if (qmgr_notice_request(m, TAILQ_FIRST(&m->notices), &req) < 0) {
		log_qid(LOG_LEVEL_ERROR, m->id, "notification request too "
		    "large");
		return -2;
	}
	/* From now on bounce may read the file, whatever it answers. */
	m->bounce_asked = 1;
	if ((fd = ipc_connect_nonblock(BOUNCE_SOCKET)) < 0) {
		log_qid(LOG_LEVEL_WARN, m->id, "cannot reach %s: %s",
		    BOUNCE_SOCKET, strerror(errno));
		ipc_msg_free(&req);
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->q = q;
	c->m = m;
	if ((c->bev = bufferevent_socket_new(q->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL ||
	    ipc_evbuffer_put(bufferevent_get_output(c->bev), &req) < 0) {
		log_qid(LOG_LEVEL_ERROR, m->id, "cannot queue a request to %s",
		    BOUNCE_SOCKET);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		free(c);
		ipc_msg_free(&req);
		return -1;
	}
	ipc_msg_free(&req);
	bufferevent_setcb(c->bev, bconn_read_cb, NULL, bconn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IPC_FRAME_MAX + 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&q->bconns, c, link);
	q->bounce_out++;
	if (c == TAILQ_FIRST(&q->bconns))
		bconn_clock(c);
	return 0;
}

/* Send what waits, while there is room.  While bounce is not to be asked,
 * every waiting message goes on at once, deferred. */
static void
bounce_pump(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr	*q = arg;
	struct qmgr_msg	*m;
	int		 r;

	(void)fd;
	(void)what;
	while (q->bounce_out < QMGR_BOUNCE_CONCURRENCY &&
	    (m = TAILQ_FIRST(&q->notice_fifo)) != NULL) {
		TAILQ_REMOVE(&q->notice_fifo, m, nlink);
		if (time(NULL) < q->bounce_retry)
			bounce_done(q, m, 1);
		else if ((r = bconn_open(q, m)) < 0) {
			if (r == -1)
				bounce_failed(q);
			bounce_done(q, m, 1);
		}
	}
}

int
qmgr_bounce_start(struct qmgr *q, struct qmgr_msg *m)
{
	if (time(NULL) < q->bounce_retry)
		return -1;
	m->notice_failed = 0;
	TAILQ_INSERT_TAIL(&q->notice_fifo, m, nlink);
	q->notice_msgs++;
	bounce_schedule(q);
	return 0;
}

/* The reply to c's request: mark, then the message's next part (ahead of
 * the other messages: its file is open) or its end. */
static void
bconn_reply(struct qmgr_bconn *c, const struct ipc_msg *reply)
{
	struct qmgr		*q = c->q;
	struct qmgr_msg		*m = c->m;
	struct qmgr_notice	*n = TAILQ_FIRST(&m->notices);
	char			 notice_id[QUEUE_ID_SIZE] = "", safe[QMGR_TEXT_MAX];
	const char		*err;
	int			 r;

	bconn_free(c);
	bounce_schedule(q);
	if ((r = qmgr_notice_reply(reply, notice_id, &err)) < 0) {
		qmgr_text_safe(safe, sizeof(safe), err);
		log_qid(LOG_LEVEL_WARN, m->id, "%s refused the notification: "
		    "%s", BOUNCE_SOCKET, safe);
		/* A refusal is about this message; anything else that is not
		 * a reply, about bounce. */
		if (reply->type != IPC_T_ERROR)
			bounce_failed(q);
		bounce_done(q, m, 1);
		return;
	}
	r = qmgr_notice_mark(m, n, r == 1 ? notice_id : "-");
	if (notice_id[0] != '\0')
		qmgr_scan_notify(q, notice_id);
	if (r < 0) {
		bounce_done(q, m, 1);
		return;
	}
	TAILQ_REMOVE(&m->notices, n, link);
	free(n);
	if (TAILQ_EMPTY(&m->notices)) {
		bounce_done(q, m, 0);
		return;
	}
	TAILQ_INSERT_HEAD(&q->notice_fifo, m, nlink);
}

static void
bconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct qmgr_bconn	*c = arg;
	struct ipc_msg		 reply;
	int			 r;

	r = ipc_evbuffer_take(bufferevent_get_input(bev), IPC_FRAME_MAX + 4,
	    &reply);
	if (r == 0)
		return;
	if (r < 0) {
		bconn_event_cb(bev, BEV_EVENT_ERROR, c);
		return;
	}
	bconn_reply(c, &reply);
	ipc_msg_free(&reply);
}

static void
bconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct qmgr_bconn	*c = arg;
	struct qmgr		*q = c->q;
	struct qmgr_msg		*m = c->m;

	(void)bev;
	log_qid(LOG_LEVEL_WARN, m->id, "no answer from %s: %s; the "
	    "notification is still due", BOUNCE_SOCKET,
	    (what & BEV_EVENT_TIMEOUT) ? "timed out" :
	    (what & BEV_EVENT_EOF) ? "connection closed" : "connection failed");
	bconn_free(c);
	bounce_failed(q);
	bounce_done(q, m, 1);
	bounce_schedule(q);
}

void
qmgr_bounce_init(struct qmgr *q)
{
	TAILQ_INIT(&q->notice_fifo);
	TAILQ_INIT(&q->bconns);
	q->notice_msgs = q->bounce_out = 0;
	if ((q->bounce_ev = evtimer_new(q->base, bounce_pump, q)) == NULL)
		log_fatal("qmgr: cannot create events");
}

void
qmgr_bounce_free(struct qmgr *q)
{
	struct qmgr_msg	*m;

	while (!TAILQ_EMPTY(&q->bconns))
		bconn_free(TAILQ_FIRST(&q->bconns));
	while ((m = TAILQ_FIRST(&q->notice_fifo)) != NULL) {
		TAILQ_REMOVE(&q->notice_fifo, m, nlink);
	}
	q->notice_msgs = 0;
	if (q->bounce_ev != NULL)
		event_free(q->bounce_ev);
	q->bounce_ev = NULL;
}
