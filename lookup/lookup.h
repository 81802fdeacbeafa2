/*
 * lookup - internal interfaces of the lookup service (lookup(8)): the
 * daemon that answers smtpd's recipient question (proto_lookup.h) with
 * rcpt_lookup.h, so that smtpd reads no password database and no table.
 * One struct lookup holds the daemon's state (event loop, server, the
 * tables kept open); nothing is a hidden global.
 *
 *	lookup.c	main: start-up, privileges, the event loop
 *	lookup_listen.c	the server side of proto_lookup.h
 */
#ifndef TERN_LOOKUP_H
#define TERN_LOOKUP_H

#include "proto_lookup.h"
#include "rcpt_lookup.h"

struct event_base;
struct ipc_server;

#define LOOKUP_CLIENT_MAX	1024	/* connected clients (smtpd processes) */
#define LOOKUP_OUT_MAX		(64 * 1024) /* unread replies per client */
#define LOOKUP_WRITE_TIMEOUT	10	/* s for a client to take its replies */

struct lookup {
	struct event_base	*base;
	struct ipc_server	*listener;
	struct rcpt_lookup	 rcpt;		/* the tables, kept open */
};

/* Serve proto_lookup.h on the listening socket fd.  0 or -1. */
int	lookup_listen_init(struct lookup *, int fd);
void	lookup_listen_free(struct lookup *);

#endif
