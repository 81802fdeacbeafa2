/*
 * smtpd_notify - the qmgr notifier.  The connection is made lazily, when
 * there is something to say, and a failed connect is not retried for
 * SMTP_NOTIFY_RETRY_MS, so a missing qmgr costs one failed connect(2) per
 * interval rather than one per message.  A UNIX-domain connect either
 * completes or fails at once, so no connect state is needed.
 *
 * Notices are cheap because they are batched: a notice is only appended
 * to a buffer, and the buffer is written with one write(2) when the event
 * loop has run every callback that was ready (an activated event: libevent
 * runs it after the events already active, in the same pass), so the
 * commits that one wake-up of the loop completes cost one write together.
 * A write event is armed only when the socket is full.  qmgr's replies are read with plain read(2) only to keep its
 * socket flowing; an IPC_T_ERROR is logged, since it means the two daemons
 * disagree about the protocol.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "evbuf_io.h"
#include "io.h"
#include "ipc.h"
#include "ipc_event.h"
#include "log.h"
#include "proto_qmgr.h"
#include "smtpd_notify.h"

/* Bytes asked for by one read(2) of qmgr's replies. */
#define SMTP_NOTIFY_READ	4096

struct smtpd_notify {
	struct event_base	*base;
	int			 fd;		/* -1 while disconnected */
	struct event		*rev;		/* qmgr's replies */
	struct event		*wev;		/* armed while the socket is full */
	struct event		*flush;		/* activated when out has data */
	struct evbuffer		*in;
	struct evbuffer		*out;		/* notices not yet written */
	char			*path;
	long long		 retry_at;	/* io_now_ms() of the next try */
	int			 proven;	/* qmgr answered a v2 notice here */
	int			 legacy;	/* ... refused it: notices as v1 */
};

static void
smtpd_notify_drop(struct smtpd_notify *n)
{
	if (n->fd >= 0) {
		event_del(n->rev);
		event_del(n->wev);
		close(n->fd);
		n->fd = -1;
	}
	evbuffer_drain(n->in, evbuffer_get_length(n->in));
	evbuffer_drain(n->out, evbuffer_get_length(n->out));
	n->retry_at = io_now_ms() + SMTP_NOTIFY_RETRY_MS;
	n->proven = 0;
	n->legacy = 0;
}

/* An answer to a notice: OK to one of PROTO_QMGR_VERSION proves a qmgr
 * that takes mail committed into active/; an error, say from a qmgr of an
 * older version still running after an upgrade, sends new mail to
 * incoming/ again, which every version scans, for the connection's life
 * (any error: none is expected from a qmgr of this version). */
static void
smtpd_notify_reply(struct smtpd_notify *n, const struct ipc_msg *m)
{
	const char	*text;

	if (m->type == IPC_T_OK) {
		if (!n->legacy)
			n->proven = 1;
		return;
	}
	n->proven = 0;
	/* A version 1 qmgr still takes a version 1 NOTIFY (incoming/):
	 * told so from now on this connection, the mail goes out at once
	 * rather than at its next scan of incoming/. */
	if (m->type == IPC_T_ERROR && !n->legacy) {
		n->legacy = 1;
		log_warn("qmgr refused a protocol %d notice; telling it in "
		    "protocol 1 until it is restarted", PROTO_QMGR_VERSION);
		return;
	}
	if (m->type == IPC_T_ERROR) {
		text = ipc_msg_get(m, "text");
		log_warn("qmgr refused a notice: %s", text ? text : "(no text)");
	}
}

/* Read what qmgr answered; 0, or -1 when the connection is to be dropped. */
static int
smtpd_notify_input(struct smtpd_notify *n)
{
	struct ipc_msg	 m;
	int		 r;

	if ((r = evbuf_io_read(n->in, n->fd, SMTP_NOTIFY_READ)) <= 0) {
		if (r < 0)
			log_debug("qmgr connection closed");
		return r;
	}
	while ((r = ipc_evbuffer_take(n->in, IPC_FRAME_MAX + 4, &m)) == 1) {
		smtpd_notify_reply(n, &m);
		ipc_msg_free(&m);
	}
	if (r < 0) {
		log_warn("qmgr sent a malformed frame; reconnecting");
		return -1;
	}
	return 0;
}

