/*
 * ipc_server - accepting clients and serving framed requests on libevent.
 * See ipc_server.h.  Clients live in a table of client_max slots; an id is
 * a serial number times client_max plus the slot, so finding a client is
 * one look-up and an id whose client has gone matches nothing, even after
 * its slot has been given to a newer client.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "ipc_event.h"
#include "ipc_server.h"
#include "log.h"

#define ACCEPT_BATCH	32	/* accepts per wake-up */
#define ACCEPT_PAUSE	1	/* s to wait when out of descriptors */

struct ipc_client {
	struct ipc_server	*srv;
	ipc_client_id		 id;
	struct bufferevent	*bev;
	void			*data;		/* the daemon's */
	int			 pending;	/* requests not answered yet */
	int			 paused;	/* reading stopped: replies unread */
	uid_t			 uid;		/* the peer's, when uid_max */
};

struct ipc_server {
	struct ipc_server_conf	 conf;
	struct event_base	*base;
	struct event		*accept_ev;
	struct event		*resume_ev;	/* accept again after EMFILE */
	int			 accepting;
	struct ipc_client	**slot;		/* conf.client_max of them */
	int			*free_slot;	/* a stack of the empty ones */
	int			 nclients;	/* also: free_slot holds the
						 * client_max - nclients first */
	uint64_t		 serial;	/* of the last client accepted */
	time_t			 uid_logged;	/* last refusal logged (uid_max) */
};

static struct ipc_client *
server_find(const struct ipc_server *s, ipc_client_id id)
{
	struct ipc_client	*c;

	if (id == 0)
		return NULL;
	c = s->slot[id % (uint64_t)s->conf.client_max];
	return c != NULL && c->id == id ? c : NULL;
}

/* Listen only while there is room for another client and no pause for
 * descriptors is running. */
static void
server_listen_update(struct ipc_server *s)
{
	int	 room = s->nclients < s->conf.client_max;
	int	 want = room && !evtimer_pending(s->resume_ev, NULL);

	if (want && !s->accepting)
		event_add(s->accept_ev, NULL);
	else if (!want && s->accepting) {
		event_del(s->accept_ev);
		if (!room)
			log_warn("%d clients: not accepting more for now",
			    s->nclients);
	}
	s->accepting = want;
}

static void
client_free(struct ipc_client *c)
{
	struct ipc_server	*s = c->srv;

	size_t			 i = c->id % (uint64_t)s->conf.client_max;

	s->slot[i] = NULL;
	s->free_slot[s->conf.client_max - s->nclients] = (int)i;
	s->nclients--;
	bufferevent_free(c->bev);
	if (s->conf.gone != NULL)
		s->conf.gone(s->conf.arg, c->id, c->data);
	free(c);
	server_listen_update(s);
}

/* Take one frame off the client's input: 1 (req filled), 0 (incomplete),
 * -1 (malformed or too long: logged, the caller drops the client). */
static int
client_take(struct ipc_client *c, struct ipc_msg *req)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	size_t		 max = c->srv->conf.frame_max;
	long		 len;
	int		 r;

	if ((len = ipc_evbuffer_frame_length(in)) > 0 && (size_t)len > max) {
		log_warn("a client sent a frame of %ld bytes (at most %zu); "
		    "dropping it", len, max);
		return -1;
	}
	if ((r = ipc_evbuffer_take(in, max, req)) == -1)
		log_warn("malformed frame from a client; dropping it");
	return r;
}

/* May the client have another request served now?  Not while its replies
 * pile up unread (then stop reading too, until it reads: client_write_cb)
 * or while it has pending_max requests in progress. */
static int
client_ready(struct ipc_client *c)
{
	const struct ipc_server_conf *conf = &c->srv->conf;

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    conf->out_max) {
		if (!c->paused)
			bufferevent_disable(c->bev, EV_READ);
		c->paused = 1;
		return 0;
	}
	return conf->pending_max == 0 || c->pending < conf->pending_max;
}

/* Serve the complete requests in the input, as far as client_ready()
 * allows.  The callback may reply, drop the client or even free it. */
static void
client_process(struct ipc_client *c)
{
	struct ipc_server	*s = c->srv;
	ipc_client_id		 id = c->id;
	struct ipc_msg		 req;
	int			 r;

	while (client_ready(c)) {
		if ((r = client_take(c, &req)) == 0)
			return;
		if (r == -1) {
			client_free(c);
			return;
		}
		c->pending++;
		s->conf.request(s->conf.arg, id, &req);
		ipc_msg_free(&req);
		if ((c = server_find(s, id)) == NULL)
			return;
	}
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	client_process(arg);
}

/* Output drained: resume a paused client and serve what it already sent
 * (no read event comes for bytes already buffered). */
static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct ipc_client	*c = arg;

	if (c->paused) {
		c->paused = 0;
		bufferevent_enable(bev, EV_READ);
	}
	client_process(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING))
		log_debug("a client sent nothing for %d s; dropping it",
		    ((struct ipc_client *)arg)->srv->conf.idle_timeout);
	else if (what & BEV_EVENT_TIMEOUT)
		log_warn("a client did not read its replies in time; "
		    "dropping it");
	else if (what & BEV_EVENT_ERROR)
		log_debug("client connection error: %s", strerror(errno));
	client_free(arg);
}

