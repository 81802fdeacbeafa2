/*
 * smtpd_lookup - the lookup service's client (see smtpd_lookup.h).  Every
 * question waits in a FIFO for its reply (the service answers in order); an
 * entry names its session, or nothing once the session has gone, whose
 * reply is still consumed in order.  One timer watches the oldest entry:
 * when it fires, the connection is given up and every entry answered
 * "tempfail" at once.  Questions are idempotent, so nothing is lost by a
 * drop: the next RCPT connects again.  The entries are moved off the FIFO
 * before any session hears of a drop, because a session that hears goes
 * on with its pipelined commands and may ask again on a new connection.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "ipc_event.h"
#include "log.h"
#include "proto_lookup.h"
#include "smtpd_lookup.h"
#include "smtpd_session.h"

/* "lookup service unavailable" is logged at most this often. */
#define SMTP_LOOKUP_LOG_MS	(60 * 1000)

struct smtpd_lookup_wait {
	TAILQ_ENTRY(smtpd_lookup_wait) entry;
	struct smtpd_session	*s;		/* NULL: nobody waits */
	long long		 id;
	long long		 sent_ms;
};

TAILQ_HEAD(smtpd_lookup_queue, smtpd_lookup_wait);

struct smtpd_lookup {
	struct event_base	*base;
	long long		 timeout_ms;
	struct bufferevent	*bev;		/* NULL while disconnected */
	struct smtpd_lookup_queue waits;
	int			 nwaits;
	long long		 last_id;
	long long		 logged_at;
	struct event		*timer;		/* the oldest question's limit */
};

/* Log why recipients get 451 now, once a minute at most. */
static void
smtpd_lookup_unavailable(struct smtpd_lookup *l, const char *why)
{
	long long	 now = io_now_ms();

	if (l->logged_at != 0 && now - l->logged_at < SMTP_LOOKUP_LOG_MS)
		return;
	l->logged_at = now;
	log_warn("lookup service %s: recipient lookups fail (451)", why);
}

static void
smtpd_lookup_arm(struct smtpd_lookup *l)
{
	struct smtpd_lookup_wait	*w = TAILQ_FIRST(&l->waits);
	struct timeval			 tv;
	long long			 left;

	if (w == NULL) {
		event_del(l->timer);
		return;
	}
	left = w->sent_ms + l->timeout_ms - io_now_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	if (event_add(l->timer, &tv) < 0)
		log_error("cannot arm the lookup timer");
}

/* Answer w (off the FIFO already): its session, if any, goes on. */
static void
smtpd_lookup_answer(struct smtpd_lookup_wait *w, enum rcpt_lookup_status st,
    const char *account)
{
	struct smtpd_session	*s = w->s;

	free(w);
	if (s != NULL) {
		s->lookup_wait = NULL;
		smtpd_dialog_rcpt_answer(s, st, account);
	}
}

/* Give up on this connection: every question waiting is a failure. */
static void
smtpd_lookup_drop(struct smtpd_lookup *l, const char *why)
{
	struct smtpd_lookup_queue	 failed;
	struct smtpd_lookup_wait	*w;

	smtpd_lookup_unavailable(l, why);
	if (l->bev != NULL) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	event_del(l->timer);
	TAILQ_INIT(&failed);
	TAILQ_CONCAT(&failed, &l->waits, entry);
	l->nwaits = 0;
	while ((w = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, w, entry);
		smtpd_lookup_answer(w, RCPT_LOOKUP_TEMPFAIL, NULL);
	}
}

/* The reply m for the oldest question.  0, or -1 after a drop. */
static int
smtpd_lookup_reply(struct smtpd_lookup *l, const struct ipc_msg *m)
{
	struct smtpd_lookup_wait	*w = TAILQ_FIRST(&l->waits);
	struct lookup_reply		 r;
	const char			*err;

	if (w == NULL) {
		smtpd_lookup_drop(l, "sent a reply nobody asked for");
		return -1;
	}
	if (lookup_reply_decode(m, &r, &err) < 0) {
		if (m->type != IPC_T_ERROR) {
			log_warn("lookup service: malformed reply: %s", err);
			smtpd_lookup_drop(l, "sent a malformed reply");
			return -1;
		}
		/* A refusal is the answer to this question only. */
		log_warn("lookup service refused a request: %s", err);
	} else if (r.id != w->id) {
		smtpd_lookup_drop(l, "answered out of order");
		return -1;
	} else if (r.status == RCPT_LOOKUP_TEMPFAIL)
		log_warn("recipient lookup failed: %s",
		    r.text[0] != '\0' ? r.text : "(no reason given)");
	TAILQ_REMOVE(&l->waits, w, entry);
	l->nwaits--;
	smtpd_lookup_answer(w, r.status, r.account);
	return 0;
}