static void
smtpd_notify_readable(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_notify	*n = arg;

	(void)fd;
	(void)what;
	if (smtpd_notify_input(n) < 0)
		smtpd_notify_drop(n);
}

/* Write what is buffered as far as the socket takes it; arm the write
 * event for the rest. */
static void
smtpd_notify_write(struct smtpd_notify *n)
{
	int	 r;

	if ((r = evbuf_io_flush(n->out, n->fd)) == 0)
		return;
	if (r < 0)
		log_debug("write to qmgr: %s", strerror(errno));
	if (r < 0 || event_add(n->wev, NULL) < 0)
		smtpd_notify_drop(n);
}

static void
smtpd_notify_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtpd_notify_write(arg);
}

/* The loop has run the callbacks that were ready: write their notices. */
static void
smtpd_notify_flush(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_notify	*n = arg;

	(void)fd;
	(void)what;
	if (n->fd >= 0 && !event_pending(n->wev, EV_WRITE, NULL))
		smtpd_notify_write(n);
}

static int
smtpd_notify_connect(struct smtpd_notify *n)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (io_now_ms() < n->retry_at)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(n->path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, n->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		log_debug("connect %s: %s", n->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		smtpd_notify_drop(n);
		return -1;
	}
	n->fd = fd;
	if (event_assign(n->rev, n->base, fd, EV_READ | EV_PERSIST,
	    smtpd_notify_readable, n) < 0 ||
	    event_assign(n->wev, n->base, fd, EV_WRITE, smtpd_notify_writable,
	    n) < 0 || event_add(n->rev, NULL) < 0) {
		smtpd_notify_drop(n);
		return -1;
	}
	return 0;
}

struct smtpd_notify *
smtpd_notify_new(struct event_base *base, const char *path)
{
	struct smtpd_notify	*n = xcalloc(1, sizeof(*n));

	n->base = base;
	n->fd = -1;
	n->path = xstrdup(path);
	n->in = evbuffer_new();
	n->out = evbuffer_new();
	/* Assigned to the socket when it is connected. */
	n->rev = event_new(base, -1, 0, NULL, NULL);
	n->wev = event_new(base, -1, 0, NULL, NULL);
	n->flush = event_new(base, -1, 0, smtpd_notify_flush, n);
	if (n->in == NULL || n->out == NULL || n->rev == NULL ||
	    n->wev == NULL || n->flush == NULL)
		log_fatal("cannot set up the qmgr notifier");
	return n;
}

int
smtpd_notify_ready(struct smtpd_notify *n)
{
	if (n->fd < 0 && smtpd_notify_connect(n) < 0)
		return 0;
	return n->proven &&
	    evbuffer_get_length(n->out) <= SMTP_NOTIFY_BACKLOG / 2;
}

void
smtpd_notify_send(struct smtpd_notify *n, const char *id, int committed)
{
	struct ipc_msg	 m;

	if (n->fd < 0 && smtpd_notify_connect(n) < 0)
		return;
	if (evbuffer_get_length(n->out) > SMTP_NOTIFY_BACKLOG) {
		log_debug("%s: qmgr is not keeping up; notice dropped", id);
		return;
	}
	ipc_msg_init(&m, committed ? QMGR_T_COMMITTED : QMGR_T_NOTIFY);
	if (ipc_msg_add_int(&m, "v",
	    n->legacy ? 1 : PROTO_QMGR_VERSION) == 0 &&
	    ipc_msg_add(&m, "id", id) == 0 &&
	    ipc_evbuffer_put(n->out, &m) == 0)
		event_active(n->flush, EV_TIMEOUT, 0);
	ipc_msg_free(&m);
}

void
smtpd_notify_free(struct smtpd_notify *n)
{
	if (n == NULL)
		return;
	if (n->fd >= 0) {
		/* Best effort: what the last callbacks queued. */
		(void)evbuffer_write(n->out, n->fd);
		close(n->fd);
	}
	event_free(n->rev);
	event_free(n->wev);
	event_free(n->flush);
	evbuffer_free(n->in);
	evbuffer_free(n->out);
	free(n->path);
	free(n);
}
