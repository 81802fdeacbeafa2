/*
 * resolver - internal interfaces of the resolver daemon.
 *
 * One struct resolver holds the daemon's state: the event loop, the
 * libunbound context, the lookups in flight and the connected clients.  It
 * is passed to every function; nothing is a hidden global.  The modules:
 *
 *	resolver_proto.c   request checks and reply encoding (pure)
 *	resolver_lookup.c  one MX request as a state machine over libunbound
 *	resolver_listen.c  the server side: requests in, lookups, replies out
 *	mx_set.c, dns_wire.c  pure helpers (see their headers)
 */
#ifndef TERN_RESOLVER_H
#define TERN_RESOLVER_H

#include <sys/queue.h>

#include "ipc.h"
#include "mx_set.h"

struct event;
struct event_base;
struct ub_ctx;

/* Limits.  Each bounds memory or file descriptors. */
#define RESOLVER_CLIENT_MAX	512	/* connected clients */
#define RESOLVER_REQUEST_MAX	8192	/* largest request frame, header incl. */
#define RESOLVER_WRITE_TIMEOUT	60	/* s for a client to take its reply */
#define RESOLVER_TEXT_MAX	256	/* reply text */

struct ipc_server;
struct resolver_query;

struct resolver {
	struct event_base	*base;
	struct ub_ctx		*ub;
	int			 timeout;	/* s per MX request */
	unsigned long		 nextid;	/* numbers lookups in the log */
	/* Queries whose lookup went away but that libunbound would not
	 * cancel: they are freed when their answer arrives, or at exit. */
	TAILQ_HEAD(, resolver_query) orphans;
	/* the server side (resolver_listen.c) */
	struct ipc_server	*listener;
};

/* ---- resolver_proto.c: the resolver protocol (proto_resolver.h) ------- */

enum resolver_status {
	RESOLVER_OK,
	RESOLVER_TEMP,
	RESOLVER_PERM,
};

/* Check a request.  0 with *domain pointing into req, or -1 with *err set
 * to the text for an IPC_T_ERROR reply. */
int	resolver_request_check(const struct ipc_msg *req, const char **domain,
	    const char **err);
/* Fill reply (initialised here) for a successful lookup. */
int	resolver_reply_ok(struct ipc_msg *reply, const struct mx_set *,
	    int implicit, const char *text);
/* Fill reply for a failed one (status temp or perm). */
int	resolver_reply_fail(struct ipc_msg *reply, enum resolver_status,
	    const char *dsn, const char *text);
/* Fill an IPC_T_ERROR reply. */
int	resolver_reply_error(struct ipc_msg *reply, const char *text);
const char *resolver_status_name(enum resolver_status);

/* ---- resolver_lookup.c: MX requests over libunbound ----------------- */

struct resolver_lookup;

/* Called once with the reply when the request is done; the reply and the
 * lookup are freed after it returns.  It may start new lookups. */
typedef void (*resolver_lookup_cb)(const struct ipc_msg *reply, void *arg);

/* Start the MX request for a valid domain.  The callback never runs from
 * inside this call, even when the lookup fails at once. */
struct resolver_lookup *resolver_lookup_start(struct resolver *,
	    const char *domain, resolver_lookup_cb, void *arg);
/* Abandon a request: no callback; its queries are cancelled. */
void	resolver_lookup_cancel(struct resolver_lookup *);
/* Call when libunbound's fd is readable. */
void	resolver_lookup_process(struct resolver *);
/* After ub_ctx_delete(): free the orphaned queries. */
void	resolver_lookup_shutdown(struct resolver *);

/* ---- resolver_listen.c: the server side ---------------------------- */

int	resolver_listen_init(struct resolver *, int listen_fd);
/* Close every client (abandoning its lookup) and stop listening. */
void	resolver_listen_free(struct resolver *);

#endif
