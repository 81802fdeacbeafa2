/*
 * smtpd_session - the connection side of a session.
 *
 * Input is processed in order for as long as complete commands are
 * buffered (RFC 2920 pipelining), and the replies collect in the output
 * buffer, which is written straight to the socket when the callback is done
 * with the input: a reply costs one write(2), and a write event is armed
 * only when the socket's buffer is full.  Input is read into an evbuffer
 * with plain read(2) (libevent's own reader asks FIONREAD first, a system
 * call per read).  One persistent read event per session carries the
 * session's deadline; it is removed only while reading is paused.  The
 * deadline does not restart on every read, or a client trickling a byte
 * at a time would hold its session forever: a command line must be
 * complete within smtpd_timeout of the previous one (or of reading being
 * resumed), the DATA stream within smtpd_timeout extended by one second
 * per smtpd_min_data_rate bytes received (never beyond smtpd_timeout of
 * idleness), and the whole session within smtpd_session_time_limit.
 * Input is not processed while a commit is pending, so commands that
 * follow the end of DATA are answered only after "250 queued"; it is still
 * read (up to SMTP_COMMIT_INPUT_MAX), because removing the read event and
 * adding it again would cost two epoll_ctl(2) calls per message, and a
 * client that waits for its "250" sends nothing anyway.  An end of input
 * seen then is kept until the "250" is written.  Reading stops while too
 * much output waits for a client that does not read it.  A session is
 * freed only from the top of a libevent callback (smtpd_session_settle),
 * never in the middle of processing, so no handler ever runs on a freed
 * session.  After STARTTLS the same one read and one flush go through
 * OpenSSL (smtpd_tls.c); the handshake in between arms its own events
 * against its own deadline (smtpd_session_handshake_wait).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "buf.h"
#include "config.h"
#include "evbuf_io.h"
#include "smtpd_params.h"
#include "io.h"
#include "log.h"
#include "smtpd_anvil.h"
#include "smtpd_lookup.h"
#include "smtpd_server.h"
#include "smtpd_session.h"
#include "smtpd_tls.h"

/* Bytes asked for by one read(2): a 4 KiB message and its commands. */
#define SMTP_READ_SIZE		(16 * 1024)
/* A reply built without printf fits this; a longer one is printed. */
#define SMTP_REPLY_MAX		512

static void	smtpd_session_writable(evutil_socket_t, short, void *);
static int	smtpd_session_arm(struct smtpd_session *, int);
static void	smtpd_session_tls_begin(struct smtpd_session *);
static void	smtpd_session_handshake_wait(struct smtpd_session *, int);

/* Replies */

struct evbuffer *
smtpd_session_out(struct smtpd_session *s)
{
	return s->out;
}

/* "code enhanced text\r\n" into b, built with copies, not printf (seven
 * replies a message); its length, or 0 when it does not fit. */
static size_t
smtpd_session_format(char b[SMTP_REPLY_MAX], int code, const char *enhanced,
    const char *text)
{
	size_t	 elen = strlen(enhanced), tlen = strlen(text), len = 4;

	if (code < 100 || code > 999 || len + elen + 1 + tlen + 2 >
	    SMTP_REPLY_MAX)
		return 0;
	b[0] = (char)('0' + code / 100);
	b[1] = (char)('0' + code / 10 % 10);
	b[2] = (char)('0' + code % 10);
	b[3] = ' ';
	memcpy(b + len, enhanced, elen);
	len += elen;
	b[len++] = ' ';
	memcpy(b + len, text, tlen);
	len += tlen;
	b[len++] = '\r';
	b[len++] = '\n';
	return len;
}

void
smtpd_session_reply(struct smtpd_session *s, int code, const char *enhanced,
    const char *text)
{
	char	 b[SMTP_REPLY_MAX];
	size_t	 len;

	if ((len = smtpd_session_format(b, code, enhanced, text)) > 0)
		evbuffer_add(smtpd_session_out(s), b, len);
	else
		evbuffer_add_printf(smtpd_session_out(s), "%d %s %s\r\n", code,
		    enhanced, text);
	if (code >= 500)
		s->errors++;
}

