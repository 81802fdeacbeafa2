/*
 * smtpd_pool - the names of free/ files one smtpd process writes new
 * messages into, kept topped up by a commit worker so that the event loop
 * never waits for the directory fsyncs that make a name safe to reuse.
 * When the pool runs dry before a refill lands, a message gets a new file:
 * slower by an inode, never by a wait.
 */
#ifndef TERN_SMTPD_POOL_H
#define TERN_SMTPD_POOL_H

#include "queue_writer.h"

struct smtpd_commit;

struct smtpd_pool {
	struct queue_pool	 names;		/* the event loop's */
	struct queue_pool	 staged;	/* the worker's, while busy */
	int			 busy;		/* a refill is running */
	struct smtpd_commit	*commit;
};

void	smtpd_pool_init(struct smtpd_pool *, struct smtpd_commit *);
/* The pool to take a name from; starts a refill when it runs low. */
struct queue_pool *smtpd_pool_get(struct smtpd_pool *);

#endif
