/*
 * smtp_session - one delivery request as one SMTP client session (RFC
 * 5321), a state machine on a non-blocking socket driven by the event
 * loop, so one process runs many at once.  It finds the addresses (MX set
 * from the resolver, or the address literal), connects to each in turn
 * until one greets with 2xx, says EHLO (HELO if EHLO is refused), starts
 * TLS as the next hop's level asks (smtp_policy.c, RFC 3207), sends
 * MAIL, every RCPT
 * and DATA (all at once when the server offers PIPELINING, RFC 2920),
 * then the message through smtp_dot (CRLF, dot-stuffed), and maps every
 * reply to the outcome of the recipients it concerns.
 *
 * Failures: a connection that fails, a greeting or EHLO that is not 2xx,
 * a failed TLS handshake or a time-out before MAIL moves on to the next
 * address; when none is left the recipients are deferred (bounced if the
 * last host answered 5xx; a 5xx greeting counts as 4xx unless
 * smtp_skip_5xx_greeting is off, then it bounces).  After MAIL, a lost
 * connection or a time-out defers every recipient still open; a
 * connection lost after the final dot without a reply is a deferral too
 * (the mail may arrive twice, never not at all).  The recipients that got
 * only soft errors before the host could have taken the message go to the
 * next host in the same attempt (smtp_next.c: smtp_mx_address_limit,
 * smtp_mx_session_limit); only the last host's soft errors defer.
 * Every wait has its own time-out (smtp_*_timeout).  The
 * outcomes go to qmgr as soon as they are known; QUIT follows, or the
 * session is parked for the next message to the same next hop
 * (smtp_cache.c), which starts it again with RSET: in the same write as
 * MAIL, RCPT and DATA when the server offers PIPELINING (RFC 2920 lets
 * RSET open a command group), so reuse costs no round trip of its own;
 * until RSET's reply, a refusal or a lost connection means the cached
 * session was unusable, and nothing sent after it can have made a
 * delivery (no message follows before DATA's 354 and RSET's 250).
 *
 * Exactly once (queue_mark.h): the queue file is opened read-write; a
 * recipient it already records as delivered is answered "delivered
 * already" and not sent; each recipient the next hop accepted is recorded
 * after the 2xx to the final dot and before the reply to qmgr, and a
 * session whose final dot is out when its qmgr goes finishes to record it.
 *
 * LMTP (RFC 2033; the same program as service "lmtp", s->lmtp): LHLO
 * instead of EHLO (no HELO fall-back), no STARTTLS, no MX lookup (the next
 * hop is "unix:path" or an address, smtp_nexthop.c), no connection reuse;
 * and after the final dot one reply per accepted RCPT, in RCPT order, each
 * the outcome of its recipient alone, recorded in the queue file as it
 * comes.  A connection lost after some of them leaves the recipients
 * without a reply deferred: those with a 2xx are delivered and marked.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "log.h"
#include "queue_file.h"
#include "queue.h"
#include "queue_mark.h"
#include "smtp.h"

enum sess_state {
	S_MX, S_CONNECT, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS,
	S_RSET, S_ENVELOPE, S_BODY, S_DOT, S_QUIT
};

static const char *const state_what[] = {
	[S_MX] = "looking up the MX set",
	[S_CONNECT] = "connecting",
	[S_GREETING] = "receiving the initial server greeting",
	[S_EHLO] = "performing the EHLO handshake",
	[S_HELO] = "performing the HELO handshake",
	[S_STARTTLS] = "sending STARTTLS",
	[S_TLS] = "performing the TLS handshake",
	[S_RSET] = "sending RSET",
	[S_ENVELOPE] = "sending the envelope",
	[S_BODY] = "sending the message body",
	[S_DOT] = "sending end of data -- message may be sent more than once",
	[S_QUIT] = "sending QUIT",
};

struct smtp_session {
	struct smtp		*s;
	unsigned long		 sid;
	smtp_session_done_cb	 done;
	void			*arg;
	/* the request */
	char			*id, *sender;
	int			 nrcpt;
	char			**rcpt;
	int			*qrcpt;		/* queue file line, or -1 */
	struct smtp_result	*res;
	int			*final;		/* res[i] is the outcome */
	struct queue_envelope	 env;
	int			 fd;
	struct smtp_nexthop	 nh;
	/* the addresses and the one in use */
	struct smtp_mx		*mx;
	struct smtp_addr	 addr[SMTP_ADDR_MAX];
	int			 naddr, cur;
	/* a cached session taken over (smtp_cache.c) */
	char			 key[DELIVER_NEXTHOP_MAX + 1];	/* next hop */
	int			 reused;	/* on raddr, RSET first */
	int			 rset_wait;	/* RSET's reply is still due, ahead
						   of the envelope's */
	struct smtp_addr	 raddr;
	int			 uses;		/* transactions before this */
	long long		 born;		/* connected at */
	/* the connection */
	struct bufferevent	*bev;
	SSL			*ssl;		/* owned by bev once it is made */
	int			 tls;
	int			 tls_level;	/* CONFIG_TLS_*, smtp_policy.c */
	char			 tls_info[SMTP_TLS_INFO_MAX];
	enum sess_state		 state;
	struct smtp_reply	 reply;
	int			 esmtp, pipelining, eightbit, utf8, dsn;
	int			 starttls;
	long long		 size_max;
	int			 ncmd, nsent, nreplied;	/* MAIL, RCPTs, DATA */
	int			 mail_failed, naccepted;
	/* DATA */
	off_t			 pos;
	struct smtp_dot		 dot;
	/* the last reason a host failed, for when none is left */
	struct smtp_result	 last;
	struct event		*later;		/* runs done() off the stack */
	int			 busy, dead;	/* see sess_read_cb */
	int			 detached;	/* qmgr went: finish, no reply */
	struct smtp_session	*next, *prev;	/* s->sessions */
	int			 has_size;
	int			 ndone;		/* delivered at an earlier try */
	int			*todo;		/* the others: RCPT k is todo[k-1] */
	int			 ntodo;
	int			*acc;		/* accepted, in RCPT order (LMTP) */
	int			 ndot;		/* of them answered after the dot */
	/* the next MX host in the same attempt (smtp_next.c) */
	int			*again;		/* res[i] a deferral another host
						   may still turn around */
	int			*logged;	/* res[i] logged (at its host) */
	int			 ntried;	/* addresses tried */
	int			 nsess;		/* sessions past the handshake */
	struct smtp_addr	 skip;		/* a cached session's address that
						   failed: not again */
	int			 has_skip;
};

static void	sess_next_addr(struct smtp_session *);
static void	sess_begin(struct smtp_session *);
static void	sess_reuse_failed(struct smtp_session *);
static void	sess_finish(struct smtp_session *);
static void	sess_free(struct smtp_session *);
static void	sess_log(struct smtp_session *);
static void	sess_host_end(struct smtp_session *);
static int	sess_may_move_on(const struct smtp_session *);
static int	sess_move_on(struct smtp_session *, int quit);

/* What the session was doing in state st, for a failure's text. */
static const char *
sess_what(const struct smtp_session *ss, enum sess_state st)
{
	if (ss->s->lmtp && st == S_EHLO)
		return "performing the LHLO handshake";
	return state_what[st];
}

/* The address the session talks to: a cached session's, or the one
 * tried now. */
static struct smtp_addr *
sess_addr(struct smtp_session *ss)
{
	return ss->reused ? &ss->raddr : &ss->addr[ss->cur];
}

/* ---- outcomes ------------------------------------------------------- */