void
smtpd_session_result(struct smtpd_session *s, const struct smtpd_result *r)
{
	smtpd_session_reply(s, r->code, r->enhanced, r->text);
}

void
smtpd_session_reply_host(struct smtpd_session *s, int code,
    const char *enhanced, const char *text)
{
	evbuffer_add_printf(smtpd_session_out(s), "%d %s %s %s\r\n", code,
	    enhanced, s->srv->cfg->myhostname, text);
}

/* Reading and closing */

/* What is left of the deadline, or of the session if that ends first. */
static void
smtpd_session_left(const struct smtpd_session *s, struct timeval *tv)
{
	long long	 now = io_now_ms(), end = s->deadline_ms, left;

	if (s->end_ms < end)
		end = s->end_ms;
	left = end > now ? end - now : 0;
	tv->tv_sec = (time_t)(left / 1000);
	tv->tv_usec = (suseconds_t)(left % 1000) * 1000;
}

/* (Re)start the read event's timer for what is left of the deadline (or
 * of the session).  fresh: the deadline is a whole smtpd_timeout from now,
 * which the server's common time-out queue arms in O(1).  0 or -1. */
static int
smtpd_session_arm(struct smtpd_session *s, int fresh)
{
	struct timeval	 tv;

	if (fresh && s->end_ms >= s->deadline_ms)
		return event_add(s->rev, s->srv->timeout);
	smtpd_session_left(s, &tv);
	return event_add(s->rev, &tv);
}

/* After a read of n bytes that completed `lines` command lines or
 * messages: a new command deadline, or in DATA the old one extended by the
 * data rate; libevent restarted the persistent event's full time-out, so
 * the timer is set again either way. */
static void
smtpd_session_clock(struct smtpd_session *s, size_t n, int lines)
{
	const struct smtpd_params	*par = s->srv->par;
	long long			 idle;

	if (!s->reading)
		return;
	idle = io_now_ms() + 1000LL * par->smtpd_timeout;
	if (lines > 0)
		s->deadline_ms = idle;
	else if (s->phase == SMTP_PHASE_DATA) {
		s->deadline_ms += (long long)(n * 1000 /
		    (size_t)par->smtpd_min_data_rate);
		if (s->deadline_ms > idle)
			s->deadline_ms = idle;
	}
	if (smtpd_session_arm(s, lines > 0) < 0) {
		log_error("cannot set the time-out of [%s]", s->client);
		smtpd_session_close(s);
	}
}

void
smtpd_session_want_read(struct smtpd_session *s)
{
	int	 want;

	/* A handshake arms its own events (smtpd_session_handshake_wait). */
	if (s->fd < 0 || s->phase == SMTP_PHASE_TLS_HANDSHAKE)
		return;
	want = (s->phase == SMTP_PHASE_COMMAND ||
	    s->phase == SMTP_PHASE_DATA || (s->phase == SMTP_PHASE_COMMIT &&
	    evbuffer_get_length(s->in) < SMTP_COMMIT_INPUT_MAX)) &&
	    !s->throttled && !s->peer_eof && !s->srv->stopping;
	if (want == s->reading)
		return;
	if (want)
		s->deadline_ms = io_now_ms() + 1000LL * s->srv->par->smtpd_timeout;
	if (want ? smtpd_session_arm(s, 1) : event_del(s->rev)) {
		log_error("cannot %s reading from [%s]", want ? "resume" :
		    "pause", s->client);
		/* Without its read event the session would linger with no
		 * time-out: end it once the replies are out. */
		if (want) {
			s->phase = SMTP_PHASE_CLOSING;
			return;
		}
	}
	s->reading = want;
}

