/*
 * qmgr_listen - the server side of the qmgr protocol (proto_qmgr.h) on the
 * socket the master bound for us.  Clients are smtpd and the admin tools;
 * they are trusted only as far as the protocol: every frame is bounded, a
 * malformed one costs the client its connection, a client that does not
 * read its replies is paused and then dropped, and the number of clients
 * is capped, so no client can make qmgr block or grow without bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "proto_qmgr.h"
#include "qmgr.h"

#define ACCEPT_BATCH	32	/* accepts per wake-up */
#define ACCEPT_PAUSE	1	/* s to wait when out of descriptors */

struct qmgr_client {
	TAILQ_ENTRY(qmgr_client) link;
	struct qmgr		*q;
	struct bufferevent	*bev;
	int			 paused;	/* reading stopped: replies unread */
};

static void
reply_error(struct ipc_msg *reply, const char *text)
{
	ipc_msg_free(reply);
	ipc_msg_init(reply, IPC_T_ERROR);
	(void)ipc_msg_add(reply, "text", text);
}

enum qmgr_req_kind
qmgr_listen_check(const struct ipc_msg *req, struct ipc_msg *reply,
    const char **id)
{
	long long v;

	*id = NULL;
	ipc_msg_init(reply, IPC_T_OK);
	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v != PROTO_QMGR_VERSION) {
		reply_error(reply, "unsupported protocol version");
		return QMGR_REQ_BAD;
	}
	switch (req->type) {
	case QMGR_T_NOTIFY:
		*id = ipc_msg_get(req, "id");
		if (*id == NULL || !queue_id_valid(*id)) {
			*id = NULL;
			reply_error(reply, "missing or invalid queue id");
			return QMGR_REQ_BAD;
		}
		return QMGR_REQ_NOTIFY;
	case QMGR_T_FLUSH:
		return QMGR_REQ_FLUSH;
	default:
		reply_error(reply, "unknown request type");
		return QMGR_REQ_BAD;
	}
}

static void
client_free(struct qmgr_client *c)
{
	struct qmgr *q = c->q;

	TAILQ_REMOVE(&q->clients, c, link);
	q->nclients--;
	bufferevent_free(c->bev);
	free(c);
	/* Below the cap again: accept (unless paused for descriptors). */
	if (q->accept_ev != NULL && q->nclients == QMGR_CLIENT_MAX - 1 &&
	    !evtimer_pending(q->accept_pause, NULL))
		event_add(q->accept_ev, NULL);
}

static void
client_serve(struct qmgr_client *c, const struct ipc_msg *req)
{
	struct ipc_msg	 reply;
	const char	*id, *text;

	switch (qmgr_listen_check(req, &reply, &id)) {
	case QMGR_REQ_NOTIFY:
		log_debug("%s: notify", id);
		qmgr_scan_notify(c->q, id);
		break;
	case QMGR_REQ_FLUSH:
		log_info("flush requested");
		qmgr_scan_deferred(c->q, 1);
		break;
	case QMGR_REQ_BAD:
		text = ipc_msg_get(&reply, "text");
		log_warn("client request type %u refused: %s",
		    (unsigned)req->type, text ? text : "");
		break;
	}
	if (ipc_evbuffer_put(bufferevent_get_output(c->bev), &reply) == -1)
		log_error("cannot encode a reply");
	ipc_msg_free(&reply);
}

/* Answer every complete request in the input.  0, or -1 when the client
 * was dropped. */
static int
client_process(struct qmgr_client *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct ipc_msg	 req;
	int		 r;

	while (!c->paused) {
		if (evbuffer_get_length(out) > QMGR_CLIENT_OUT_MAX) {
			/* Wait for the client to read (client_write_cb). */
			c->paused = 1;
			bufferevent_disable(c->bev, EV_READ);
			break;
		}
		if ((r = ipc_evbuffer_take(in, QMGR_REQUEST_MAX, &req)) == 0)
			break;
		if (r == -1) {
			log_warn("malformed frame from a client; "
			    "disconnecting it");
			client_free(c);
			return -1;
		}
		client_serve(c, &req);
		ipc_msg_free(&req);
	}
	return 0;
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)client_process(arg);
}

/* Output drained: resume a paused client, and answer what it already
 * sent (no read event will come for bytes already buffered). */
static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct qmgr_client *c = arg;

	if (!c->paused)
		return;
	c->paused = 0;
	bufferevent_enable(bev, EV_READ);
	(void)client_process(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("client did not read its replies in time; "
		    "disconnecting it");
	client_free(arg);
}

static void
client_new(struct qmgr *q, int fd)
{
	struct timeval		 tv = { QMGR_CLIENT_TIMEOUT, 0 };
	struct qmgr_client	*c;

	c = xcalloc(1, sizeof(*c));
	c->q = q;
	if ((c->bev = bufferevent_socket_new(q->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * QMGR_REQUEST_MAX);
	/* Only writing is timed: an idle client (smtpd keeping its
	 * connection) is fine, a client that stops reading is not. */
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&q->clients, c, link);
	if (++q->nclients >= QMGR_CLIENT_MAX) {
		log_warn("%d clients: not accepting more for now",
		    q->nclients);
		event_del(q->accept_ev);
	}
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;

	(void)fd;
	(void)what;
	if (q->nclients < QMGR_CLIENT_MAX)
		event_add(q->accept_ev, NULL);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct timeval	 tv = { ACCEPT_PAUSE, 0 };
	struct qmgr	*q = arg;
	int		 fd, i;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && q->nclients < QMGR_CLIENT_MAX; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: sleep, or spin. */
				log_warn("accept: %s; pausing", strerror(errno));
				event_del(q->accept_ev);
				evtimer_add(q->accept_pause, &tv);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		client_new(q, fd);
	}
}

int
qmgr_listen_init(struct qmgr *q, int fd)
{
	TAILQ_INIT(&q->clients);
	q->nclients = 0;
	q->listen_fd = fd;
	if ((q->accept_pause = evtimer_new(q->base, accept_resume_cb,
	    q)) == NULL)
		return -1;
	if (io_set_nonblock(fd, 1) == -1)
		log_warn("listening socket: cannot make it non-blocking: %s",
		    strerror(errno));
	q->accept_ev = event_new(q->base, fd, EV_READ | EV_PERSIST,
	    accept_cb, q);
	if (q->accept_ev == NULL || event_add(q->accept_ev, NULL) == -1)
		return -1;
	return 0;
}

void
qmgr_listen_free(struct qmgr *q)
{
	while (!TAILQ_EMPTY(&q->clients))
		client_free(TAILQ_FIRST(&q->clients));
	if (q->accept_ev != NULL)
		event_free(q->accept_ev);
	q->accept_ev = NULL;
	if (q->accept_pause != NULL)
		event_free(q->accept_pause);
	q->accept_pause = NULL;
	/* The descriptor itself belongs to the daemon context. */
	q->listen_fd = -1;
}
