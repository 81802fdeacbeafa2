/*
 * resolver_client - the socket side of the resolver: accepting clients on
 * the listening socket the master bound, reading their framed requests,
 * handing each to a lookup and writing the reply back.  A client has at
 * most one request in progress; a request it sends early waits in its
 * input buffer (bounded by a watermark) until the previous reply has been
 * taken.  A malformed frame costs the client its connection; a well-framed
 * but unacceptable request gets IPC_T_ERROR.  A client that closes its end
 * abandons its request.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "ipc_event.h"
#include "log.h"
#include "resolver.h"

#define ACCEPT_BATCH	32	/* accepts per wake-up */
#define ACCEPT_PAUSE	1	/* s to wait when out of descriptors */

struct resolver_client {
	TAILQ_ENTRY(resolver_client) link;
	struct resolver		*r;
	struct bufferevent	*bev;
	struct resolver_lookup	*lookup;	/* the request in progress */
};

static void	client_process(struct resolver_client *);
static void	listen_update(struct resolver *);

static void
client_free(struct resolver_client *c)
{
	struct resolver	*r = c->r;

	if (c->lookup != NULL)
		resolver_lookup_cancel(c->lookup);
	TAILQ_REMOVE(&r->clients, c, link);
	r->nclients--;
	bufferevent_free(c->bev);
	free(c);
	listen_update(r);
}

static int
client_send(struct resolver_client *c, const struct ipc_msg *reply)
{
	char	*frame;
	size_t	 len;
	int	 r;

	if (ipc_encode(reply, &frame, &len) < 0)
		return -1;
	r = bufferevent_write(c->bev, frame, len);
	free(frame);
	return r;
}

static void
client_lookup_done(const struct ipc_msg *reply, void *arg)
{
	struct resolver_client	*c = arg;

	c->lookup = NULL;
	if (client_send(c, reply) < 0) {
		log_warn("cannot queue a reply: dropping client");
		client_free(c);
	}
	/* The next request, if any, waits for the write callback. */
}

/* Start serving one decoded request.  -1 if the reply cannot be queued. */
static int
client_serve(struct resolver_client *c, const struct ipc_msg *req)
{
	struct ipc_msg	 reply;
	const char	*domain, *err;
	int		 r;

	if (resolver_request_check(req, &domain, &err) == 0) {
		c->lookup = resolver_lookup_start(c->r, domain,
		    client_lookup_done, c);
		return 0;
	}
	log_info("bad request (type 0x%02x): %s", req->type, err);
	if (resolver_reply_error(&reply, err) < 0)
		r = -1;
	else
		r = client_send(c, &reply);
	ipc_msg_free(&reply);
	return r;
}

/* Serve the next buffered request, once the previous one is answered and
 * its reply written: that keeps both buffers bounded. */
static void
client_process(struct resolver_client *c)
{
	struct ipc_msg	 req;
	int		 r;

	if (c->lookup != NULL ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	r = ipc_evbuffer_take(bufferevent_get_input(c->bev),
	    RESOLVER_REQUEST_MAX, &req);
	if (r == 0)
		return;
	if (r < 0) {
		log_warn("malformed request frame: dropping client");
		client_free(c);
		return;
	}
	r = client_serve(c, &req);
	ipc_msg_free(&req);
	if (r < 0) {
		log_warn("cannot queue a reply: dropping client");
		client_free(c);
	}
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_process(arg);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_process(arg);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_warn("client did not take its reply: dropping it");
	else if (what & BEV_EVENT_ERROR)
		log_debug("client connection error: %s", strerror(errno));
	client_free(arg);
}

static void
client_new(struct resolver *r, int fd)
{
	struct resolver_client	*c;
	struct timeval		 wtv = { RESOLVER_WRITE_TIMEOUT, 0 };

	c = xcalloc(1, sizeof(*c));
	c->r = r;
	if ((c->bev = bufferevent_socket_new(r->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	/* Stop reading once a whole largest request is buffered. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, RESOLVER_REQUEST_MAX);
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0) {
		log_error("bufferevent_enable failed");
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&r->clients, c, link);
	r->nclients++;
}

/* Listen only while there is room for another client. */
static void
listen_update(struct resolver *r)
{
	int	 want = r->nclients < RESOLVER_CLIENT_MAX &&
		    !evtimer_pending(r->resume_ev, NULL);

	if (want && !r->accepting)
		event_add(r->accept_ev, NULL);
	else if (!want && r->accepting)
		event_del(r->accept_ev);
	r->accepting = want;
}

static void
listen_pause(struct resolver *r)
{
	struct timeval	 tv = { ACCEPT_PAUSE, 0 };

	evtimer_add(r->resume_ev, &tv);
	listen_update(r);
}

static void
listen_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listen_update(arg);
}

static void
listen_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver	*r = arg;
	int		 i, cfd;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && r->nclients < RESOLVER_CLIENT_MAX; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			client_new(r, cfd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept: %s: pausing", strerror(errno));
			listen_pause(r);
			return;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_error("accept: %s", strerror(errno));
		break;
	}
	listen_update(r);
}

int
resolver_listen_init(struct resolver *r, int listen_fd)
{
	TAILQ_INIT(&r->clients);
	r->nclients = 0;
	r->accepting = 0;
	r->listen_fd = listen_fd;
	r->accept_ev = event_new(r->base, listen_fd, EV_READ | EV_PERSIST,
	    listen_accept_cb, r);
	r->resume_ev = evtimer_new(r->base, listen_resume_cb, r);
	if (r->accept_ev == NULL || r->resume_ev == NULL)
		return -1;
	listen_update(r);
	return r->accepting ? 0 : -1;
}

void
resolver_listen_free(struct resolver *r)
{
	struct resolver_client	*c;

	while ((c = TAILQ_FIRST(&r->clients)) != NULL)
		client_free(c);
	if (r->accept_ev != NULL)
		event_free(r->accept_ev);
	if (r->resume_ev != NULL)
		event_free(r->resume_ev);
	r->accept_ev = r->resume_ev = NULL;
	r->accepting = 0;
}
