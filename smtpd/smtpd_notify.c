/*
 * smtpd_notify - the qmgr notifier.  The connection is made lazily, when
 * there is something to say, and a failed connect is not retried for
 * SMTP_NOTIFY_RETRY_MS, so a missing qmgr costs one failed connect(2) per
 * interval rather than one per message.  A UNIX-domain connect either
 * completes or fails at once, so no connect state is needed.  qmgr's
 * replies are read only to keep its socket flowing; an IPC_T_ERROR is
 * logged, since it means the two daemons disagree about the protocol.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "ipc.h"
#include "ipc_event.h"
#include "log.h"
#include "proto_qmgr.h"
#include "smtpd_notify.h"

struct smtpd_notify {
	struct event_base	*base;
	struct bufferevent	*bev;		/* NULL while disconnected */
	char			*path;
	long long		 retry_at;	/* io_now_ms() of the next try */
};

static void
smtpd_notify_drop(struct smtpd_notify *n)
{
	if (n->bev != NULL) {
		bufferevent_free(n->bev);
		n->bev = NULL;
	}
	n->retry_at = io_now_ms() + SMTP_NOTIFY_RETRY_MS;
}

static void
smtpd_notify_reply(struct smtpd_notify *n, const struct ipc_msg *m)
{
	const char	*text;

	if (m->type == IPC_T_ERROR) {
		text = ipc_msg_get(m, "text");
		log_warn("qmgr refused a notice: %s", text ? text : "(no text)");
	}
	(void)n;
}

static void
smtpd_notify_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_notify	*n = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct ipc_msg		 m;
	int			 r;

	while ((r = ipc_evbuffer_take(in, IPC_FRAME_MAX + 4, &m)) == 1) {
		smtpd_notify_reply(n, &m);
		ipc_msg_free(&m);
	}
	if (r == 0)
		return;
	log_warn("qmgr sent a malformed frame; reconnecting");
	smtpd_notify_drop(n);
}

static void
smtpd_notify_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_notify	*n = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_debug("qmgr connection closed");
		smtpd_notify_drop(n);
	}
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
	if ((n->bev = bufferevent_socket_new(n->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		smtpd_notify_drop(n);
		return -1;
	}
	bufferevent_setcb(n->bev, smtpd_notify_read, NULL, smtpd_notify_event, n);
	bufferevent_enable(n->bev, EV_READ | EV_WRITE);
	return 0;
}

struct smtpd_notify *
smtpd_notify_new(struct event_base *base, const char *path)
{
	struct smtpd_notify	*n = xcalloc(1, sizeof(*n));

	n->base = base;
	n->path = xstrdup(path);
	return n;
}

void
smtpd_notify_send(struct smtpd_notify *n, const char *id)
{
	struct ipc_msg	 m;
	char		*frame;
	size_t		 len;

	if (n->bev == NULL && smtpd_notify_connect(n) < 0)
		return;
	if (evbuffer_get_length(bufferevent_get_output(n->bev)) >
	    SMTP_NOTIFY_BACKLOG) {
		log_debug("%s: qmgr is not keeping up; notice dropped", id);
		return;
	}
	ipc_msg_init(&m, QMGR_T_NOTIFY);
	if (ipc_msg_add_int(&m, "v", PROTO_QMGR_VERSION) == 0 &&
	    ipc_msg_add(&m, "id", id) == 0 &&
	    ipc_encode(&m, &frame, &len) == 0) {
		bufferevent_write(n->bev, frame, len);
		free(frame);
	}
	ipc_msg_free(&m);
}

void
smtpd_notify_free(struct smtpd_notify *n)
{
	if (n == NULL)
		return;
	if (n->bev != NULL)
		bufferevent_free(n->bev);
	free(n->path);
	free(n);
}
