/*
 * anvil - internal interfaces of the connection-counting daemon.
 *
 * One struct anvil holds the daemon's state: the event loop, the table of
 * counts per ident, the time unit and the listening server; it is passed
 * to every function, nothing is a hidden global.  The modules:
 *
 *	anvil_table.c	the counts: sessions and rate per ident (pure, given
 *			the time; unit-tested)
 *	anvil_listen.c	the server side of proto_anvil.h: requests in,
 *			counts out, a client's sessions ended when it goes
 */
#ifndef TERN_ANVIL_H
#define TERN_ANVIL_H

#include <sys/tree.h>

#include "ipc.h"

struct event;
struct event_base;
struct ipc_server;

/* Limits.  Each bounds memory or file descriptors. */
#define ANVIL_CLIENT_MAX	1024	/* connected clients (smtpd processes) */
#define ANVIL_ENTRY_MAX		100000	/* idents counted at once */
#define ANVIL_REQUEST_MAX	1024	/* largest request frame, header incl. */
#define ANVIL_OUT_MAX		(64 * 1024) /* unread replies per client */
#define ANVIL_WRITE_TIMEOUT	10	/* s for a client to take its replies */

/* ---- anvil_table.c: counts per ident ----------------------------------- */

struct anvil_entry {
	RB_ENTRY(anvil_entry) node;
	char		*ident;
	int		 count;		/* sessions now */
	int		 rate;		/* sessions begun in this unit */
	long long	 unit_start;	/* ms when this unit began */
};

RB_HEAD(anvil_tree, anvil_entry);

struct anvil_table {
	struct anvil_tree tree;
	int		 n;		/* entries */
	int		 max;		/* at most */
	long long	 unit_ms;	/* the rate's time unit */
};

void	anvil_table_init(struct anvil_table *, int max, long long unit_ms);
void	anvil_table_free(struct anvil_table *);
/* A session from ident begins at now (ms).  0 with the counts after it;
 * -1 when the table is full of idents with sessions (idle ones are expired,
 * else the oldest idle one is forgotten), nothing counted. */
int	anvil_table_connect(struct anvil_table *, const char *ident,
	    long long now, int *count, int *rate);
/* A session from ident ends.  0 with the count left; -1 if ident has no
 * session counted (nothing changes). */
int	anvil_table_disconnect(struct anvil_table *, const char *ident,
	    long long now, int *count);
/* Forget idents with no session whose time unit is over; how many went. */
int	anvil_table_expire(struct anvil_table *, long long now);
/* End in t every session that sub counts (one client's sessions, counted
 * in a table of its own), and empty sub. */
void	anvil_table_release(struct anvil_table *t, struct anvil_table *sub,
	    long long now);

/* ---- the daemon ------------------------------------------------------- */

struct anvil {
	struct event_base	*base;
	struct anvil_table	 table;
	struct event		*expire_ev;	/* every time unit */
	int			 full_logged;	/* "table full" said this unit */
	struct ipc_server	*listener;
};

/* anvil_listen.c */
/* Check a request: 0 with *ident pointing into req, or -1 with *err set
 * to the text for an IPC_T_ERROR reply. */
int	anvil_request_check(const struct ipc_msg *req, const char **ident,
	    const char **err);
int	anvil_listen_init(struct anvil *, int listen_fd);
void	anvil_listen_free(struct anvil *);

#endif
