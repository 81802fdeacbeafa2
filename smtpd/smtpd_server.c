/*
 * smtpd_server - accepting connections and owning what sessions share.
 * Each smtpd process accepts on the socket the master bound for it (its
 * own, with several processes: master/service_listen.h); each enforces
 * smtpd_client_limit on its own sessions.  A refused client gets
 * a 421 written straight to its socket, without a session: refusing must
 * stay cheap exactly when the server is busiest.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "config.h"
#include "smtpd_params.h"
#include "log.h"
#include "proto_qmgr.h"
#include "smtpd_anvil.h"
#include "smtpd_commit.h"
#include "smtpd_lookup.h"
#include "smtpd_notify.h"
#include "smtpd_server.h"
#include "smtpd_session.h"
#include "smtpd_tls.h"

/* After accept(2) runs out of descriptors or memory, pause this long. */
#define SMTP_ACCEPT_PAUSE_SEC	1
/* Descriptors kept for everything but sessions: the listener, the event
 * loop, the commit pipe, qmgr, queue files being written and committed. */
#define SMTP_FD_RESERVE		(64 + 2 * SMTP_COMMIT_THREADS)

static void
smtpd_server_admit(struct smtpd_server *srv, int fd, struct sockaddr *sa)
{
	if (srv->nsessions >= srv->max_sessions) {
		/* Best effort: a fresh socket's send buffer takes a line. */
		if (write(fd, srv->refusal, srv->refusal_len) < 0)
			log_debug("refusal not sent: %s", strerror(errno));
		close(fd);
		log_warn("too many sessions (%d): connection refused",
		    srv->nsessions);
		return;
	}
	smtpd_session_new(srv, fd, sa);
}

/*
 * One connection per readable event: when more wait, the (level-triggered)
 * event is ready again at the next turn of the loop, along with whatever
 * else is, so no accept(2) is made only to learn that nothing is left.
 * EMFILE and friends leave the connection in the backlog, so the event
 * would fire again at once: stop accepting for a moment instead.
 */
static void
smtpd_server_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct smtpd_server	*srv = arg;
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { SMTP_ACCEPT_PAUSE_SEC, 0 };
	socklen_t		 len = sizeof(ss);
	int			 fd;

	(void)what;
	fd = accept4(lfd, (struct sockaddr *)&ss, &len,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		smtpd_server_admit(srv, fd, (struct sockaddr *)&ss);
		return;
	}
	switch (errno) {
	case EAGAIN:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case EINTR:
	case ECONNABORTED:	/* gone before we took it */
		return;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		log_warn("accept: %s", strerror(errno));
		event_del(srv->listener);
		event_add(srv->resume, &tv);
		return;
	default:
		log_warn("accept: %s", strerror(errno));
		return;
	}
}

/* The loop has run the callbacks that were ready: write their log lines
 * (log_batch()). */
static void
smtpd_server_log_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

/* A first line waits: flush after this pass over the ready callbacks
 * (an activated event runs after those already active). */
static void
smtpd_server_log_wake(void *arg)
{
	struct smtpd_server	*srv = arg;

	event_active(srv->logflush, EV_TIMEOUT, 0);
}

static void
smtpd_server_resume(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_server	*srv = arg;

	(void)fd;
	(void)what;
	if (!srv->stopping && event_add(srv->listener, NULL) < 0)
		log_error("cannot accept connections again");
}

/* smtpd_client_limit, unless the descriptor limit is lower: a client is
 * better off with a 421 than stuck in the listen queue behind EMFILE. */
static void
smtpd_server_limit(struct smtpd_server *srv)
{
	struct rlimit	 rl;
	long long	 usable;

	srv->max_sessions = srv->par->smtpd_client_limit;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	usable = (long long)rl.rlim_cur - SMTP_FD_RESERVE;
	if (usable < srv->max_sessions) {
		srv->max_sessions = usable > 1 ? (int)usable : 1;
		log_info("descriptor limit %llu: at most %d sessions",
		    (unsigned long long)rl.rlim_cur, srv->max_sessions);
	}
}

/* The EHLO reply, with or without STARTTLS; its length in *len. */
static char *
smtpd_server_ehlo(const struct tern_config *cfg, int starttls, size_t *len)
{
	struct buf	 b;

	buf_init(&b, 4096);
	if (buf_appendf(&b, "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n%s250 ENHANCEDSTATUSCODES\r\n",
	    cfg->myhostname, cfg->message_size_limit,
	    starttls ? "250-STARTTLS\r\n" : "") < 0)
		log_fatal("myhostname too long");
	*len = b.len;
	return b.data;
}