static void
result_set(struct smtp_result *r, enum deliver_status st, const char *dsn,
    const char *fmt, ...)
{
	va_list	 ap;

	r->status = st;
	r->action = DELIVER_ACTION_DELIVERED;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* The outcome a reply gives: status by its class, the enhanced code it
 * carries or one derived from the class (RFC 3463: x.0.0). */
static void
result_from_reply(struct smtp_session *ss, struct smtp_result *r,
    const struct smtp_reply *rp, const char *cmd)
{
	enum deliver_status	 st;
	const char		*dsn;

	st = rp->code / 100 == 2 ? DELIVER_OK : rp->code / 100 == 5 ?
	    DELIVER_BOUNCE : DELIVER_DEFER;
	dsn = rp->dsn[0] != '\0' ? rp->dsn : st == DELIVER_OK ? "2.0.0" :
	    st == DELIVER_BOUNCE ? "5.0.0" : "4.0.0";
	if (st == DELIVER_OK)
		result_set(r, st, dsn, "%d %s%s%s", rp->code, rp->dsn,
		    rp->dsn[0] ? " " : "", rp->text);
	else
		result_set(r, st, dsn, "host %s[%s] said: %d %s%s%s (in reply "
		    "to %s command)", sess_addr(ss)->host,
		    sess_addr(ss)->ip, rp->code, rp->dsn,
		    rp->dsn[0] ? " " : "", rp->text, cmd);
}

/* Give every recipient without an outcome this one.  retry: the host
 * cannot have taken the message, so a deferral may still go to the next
 * MX host (smtp_next.c). */
static void
outcome_rest(struct smtp_session *ss, const struct smtp_result *r, int retry)
{
	int	 i;

	for (i = 0; i < ss->nrcpt; i++)
		if (!ss->final[i]) {
			ss->res[i] = *r;
			ss->final[i] = 1;
			ss->again[i] = retry;
		}
}

static void
outcome_one(struct smtp_session *ss, int i, const struct smtp_result *r,
    int retry)
{
	ss->res[i] = *r;
	ss->final[i] = 1;
	ss->again[i] = retry;
}

/* ---- the connection ------------------------------------------------- */

static void
sess_close(struct smtp_session *ss)
{
	if (ss->bev != NULL)
		bufferevent_free(ss->bev);
	else if (ss->ssl != NULL)
		SSL_free(ss->ssl);
	ss->bev = NULL;
	ss->ssl = NULL;
	ss->tls = 0;
}

static void
sess_timeouts(struct smtp_session *ss, int rd, int wr)
{
	struct timeval	 r = { rd, 0 }, w = { wr, 0 };

	bufferevent_set_timeouts(ss->bev, &r, &w);
}

static int
state_timeout(const struct smtp_session *ss, enum sess_state st)
{
	const struct smtp_params *c = ss->s->par;

	switch (st) {
	case S_CONNECT:
		return c->smtp_connect_timeout;
	case S_GREETING:
	case S_EHLO:
	case S_HELO:
		return c->smtp_helo_timeout;
	case S_STARTTLS:
	case S_TLS:
		return c->smtp_starttls_timeout;
	case S_RSET:
		return c->smtp_rset_timeout;
	case S_ENVELOPE:
		return ss->nsent <= 1 ? c->smtp_mail_timeout :
		    ss->nsent < ss->ncmd ? c->smtp_rcpt_timeout :
		    c->smtp_data_init_timeout;
	case S_BODY:
		return c->smtp_data_xfer_timeout;
	case S_DOT:
		return c->smtp_data_done_timeout;
	default:
		return c->smtp_quit_timeout;
	}
}

static void
sess_state(struct smtp_session *ss, enum sess_state st)
{
	int	 t;

	ss->state = st;
	smtp_reply_init(&ss->reply);
	if (ss->bev == NULL)
		return;
	t = state_timeout(ss, st);
	sess_timeouts(ss, t, st == S_BODY || st == S_DOT ?
	    ss->s->par->smtp_data_xfer_timeout : t);
}

static void
sess_send(struct smtp_session *ss, const char *fmt, ...)
{
	va_list	 ap;
	struct buf b;

	buf_init(&b, 4 * QUEUE_ADDR_MAX);
	va_start(ap, fmt);
	(void)buf_vappendf(&b, fmt, ap);
	va_end(ap);
	log_debug("session %lu: > %s", ss->sid, buf_str(&b));
	(void)buf_append(&b, "\r\n", 2);
	bufferevent_write(ss->bev, b.data, b.len);
	buf_free(&b);
}

/* A host failed before the mail transaction: remember why, try the
 * next address. */
static void
sess_host_failed(struct smtp_session *ss, enum deliver_status st,
    const char *dsn, const char *fmt, ...)
{
	va_list	 ap;

	ss->last.status = st;
	snprintf(ss->last.dsn, sizeof(ss->last.dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(ss->last.text, sizeof(ss->last.text), fmt, ap);
	va_end(ap);
	log_info("%s: %s", ss->id, ss->last.text);
	sess_close(ss);
	ss->cur++;
	sess_next_addr(ss);
}

/* The connection broke or timed out in the current state. */
static void
sess_lost(struct smtp_session *ss, int timeout)
{
	struct smtp_result	 r;
	const struct smtp_addr	*a = sess_addr(ss);

	if (ss->state == S_QUIT) {
		sess_close(ss);
		sess_finish(ss);
		return;
	}
	if (ss->state == S_RSET || ss->rset_wait) {
		sess_reuse_failed(ss);
		return;
	}
	if (ss->state < S_ENVELOPE) {
		sess_host_failed(ss, DELIVER_DEFER, "4.4.2",
		    "%s with %s[%s] while %s", timeout ? "conversation timed "
		    "out" : "lost connection", a->host, a->ip,
		    sess_what(ss, ss->state));
		return;
	}
	result_set(&r, DELIVER_DEFER, "4.4.2", "%s with %s[%s] while %s",
	    timeout ? "conversation timed out" : "lost connection", a->host,
	    a->ip, sess_what(ss, ss->state));
	/* Until our final dot is out the host cannot have taken the message,
	 * so the next one may have it; after it the message may have
	 * arrived, and goes again only at the next attempt, if at all. */
	outcome_rest(ss, &r, ss->state != S_DOT);
	sess_close(ss);
	sess_host_end(ss);
}

static void sess_read_cb(struct bufferevent *, void *);
static void sess_write_cb(struct bufferevent *, void *);
static void sess_event_cb(struct bufferevent *, short, void *);

static void
sess_connect(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	const struct smtp_params *c = ss->s->par;
	const char		*bind_to;
	struct sockaddr_storage	 b;
	int			 fd;

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sess_host_failed(ss, DELIVER_DEFER, "4.4.1",
		    "connect to %s[%s]: %s", a->host, a->ip, strerror(errno));
		return;
	}
	bind_to = a->sa.ss_family == AF_INET ? c->smtp_bind_address :
	    a->sa.ss_family == AF_INET6 ? c->smtp_bind_address6 : NULL;
	if (bind_to != NULL && bind_to[0] != '\0') {
		memset(&b, 0, sizeof(b));
		b.ss_family = a->sa.ss_family;
		if ((a->sa.ss_family == AF_INET && inet_pton(AF_INET, bind_to,
		    &((struct sockaddr_in *)&b)->sin_addr) != 1) ||
		    (a->sa.ss_family == AF_INET6 && inet_pton(AF_INET6,
		    bind_to, &((struct sockaddr_in6 *)&b)->sin6_addr) != 1) ||
		    bind(fd, (struct sockaddr *)&b, a->salen) < 0) {
			close(fd);
			sess_host_failed(ss, DELIVER_DEFER, "4.4.1",
			    "cannot bind to %s: %s", bind_to,
			    strerror(errno ? errno : EINVAL));
			return;
		}
	}
	ss->bev = bufferevent_socket_new(ss->s->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (ss->bev == NULL) {
		close(fd);
		sess_host_failed(ss, DELIVER_DEFER, "4.3.0",
		    "out of resources");
		return;
	}
	bufferevent_setcb(ss->bev, sess_read_cb, NULL, sess_event_cb, ss);
	sess_state(ss, S_CONNECT);
	bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
	ss->born = (long long)time(NULL);
	ss->uses = 0;
	ss->tls = 0;
	ss->esmtp = ss->pipelining = ss->eightbit = ss->utf8 = 0;
	ss->dsn = ss->starttls = 0;
	ss->size_max = 0;
	ss->has_size = 0;
	if (bufferevent_socket_connect(ss->bev, (struct sockaddr *)&a->sa,
	    a->salen) < 0) {
		sess_host_failed(ss, DELIVER_DEFER, "4.4.1",
		    "connect to %s[%s]: %s", a->host, a->ip, strerror(errno));
		return;
	}
}

static void
sess_next_addr(struct smtp_session *ss)
{
	const struct smtp_params *c = ss->s->par;

	while (ss->has_skip && ss->cur < ss->naddr &&
	    strcmp(ss->addr[ss->cur].ip, ss->skip.ip) == 0)
		ss->cur++;
	if (ss->cur < ss->naddr && smtp_next_allowed(ss->ntried, ss->nsess,
	    c->smtp_mx_address_limit, c->smtp_mx_session_limit)) {
		ss->ntried++;
		log_debug("session %lu: trying %s[%s]", ss->sid,
		    sess_addr(ss)->host, sess_addr(ss)->ip);
		sess_connect(ss);
		return;
	}
	outcome_rest(ss, &ss->last, 0);
	sess_finish(ss);
}

/* ---- the mail transaction ------------------------------------------- */

/* RFC 3461 xtext of s onto b. */
static void
xtext(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 33 || c > 126 || c == '+' || c == '=')
			(void)buf_appendf(b, "+%02X", c);
		else
			(void)buf_append(b, s, 1);
	}
}

static void
send_mail(struct smtp_session *ss)
{
	struct buf	 b;

	buf_init(&b, 4 * QUEUE_ADDR_MAX);
	(void)buf_appendf(&b, "MAIL FROM:<%s>", ss->sender);
	if (ss->has_size)
		(void)buf_appendf(&b, " SIZE=%lld", (long long)ss->env.data_len);
	if (ss->eightbit && ss->env.body == QUEUE_BODY_8BITMIME)
		(void)buf_append_str(&b, " BODY=8BITMIME");
	if (ss->utf8 && ss->env.smtputf8)
		(void)buf_append_str(&b, " SMTPUTF8");
	if (ss->dsn && ss->env.ret != QUEUE_RET_NONE)
		(void)buf_append_str(&b, ss->env.ret == QUEUE_RET_FULL ?
		    " RET=FULL" : " RET=HDRS");
	if (ss->dsn && ss->env.envid != NULL && ss->env.envid[0] != '\0') {
		(void)buf_append_str(&b, " ENVID=");
		xtext(&b, ss->env.envid);
	}
	sess_send(ss, "%s", buf_str(&b));
	buf_free(&b);
}

static void
send_rcpt(struct smtp_session *ss, int i)
{
	const struct queue_rcpt	*q;
	struct buf		 b;
	const char		*semi;
	int			 n;

	buf_init(&b, 4 * QUEUE_ADDR_MAX);
	(void)buf_appendf(&b, "RCPT TO:<%s>", ss->rcpt[i]);
	q = ss->qrcpt[i] >= 0 ? &ss->env.rcpt[ss->qrcpt[i]] : NULL;
	if (ss->dsn && q != NULL && q->notify != 0) {
		n = 0;
		(void)buf_append_str(&b, " NOTIFY=");
		if (q->notify & QUEUE_NOTIFY_NEVER)
			(void)buf_append_str(&b, "NEVER");
		else {
			if (q->notify & QUEUE_NOTIFY_SUCCESS)
				(void)buf_append_str(&b, n++ ? ",SUCCESS" :
				    "SUCCESS");
			if (q->notify & QUEUE_NOTIFY_FAILURE)
				(void)buf_append_str(&b, n++ ? ",FAILURE" :
				    "FAILURE");
			if (q->notify & QUEUE_NOTIFY_DELAY)
				(void)buf_append_str(&b, n++ ? ",DELAY" :
				    "DELAY");
		}
	}
	if (ss->dsn && q != NULL && q->orcpt != NULL &&
	    (semi = strchr(q->orcpt, ';')) != NULL) {
		(void)buf_appendf(&b, " ORCPT=%.*s;", (int)(semi - q->orcpt),
		    q->orcpt);
		xtext(&b, semi + 1);
	}
	sess_send(ss, "%s", buf_str(&b));
	buf_free(&b);
}

/* Send command k of the transaction (0 MAIL, 1..n RCPT, n+1 DATA). */
static void
send_cmd(struct smtp_session *ss, int k)
{
	if (k == 0)
		send_mail(ss);
	else if (k <= ss->ntodo)
		send_rcpt(ss, ss->todo[k - 1]);
	else
		sess_send(ss, "DATA");
	ss->nsent = k + 1;
}

static void
sess_quit(struct smtp_session *ss)
{
	if (sess_move_on(ss, 1))
		return;
	sess_send(ss, "QUIT");
	sess_state(ss, S_QUIT);
	sess_finish(ss);
}

/* The checks that need no round trip: 1 (and *r) when the server
 * cannot take the message. */
static int
sess_cannot_take(struct smtp_session *ss, struct smtp_result *r)
{
	const struct smtp_addr	*a = sess_addr(ss);

	if (ss->size_max > 0 && ss->env.data_len > ss->size_max) {
		result_set(r, DELIVER_BOUNCE, "5.3.4", "message size %lld "
		    "exceeds size limit %lld of server %s[%s]",
		    (long long)ss->env.data_len, ss->size_max, a->host, a->ip);
		return 1;
	}
	if (ss->env.smtputf8 && !ss->utf8) {
		result_set(r, DELIVER_BOUNCE, "5.6.7", "SMTPUTF8 is required, "
		    "but was not offered by host %s[%s]", a->host, a->ip);
		return 1;
	}
	return 0;
}

/* After the last EHLO (or with RSET on a reused session): the checks,
 * then MAIL. */
static void
sess_transaction(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	struct smtp_result	 r;
	int			 k;

	if (sess_cannot_take(ss, &r)) {
		outcome_rest(ss, &r, 0);
		sess_quit(ss);
		return;
	}
	if (!ss->rset_wait)	/* else once RSET has its 2xx */
		ss->nsess++;	/* smtp_mx_session_limit counts this one */
	if (ss->env.body == QUEUE_BODY_8BITMIME && !ss->eightbit)
		log_info("%s: host %s[%s] does not offer 8BITMIME: sending the "
		    "8-bit message as it is", ss->id, a->host, a->ip);
	ss->ncmd = ss->ntodo + 2;
	ss->nsent = ss->nreplied = 0;
	ss->mail_failed = 0;
	ss->naccepted = 0;
	ss->ndot = 0;
	sess_state(ss, S_ENVELOPE);
	if (ss->pipelining)
		for (k = 0; k < ss->ncmd; k++)
			send_cmd(ss, k);
	else
		send_cmd(ss, 0);
	sess_state(ss, S_ENVELOPE);	/* the time-out for what was sent */
}

static void
sess_body_fill(struct smtp_session *ss)
{
	struct evbuffer	*out = bufferevent_get_output(ss->bev);
	char		 in[SMTP_CHUNK], enc[SMTP_DOT_OUT(SMTP_CHUNK)];
	off_t		 end = ss->env.data_off + ss->env.data_len;
	ssize_t		 n;
	size_t		 want, len;

	while (evbuffer_get_length(out) < SMTP_OUT_HIGH && ss->pos < end) {
		want = (size_t)(end - ss->pos) < sizeof(in) ?
		    (size_t)(end - ss->pos) : sizeof(in);
		if ((n = pread(ss->fd, in, want, ss->pos)) <= 0) {
			struct smtp_result r;

			log_warn("%s: read queue file: %s", ss->id,
			    n < 0 ? strerror(errno) : "short file");
			result_set(&r, DELIVER_DEFER, "4.3.0",
			    "cannot read the queue file");
			outcome_rest(ss, &r, 0);
			/* Closing without the dot makes the server discard
			 * the message. */
			sess_close(ss);
			sess_finish(ss);
			return;
		}
		ss->pos += n;
		len = smtp_dot_encode(&ss->dot, in, (size_t)n, enc);
		evbuffer_add(out, enc, len);
	}
	if (ss->pos >= end) {
		len = smtp_dot_finish(&ss->dot, enc);
		evbuffer_add(out, enc, len);
		bufferevent_setcb(ss->bev, sess_read_cb, NULL, sess_event_cb,
		    ss);
		sess_state(ss, S_DOT);
	}
}

static void
sess_write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	sess_body_fill(arg);
}

