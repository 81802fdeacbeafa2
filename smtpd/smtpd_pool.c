/*
 * smtpd_pool - refill the pool of free/ names in a commit worker.  The
 * worker reads free/ into a pool of its own and settles it (fsync of
 * active/ and deferred/, queue_pool_refill), and only then, back on the
 * event loop, are its names merged into the pool writers take from: every
 * name a writer can take has had its rename into free/ made durable before
 * the file is opened, exactly as when the refill ran in line.  A refill
 * starts when the pool is nearly empty, so it usually lands before the
 * last name is taken; at most one runs at a time.  A refill that finds
 * nothing (or fails) waits QUEUE_POOL_RETRY_MS before the next.
 */
#include <string.h>

#include "io.h"
#include "smtpd_commit.h"
#include "smtpd_pool.h"

/* Refill when this few names are left: long enough before the pool runs
 * dry for two directory fsyncs, short enough that nearly every refill
 * brings a whole batch. */
#define SMTP_POOL_LOW	8

void
smtpd_pool_init(struct smtpd_pool *p, struct smtpd_commit *commit)
{
	memset(p, 0, sizeof(*p));
	p->names.owner_refills = 1;
	p->commit = commit;
}

/* In a worker: the event loop does not touch staged while busy. */
static int
smtpd_pool_refill(void *arg)
{
	struct smtpd_pool	*p = arg;

	return queue_pool_refill(&p->staged);
}

/* Back on the event loop. */
static void
smtpd_pool_refilled(void *arg, int result, int err)
{
	struct smtpd_pool	*p = arg;

	(void)err;
	p->busy = 0;
	if (result > 0)
		queue_pool_merge(&p->names, &p->staged);
	else
		p->names.retry_ms = io_now_ms() + QUEUE_POOL_RETRY_MS;
}

struct queue_pool *
smtpd_pool_get(struct smtpd_pool *p)
{
	if (!p->busy && p->names.n <= SMTP_POOL_LOW &&
	    io_now_ms() >= p->names.retry_ms) {
		p->busy = 1;
		smtpd_commit_call(p->commit, smtpd_pool_refill,
		    smtpd_pool_refilled, p);
	}
	return &p->names;
}
