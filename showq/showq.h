/*
 * showq - the queue listing service for unprivileged users (showq(8)), as
 * Postfix's showq: it runs as mail_owner, reads the queue directories that
 * nobody else may read, and answers the showq protocol (proto_showq.h) on
 * a world-connectable socket in public/.  It never changes the queue; its
 * one other request, a flush, it relays to qmgr, coalesced.
 */
#ifndef TERN_SHOWQ_H
#define TERN_SHOWQ_H

#include <time.h>

#include "ipc.h"
#include "ipc_server.h"

#define SHOWQ_CLIENT_MAX	64	/* clients at once; others wait */
#define SHOWQ_REQUEST_MAX	4096	/* largest request frame */
#define SHOWQ_OUT_MAX		(IPC_FRAME_MAX + 16)	/* one page unread */
#define SHOWQ_CLIENT_TIMEOUT	60	/* s for a client to read a page */
/* Anyone may connect: one user holds a few slots, and none idly. */
#define SHOWQ_UID_MAX		4	/* clients of one uid at once */
#define SHOWQ_IDLE_TIMEOUT	10	/* s between a client's requests */
#define SHOWQ_QMGR_TIMEOUT_MS	5000	/* to relay a flush */

struct event_base;

struct showq {
	struct event_base	*base;
	struct ipc_server	*listener;
	time_t			 last_flush;	/* relayed to qmgr */
};

/* Answer one request into reply (initialised here).  The server side,
 * apart from the socket: unit-testable in a queue directory. */
void	showq_answer(struct showq *, const struct ipc_msg *req,
	    struct ipc_msg *reply);
int	showq_listen_init(struct showq *, int fd);
void	showq_listen_free(struct showq *);

#endif