static void
sess_body_start(struct smtp_session *ss)
{
	smtp_dot_init(&ss->dot);
	ss->pos = ss->env.data_off;
	sess_state(ss, S_BODY);
	bufferevent_setwatermark(ss->bev, EV_WRITE, SMTP_OUT_HIGH / 2, 0);
	bufferevent_setcb(ss->bev, sess_read_cb, sess_write_cb, sess_event_cb,
	    ss);
	sess_body_fill(ss);
}

/* A 2xx the next hop cannot mean: to DATA, or before it has our final
 * dot (the body still in our buffers).  Taking it for a delivery would
 * record as sent a message it never got whole, so the recipients still
 * open are deferred and the connection is dropped without the dot (the
 * server discards a message without one). */
static void
sess_premature(struct smtp_session *ss, const char *cmd)
{
	struct smtp_result	 r;
	const struct smtp_addr	*a = sess_addr(ss);

	result_set(&r, DELIVER_DEFER, "4.5.0", "protocol error: host %s[%s] "
	    "said %d %s before the end of the message (in reply to %s)",
	    a->host, a->ip, ss->reply.code, ss->reply.text, cmd);
	log_info("%s: %s", ss->id, r.text);
	outcome_rest(ss, &r, 0);
	sess_close(ss);
	sess_host_end(ss);
}

