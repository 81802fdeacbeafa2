/*
 * smtpd_anvil - asking anvil(8) about new sessions (see smtpd_anvil.h).
 * Every request waits in a FIFO for its reply (anvil answers in order);
 * an entry names its session, or nothing once the session has gone, was
 * let in without its answer, or for a DISCONNECT.  A session that waited
 * SMTP_ANVIL_WAIT_MS is let in, but its entry stays so that the late reply
 * is consumed in order and the connection (and with it what anvil counted
 * on it) is kept; the connection is dropped only on EOF, a malformed reply,
 * SMTP_ANVIL_STALL_MS without any reply or SMTP_ANVIL_WAITS_MAX requests
 * outstanding.  Every session anvil counts is on a list: after a drop anvil
 * has released them all, and the next connection counts them again (a
 * CONNECT whose answer nobody waits for) before anything else.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "cidr.h"
#include "config.h"
#include "smtpd_params.h"
#include "io.h"
#include "ipc.h"
#include "ipc_event.h"
#include "log.h"
#include "proto_anvil.h"
#include "smtpd_anvil.h"
#include "smtpd_session.h"

/* Replies are small; anything larger is a broken anvil. */
#define SMTP_ANVIL_REPLY_MAX	4096
/* "anvil unavailable" is logged at most this often. */
#define SMTP_ANVIL_LOG_MS	(60 * 1000)
/* An anvil silent this long, or this far behind, is given up. */
#define SMTP_ANVIL_STALL_MS	(30 * 1000)
#define SMTP_ANVIL_WAITS_MAX	4096

struct smtpd_anvil_wait {
	TAILQ_ENTRY(smtpd_anvil_wait) entry;
	struct smtpd_session	*s;		/* NULL: nobody waits */
	long long		 sent_ms;
};

TAILQ_HEAD(smtpd_anvil_queue, smtpd_anvil_wait);
TAILQ_HEAD(smtpd_anvil_counted, smtpd_session);

struct smtpd_anvil {
	struct event_base	*base;
	const struct smtpd_params *par;
	char			*service;
	struct cidr		*exempt;	/* event limit exceptions */
	int			 nexempt;
	struct bufferevent	*bev;		/* NULL while disconnected */
	long long		 retry_at;	/* io_now_ms() of the next try */
	long long		 logged_at;
	struct smtpd_anvil_queue waits;
	int			 nwaits;
	struct smtpd_anvil_counted counted;	/* sessions anvil counts */
	struct event		*timer;		/* the next wait's limit */
};

static void	smtpd_anvil_drop(struct smtpd_anvil *, const char *why);

/* Log why limits are off now, once a minute at most. */
static void
smtpd_anvil_unavailable(struct smtpd_anvil *a, const char *why)
{
	long long	 now = io_now_ms();

	if (a->logged_at != 0 && now - a->logged_at < SMTP_ANVIL_LOG_MS)
		return;
	a->logged_at = now;
	log_warn("anvil %s: client connection limits not applied", why);
}

/* The oldest request a session still waits for, or NULL. */
static struct smtpd_anvil_wait *
smtpd_anvil_waiting(struct smtpd_anvil *a)
{
	struct smtpd_anvil_wait	*w;

	TAILQ_FOREACH(w, &a->waits, entry)
		if (w->s != NULL)
			return w;
	return NULL;
}

/* The timer: the oldest waiting session's limit, or the oldest request's
 * stall limit, whichever comes first. */
static void
smtpd_anvil_arm(struct smtpd_anvil *a)
{
	struct smtpd_anvil_wait	*w = TAILQ_FIRST(&a->waits), *ws;
	struct timeval		 tv;
	long long		 at, left;

	if (w == NULL) {
		event_del(a->timer);
		return;
	}
	at = w->sent_ms + SMTP_ANVIL_STALL_MS;
	if ((ws = smtpd_anvil_waiting(a)) != NULL &&
	    ws->sent_ms + SMTP_ANVIL_WAIT_MS < at)
		at = ws->sent_ms + SMTP_ANVIL_WAIT_MS;
	left = at - io_now_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	/* Without the timer a silent anvil holds sessions until it
	 * closes; never seen, and then only in a broken event loop. */
	if (event_add(a->timer, &tv) < 0)
		log_error("cannot arm the anvil timer");
}

