/*
 * smtp_session - the connection side of a session.
 *
 * Input is processed in order for as long as complete commands are
 * buffered (RFC 2920 pipelining), and the replies collect in the output
 * buffer, which libevent writes out in one go when the callback returns.
 * Reading stops while a commit is pending, so commands that follow the end
 * of DATA are answered only after "250 queued", and while too much output
 * waits for a client that does not read it.  A session is freed only from
 * the top of a libevent callback (smtp_session_settle), never in the middle
 * of processing, so no handler ever runs on a freed session.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "smtp_server.h"
#include "smtp_session.h"

/* Stop reading when this much input is buffered (the session drains its
 * input completely except while a commit is pending). */
#define SMTP_INPUT_MAX		(64 * 1024)
/* At shutdown, at most this many chains of output are still sent. */
#define SMTP_SHUTDOWN_IOV	8

/* Replies */

struct evbuffer *
smtp_session_out(struct smtp_session *s)
{
	return bufferevent_get_output(s->bev);
}

void
smtp_session_reply(struct smtp_session *s, int code, const char *enhanced,
    const char *text)
{
	evbuffer_add_printf(smtp_session_out(s), "%d %s %s\r\n", code, enhanced,
	    text);
	if (code >= 500)
		s->errors++;
}

void
smtp_session_result(struct smtp_session *s, const struct smtp_result *r)
{
	smtp_session_reply(s, r->code, r->enhanced, r->text);
}

void
smtp_session_reply_host(struct smtp_session *s, int code,
    const char *enhanced, const char *text)
{
	evbuffer_add_printf(smtp_session_out(s), "%d %s %s %s\r\n", code,
	    enhanced, s->srv->cfg->myhostname, text);
}

/* Reading and closing */

void
smtp_session_want_read(struct smtp_session *s)
{
	if ((s->phase == SMTP_PHASE_COMMAND || s->phase == SMTP_PHASE_DATA) &&
	    !s->throttled && !s->srv->stopping)
		bufferevent_enable(s->bev, EV_READ);
	else
		bufferevent_disable(s->bev, EV_READ);
}

void
smtp_session_close(struct smtp_session *s)
{
	s->phase = SMTP_PHASE_CLOSING;
	smtp_session_want_read(s);
}

/* After any callback: a closing session with nothing left to write is
 * freed here, where nobody holds a pointer to it any more. */
static void
smtp_session_settle(struct smtp_session *s)
{
	if (s->phase == SMTP_PHASE_CLOSING &&
	    evbuffer_get_length(smtp_session_out(s)) == 0)
		smtp_session_free(s);
}

/* Stop reading while a client that does not read its replies lets them
 * pile up; the write callback resumes.  1 if throttled. */
static int
smtp_session_throttle(struct smtp_session *s)
{
	if (evbuffer_get_length(smtp_session_out(s)) <= SMTP_OUTPUT_MAX)
		return 0;
	s->throttled = 1;
	smtp_session_want_read(s);
	return 1;
}

/* A client that keeps getting errors is confused or probing: end it. */
static void
smtp_session_check_errors(struct smtp_session *s)
{
	if (s->errors > SMTP_ERROR_LIMIT && s->phase == SMTP_PHASE_COMMAND) {
		log_info("too many errors from [%s]", s->client);
		smtp_session_reply_host(s, 421, "4.7.0", "Error: too many errors");
		smtp_session_close(s);
	}
}

/*
 * Take one command line off the input and act on it.  0 when no complete
 * line is buffered.  A line longer than SMTP_LINE_MAX is dropped as it
 * arrives (the buffer never holds more than one read past the limit) and
 * answered once its end is seen.
 */
static int
smtp_session_line(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_ptr	 eol;
	char			 line[SMTP_LINE_MAX + 1];
	size_t			 eol_len = 0, len;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if ((len = evbuffer_get_length(in)) > SMTP_LINE_MAX) {
			evbuffer_drain(in, len);
			s->discarding = 1;
		}
		return 0;
	}
	len = (size_t)eol.pos;
	if (s->discarding || len > SMTP_LINE_MAX) {
		evbuffer_drain(in, len + eol_len);
		s->discarding = 0;
		smtp_session_reply(s, 500, "5.5.2", "Line too long");
	} else {
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		smtp_dialog_command(s, line, len);
	}
	smtp_session_check_errors(s);
	return 1;
}

/* Process every complete command (and message) that is buffered. */
static void
smtp_session_input(struct smtp_session *s)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	int		 progress = 1;

	while (progress && !s->srv->stopping) {
		if (s->phase == SMTP_PHASE_COMMAND)
			progress = smtp_session_line(s, in);
		else if (s->phase == SMTP_PHASE_DATA)
			progress = smtp_message_input(s, in);
		else
			return;
		if (smtp_session_throttle(s))
			return;
	}
}

void
smtp_session_resume(struct smtp_session *s)
{
	smtp_session_want_read(s);
	smtp_session_input(s);
	smtp_session_settle(s);
}

/* libevent callbacks */

static void
smtp_session_readable(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)bev;
	smtp_session_input(s);
	smtp_session_settle(s);
}

/* Called each time the output buffer has been written out completely. */
static void
smtp_session_written(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	(void)bev;
	if (s->phase == SMTP_PHASE_CLOSING) {
		smtp_session_free(s);
		return;
	}
	if (s->throttled) {
		s->throttled = 0;
		smtp_session_resume(s);
	}
}

