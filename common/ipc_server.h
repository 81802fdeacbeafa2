/*
 * ipc_server - the server side of an ipc.h protocol, on libevent: every
 * daemon that answers framed requests on the socket the master bound for it
 * (qmgr, resolver, and the services to come) runs one of these and supplies
 * only what its protocol means.  The server accepts clients up to a cap
 * (and pauses accepting for a moment when out of descriptors), reads
 * frames of at most frame_max bytes, drops a client that sends a malformed
 * or oversized frame, and hands each decoded request to the daemon's
 * callback.  A client is trusted only as far as that: its input and its
 * unread output are bounded, and one that stops reading its replies is
 * paused and, after write_timeout, dropped; none can block the daemon.
 * A server on a socket anyone may connect to (showq) also caps the
 * clients of one peer uid (uid_max) and drops a client idle for
 * idle_timeout, so that one local user cannot hold every slot.
 *
 * Every request is answered by one ipc_server_reply(), at once from the
 * callback or later (after a DNS lookup, say).  The daemon names a client
 * by its ipc_client_id, never by a pointer: a client can go away at any
 * time, and a reply or a call for an id whose client is gone is a safe
 * no-op (ids are not reused).
 */
#ifndef TERN_IPC_SERVER_H
#define TERN_IPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

struct event_base;
struct ipc_server;

/* Names one connected client; 0 never does. */
typedef uint64_t ipc_client_id;

/* A decoded request from client id.  Answer it with ipc_server_reply(),
 * now or later; req is freed when this returns. */
typedef void (*ipc_server_request_cb)(void *arg, ipc_client_id id,
	    const struct ipc_msg *req);
/* Client id is gone (closed, dropped, or the server is being freed), with
 * the data the daemon attached to it (ipc_server_set_data), so that work
 * on its behalf can be abandoned.  Replies to it are ignored from now on. */
typedef void (*ipc_server_gone_cb)(void *arg, ipc_client_id id, void *data);

struct ipc_server_conf {
	int			 client_max;	/* clients connected at once */
	size_t			 frame_max;	/* largest request, length incl. */
	size_t			 in_max;	/* buffered input (>= frame_max) */
	size_t			 out_max;	/* unread replies before pausing */
	int			 pending_max;	/* unanswered requests per client
						 * (0: no limit) */
	int			 write_timeout;	/* s for a client to read */
	int			 uid_max;	/* clients of one peer uid at
						 * once (0: no limit) */
	int			 idle_timeout;	/* s without a byte from a
						 * client before it is dropped
						 * (0: never); only for servers
						 * that answer at once */
	ipc_server_request_cb	 request;
	ipc_server_gone_cb	 gone;		/* may be NULL */
	void			*arg;		/* passed to both */
};

/* Serve on listen_fd (made non-blocking here; the caller keeps owning
 * it).  NULL if libevent fails. */
struct ipc_server *ipc_server_new(struct event_base *, int listen_fd,
	    const struct ipc_server_conf *);
/* Close every client (each one's gone callback runs) and stop listening.
 * Not from inside a callback of this server.  NULL is fine. */
void	ipc_server_free(struct ipc_server *);

/* Queue a reply for client id.  0; or -1 when the client is gone, or when
 * the reply cannot be queued, which drops the client (with a log line). */
int	ipc_server_reply(struct ipc_server *, ipc_client_id,
	    const struct ipc_msg *reply);
/* Disconnect client id now (its gone callback runs). */
void	ipc_server_drop(struct ipc_server *, ipc_client_id);
/* Attach the daemon's data to client id (given back to the gone
 * callback).  -1 if the client is gone. */
int	ipc_server_set_data(struct ipc_server *, ipc_client_id, void *data);
/* The data attached to client id; NULL if none or the client is gone. */
void	*ipc_server_data(const struct ipc_server *, ipc_client_id);
/* Has client id gone away (or closed its side) although its requests may
 * still be buffered here?  A server about to do lasting work for a request
 * that nobody will hear the answer to (the client gave up waiting) can
 * skip it.  1 also when the client is gone here; 0 when in doubt. */
int	ipc_server_client_hung_up(const struct ipc_server *, ipc_client_id);
/* Clients connected now. */
int	ipc_server_nclients(const struct ipc_server *);

#endif