void
smtpd_session_close(struct smtpd_session *s)
{
	s->phase = SMTP_PHASE_CLOSING;
	smtpd_session_want_read(s);
}

/* Stop reading while a client that does not read its replies lets them
 * pile up; smtpd_session_settle() resumes once they are written.  1 if
 * throttled. */
static int
smtpd_session_throttle(struct smtpd_session *s)
{
	if (evbuffer_get_length(smtpd_session_out(s)) <= SMTP_OUTPUT_MAX)
		return 0;
	s->throttled = 1;
	smtpd_session_want_read(s);
	return 1;
}

/* A client that keeps getting errors, or keeps sending commands that move
 * no mail, is confused, probing or holding a session: end it. */
static void
smtpd_session_check_errors(struct smtpd_session *s)
{
	if (s->phase != SMTP_PHASE_COMMAND)
		return;
	if (s->errors > SMTP_ERROR_LIMIT) {
		log_info("too many errors from [%s]", s->client);
		smtpd_session_reply_host(s, 421, "4.7.0", "Error: too many errors");
		smtpd_session_close(s);
	} else if (s->junk > s->srv->par->smtpd_junk_command_limit) {
		log_info("too many junk commands from [%s]", s->client);
		smtpd_session_reply_host(s, 421, "4.7.0",
		    "Error: too many junk commands");
		smtpd_session_close(s);
	}
}

/*
 * A command line with a bare CR, or ended by a bare LF, is refused unless
 * smtpd_forbid_bare_newline = no, as its DATA would be: the client's line
 * ends are broken, and what it meant is anybody's guess.  1 if refused.
 */
static int
smtpd_session_bare(struct smtpd_session *s, const char *line, size_t len,
    size_t eol_len)
{
	const char	*what;
	char		 text[64];

	if (s->srv->par->smtpd_forbid_bare_newline == CONFIG_BARE_NL_NO ||
	    (what = smtpd_command_bare(line, len, eol_len)) == NULL)
		return 0;
	log_info("bare <%s> received in a command from [%s]", what, s->client);
	snprintf(text, sizeof(text), "Error: bare <%s> received", what);
	smtpd_session_reply(s, 500, "5.5.2", text);
	return 1;
}

/*
 * Take one command line off the input and act on it.  0 when no complete
 * line is buffered.  A line longer than SMTP_LINE_MAX is dropped as it
 * arrives (the buffer never holds more than one read past the limit) and
 * answered once its end is seen.
 */
static int
smtpd_session_line(struct smtpd_session *s, struct evbuffer *in)
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
		s->junk++;
		smtpd_session_reply(s, 500, "5.5.2", "Line too long");
	} else {
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		if (!smtpd_session_bare(s, line, len, eol_len))
			smtpd_dialog_command(s, line, len);
	}
	smtpd_session_check_errors(s);
	return 1;
}

/* Process every complete command (and message) that is buffered; the
 * number of command lines and messages taken (each restarts the clock). */
static int
smtpd_session_input(struct smtpd_session *s)
{
	struct evbuffer	*in = s->in;
	int		 progress = 1, lines = 0;

	while (progress && !s->srv->stopping) {
		if (s->phase == SMTP_PHASE_COMMAND)
			lines += progress = smtpd_session_line(s, in);
		else if (s->phase == SMTP_PHASE_DATA)
			lines += progress = smtpd_message_input(s, in);
		else
			break;
		if (smtpd_session_throttle(s))
			break;
	}
	return lines;
}

/* Write out what the replies left in the output buffer, as far as the
 * socket takes it without blocking; arm the write event for the rest.
 * 0, or -1 when the client is gone. */
static int
smtpd_session_flush(struct smtpd_session *s)
{
	int	 r;

	r = s->tls_on ? smtpd_tls_flush(s->out, s->tls) :
	    evbuf_io_flush(s->out, s->fd);
	if (r < 0) {
		log_debug("write to [%s]: %s", s->client, strerror(errno));
		return -1;
	}
	if (r == 0)
		return 0;
	if (s->wev == NULL && (s->wev = event_new(s->srv->base, s->fd,
	    EV_WRITE, smtpd_session_writable, s)) == NULL)
		return -1;
	if (event_add(s->wev, s->srv->timeout) < 0)
		return -1;
	return 0;
}