/* The replies that depend only on the configuration, built once. */
static void
smtpd_server_replies(struct smtpd_server *srv)
{
	const struct tern_config	*cfg = srv->cfg;
	struct buf			 b;

	srv->ehlo = smtpd_server_ehlo(cfg, 0, &srv->ehlo_len);
	if (srv->tls != NULL)
		srv->ehlo_starttls = smtpd_server_ehlo(cfg, 1,
		    &srv->ehlo_starttls_len);
	buf_init(&b, 4096);
	if (buf_appendf(&b, "421 4.7.0 %s Error: too many connections\r\n",
	    cfg->myhostname) < 0)
		log_fatal("myhostname too long");
	srv->refusal = b.data;
	srv->refusal_len = b.len;
	buf_init(&b, 4096);
	if (buf_appendf(&b, "220 %s\r\n", srv->par->smtpd_banner) < 0)
		log_fatal("smtpd_banner too long");
	srv->greeting = b.data;
	srv->greeting_len = b.len;
}

void
smtpd_server_init(struct smtpd_server *srv, struct event_base *base,
    const struct tern_config *cfg, const struct smtpd_params *par,
    int listen_fd, const char *service, struct smtpd_tls *tls)
{
	struct timeval	 tv;
	int		 on = 1;

	memset(srv, 0, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->par = par;
	srv->tls = tls;
	LIST_INIT(&srv->sessions);
	smtpd_server_limit(srv);
	smtpd_server_replies(srv);
	/* Thousands of sessions share one time-out value: a common timeout
	 * queue makes arming each of them O(1). */
	tv.tv_sec = par->smtpd_timeout;
	tv.tv_usec = 0;
	if ((srv->timeout = event_base_init_common_timeout(base, &tv)) == NULL)
		log_fatal("cannot set up the session time-out");
	srv->commit = smtpd_commit_new(base, SMTP_COMMIT_THREADS);
	smtpd_pool_init(&srv->pool, srv->commit);
	srv->notify = smtpd_notify_new(base, QMGR_SOCKET);
	srv->anvil = smtpd_anvil_new(base, par, service);
	srv->lookup = smtpd_lookup_new(base, par->smtpd_lookup_timeout);
	smtpd_relay_init(&srv->relay, cfg);
	if ((srv->resume = evtimer_new(base, smtpd_server_resume, srv)) == NULL)
		log_fatal("cannot create a timer");
	if ((srv->logflush = event_new(base, -1, 0, smtpd_server_log_flush,
	    srv)) == NULL)
		log_fatal("cannot create an event");
	log_batch(smtpd_server_log_wake, srv);
	/* The master already called listen(2). */
	if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0)
		log_fatal("listening socket: %s", strerror(errno));
	/* Linux gives an accepted socket its listener's TCP_NODELAY: set
	 * once here, it costs no system call per session. */
	srv->nodelay_inherited = setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY,
	    &on, sizeof(on)) == 0;
	srv->listener = event_new(base, listen_fd, EV_READ | EV_PERSIST,
	    smtpd_server_accept, srv);
	if (srv->listener == NULL || event_add(srv->listener, NULL) < 0)
		log_fatal("cannot listen on fd %d", listen_fd);
}

void
smtpd_server_free(struct smtpd_server *srv)
{
	struct smtpd_session	*s;

	srv->stopping = 1;
	/* From here on every line is written at once. */
	log_batch(NULL, NULL);
	if (srv->logflush != NULL)
		event_free(srv->logflush);
	/* The socket is the master's (and other smtpd's): not closed here. */
	if (srv->listener != NULL)
		event_free(srv->listener);
	if (srv->resume != NULL)
		event_free(srv->resume);
	/* Messages being committed get their "250" before the goodbye. */
	smtpd_commit_free(srv->commit);
	while ((s = LIST_FIRST(&srv->sessions)) != NULL)
		smtpd_session_shutdown(s);
	smtpd_notify_free(srv->notify);
	smtpd_anvil_free(srv->anvil);
	smtpd_lookup_free(srv->lookup);
	smtpd_relay_free(&srv->relay);
	free(srv->ehlo);
	free(srv->ehlo_starttls);
	smtpd_tls_free(srv->tls);
	free(srv->refusal);
	free(srv->greeting);
	memset(srv, 0, sizeof(*srv));
}