static void
smtp_session_timeout(struct smtp_session *s, short what)
{
	/* A client that does not take its replies gets no more. */
	if (!(what & BEV_EVENT_READING) || s->phase == SMTP_PHASE_CLOSING) {
		log_info("timeout sending to [%s]", s->client);
		smtp_session_free(s);
		return;
	}
	log_info("timeout after %s from [%s]",
	    s->phase == SMTP_PHASE_DATA ? "DATA" : "command", s->client);
	if (s->phase == SMTP_PHASE_DATA) {
		s->phase = SMTP_PHASE_COMMAND;
		smtp_dialog_reset(s);
	}
	smtp_session_reply_host(s, 421, "4.4.2", "Error: timeout exceeded");
	smtp_session_close(s);
	smtp_session_settle(s);
}

static void
smtp_session_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		smtp_session_timeout(s, what);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		log_debug("connection error from [%s]: %s", s->client,
		    strerror(EVUTIL_SOCKET_ERROR()));
		smtp_session_free(s);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		if (s->phase == SMTP_PHASE_DATA)
			log_info("lost connection after DATA from [%s]",
			    s->client);
		/* A client that half-closes after QUIT still gets its 221. */
		if (s->phase == SMTP_PHASE_COMMAND &&
		    evbuffer_get_length(smtp_session_out(s)) > 0) {
			smtp_session_close(s);
			return;
		}
		smtp_session_free(s);
	}
}

/* Life cycle */

static void
smtp_session_peer(struct smtp_session *s, const struct sockaddr *sa)
{
	const struct sockaddr_in6	*sin6;
	const void			*a = NULL;
	int				 af = sa->sa_family;

	if (af == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (af == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		a = &sin6->sin6_addr;
		/* ::ffff:192.0.2.1 is an IPv4 client on a dual-stack socket. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			af = AF_INET;
			a = &sin6->sin6_addr.s6_addr[12];
		}
	}
	if (a == NULL || inet_ntop(af, a, s->client, sizeof(s->client)) == NULL)
		strlcpy(s->client, "unknown", sizeof(s->client));
	s->client_v6 = af == AF_INET6;
}

void
smtp_session_new(struct smtp_server *srv, int fd, const struct sockaddr *sa)
{
	struct smtp_session	*s;
	int			 on = 1;

	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	smtp_session_peer(s, sa);
	/* Replies are batched by the session itself; Nagle would only hold
	 * the last one back. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((s->bev = bufferevent_socket_new(srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_error("cannot set up a session for [%s]", s->client);
		close(fd);
		free(s);
		return;
	}
	bufferevent_setcb(s->bev, smtp_session_readable, smtp_session_written,
	    smtp_session_event, s);
	bufferevent_set_timeouts(s->bev, srv->timeout, srv->timeout);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_MAX);
	LIST_INSERT_HEAD(&srv->sessions, s, entry);
	srv->nsessions++;
	log_info("connect from [%s]", s->client);
	evbuffer_add_printf(smtp_session_out(s), "220 %s\r\n",
	    srv->cfg->smtpd_banner);
	smtp_session_want_read(s);
}

void
smtp_session_free(struct smtp_session *s)
{
	if (s->bev != NULL) {
		log_info("disconnect from [%s]", s->client);
		bufferevent_free(s->bev);
		s->bev = NULL;
		LIST_REMOVE(s, entry);
		s->srv->nsessions--;
	}
	/* The commit worker still owns the queue file: the struct waits,
	 * detached, for smtp_message's completion callback to free it. */
	if (s->phase == SMTP_PHASE_COMMIT) {
		s->gone = 1;
		return;
	}
	smtp_dialog_reset(s);
	free(s->helo);
	free(s);
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	struct evbuffer		*out;
	struct evbuffer_iovec	 v[SMTP_SHUTDOWN_IOV];
	int			 n;

	/* Commits are finished before sessions are shut down; should one
	 * still run, its worker keeps the file and the session lingers. */
	if (s->phase == SMTP_PHASE_COMMIT) {
		smtp_session_free(s);
		return;
	}
	if (s->phase == SMTP_PHASE_DATA) {
		log_qid(LOG_LEVEL_INFO, s->id, "aborted by shutdown");
		s->phase = SMTP_PHASE_COMMAND;
	}
	if (s->phase != SMTP_PHASE_CLOSING)
		smtp_session_reply_host(s, 421, "4.3.2",
		    "Service shutting down");
	/* One non-blocking attempt: a shutdown waits for nobody.  The
	 * bufferevent owns the front of its output buffer (it is frozen
	 * for anyone else), so the bytes are copied out, not drained. */
	out = smtp_session_out(s);
	n = evbuffer_peek(out, -1, NULL, v, SMTP_SHUTDOWN_IOV);
	if (n > SMTP_SHUTDOWN_IOV)
		n = SMTP_SHUTDOWN_IOV;
	if (n > 0 && writev(bufferevent_getfd(s->bev), (struct iovec *)v, n) < 0)
		log_debug("goodbye to [%s] not sent: %s", s->client,
		    strerror(errno));
	s->phase = SMTP_PHASE_CLOSING;
	smtp_session_free(s);
}