/* Does output wait in our buffers (or, under TLS, in the socket's)? */
static int
sess_output_pending(const struct smtp_session *ss)
{
	struct bufferevent	*u = bufferevent_get_underlying(ss->bev);

	return evbuffer_get_length(bufferevent_get_output(ss->bev)) > 0 ||
	    (u != NULL && evbuffer_get_length(bufferevent_get_output(u)) > 0);
}

/* A reply in the envelope phase, to command nreplied. */
static void
sess_envelope_reply(struct smtp_session *ss)
{
	const struct smtp_reply	*rp = &ss->reply;
	struct smtp_result	 r;
	int			 k = ss->nreplied++;

	if (k == 0) {
		if (rp->code / 100 != 2) {
			result_from_reply(ss, &r, rp, "MAIL FROM");
			outcome_rest(ss, &r, 1);
			ss->mail_failed = 1;
		}
	} else if (k <= ss->ntodo) {
		if (!ss->mail_failed) {
			if (rp->code / 100 == 2)
				ss->acc[ss->naccepted++] = ss->todo[k - 1];
			else {
				result_from_reply(ss, &r, rp, "RCPT TO");
				outcome_one(ss, ss->todo[k - 1], &r, 1);
			}
		}
	} else {
		/* DATA */
		if (ss->mail_failed || ss->naccepted == 0) {
			sess_close(ss);	/* no message may follow a 354 */
			sess_host_end(ss);
			return;
		}
		if (rp->code == 354) {
			sess_body_start(ss);
			return;
		}
		if (rp->code / 100 == 2) {
			/* No byte of the message went out: never a delivery. */
			sess_premature(ss, "DATA");
			return;
		}
		result_from_reply(ss, &r, rp, "DATA");
		outcome_rest(ss, &r, 1);
		sess_quit(ss);
		return;
	}
	if (ss->nreplied < ss->nsent) {
		sess_state(ss, S_ENVELOPE);
		return;
	}
	/* Without pipelining: the next command, if any is worth it. */
	if (ss->mail_failed || (ss->nsent == ss->ncmd - 1 &&
	    ss->naccepted == 0)) {
		sess_quit(ss);
		return;
	}
	send_cmd(ss, ss->nsent);
	sess_state(ss, S_ENVELOPE);
}

/* ---- connection reuse (smtp_cache.c) --------------------------------- */

/* May the session serve another message once this one is answered?  Not
 * when the server is closing (421), nor past the reuse limits. */
static int
sess_may_park(const struct smtp_session *ss)
{
	const struct smtp_params *c = ss->s->par;

	/* Only after the reply to our final dot: an early reply during the
	 * body leaves the rest of the message queued for the server. */
	if (c->smtp_connection_cache_time_limit <= 0 || ss->bev == NULL ||
	    ss->state != S_DOT || ss->key[0] == '\0' ||
	    ss->reply.code == 421 || sess_output_pending(ss))
		return 0;
	if (c->smtp_connection_reuse_count_limit > 0 &&
	    ss->uses + 1 > c->smtp_connection_reuse_count_limit)
		return 0;
	return (long long)time(NULL) - ss->born <
	    c->smtp_connection_reuse_time_limit;
}

/* Hand the connection to the cache, with what its EHLO offered. */
static void
sess_park(struct smtp_session *ss)
{
	struct smtp_conn	*c = xcalloc(1, sizeof(*c));

	snprintf(c->key, sizeof(c->key), "%s", ss->key);
	c->bev = ss->bev;
	c->addr = *sess_addr(ss);
	c->tls = ss->tls;
	memcpy(c->tls_info, ss->tls_info, sizeof(c->tls_info));
	c->esmtp = ss->esmtp;
	c->pipelining = ss->pipelining;
	c->eightbit = ss->eightbit;
	c->utf8 = ss->utf8;
	c->dsn = ss->dsn;
	c->has_size = ss->has_size;
	c->size_max = ss->size_max;
	c->uses = ss->uses + 1;
	c->born = ss->born;
	c->level = ss->tls_level;
	ss->bev = NULL;
	ss->ssl = NULL;
	smtp_cache_put(ss->s, c);
}

/* How long RSET's reply may take when it was sent with the envelope. */
static int
sess_rset_ahead_timeout(const struct smtp_session *ss)
{
	int	 rset = state_timeout(ss, S_RSET), env = state_timeout(ss,
		    S_ENVELOPE);

	return rset > env ? rset : env;
}

/* Go on with a cached session: RSET first, which also shows whether the
 * server is still there (sess_reuse_failed otherwise); with PIPELINING
 * the envelope follows in the same write. */