/* The oldest request's answer: its session (if any) may go on. */
static void
smtpd_anvil_answer(struct smtpd_anvil *a, int count, int rate)
{
	struct smtpd_anvil_wait	*w = TAILQ_FIRST(&a->waits);
	struct smtpd_session	*s;

	TAILQ_REMOVE(&a->waits, w, entry);
	a->nwaits--;
	s = w->s;
	free(w);
	if (s != NULL) {
		s->anvil_wait = NULL;
		smtpd_session_admit(s, count, rate);
	}
}

/* Give up on this connection: every waiting session is let in, and anvil
 * forgets what it counted on it until the next connection says it again. */
static void
smtpd_anvil_drop(struct smtpd_anvil *a, const char *why)
{
	if (why != NULL)
		smtpd_anvil_unavailable(a, why);
	if (a->bev != NULL) {
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	a->retry_at = io_now_ms() + SMTP_ANVIL_RETRY_MS;
	while (!TAILQ_EMPTY(&a->waits))
		smtpd_anvil_answer(a, 0, 0);
	event_del(a->timer);
}

int
smtpd_anvil_reply_decode(const struct ipc_msg *m, int *count, int *rate,
    const char **why)
{
	const char	*status = ipc_msg_get(m, "status");
	long long	 c = 0, r = 0;

	*count = *rate = 0;
	if (m->type != ANVIL_T_REPLY) {
		*why = ipc_msg_get(m, "text");
		if (*why == NULL)
			*why = "(no text)";
		return -1;
	}
	if (status != NULL && strcmp(status, "ok") == 0) {
		(void)ipc_msg_get_int(m, "count", 0, 1LL << 30, &c);
		(void)ipc_msg_get_int(m, "rate", 0, 1LL << 30, &r);
	}
	*count = (int)c;
	*rate = (int)r;
	return 0;
}

static void
smtpd_anvil_reply(struct smtpd_anvil *a, const struct ipc_msg *m)
{
	const char	*why;
	int		 count, rate;

	if (smtpd_anvil_reply_decode(m, &count, &rate, &why) < 0)
		log_warn("anvil refused a request: %s", why);
	smtpd_anvil_answer(a, count, rate);
}

static void
smtpd_anvil_read(struct bufferevent *bev, void *arg)
{
	struct smtpd_anvil	*a = arg;
	struct ipc_msg		 m;
	int			 r;

	while ((r = ipc_evbuffer_take(bufferevent_get_input(bev),
	    SMTP_ANVIL_REPLY_MAX, &m)) == 1) {
		if (TAILQ_EMPTY(&a->waits)) {
			ipc_msg_free(&m);
			smtpd_anvil_drop(a, "sent a reply nobody asked for");
			return;
		}
		smtpd_anvil_reply(a, &m);
		ipc_msg_free(&m);
		/* An admitted session may have been refused and freed, and
		 * may have dropped nothing; the connection is still ours. */
		if (a->bev != bev)
			return;
	}
	if (r < 0) {
		smtpd_anvil_drop(a, "sent a malformed reply");
		return;
	}
	smtpd_anvil_arm(a);
}

static void
smtpd_anvil_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		smtpd_anvil_drop(arg, "closed the connection");
}

/* A slow anvil: sessions that waited long enough are let in (their
 * replies will still come, and be consumed in order); a stalled one is
 * given up. */