static void
smtpd_lookup_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_lookup	*l = arg;
	struct ipc_msg		 m;
	int			 r;

	while ((r = ipc_evbuffer_take(bufferevent_get_input(bev),
	    LOOKUP_FRAME_MAX, &m)) == 1) {
		r = smtpd_lookup_reply(l, &m);
		ipc_msg_free(&m);
		/* An answered session may have dropped nothing, but asked
		 * again; a drop replaced the connection. */
		if (r < 0 || l->bev != bev)
			return;
	}
	if (r < 0) {
		smtpd_lookup_drop(l, "sent a malformed or oversized frame");
		return;
	}
	smtpd_lookup_arm(l);
}

static void
smtpd_lookup_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		smtpd_lookup_drop(arg, "closed the connection");
}

static void
smtpd_lookup_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_lookup		*l = arg;
	struct smtpd_lookup_wait	*w = TAILQ_FIRST(&l->waits);

	(void)fd;
	(void)what;
	if (w != NULL && io_now_ms() - w->sent_ms >= l->timeout_ms)
		smtpd_lookup_drop(l, "did not answer in time");
	else
		smtpd_lookup_arm(l);
}

static int
smtpd_lookup_open(struct smtpd_lookup *l)
{
	int	 fd;

	if ((fd = ipc_connect_nonblock(LOOKUP_SOCKET)) < 0) {
		smtpd_lookup_unavailable(l, strerror(errno));
		return -1;
	}
	if ((l->bev = bufferevent_socket_new(l->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		smtpd_lookup_unavailable(l, "cannot be watched (libevent)");
		return -1;
	}
	bufferevent_setcb(l->bev, smtpd_lookup_read, NULL, smtpd_lookup_event,
	    l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	return 0;
}

int
smtpd_lookup_ask(struct smtpd_lookup *l, struct smtpd_session *s,
    const char *rcpt)
{
	struct smtpd_lookup_wait	*w;
	struct ipc_msg			 m;
	int				 r;

	if (l->nwaits >= SMTP_LOOKUP_WAITS_MAX) {
		smtpd_lookup_unavailable(l, "is too far behind");
		return 0;
	}
	if (l->bev == NULL && smtpd_lookup_open(l) < 0)
		return 0;
	r = lookup_request_build(&m, l->last_id + 1, rcpt) == 0 &&
	    ipc_evbuffer_put(bufferevent_get_output(l->bev), &m) == 0;
	ipc_msg_free(&m);
	if (!r)
		return 0;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->id = ++l->last_id;
	w->sent_ms = io_now_ms();
	TAILQ_INSERT_TAIL(&l->waits, w, entry);
	l->nwaits++;
	s->lookup_wait = w;
	if (TAILQ_FIRST(&l->waits) == w)
		smtpd_lookup_arm(l);
	return 1;
}

void
smtpd_lookup_cancel(struct smtpd_lookup *l, struct smtpd_session *s)
{
	(void)l;
	if (s->lookup_wait != NULL) {
		s->lookup_wait->s = NULL;
		s->lookup_wait = NULL;
	}
}

struct smtpd_lookup *
smtpd_lookup_new(struct event_base *base, int timeout_s)
{
	struct smtpd_lookup	*l = xcalloc(1, sizeof(*l));

	l->base = base;
	l->timeout_ms = 1000LL * (timeout_s > 0 ? timeout_s : 1);
	TAILQ_INIT(&l->waits);
	if ((l->timer = evtimer_new(base, smtpd_lookup_timeout, l)) == NULL)
		log_fatal("cannot create a timer");
	return l;
}

void
smtpd_lookup_free(struct smtpd_lookup *l)
{
	struct smtpd_lookup_wait	*w;

	if (l == NULL)
		return;
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	while ((w = TAILQ_FIRST(&l->waits)) != NULL) {
		TAILQ_REMOVE(&l->waits, w, entry);
		if (w->s != NULL)
			w->s->lookup_wait = NULL;
		free(w);
	}
	event_free(l->timer);
	free(l);
}