static void
sess_reuse(struct smtp_session *ss, struct smtp_conn *c)
{
	struct smtp_result	 r;

	ss->bev = c->bev;
	ss->raddr = c->addr;
	ss->reused = 1;
	ss->tls = c->tls;
	memcpy(ss->tls_info, c->tls_info, sizeof(ss->tls_info));
	ss->esmtp = c->esmtp;
	ss->pipelining = c->pipelining;
	ss->eightbit = c->eightbit;
	ss->utf8 = c->utf8;
	ss->dsn = c->dsn;
	ss->starttls = 0;
	ss->has_size = c->has_size;
	ss->size_max = c->size_max;
	ss->uses = c->uses;
	ss->born = c->born;
	free(c);
	log_debug("session %lu: reusing the session to %s[%s] (%d "
	    "transactions)", ss->sid, ss->raddr.host, ss->raddr.ip, ss->uses);
	bufferevent_setcb(ss->bev, sess_read_cb, NULL, sess_event_cb, ss);
	bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
	sess_send(ss, "RSET");
	if (ss->pipelining && !sess_cannot_take(ss, &r)) {
		ss->rset_wait = 1;
		sess_transaction(ss);
		/* RSET's reply comes first, but a server may hold it until
		 * it has checked the whole group (RFC 2920 3.2): the longer
		 * of RSET's time-out and the envelope's. */
		if (ss->rset_wait && ss->bev != NULL)
			sess_timeouts(ss, sess_rset_ahead_timeout(ss),
			    sess_rset_ahead_timeout(ss));
		return;
	}
	sess_state(ss, S_RSET);
}

/* The cached session is gone or unwilling: a new connection, as if there
 * had been none (not a failure of the host). */
static void
sess_reuse_failed(struct smtp_session *ss)
{
	log_debug("session %lu: cached session to %s[%s] unusable: connecting "
	    "anew", ss->sid, ss->raddr.host, ss->raddr.ip);
	sess_close(ss);
	ss->reused = 0;
	ss->rset_wait = 0;
	sess_begin(ss);
}

/* The reply to an RSET sent ahead of the envelope: 1 when the session
 * goes on (the envelope's replies follow), 0 when it was unusable. */
static int
sess_rset_ahead_reply(struct smtp_session *ss)
{
	ss->rset_wait = 0;
	if (ss->reply.code / 100 != 2) {
		sess_reuse_failed(ss);
		return 0;
	}
	ss->ntried++;
	ss->nsess++;
	sess_state(ss, ss->state);	/* the envelope's reply and time-out */
	return 1;
}

static void
sess_rset_reply(struct smtp_session *ss)
{
	if (ss->reply.code / 100 == 2) {
		ss->ntried++;
		sess_transaction(ss);
	} else
		sess_reuse_failed(ss);
}

/* The next hop has taken the message for recipient i: record it in the
 * queue file before qmgr hears of it (queue_mark.h). */
static void
rcpt_record(struct smtp_session *ss, int i)
{
	if (ss->res[i].status == DELIVER_OK && ss->fd >= 0)
		(void)queue_mark_delivered(ss->fd, &ss->env, ss->id, ss->qrcpt,
		    i);
}

/* RFC 3461 section 4.2: a next hop that offers DSN got NOTIFY passed on
 * and takes on the notices ("passed": qmgr sends none); one that does not
 * sends no success notice, so a recipient that asked for NOTIFY=SUCCESS
 * is "relayed", and qmgr says so itself.  An LMTP server without DSN is
 * the mail store: the message is delivered, not relayed. */
static void
rcpt_action(struct smtp_session *ss, int i)
{
	if (ss->res[i].status != DELIVER_OK)
		return;
	if (ss->dsn)
		ss->res[i].action = DELIVER_ACTION_PASSED;
	else if (!ss->s->lmtp && ss->qrcpt[i] >= 0 &&
	    (ss->env.rcpt[ss->qrcpt[i]].notify & QUEUE_NOTIFY_SUCCESS))
		ss->res[i].action = DELIVER_ACTION_RELAYED;
}

/* RFC 2033 section 4.2: after the final dot, one reply for each accepted
 * RCPT in turn, the outcome of that recipient alone, recorded at once. */
static void
sess_lmtp_dot_reply(struct smtp_session *ss)
{
	int	 i = ss->acc[ss->ndot++];

	result_from_reply(ss, &ss->res[i], &ss->reply, "end of DATA");
	ss->final[i] = 1;
	ss->again[i] = 1;
	rcpt_action(ss, i);
	rcpt_record(ss, i);
	if (ss->ndot < ss->naccepted) {
		sess_state(ss, S_DOT);	/* the next reply, its own time-out */
		return;
	}
	sess_quit(ss);
}

static void
sess_dot_reply(struct smtp_session *ss)
{
	struct smtp_result	 r;
	int			 i;

	if (ss->reply.code / 100 == 2 && (ss->state == S_BODY ||
	    sess_output_pending(ss))) {
		sess_premature(ss, "end of DATA");
		return;
	}
	/* An LMTP reply before our dot is out is the server giving up on
	 * the whole message (below), as in SMTP. */
	if (ss->s->lmtp && ss->state == S_DOT && !sess_output_pending(ss)) {
		sess_lmtp_dot_reply(ss);
		return;
	}
	/* A reply to the dot (or before it) that is not 2xx: the host did not
	 * take the message. */
	result_from_reply(ss, &r, &ss->reply, "end of DATA");
	outcome_rest(ss, &r, 1);
	if (r.status == DELIVER_OK)
		for (i = 0; i < ss->nrcpt; i++) {
			rcpt_action(ss, i);
			rcpt_record(ss, i);
		}
	if (sess_may_park(ss) && !sess_may_move_on(ss)) {
		sess_park(ss);
		sess_finish(ss);
		return;
	}
	sess_quit(ss);
}

/* ---- greeting, EHLO, STARTTLS ---------------------------------------- */

static void
ehlo_keyword(struct smtp_session *ss, const char *line, size_t len)
{
	char		 kw[32];
	size_t		 i;
	const char	*arg;

	for (i = 0; i < len && i < sizeof(kw) - 1 && line[i] != ' '; i++)
		kw[i] = line[i];
	kw[i] = '\0';
	arg = i < len ? line + i + 1 : "";
	if (strcasecmp(kw, "PIPELINING") == 0)
		ss->pipelining = 1;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		ss->eightbit = 1;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		ss->utf8 = 1;
	else if (strcasecmp(kw, "DSN") == 0)
		ss->dsn = 1;
	else if (strcasecmp(kw, "STARTTLS") == 0)
		ss->starttls = 1;
	else if (strcasecmp(kw, "SIZE") == 0 && (ss->has_size = 1))
		ss->size_max = strtoll(arg, NULL, 10) > 0 ?
		    strtoll(arg, NULL, 10) : 0;
}

static int
tls_required(const struct smtp_session *ss)
{
	return ss->tls_level >= CONFIG_TLS_ENCRYPT;
}

static void sess_tls_start(struct smtp_session *);