static void
smtpd_anvil_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_anvil	*a = arg;
	struct smtpd_anvil_wait	*w;
	struct smtpd_session	*s;
	long long		 now = io_now_ms();

	(void)fd;
	(void)what;
	w = TAILQ_FIRST(&a->waits);
	if (w != NULL && now - w->sent_ms >= SMTP_ANVIL_STALL_MS) {
		smtpd_anvil_drop(a, "stopped answering");
		return;
	}
	/* Admitting may free a session, which may queue a DISCONNECT. */
	while ((w = smtpd_anvil_waiting(a)) != NULL &&
	    now - w->sent_ms >= SMTP_ANVIL_WAIT_MS) {
		smtpd_anvil_unavailable(a, "did not answer in time");
		s = w->s;
		w->s = NULL;
		s->anvil_wait = NULL;
		smtpd_session_admit(s, 0, 0);
	}
	smtpd_anvil_arm(a);
}

static struct smtpd_anvil_wait *smtpd_anvil_send(struct smtpd_anvil *,
	    uint8_t, const char *, struct smtpd_session *);

/* A new connection: anvil counts again every session still open (its
 * rate counts them again too; a reconnect is rare). */
static int
smtpd_anvil_recount(struct smtpd_anvil *a)
{
	struct smtpd_session	*s;

	TAILQ_FOREACH(s, &a->counted, anvil_entry)
		if (smtpd_anvil_send(a, ANVIL_T_CONNECT, s->client,
		    NULL) == NULL)
			return -1;
	return 0;
}