/* May the peer on fd have another client (uid_max)?  *uid: its uid. */
static int
client_uid_room(struct ipc_server *s, int fd, uid_t *uid)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	time_t		 now;
	int		 i, n = 0;

	if (s->conf.uid_max <= 0)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("a client's credentials: %s; refusing it",
		    strerror(errno));
		return 0;
	}
	*uid = cred.uid;
	for (i = 0; i < s->conf.client_max; i++)
		if (s->slot[i] != NULL && s->slot[i]->uid == cred.uid)
			n++;
	if (n < s->conf.uid_max)
		return 1;
	/* A flood of refusals is logged once a second, not once each. */
	if ((now = time(NULL)) != s->uid_logged) {
		s->uid_logged = now;
		log_warn("%d clients of uid %u: refusing another", n,
		    (unsigned)cred.uid);
	}
	return 0;
}

static void
client_new(struct ipc_server *s, int fd)
{
	struct timeval		 tv = { s->conf.write_timeout, 0 };
	struct timeval		 idle = { s->conf.idle_timeout, 0 };
	struct ipc_client	*c;
	uid_t			 uid = 0;
	int			 slot;

	if (!client_uid_room(s, fd, &uid)) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->uid = uid;
	if ((c->bev = bufferevent_socket_new(s->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, s->conf.in_max);
	/* Writing is timed: a client that stops reading is not fine.  An
	 * idle one (smtpd keeping its connection) is, unless idle_timeout. */
	bufferevent_set_timeouts(c->bev, s->conf.idle_timeout > 0 ? &idle :
	    NULL, &tv);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) == -1) {
		log_error("bufferevent_enable failed");
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	/* A slot is free: the caller checked nclients < client_max. */
	slot = s->free_slot[s->conf.client_max - s->nclients - 1];
	c->id = ++s->serial * (uint64_t)s->conf.client_max + (uint64_t)slot;
	s->slot[slot] = c;
	s->nclients++;
}

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	server_listen_update(arg);
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct timeval		 tv = { ACCEPT_PAUSE, 0 };
	struct ipc_server	*s = arg;
	int			 fd, i;

	(void)what;
	for (i = 0; i < ACCEPT_BATCH && s->nclients < s->conf.client_max;
	    i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			client_new(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Level-triggered: sleep, or spin. */
			log_warn("accept: %s; pausing", strerror(errno));
			evtimer_add(s->resume_ev, &tv);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept: %s", strerror(errno));
		break;
	}
	server_listen_update(s);
}

struct ipc_server *
ipc_server_new(struct event_base *base, int listen_fd,
    const struct ipc_server_conf *conf)
{
	struct ipc_server	*s;
	int			 i;

	s = xcalloc(1, sizeof(*s));
	s->conf = *conf;
	if (s->conf.client_max < 1)
		s->conf.client_max = 1;
	if (s->conf.in_max < s->conf.frame_max)
		s->conf.in_max = s->conf.frame_max;
	s->base = base;
	s->slot = xcalloc((size_t)s->conf.client_max, sizeof(*s->slot));
	s->free_slot = xcalloc((size_t)s->conf.client_max,
	    sizeof(*s->free_slot));
	for (i = 0; i < s->conf.client_max; i++)
		s->free_slot[i] = i;
	if (io_set_nonblock(listen_fd, 1) == -1)
		log_warn("listening socket: cannot make it non-blocking: %s",
		    strerror(errno));
	s->accept_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
	    server_accept_cb, s);
	s->resume_ev = evtimer_new(base, server_resume_cb, s);
	if (s->accept_ev == NULL || s->resume_ev == NULL ||
	    event_add(s->accept_ev, NULL) == -1) {
		ipc_server_free(s);
		return NULL;
	}
	s->accepting = 1;
	return s;
}

void
ipc_server_free(struct ipc_server *s)
{
	int	 i;

	if (s == NULL)
		return;
	for (i = 0; i < s->conf.client_max; i++)
		if (s->slot[i] != NULL)
			client_free(s->slot[i]);
	if (s->accept_ev != NULL)
		event_free(s->accept_ev);
	if (s->resume_ev != NULL)
		event_free(s->resume_ev);
	free(s->slot);
	free(s->free_slot);
	free(s);
}

int
ipc_server_reply(struct ipc_server *s, ipc_client_id id,
    const struct ipc_msg *reply)
{
	struct ipc_client	*c;

	if ((c = server_find(s, id)) == NULL)
		return -1;
	if (c->pending > 0)
		c->pending--;
	if (ipc_evbuffer_put(bufferevent_get_output(c->bev), reply) == -1) {
		log_error("cannot queue a reply to a client; dropping it");
		client_free(c);
		return -1;
	}
	/* The next request is served from client_write_cb, once this reply
	 * is written: not from inside the daemon's call. */
	return 0;
}

void
ipc_server_drop(struct ipc_server *s, ipc_client_id id)
{
	struct ipc_client	*c;

	if ((c = server_find(s, id)) != NULL)
		client_free(c);
}

int
ipc_server_set_data(struct ipc_server *s, ipc_client_id id, void *data)
{
	struct ipc_client	*c;

	if ((c = server_find(s, id)) == NULL)
		return -1;
	c->data = data;
	return 0;
}

void *
ipc_server_data(const struct ipc_server *s, ipc_client_id id)
{
	struct ipc_client	*c;

	return (c = server_find(s, id)) != NULL ? c->data : NULL;
}

int
ipc_server_nclients(const struct ipc_server *s)
{
	return s->nclients;
}

int
ipc_server_client_hung_up(const struct ipc_server *s, ipc_client_id id)
{
	struct ipc_client	*c;
	struct pollfd		 pfd;

	if ((c = server_find(s, id)) == NULL)
		return 1;
	memset(&pfd, 0, sizeof(pfd));
	pfd.fd = bufferevent_getfd(c->bev);
	pfd.events = POLLRDHUP;
	if (pfd.fd < 0 || poll(&pfd, 1, 0) < 0)
		return 0;
	return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}