static void
sess_ehlo_reply(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	const struct smtp_reply	*rp = &ss->reply;

	if (rp->code / 100 != 2) {
		if (ss->state == S_EHLO && !ss->tls && !ss->s->lmtp) {
			sess_send(ss, "HELO %s", ss->s->par->smtp_helo_name);
			sess_state(ss, S_HELO);
			return;
		}
		sess_host_failed(ss, rp->code / 100 == 5 ? DELIVER_BOUNCE :
		    DELIVER_DEFER, rp->dsn[0] ? rp->dsn : rp->code / 100 == 5 ?
		    "5.0.0" : "4.0.0", "host %s[%s] refused to talk to me: %d %s",
		    a->host, a->ip, rp->code, rp->text);
		return;
	}
	ss->esmtp = ss->state == S_EHLO;
	if (!ss->tls && ss->starttls && ss->s->ssl_ctx != NULL &&
	    ss->tls_level != CONFIG_TLS_NONE) {
		sess_send(ss, "STARTTLS");
		sess_state(ss, S_STARTTLS);
		return;
	}
	if (!ss->tls && tls_required(ss)) {
		sess_host_failed(ss, DELIVER_DEFER, "4.7.4", "TLS is required, "
		    "but was not offered by host %s[%s]", a->host, a->ip);
		return;
	}
	sess_transaction(ss);
}

static void
sess_starttls_reply(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);

	if (ss->reply.code == 220) {
		sess_tls_start(ss);
		return;
	}
	if (tls_required(ss)) {
		sess_host_failed(ss, DELIVER_DEFER, "4.7.5", "host %s[%s] "
		    "refused STARTTLS: %d %s", a->host, a->ip, ss->reply.code,
		    ss->reply.text);
		return;
	}
	log_info("%s: host %s[%s] refused STARTTLS (%d %s): sending in clear",
	    ss->id, a->host, a->ip, ss->reply.code, ss->reply.text);
	sess_transaction(ss);
}

static int
host_is_ip(const char *h)
{
	unsigned char	 b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void
sess_tls_start(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	struct bufferevent	*f;
	SSL			*ssl;
	int			 verify;

	verify = ss->tls_level == CONFIG_TLS_VERIFY;
	if ((ssl = SSL_new(ss->s->ssl_ctx)) == NULL) {
		sess_host_failed(ss, DELIVER_DEFER, "4.7.5", "cannot start TLS "
		    "with %s[%s]: out of resources", a->host, a->ip);
		return;
	}
	if (!host_is_ip(a->host))
		(void)SSL_set_tlsext_host_name(ssl, a->host);
	if (verify) {
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		if (host_is_ip(a->host))
			(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    a->host);
		else
			(void)SSL_set1_host(ssl, a->host);
	} else
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	f = bufferevent_openssl_filter_new(ss->s->base, ss->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(ssl);
		sess_host_failed(ss, DELIVER_DEFER, "4.7.5", "cannot start TLS "
		    "with %s[%s]", a->host, a->ip);
		return;
	}
	ss->bev = f;
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	bufferevent_setcb(f, sess_read_cb, NULL, sess_event_cb, ss);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	sess_state(ss, S_TLS);
}

static void
sess_tls_done(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	SSL			*ssl = bufferevent_openssl_get_ssl(ss->bev);
	X509			*peer;
	char			 subj[256] = "none";
	long			 vr;

	if ((peer = SSL_get1_peer_certificate(ssl)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(peer), subj,
		    sizeof(subj));
		X509_free(peer);
	}
	vr = SSL_get_verify_result(ssl);
	snprintf(ss->tls_info, sizeof(ss->tls_info), "%s with cipher %s, "
	    "peer subject %s, %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), subj, peer == NULL ? "no certificate" :
	    vr == X509_V_OK ? "trusted" : "untrusted");
	log_info("%s: TLS connection established to %s[%s]: %s", ss->id,
	    a->host, a->ip, ss->tls_info);
	ss->tls = 1;
	ss->esmtp = ss->pipelining = ss->eightbit = ss->utf8 = 0;
	ss->dsn = ss->starttls = 0;
	ss->size_max = 0;
	ss->has_size = 0;
	sess_send(ss, "EHLO %s", ss->s->par->smtp_helo_name);
	sess_state(ss, S_EHLO);
}

static void
sess_greeting(struct smtp_session *ss)
{
	const struct smtp_addr	*a = sess_addr(ss);
	const struct smtp_reply	*rp = &ss->reply;
	char			 dsn[sizeof(rp->dsn)];

	if (rp->code / 100 == 5 && !ss->s->par->smtp_skip_5xx_greeting) {
		struct smtp_result r;

		/* smtp_skip_5xx_greeting = no: the host's word is final. */
		result_set(&r, DELIVER_BOUNCE, rp->dsn[0] ? rp->dsn : "5.0.0",
		    "host %s[%s] refused to talk to me: %d %s", a->host, a->ip,
		    rp->code, rp->text);
		outcome_rest(ss, &r, 0);
		sess_close(ss);
		sess_finish(ss);
		return;
	}
	if (rp->code / 100 != 2) {
		/* A 5xx greeting is a host's trouble, not the mail's
		 * (smtp_skip_5xx_greeting, Postfix's default): a soft error,
		 * the next host. */
		snprintf(dsn, sizeof(dsn), "%s", rp->dsn[0] ? rp->dsn : "4.0.0");
		dsn[0] = '4';
		sess_host_failed(ss, DELIVER_DEFER, dsn, "host %s[%s] refused to "
		    "talk to me: %d %s", a->host, a->ip, rp->code, rp->text);
		return;
	}
	sess_send(ss, "%s %s", ss->s->lmtp ? "LHLO" : "EHLO",
	    ss->s->par->smtp_helo_name);
	sess_state(ss, S_EHLO);
}

/* ---- events --------------------------------------------------------- */

/* "host[address]:port", or "host[socket path]" (Postfix's relay=). */
static const char *
sess_relay(struct smtp_session *ss, char *out, size_t len)
{
	const struct smtp_addr	*a = sess_addr(ss);

	if (a->sa.ss_family == AF_UNIX)
		snprintf(out, len, "%s[%s]", a->host, a->ip);
	else
		snprintf(out, len, "%s[%s]:%d", a->host, a->ip, ss->nh.port);
	return out;
}

/* One complete reply in the current state. */
static void
sess_reply(struct smtp_session *ss)
{
	log_debug("session %lu: < %d %s", ss->sid, ss->reply.code,
	    ss->reply.text);
	if (ss->rset_wait) {
		(void)sess_rset_ahead_reply(ss);
		return;
	}
	switch (ss->state) {
	case S_GREETING:
		sess_greeting(ss);
		break;
	case S_EHLO:
	case S_HELO:
		sess_ehlo_reply(ss);
		break;
	case S_STARTTLS:
		sess_starttls_reply(ss);
		break;
	case S_RSET:
		sess_rset_reply(ss);
		break;
	case S_ENVELOPE:
		sess_envelope_reply(ss);
		break;
	case S_BODY:	/* an early reply: the server gave up on the data */
	case S_DOT:
		sess_dot_reply(ss);
		break;
	case S_QUIT:
		sess_close(ss);
		sess_finish(ss);
		break;
	default:	/* a reply nobody asked for */
		sess_lost(ss, 0);
		break;
	}
}

/* Replies arrive several at a time (PIPELINING): each complete one is
 * acted on, until the session moves to another connection or ends.  A
 * session that ends in here is freed on the way out (busy/dead). */
static void
sess_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*ss = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	char			 line[SMTP_LINE_MAX];
	size_t			 eol;
	int			 r, bad = 0;

	ss->busy = 1;
	while (!ss->dead && ss->bev == bev) {
		p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
		if (p.pos < 0) {
			bad = evbuffer_get_length(in) >= SMTP_LINE_MAX;
			break;
		}
		if ((size_t)p.pos >= sizeof(line)) {
			bad = 1;
			break;
		}
		evbuffer_remove(in, line, (size_t)p.pos);
		evbuffer_drain(in, eol);
		if (ss->state == S_CONNECT)
			sess_state(ss, S_GREETING);
		if (ss->state == S_TLS || ss->state == S_MX ||
		    (r = smtp_reply_line(&ss->reply, line, (size_t)p.pos)) < 0) {
			bad = 1;
			break;
		}
		if (ss->state == S_EHLO && ss->reply.lines > 1 && p.pos > 4)
			ehlo_keyword(ss, line + 4, (size_t)p.pos - 4);
		if (r == 1)
			sess_reply(ss);
	}
	ss->busy = 0;
	if (bad && !ss->dead && ss->bev == bev) {
		log_info("%s: malformed reply from %s[%s]", ss->id,
		    sess_addr(ss)->host, sess_addr(ss)->ip);
		sess_lost(ss, 0);
	}
	if (ss->dead)
		sess_free(ss);
}