/* After any callback, where nobody holds a pointer to the session any
 * more: write the replies; go on with input a full output buffer held up
 * once it has been written; free a session that is done.  May free. */
static void
smtpd_session_settle(struct smtpd_session *s)
{
	for (;;) {
		if (smtpd_session_flush(s) < 0) {
			smtpd_session_free(s);
			return;
		}
		if (!s->throttled || evbuffer_get_length(s->out) > 0)
			break;
		s->throttled = 0;
		smtpd_session_want_read(s);
		smtpd_session_input(s);
	}
	if (s->phase == SMTP_PHASE_TLS_START && evbuffer_get_length(s->out) == 0)
		smtpd_session_tls_begin(s);
	else if (s->phase == SMTP_PHASE_CLOSING &&
	    evbuffer_get_length(s->out) == 0)
		smtpd_session_free(s);
}

void
smtpd_session_resume(struct smtpd_session *s)
{
	/* A whole smtpd_timeout for the next command, from now. */
	if (s->reading && s->phase == SMTP_PHASE_COMMAND) {
		s->deadline_ms = io_now_ms() + 1000LL * s->srv->par->smtpd_timeout;
		if (smtpd_session_arm(s, 1) < 0) {
			log_error("cannot set the time-out of [%s]", s->client);
			smtpd_session_close(s);
		}
	}
	smtpd_session_want_read(s);
	smtpd_session_input(s);
	/* The client closed its side during the commit: answer what it
	 * sent, then end. */
	if (s->peer_eof && s->phase != SMTP_PHASE_COMMIT) {
		if (s->phase == SMTP_PHASE_DATA)
			log_info("lost connection after DATA from [%s]",
			    s->client);
		smtpd_session_close(s);
	}
	smtpd_session_settle(s);
}

void
smtpd_session_command_done(struct smtpd_session *s)
{
	smtpd_session_check_errors(s);
	smtpd_session_resume(s);
}

/* STARTTLS */

void
smtpd_session_starttls(struct smtpd_session *s)
{
	size_t	 left = evbuffer_get_length(s->in);

	smtpd_session_reply(s, 220, "2.0.0", "Ready to start TLS");
	/* RFC 3207 section 6: commands sent in the clear behind STARTTLS
	 * must not be taken as if they had come through TLS. */
	if (left > 0) {
		log_info("%zu bytes of plaintext discarded after STARTTLS "
		    "from [%s]", left, s->client);
		evbuffer_drain(s->in, left);
	}
	s->discarding = 0;
	s->phase = SMTP_PHASE_TLS_START;
	smtpd_session_want_read(s);
}

/* The 220 is out: from here on the socket speaks TLS, with
 * smtpd_starttls_timeout for the handshake.  May free. */
static void
smtpd_session_tls_begin(struct smtpd_session *s)
{
	if ((s->tls = smtpd_tls_start(s->srv->tls, s->fd)) == NULL) {
		log_error("cannot start TLS with [%s]", s->client);
		smtpd_session_free(s);
		return;
	}
	s->phase = SMTP_PHASE_TLS_HANDSHAKE;
	s->deadline_ms = io_now_ms() +
	    1000LL * s->srv->par->smtpd_starttls_timeout;
	smtpd_session_handshake_wait(s, 0);
}

/* The handshake is over: RFC 3207 section 4.2, the session starts anew
 * (HELO/EHLO again, no transaction), with a fresh command deadline. */
