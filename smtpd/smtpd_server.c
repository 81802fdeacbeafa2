/*
 * smtpd_server - accepting connections and owning what sessions share.
 * Several smtpd processes accept on the one socket the master bound; each
 * enforces smtpd_client_limit on its own sessions.  A refused client gets
 * a 421 written straight to its socket, without a session: refusing must
 * stay cheap exactly when the server is busiest.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "buf.h"
#include "config.h"
#include "smtpd_params.h"
#include "log.h"
#include "proto_qmgr.h"
#include "smtpd_anvil.h"
#include "smtpd_commit.h"
#include "smtpd_notify.h"
#include "smtpd_server.h"
#include "smtpd_session.h"
#include "virtual.h"

/* After accept(2) runs out of descriptors or memory, pause this long. */
#define SMTP_ACCEPT_PAUSE_SEC	1
/* Descriptors kept for everything but sessions: the listener, the event
 * loop, the commit pipe, qmgr, queue files being written and committed. */
#define SMTP_FD_RESERVE		(64 + 2 * SMTP_COMMIT_THREADS)

static void
smtpd_server_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct smtpd_server	*srv = arg;

	(void)l;
	(void)salen;
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

/* EMFILE and friends leave the connection in the backlog, so the listener
 * would fire again at once: stop accepting for a moment instead. */
static void
smtpd_server_accept_error(struct evconnlistener *l, void *arg)
{
	struct smtpd_server	*srv = arg;
	struct timeval		 tv = { SMTP_ACCEPT_PAUSE_SEC, 0 };
	int			 err = EVUTIL_SOCKET_ERROR();

	log_warn("accept: %s", strerror(err));
	evconnlistener_disable(l);
	event_add(srv->resume, &tv);
}

static void
smtpd_server_resume(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_server	*srv = arg;

	(void)fd;
	(void)what;
	if (!srv->stopping)
		evconnlistener_enable(srv->listener);
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

/* The replies that depend only on the configuration, built once. */
static void
smtpd_server_replies(struct smtpd_server *srv)
{
	const struct tern_config	*cfg = srv->cfg;
	struct buf			 b;

	buf_init(&b, 4096);
	if (buf_appendf(&b, "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n", cfg->myhostname,
	    cfg->message_size_limit) < 0)
		log_fatal("myhostname too long");
	srv->ehlo = b.data;
	srv->ehlo_len = b.len;
	buf_init(&b, 4096);
	if (buf_appendf(&b, "421 4.7.0 %s Error: too many connections\r\n",
	    cfg->myhostname) < 0)
		log_fatal("myhostname too long");
	srv->refusal = b.data;
	srv->refusal_len = b.len;
}

void
smtpd_server_init(struct smtpd_server *srv, struct event_base *base,
    const struct tern_config *cfg, const struct smtpd_params *par,
    int listen_fd, const char *service)
{
	struct timeval	 tv;

	memset(srv, 0, sizeof(*srv));
	srv->base = base;
	srv->cfg = cfg;
	srv->par = par;
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
	smtpd_relay_init(&srv->relay, cfg);
	if ((srv->resume = evtimer_new(base, smtpd_server_resume, srv)) == NULL)
		log_fatal("cannot create a timer");
	/* backlog -1: the master already called listen(2). */
	srv->listener = evconnlistener_new(base, smtpd_server_accept, srv,
	    LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (srv->listener == NULL)
		log_fatal("cannot listen on fd %d", listen_fd);
	evconnlistener_set_error_cb(srv->listener, smtpd_server_accept_error);
}

void
smtpd_server_free(struct smtpd_server *srv)
{
	struct smtpd_session	*s;

	srv->stopping = 1;
	/* The socket is the master's (and other smtpd's): not closed here. */
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->resume != NULL)
		event_free(srv->resume);
	/* Messages being committed get their "250" before the goodbye. */
	smtpd_commit_free(srv->commit);
	while ((s = LIST_FIRST(&srv->sessions)) != NULL)
		smtpd_session_shutdown(s);
	smtpd_notify_free(srv->notify);
	smtpd_anvil_free(srv->anvil);
	smtpd_relay_free(&srv->relay);
	if (srv->users.aliases_open > 0)
		map_list_close(&srv->users.aliases);
	if (srv->users.virt_open > 0) {
		virtual_close(srv->users.virt);
		free(srv->users.virt);
	}
	free(srv->ehlo);
	free(srv->refusal);
	memset(srv, 0, sizeof(*srv));
}
