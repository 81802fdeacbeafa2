/*
 * smtpd_server - the state one smtpd process shares between its sessions:
 * the configuration, the event base, the listening socket, the commit
 * workers, the qmgr notifier, the anvil client, the lookup service's
 * client, relay control, the pool of queue files to reuse, the cache of
 * local users, the queue's free space as last asked and the list of live
 * sessions.  There is no global state: everything a session needs is
 * reached through this struct.
 */
#ifndef TERN_SMTPD_SERVER_H
#define TERN_SMTPD_SERVER_H

#include <sys/queue.h>
#include <sys/time.h>

#include <stddef.h>

#include "smtpd_policy.h"
#include "smtpd_pool.h"
#include "smtpd_relay.h"
#include "smtpd_space.h"

struct event;
struct event_base;
struct smtpd_anvil;
struct smtpd_commit;
struct smtpd_lookup;
struct smtpd_notify;
struct smtpd_session;
struct tern_config;
struct smtpd_params;
struct smtpd_tls;

LIST_HEAD(smtpd_session_list, smtpd_session);

struct smtpd_server {
	struct event_base	*base;
	const struct tern_config *cfg;
	const struct smtpd_params *par;
	struct event		*listener;	/* the listening socket */
	struct event		*resume;	/* re-enables accept after EMFILE */
	struct event		*logflush;	/* writes the pass's log lines */
	struct smtpd_commit	*commit;
	struct smtpd_notify	*notify;
	struct smtpd_anvil	*anvil;		/* limits per client address */
	struct smtpd_lookup	*lookup;	/* recipients: lookup(8) */
	struct smtpd_pool	 pool;		/* files to reuse from free/ */
	struct smtpd_user_cache	 users;		/* local users seen lately */
	struct smtpd_relay	 relay;		/* mynetworks, parsed */
	struct smtpd_space	 space;		/* the queue's free space, cached */
	struct smtpd_session_list sessions;
	int			 nsessions;
	int			 max_sessions;	/* smtpd_client_limit, or fewer
						   if descriptors are short */
	int			 stopping;	/* shutting down: start nothing */
	int			 nodelay_inherited; /* the listener has
						   TCP_NODELAY (sessions too) */
	const struct timeval	*timeout;	/* smtpd_timeout, common timeout */
	struct smtpd_tls	*tls;		/* STARTTLS, or NULL: not offered */
	char			*ehlo;		/* the whole EHLO reply */
	size_t			 ehlo_len;
	char			*ehlo_starttls;	/* the same offering STARTTLS */
	size_t			 ehlo_starttls_len;
	char			*greeting;	/* 220 and smtpd_banner */
	size_t			 greeting_len;
	char			*refusal;	/* 421 when over the client limit */
	size_t			 refusal_len;
};

/* Set up everything, listening on listen_fd (already bound and listening
 * by the master), offering STARTTLS with tls (NULL: not offered; the
 * server frees it); exits through log_fatal on failure. */
void	smtpd_server_init(struct smtpd_server *, struct event_base *,
	    const struct tern_config *, const struct smtpd_params *,
	    int listen_fd, const char *service, struct smtpd_tls *tls);
/* Stop accepting, let pending commits finish, say goodbye to every session
 * and free it all.  Called after the event loop has ended. */
void	smtpd_server_free(struct smtpd_server *);

#endif