static void
smtpd_session_tls_ready(struct smtpd_session *s)
{
	char	 what[128];

	s->tls_on = 1;
	s->phase = SMTP_PHASE_COMMAND;
	if (s->wev != NULL)
		(void)event_del(s->wev);
	/* Read on, with a fresh command deadline (armed below), whichever
	 * event the handshake's last step waited for. */
	s->reading = 1;
	smtpd_dialog_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	smtpd_tls_describe(s->tls, what, sizeof(what));
	log_info("TLS connection established from [%s]: %s", s->client, what);
	s->deadline_ms = io_now_ms() + 1000LL * s->srv->par->smtpd_timeout;
	if (smtpd_session_arm(s, 1) < 0) {
		log_error("cannot set the time-out of [%s]", s->client);
		smtpd_session_free(s);
	}
}

/*
 * The handshake waits for the socket to be readable, or writable: exactly
 * one of the two events is armed, so a level-triggered read event cannot
 * fire again and again on input OpenSSL will not read while it waits to
 * write.  Either is armed with what is left of the handshake's deadline
 * (libevent restarts a persistent event's full time-out at every firing,
 * so it is set anew after each step), which bytes trickled in one at a
 * time cannot extend.  May free.
 */
static void
smtpd_session_handshake_wait(struct smtpd_session *s, int want_write)
{
	struct timeval	 tv;
	int		 r;

	if (want_write) {
		r = s->reading ? event_del(s->rev) : 0;
		s->reading = 0;
		if (r == 0 && s->wev == NULL && (s->wev = event_new(s->srv->base,
		    s->fd, EV_WRITE, smtpd_session_writable, s)) == NULL)
			r = -1;
		if (r == 0) {
			smtpd_session_left(s, &tv);
			r = event_add(s->wev, &tv);
		}
	} else {
		r = s->wev != NULL ? event_del(s->wev) : 0;
		s->reading = 1;
		if (r == 0)
			r = smtpd_session_arm(s, 0);
	}
	if (r < 0) {
		log_error("cannot wait for the TLS handshake of [%s]",
		    s->client);
		smtpd_session_free(s);
	}
}

/* A step of the handshake, when the socket is readable (or writable,
 * where OpenSSL waited for that).  May free. */
static void
smtpd_session_handshake(struct smtpd_session *s)
{
	char	 why[256];

	switch (smtpd_tls_handshake(s->tls, why, sizeof(why))) {
	case 0:
		smtpd_session_handshake_wait(s, 0);
		return;
	case 1:
		smtpd_session_tls_ready(s);
		return;
	case 2:
		smtpd_session_handshake_wait(s, 1);
		return;
	default:
		log_info("TLS handshake failed from [%s]: %s", s->client, why);
		smtpd_session_free(s);
		return;
	}
}

/* Event callbacks */

static void
smtpd_session_timeout(struct smtpd_session *s)
{
	/* Nothing can be said in the clear any more. */
	if (s->phase == SMTP_PHASE_TLS_HANDSHAKE) {
		if (io_now_ms() >= s->end_ms)
			log_info("session time limit exceeded in the TLS "
			    "handshake from [%s]", s->client);
		else
			log_info("TLS handshake failed from [%s]: timeout",
			    s->client);
		smtpd_session_free(s);
		return;
	}
	if (io_now_ms() >= s->end_ms)
		log_info("session time limit exceeded in %s from [%s]",
		    s->phase == SMTP_PHASE_DATA ? "DATA" : "command",
		    s->client);
	else
		log_info("timeout after %s from [%s]",
		    s->phase == SMTP_PHASE_DATA ? "DATA" : "command",
		    s->client);
	if (s->phase == SMTP_PHASE_DATA) {
		s->phase = SMTP_PHASE_COMMAND;
		smtpd_dialog_reset(s);
	}
	smtpd_session_reply_host(s, 421, "4.4.2", "Error: timeout exceeded");
	smtpd_session_close(s);
	smtpd_session_settle(s);
}

/* The client closed its side.  One that half-closes after QUIT still
 * gets its 221, if the socket would not take it at once. */