static void
sess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*ss = arg;
	const struct smtp_addr	*a = sess_addr(ss);
	unsigned long		 e;
	char			 err[256] = "handshake failed", relay[400];
	long			 vr;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (ss->state == S_CONNECT)
			sess_state(ss, S_GREETING);
		else if (ss->state == S_TLS)
			sess_tls_done(ss);
		return;
	}
	if (ss->state == S_TLS) {
		SSL *ssl = bufferevent_openssl_get_ssl(ss->bev);

		vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
		if (vr != X509_V_OK)
			snprintf(err, sizeof(err), "server certificate not "
			    "verified: %s", X509_verify_cert_error_string(vr));
		else if ((e = bufferevent_get_openssl_error(ss->bev)) != 0)
			ERR_error_string_n(e, err, sizeof(err));
		while (bufferevent_get_openssl_error(ss->bev) != 0)
			;
		sess_host_failed(ss, DELIVER_DEFER, "4.7.5", "TLS with "
		    "%s[%s] failed: %s", a->host, a->ip, err);
		return;
	}
	if (ss->state == S_CONNECT) {
		sess_host_failed(ss, DELIVER_DEFER, "4.4.1", "connect to "
		    "%s: %s", sess_relay(ss, relay, sizeof(relay)),
		    (what & BEV_EVENT_TIMEOUT) ? "connection timed out" :
		    strerror(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() :
		    ECONNREFUSED));
		return;
	}
	sess_lost(ss, (what & BEV_EVENT_TIMEOUT) != 0);
}

/* ---- the next MX host (smtp_next.c) ------------------------------------ */

/* Does the session leave recipients that another host may still take,
 * and may one be tried?  Not for a session whose qmgr went away, nor
 * after the last address or past smtp_mx_address_limit and
 * smtp_mx_session_limit (a cached session's next hop is looked up again
 * first: whether an address is left shows then). */
static int
sess_may_move_on(const struct smtp_session *ss)
{
	const struct smtp_params *c = ss->s->par;

	if (ss->done == NULL || ss->s->stopping)
		return 0;
	if (!ss->reused && ss->cur + 1 >= ss->naddr)
		return 0;
	if (!smtp_next_allowed(ss->ntried, ss->nsess,
	    c->smtp_mx_address_limit, c->smtp_mx_session_limit))
		return 0;
	return smtp_next_pending(ss->res, ss->final, ss->again, ss->nrcpt,
	    NULL) > 0;
}

/* The host's soft errors need not be the last word: give the recipients
 * they concern to the next host in this same attempt, as Postfix's
 * smtp(8) does.  The others (accepted, bounced, or perhaps delivered) are
 * settled here and logged with this host.  quit: the connection is
 * between commands, say QUIT on it; else it is closed already.  0 when
 * there is no next host to try. */
static int
sess_move_on(struct smtp_session *ss, int quit)
{
	int	 i, n;

	if (!sess_may_move_on(ss))
		return 0;
	n = smtp_next_pending(ss->res, ss->final, ss->again, ss->nrcpt,
	    ss->todo);
	ss->ntodo = n;
	ss->last = ss->res[ss->todo[0]];
	log_info("%s: %s (%d recipient%s left for the next host)", ss->id,
	    ss->last.text, n, n == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		ss->final[ss->todo[i]] = 0;
		ss->again[ss->todo[i]] = 0;
	}
	sess_log(ss);
	/* Message bytes still queued (the host answered early) must not
	 * reach it as commands before a QUIT: those connections are cut. */
	if (quit && ss->bev != NULL && !sess_output_pending(ss)) {
		bufferevent_setcb(ss->bev, NULL, NULL, NULL, NULL);
		smtp_cache_quit(ss->s, ss->bev, sess_addr(ss));
		ss->bev = NULL;
		ss->ssl = NULL;
		ss->tls = 0;
	} else
		sess_close(ss);
	if (ss->reused) {
		/* That host had its turn: the next hop's others now. */
		ss->skip = ss->raddr;
		ss->has_skip = 1;
		ss->reused = 0;
		sess_begin(ss);
		return 1;
	}
	ss->cur++;
	sess_next_addr(ss);
	return 1;
}

/* The session with this host is over: the next host, or the end. */
static void
sess_host_end(struct smtp_session *ss)
{
	if (!sess_move_on(ss, 0))
		sess_finish(ss);
}

/* ---- start and end -------------------------------------------------- */

static void
sess_free(struct smtp_session *ss)
{
	int	 i;

	if (ss->busy) {
		/* Inside its own read callback: that frees it. */
		sess_close(ss);
		ss->dead = 1;
		return;
	}
	smtp_mx_cancel(ss->mx);
	sess_close(ss);
	if (ss->prev != NULL)
		ss->prev->next = ss->next;
	else
		ss->s->sessions = ss->next;
	if (ss->next != NULL)
		ss->next->prev = ss->prev;
	if (ss->later != NULL)
		event_free(ss->later);
	if (ss->fd >= 0)
		close(ss->fd);
	queue_envelope_free(&ss->env);
	for (i = 0; i < ss->nrcpt; i++)
		free(ss->rcpt[i]);
	free(ss->rcpt);
	free(ss->qrcpt);
	free(ss->res);
	free(ss->final);
	free(ss->todo);
	free(ss->acc);
	free(ss->again);
	free(ss->logged);
	free(ss->id);
	free(ss->sender);
	ss->s->nsessions--;
	free(ss);
}

static void
sess_log(struct smtp_session *ss)
{
	static const char *const word[] = {
		[DELIVER_OK] = "sent",
		[DELIVER_DEFER] = "deferred",
		[DELIVER_BOUNCE] = "bounced",
	};
	char	 relay[400] = "none", delay[32];
	int	 i;

	if (ss->reused || ss->cur < ss->naddr)
		(void)sess_relay(ss, relay, sizeof(relay));
	/* Postfix's order (relay, conn_use, delay, dsn, status): pflogsumm
	 * parses it. */
	queue_id_delay(ss->id, delay, sizeof(delay));
	for (i = 0; i < ss->nrcpt; i++) {
		if (!ss->final[i] || ss->logged[i])
			continue;
		ss->logged[i] = 1;
		log_qid(LOG_LEVEL_INFO, ss->id, "to=<%s>, relay=%s, "
		    "conn_use=%d, delay=%s, dsn=%s, status=%s (%s)%s%s%s",
		    ss->rcpt[i], relay, ss->uses + 1, delay, ss->res[i].dsn,
		    word[ss->res[i].status], ss->res[i].text,
		    ss->res[i].action == DELIVER_ACTION_RELAYED ?
		    ", dsn_action=relayed" : "",
		    ss->tls ? ", tls=" : "", ss->tls ? ss->tls_info : "");
	}
}

