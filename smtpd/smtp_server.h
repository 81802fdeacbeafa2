/*
 * smtp_server - the state one smtpd process shares between its sessions:
 * the configuration, the event base, the listening socket, the commit
 * workers, the qmgr notifier, the pool of queue files to reuse, the cache
 * of local users and the list of live sessions.  There is no
 * global state: everything a session needs is reached through this struct.
 */
#ifndef TERN_SMTP_SERVER_H
#define TERN_SMTP_SERVER_H

#include <sys/queue.h>
#include <sys/time.h>

#include <stddef.h>

#include "queue.h"
#include "smtp_policy.h"

struct event;
struct event_base;
struct evconnlistener;
struct smtp_commit;
struct smtp_notify;
struct smtp_session;
struct tern_config;

LIST_HEAD(smtp_session_list, smtp_session);

struct smtp_server {
	struct event_base	*base;
	const struct tern_config *cfg;
	struct evconnlistener	*listener;
	struct event		*resume;	/* re-enables accept after EMFILE */
	struct smtp_commit	*commit;
	struct smtp_notify	*notify;
	struct queue_pool	 pool;		/* files to reuse from free/ */
	struct smtp_user_cache	 users;		/* local users seen lately */
	struct smtp_session_list sessions;
	int			 nsessions;
	int			 max_sessions;	/* smtpd_client_limit, or fewer
						   if descriptors are short */
	int			 stopping;	/* shutting down: start nothing */
	const struct timeval	*timeout;	/* smtpd_timeout, common timeout */
	char			*ehlo;		/* the whole EHLO reply */
	size_t			 ehlo_len;
	char			*refusal;	/* 421 when over the client limit */
	size_t			 refusal_len;
};

/* Set up everything, listening on listen_fd (already bound and listening,
 * shared with other smtpd processes); exits through log_fatal on failure. */
void	smtp_server_init(struct smtp_server *, struct event_base *,
	    const struct tern_config *, int listen_fd);
/* Stop accepting, let pending commits finish, say goodbye to every session
 * and free it all.  Called after the event loop has ended. */
void	smtp_server_free(struct smtp_server *);

#endif