static void
smtpd_session_eof(struct smtpd_session *s)
{
	if (s->phase == SMTP_PHASE_DATA)
		log_info("lost connection after DATA from [%s]", s->client);
	if (s->phase == SMTP_PHASE_COMMAND &&
	    evbuffer_get_length(s->out) > 0) {
		smtpd_session_close(s);
		return;
	}
	smtpd_session_free(s);
}

static void
smtpd_session_readable(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session	*s = arg;
	size_t			 before = evbuffer_get_length(s->in), got;
	int			 r, lines = 0;

	(void)fd;
	if (what & EV_TIMEOUT) {
		/* The client waits for us, not we for it: a new time-out. */
		if (s->phase == SMTP_PHASE_COMMIT) {
			if (event_add(s->rev, s->srv->timeout) < 0)
				log_error("cannot set the time-out of [%s]",
				    s->client);
			return;
		}
		smtpd_session_timeout(s);
		return;
	}
	if (s->phase == SMTP_PHASE_TLS_HANDSHAKE) {
		smtpd_session_handshake(s);
		return;
	}
	r = s->tls_on ? smtpd_tls_read(s->in, s->tls, SMTP_READ_SIZE) :
	    evbuf_io_read(s->in, s->fd, SMTP_READ_SIZE);
	if (r < 0) {
		if (errno == 0 && s->phase == SMTP_PHASE_COMMIT) {
			s->peer_eof = 1;
			smtpd_session_want_read(s);
			return;
		}
		if (errno != 0) {
			log_debug("connection error from [%s]: %s", s->client,
			    strerror(errno));
			smtpd_session_free(s);
		} else
			smtpd_session_eof(s);
		return;
	}
	got = evbuffer_get_length(s->in) - before;
	if (s->phase == SMTP_PHASE_COMMIT) {
		/* Kept for after the "250"; paused if it grows too much. */
		smtpd_session_want_read(s);
		return;
	}
	if (r > 0)
		lines = smtpd_session_input(s);
	smtpd_session_clock(s, got, lines);
	smtpd_session_settle(s);
}

/* The socket takes output again, or a client that does not take its
 * replies has had its time-out: it gets no more. */
static void
smtpd_session_writable(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session	*s = arg;

	(void)fd;
	if (s->phase == SMTP_PHASE_TLS_HANDSHAKE) {
		if (what & EV_TIMEOUT)
			smtpd_session_timeout(s);
		else
			smtpd_session_handshake(s);
		return;
	}
	if (what & EV_TIMEOUT) {
		log_info("timeout sending to [%s]", s->client);
		smtpd_session_free(s);
		return;
	}
	smtpd_session_settle(s);
}

/* Life cycle */

static void
smtpd_session_peer(struct smtpd_session *s, const struct sockaddr *sa)
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

static void
smtpd_session_release(struct smtpd_session *s)
{
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->out != NULL)
		evbuffer_free(s->out);
	smtpd_tls_end(s->tls);
	s->tls = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->rev = s->wev = NULL;
	s->in = s->out = NULL;
	s->fd = -1;
}

static void
smtpd_session_greet(struct smtpd_session *s)
{
	evbuffer_add(s->out, s->srv->greeting, s->srv->greeting_len);
	smtpd_session_want_read(s);
	smtpd_session_settle(s);
}

void
smtpd_session_new(struct smtpd_server *srv, int fd, const struct sockaddr *sa)
{
	struct smtpd_session	*s;
	int			 on = 1;

	s = xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	smtpd_session_peer(s, sa);
	s->end_ms = srv->par->smtpd_session_time_limit > 0 ? io_now_ms() +
	    1000LL * srv->par->smtpd_session_time_limit : LLONG_MAX;
	/* Replies are batched by the session itself; Nagle would only hold
	 * the last one back. */
	if (!srv->nodelay_inherited && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->rev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    smtpd_session_readable, s);
	/* The listener hands over non-blocking sockets. */
	if (s->in == NULL || s->out == NULL || s->rev == NULL) {
		log_error("cannot set up a session for [%s]", s->client);
		smtpd_session_release(s);
		free(s);
		return;
	}
	LIST_INSERT_HEAD(&srv->sessions, s, entry);
	srv->nsessions++;
	log_info("connect from [%s]", s->client);
	if (smtpd_anvil_connect(srv->anvil, s)) {
		s->phase = SMTP_PHASE_CONNECT;
		return;
	}
	smtpd_session_greet(s);
}