static int
smtpd_anvil_open(struct smtpd_anvil *a)
{
	int	 fd;

	if (io_now_ms() < a->retry_at)
		return -1;
	if ((fd = ipc_connect_nonblock(ANVIL_SOCKET)) < 0) {
		a->retry_at = io_now_ms() + SMTP_ANVIL_RETRY_MS;
		smtpd_anvil_unavailable(a, strerror(errno));
		return -1;
	}
	if ((a->bev = bufferevent_socket_new(a->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		a->retry_at = io_now_ms() + SMTP_ANVIL_RETRY_MS;
		return -1;
	}
	bufferevent_setcb(a->bev, smtpd_anvil_read, NULL, smtpd_anvil_event, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	if (smtpd_anvil_recount(a) < 0) {
		/* Nobody waits yet: nothing is let in from here. */
		smtpd_anvil_drop(a, "cannot be told the open sessions");
		return -1;
	}
	return 0;
}

/* Send one request and queue its wait; the wait, or NULL if not sent. */
static struct smtpd_anvil_wait *
smtpd_anvil_send(struct smtpd_anvil *a, uint8_t type, const char *client,
    struct smtpd_session *s)
{
	struct smtpd_anvil_wait	*w;
	struct ipc_msg		 m;
	char			 key[INET6_ADDRSTRLEN + 8];
	int			 r;

	if (smtpd_anvil_ident(client, a->par->smtpd_client_ipv6_prefix_length,
	    key, sizeof(key)) < 0)
		return NULL;
	if (a->bev == NULL && smtpd_anvil_open(a) < 0)
		return NULL;
	/* (Only new sessions: the others are bounded by the open ones.) */
	if (s != NULL && a->nwaits >= SMTP_ANVIL_WAITS_MAX) {
		smtpd_anvil_drop(a, "is too far behind");
		return NULL;
	}
	ipc_msg_init(&m, type);
	r = ipc_msg_add_int(&m, "v", PROTO_ANVIL_VERSION) == 0 &&
	    ipc_msg_addf(&m, "ident", "%s:%s", a->service, key) == 0 &&
	    ipc_evbuffer_put(bufferevent_get_output(a->bev), &m) == 0;
	ipc_msg_free(&m);
	if (!r)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->sent_ms = io_now_ms();
	TAILQ_INSERT_TAIL(&a->waits, w, entry);
	a->nwaits++;
	if (TAILQ_FIRST(&a->waits) == w || s != NULL)
		smtpd_anvil_arm(a);
	return w;
}

int
smtpd_anvil_ident(const char *client, int v6_prefix, char *out, size_t len)
{
	struct in6_addr	 a6;
	char		 net[INET6_ADDRSTRLEN];
	int		 i, n;

	if (strchr(client, ':') == NULL || v6_prefix >= 128)
		n = snprintf(out, len, "%s", client);
	else {
		if (inet_pton(AF_INET6, client, &a6) != 1)
			return -1;
		if (v6_prefix < 0)
			v6_prefix = 0;
		for (i = 0; i < 16; i++) {
			if (v6_prefix >= 8 * (i + 1))
				continue;
			a6.s6_addr[i] &= v6_prefix > 8 * i ?
			    (uint8_t)(0xff << (8 - (v6_prefix - 8 * i))) : 0;
		}
		if (inet_ntop(AF_INET6, &a6, net, sizeof(net)) == NULL)
			return -1;
		n = snprintf(out, len, "%s/%d", net, v6_prefix);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
smtpd_anvil_exempt(const struct smtpd_anvil *a, const char *client)
{
	int	 i;

	for (i = 0; i < a->nexempt; i++)
		if (cidr_match(&a->exempt[i], client))
			return 1;
	return 0;
}

int
smtpd_anvil_connect(struct smtpd_anvil *a, struct smtpd_session *s)
{
	if (a->par->smtpd_client_connection_count_limit == 0 &&
	    a->par->smtpd_client_connection_rate_limit == 0)
		return 0;
	if (smtpd_anvil_exempt(a, s->client))
		return 0;
	if ((s->anvil_wait = smtpd_anvil_send(a, ANVIL_T_CONNECT, s->client,
	    s)) == NULL)
		return 0;
	s->anvil_counted = 1;
	TAILQ_INSERT_TAIL(&a->counted, s, anvil_entry);
	return 1;
}

void
smtpd_anvil_disconnect(struct smtpd_anvil *a, struct smtpd_session *s)
{
	if (s->anvil_wait != NULL) {
		s->anvil_wait->s = NULL;
		s->anvil_wait = NULL;
	}
	if (!s->anvil_counted)
		return;
	TAILQ_REMOVE(&a->counted, s, anvil_entry);
	s->anvil_counted = 0;
	/* Without a connection anvil has already forgotten it. */
	if (a->bev != NULL)
		(void)smtpd_anvil_send(a, ANVIL_T_DISCONNECT, s->client, NULL);
}

struct smtpd_anvil *
smtpd_anvil_new(struct event_base *base, const struct smtpd_params *par,
    const char *service)
{
	const struct config_list *l = &par->smtpd_client_event_limit_exceptions;
	struct smtpd_anvil	*a = xcalloc(1, sizeof(*a));
	int			 i;

	a->base = base;
	a->par = par;
	a->service = xstrdup(service);
	TAILQ_INIT(&a->waits);
	TAILQ_INIT(&a->counted);
	if (l->count > 0)
		a->exempt = xreallocarray(NULL, (size_t)l->count,
		    sizeof(*a->exempt));
	/* config.c has checked every entry. */
	for (i = 0; i < l->count; i++)
		if (cidr_parse(l->item[i], &a->exempt[a->nexempt]) == 0)
			a->nexempt++;
	if ((a->timer = evtimer_new(base, smtpd_anvil_timeout, a)) == NULL)
		log_fatal("cannot create a timer");
	return a;
}

void
smtpd_anvil_free(struct smtpd_anvil *a)
{
	struct smtpd_anvil_wait	*w;

	if (a == NULL)
		return;
	if (a->bev != NULL)
		bufferevent_free(a->bev);
	while ((w = TAILQ_FIRST(&a->waits)) != NULL) {
		TAILQ_REMOVE(&a->waits, w, entry);
		a->nwaits--;
		if (w->s != NULL)
			w->s->anvil_wait = NULL;
		free(w);
	}
	event_free(a->timer);
	free(a->exempt);
	free(a->service);
	free(a);
}