/* Every outcome is known: hand them to qmgr (once).  The session itself
 * ends now, or when QUIT is answered. */
static void
sess_finish(struct smtp_session *ss)
{
	smtp_session_done_cb	 done = ss->done;

	/* qmgr may reuse the file as soon as it has the reply (free/):
	 * nothing here reads it any more. */
	if (ss->fd >= 0)
		close(ss->fd);
	ss->fd = -1;
	if (done != NULL || ss->detached) {
		ss->done = NULL;
		ss->detached = 0;
		sess_log(ss);
		if (done != NULL)
			done(ss->arg, ss->res, ss->nrcpt);
	}
	if (ss->bev == NULL)
		sess_free(ss);
}

static void
sess_mx_cb(void *arg, int status, const char *dsn, const char *text, int n)
{
	struct smtp_session	*ss = arg;

	ss->mx = NULL;
	if (status != 0) {
		result_set(&ss->last, status == 5 ? DELIVER_BOUNCE :
		    DELIVER_DEFER, dsn, "%s", text);
		outcome_rest(ss, &ss->last, 0);
		sess_finish(ss);
		return;
	}
	ss->naddr = n;
	ss->cur = 0;
	sess_next_addr(ss);
}

/* Fails at once (from the event loop, not from the caller's stack). */
static void
sess_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session	*ss = arg;

	struct smtp_conn	*c;

	(void)fd;
	(void)what;
	if (ss->ndone == ss->nrcpt) {
		sess_finish(ss);
		return;
	}
	if (ss->nh.host[0] == '\0') {
		outcome_rest(ss, &ss->last, 0);
		sess_finish(ss);
		return;
	}
	if ((c = smtp_cache_get(ss->s, ss->key, ss->tls_level)) != NULL) {
		sess_reuse(ss, c);
		return;
	}
	sess_begin(ss);
}

/* A new connection: to the literal address, or to the MX set's. */
static void
sess_begin(struct smtp_session *ss)
{
	ss->cur = 0;
	if (ss->nh.literal) {
		sess_next_addr(ss);
		return;
	}
	sess_state(ss, S_MX);
	ss->mx = smtp_mx_start(ss->s, ss->nh.host, ss->nh.port, ss->addr,
	    SMTP_ADDR_MAX, sess_mx_cb, ss);
}

/* Open the queue file and match the request's recipients to its own (for
 * ORCPT and NOTIFY).  0, or -1 with ss->last set. */
static int
sess_open_queue_file(struct smtp_session *ss, const struct deliver_request *rq)
{
	const char	*err = NULL;
	int		 i;

	if (queue_file_open(QDIR_ACTIVE, rq->id, O_RDWR, &ss->env, &ss->fd,
	    &err) < 0) {
		ss->fd = -1;
		result_set(&ss->last, DELIVER_DEFER, "4.3.0", "cannot open the "
		    "queue file: %s", err != NULL ? err : strerror(errno));
		return -1;
	}
	if (ss->env.data_len < 0 || ss->env.data_off != rq->offset) {
		result_set(&ss->last, DELIVER_DEFER, "4.3.0", "queue file and "
		    "request disagree");
		return -1;
	}
	free(ss->qrcpt);
	ss->qrcpt = queue_mark_match(&ss->env, ss->id,
	    (const char *const *)ss->rcpt, ss->nrcpt);
	for (i = 0; i < ss->nrcpt; i++)
		if (queue_mark_done(&ss->env, ss->qrcpt, i)) {
			result_set(&ss->res[i], DELIVER_OK, "2.0.0",
			    "delivered already");
			ss->final[i] = 1;
			ss->ndone++;
		} else
			ss->todo[ss->ntodo++] = i;
	return 0;
}

struct smtp_session *
smtp_session_start(struct smtp *s, const struct deliver_request *rq,
    smtp_session_done_cb done, void *arg)
{
	struct smtp_session	*ss = xcalloc(1, sizeof(*ss));
	struct timeval		 now = { 0, 0 };
	int			 i;

	ss->s = s;
	ss->sid = ++s->nextid;
	s->nsessions++;
	ss->next = s->sessions;
	if (ss->next != NULL)
		ss->next->prev = ss;
	s->sessions = ss;
	ss->done = done;
	ss->arg = arg;
	ss->fd = -1;
	ss->id = xstrdup(rq->id);
	ss->sender = xstrdup(rq->sender);
	snprintf(ss->key, sizeof(ss->key), "%s", rq->nexthop);
	ss->nrcpt = rq->nrcpt;
	ss->rcpt = xcalloc((size_t)rq->nrcpt, sizeof(*ss->rcpt));
	ss->qrcpt = xcalloc((size_t)rq->nrcpt, sizeof(*ss->qrcpt));
	ss->res = xcalloc((size_t)rq->nrcpt, sizeof(*ss->res));
	ss->final = xcalloc((size_t)rq->nrcpt, sizeof(*ss->final));
	ss->todo = xcalloc((size_t)rq->nrcpt, sizeof(*ss->todo));
	ss->acc = xcalloc((size_t)rq->nrcpt, sizeof(*ss->acc));
	ss->again = xcalloc((size_t)rq->nrcpt, sizeof(*ss->again));
	ss->logged = xcalloc((size_t)rq->nrcpt, sizeof(*ss->logged));
	for (i = 0; i < rq->nrcpt; i++)
		ss->rcpt[i] = xstrdup(rq->rcpt[i]);
	result_set(&ss->last, DELIVER_DEFER, "4.4.1", "no address to try");
	ss->state = S_MX;
	for (i = 0; i < rq->nrcpt; i++)
		ss->qrcpt[i] = -1;
	if (sess_open_queue_file(ss, rq) < 0)
		ss->nh.host[0] = '\0';
	else if ((s->lmtp ? smtp_nexthop_parse_lmtp(rq->nexthop, &ss->nh) :
	    smtp_nexthop_parse(rq->nexthop, &ss->nh)) < 0) {
		result_set(&ss->last, DELIVER_DEFER, "4.3.5", "bad next hop "
		    "\"%s\"", rq->nexthop);
		ss->nh.host[0] = '\0';
	} else if (!s->lmtp && (ss->tls_level = smtp_policy_level(s,
	    rq->nexthop, &ss->nh, &ss->last)) < 0)
		ss->nh.host[0] = '\0';
	else if (ss->nh.literal) {
		if (smtp_nexthop_addrs(&ss->nh, s->cfg->myhostname, ss->addr,
		    &ss->naddr, SMTP_ADDR_MAX) == 0)
			result_set(&ss->last, DELIVER_DEFER, "4.3.5", "next hop "
			    "[%s] is not an IP address (host names %s are not "
			    "supported yet)", ss->nh.host, s->lmtp ?
			    "other than localhost" : "in brackets");
	}
	ss->later = event_new(s->base, -1, 0, sess_later_cb, ss);
	if (ss->later == NULL || event_add(ss->later, &now) < 0)
		log_fatal("event_add failed");
	return ss;
}

void
smtp_session_cancel(struct smtp_session *ss)
{
	if (ss == NULL)
		return;
	ss->done = NULL;
	/* The final dot is out: the reply decides whether the message was
	 * taken, and only then can it be recorded, so the next attempt
	 * (qmgr's, after its restart) does not send it again. */
	if (ss->state == S_DOT && ss->bev != NULL && !ss->s->stopping) {
		ss->detached = 1;
		return;
	}
	sess_free(ss);
}

void
smtp_session_free_all(struct smtp *s)
{
	while (s->sessions != NULL) {
		s->sessions->done = NULL;
		sess_free(s->sessions);
	}
}