/* The limits per client address, as Postfix words them; a session over
 * one is refused before its greeting.  0, or -1 once refused. */
static int
smtpd_session_limits(struct smtpd_session *s, int count, int rate)
{
	const struct smtpd_params	*par = s->srv->par;

	if (par->smtpd_client_connection_count_limit > 0 &&
	    count > par->smtpd_client_connection_count_limit)
		log_warn("connection count limit exceeded: %d from [%s]",
		    count, s->client);
	else if (par->smtpd_client_connection_rate_limit > 0 &&
	    rate > par->smtpd_client_connection_rate_limit)
		log_warn("connection rate limit exceeded: %d from [%s]",
		    rate, s->client);
	else
		return 0;
	evbuffer_add_printf(s->out, "421 4.7.0 %s Error: too many connections "
	    "from %s\r\n", s->srv->cfg->myhostname, s->client);
	s->phase = SMTP_PHASE_CLOSING;
	return -1;
}

void
smtpd_session_admit(struct smtpd_session *s, int count, int rate)
{
	if (s->phase != SMTP_PHASE_CONNECT)
		return;
	s->phase = SMTP_PHASE_COMMAND;
	if (smtpd_session_limits(s, count, rate) < 0) {
		smtpd_session_settle(s);
		return;
	}
	smtpd_session_greet(s);
}

void
smtpd_session_free(struct smtpd_session *s)
{
	if (s->fd >= 0) {
		log_info("disconnect from [%s]", s->client);
		smtpd_anvil_disconnect(s->srv->anvil, s);
		smtpd_lookup_cancel(s->srv->lookup, s);
		smtpd_session_release(s);
		LIST_REMOVE(s, entry);
		s->srv->nsessions--;
	}
	/* The commit worker still owns the queue file: the struct waits,
	 * detached, for smtpd_message's completion callback to free it. */
	if (s->phase == SMTP_PHASE_COMMIT) {
		s->gone = 1;
		return;
	}
	smtpd_dialog_reset(s);
	free(s->helo);
	free(s);
}

void
smtpd_session_shutdown(struct smtpd_session *s)
{
	/* Commits are finished before sessions are shut down; should one
	 * still run, its worker keeps the file and the session lingers. */
	if (s->phase == SMTP_PHASE_COMMIT) {
		smtpd_session_free(s);
		return;
	}
	if (s->phase == SMTP_PHASE_DATA) {
		log_qid(LOG_LEVEL_INFO, s->id, "aborted by shutdown");
		s->phase = SMTP_PHASE_COMMAND;
	}
	/* In a handshake (or about to start one) a 421 in the clear
	 * would only be garbage to the client's TLS. */
	if (s->phase == SMTP_PHASE_TLS_START ||
	    s->phase == SMTP_PHASE_TLS_HANDSHAKE)
		s->phase = SMTP_PHASE_CLOSING;
	if (s->phase != SMTP_PHASE_CLOSING)
		smtpd_session_reply_host(s, 421, "4.3.2",
		    "Service shutting down");
	/* One non-blocking attempt: a shutdown waits for nobody. */
	if ((s->tls_on ? smtpd_tls_flush(s->out, s->tls) :
	    evbuffer_write(s->out, s->fd)) < 0)
		log_debug("goodbye to [%s] not sent: %s", s->client,
		    strerror(errno));
	s->phase = SMTP_PHASE_CLOSING;
	smtpd_session_free(s);
}
