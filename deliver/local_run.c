/*
 * local_run - each account's mailbox work in a process of its own, under a
 * deadline that the deliver process enforces with SIGKILL.
 *
 * A Maildir on a hung NFS server or on a FUSE mount whose server stopped
 * answering blocks open(), write() and fsync() in the kernel, often in an
 * uninterruptible or only killable sleep: alarm() and other signals that
 * are caught cannot get such a call back, and no thread of the blocked
 * process can be made to return.  What always works is that another
 * process never touches the mailbox: the account's worker (local_worker.c,
 * a fork of deliver with the account's ids, kept from one flush to the
 * next) does the maildir work (maildir.c) and sends the results back.
 * deliver hands each account of a flush to its worker (they run side by
 * side) and polls their sockets until the batch's deadline
 * (local_time_limit); a worker still at work then is killed with SIGKILL
 * (which a killable sleep honours; a truly uninterruptible one leaves the
 * worker stuck, but never deliver) and forgotten, and its deliveries are
 * deferred with 4.3.0 "mailbox delivery timed out", so qmgr retries them
 * after the normal back-off while the other accounts' replies go out on
 * time.  A worker killed after it moved a message into new/ may leave that
 * copy behind: a retry can then deliver it twice, never lose it.  The
 * deadline is the batch's, not each flush's, so that deliver answers qmgr
 * within local_time_limit (qmgr's watchdog is that plus a grace): in the
 * rare batch that needs more than one flush (over LOCAL_BATCH_USERS
 * accounts), a hung mailbox in an early flush would leave the later ones
 * no time.  So a flush that starts late still gets LOCAL_RUN_MIN_MS, as
 * long as that ends within LOCAL_RUN_SLACK_MS of the batch's deadline
 * (well inside qmgr's grace); after that its accounts are deferred too.
 *
 * Workers are reaped by the kernel (deliver sets SIGCHLD to SIG_IGN), so
 * one stuck in the kernel leaves no zombie for deliver to wait for.  A
 * worker that ends without a full report, or sends one that does not
 * check out, defers its deliveries too, and is replaced at the next mail.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "deliver.h"

#define LOCAL_RUN_MIN_MS	2000	/* a late flush's chance */
#define LOCAL_RUN_SLACK_MS	30000	/* the most past the batch deadline;
					   < qmgr's QMGR_REPLY_GRACE */

static void
local_run_fail(struct local_run *run, const char *dsn, const char *text)
{
	int	 k;

	for (k = 0; k < run->n; k++)
		deliver_result_set(run->jobs[k]->res, DELIVER_DEFER, dsn,
		    "%s", text);
}

void
local_run_start(struct deliver_ctx *ctx, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n,
    unsigned char *busy, struct local_run *run)
{
	memset(run, 0, sizeof(*run));
	run->jobs = jobs;
	run->n = n;
	run->pid = -1;
	run->fd = local_worker_start(ctx, u, mailbox, jobs, n, busy,
	    &run->pid);
	if (run->fd < 0)
		local_run_fail(run, "4.3.0", "cannot start mailbox delivery");
}

void
local_run_skip(struct maildir_job **jobs, int n, const char *dsn,
    const char *text, struct local_run *run)
{
	memset(run, 0, sizeof(*run));
	run->jobs = jobs;
	run->n = n;
	run->pid = -1;
	run->fd = -1;
	local_run_fail(run, dsn, text);
}

/* Take the report waiting on run's socket: the worker sends it in one
 * packet.  1 when the run is over (reported, or the worker gone or
 * talking nonsense: its jobs deferred), 0 to wait on. */
static int
local_run_read(struct deliver_ctx *ctx, struct local_run *run)
{
	struct deliver_result	 res[LOCAL_BATCH_JOBS];
	size_t			 want = local_worker_reply_size(run->n);
	char			*buf = xmalloc(want + 1);
	ssize_t			 r;
	int			 k;

	r = recv(run->fd, buf, want + 1, MSG_DONTWAIT);
	if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
		free(buf);
		return 0;
	}
	if (r > 0 && local_worker_reply_check(buf, (size_t)r, run->n,
	    res) == 0) {
		for (k = 0; k < run->n; k++) {
			/* Delivered into this Maildir, the recipient's only
			 * target: the reply's mailbox.<i>. */
			res[k].mailbox = run->jobs[k]->own &&
			    res[k].status == DELIVER_OK;
			*run->jobs[k]->res = res[k];
		}
		free(buf);
		run->fd = -1;
		return 1;
	}
	free(buf);
	log_warn("mailbox delivery process %ld ended without a valid report",
	    (long)run->pid);
	local_run_fail(run, "4.3.0", "mailbox delivery process failed");
	local_worker_end(ctx, run->fd, 1);
	run->fd = -1;
	return 1;
}

/* Kill a worker past the deadline (late: a late flush's) and defer its
 * deliveries. */
static void
local_run_timeout(struct deliver_ctx *ctx, struct local_run *run, int late)
{
	log_warn("mailbox delivery process %ld did not finish in time: "
	    "killed", (long)run->pid);
	local_worker_end(ctx, run->fd, 1);
	run->fd = -1;
	run->timed_out = 1;
	run->late = late;
	local_run_fail(run, "4.3.0", "mailbox delivery timed out");
}

/* Index in run[] of each pollfd, for the runs still going; their count. */
static int
local_run_pollset(struct local_run *run, int nrun, struct pollfd *pfd,
    int *which)
{
	int	 i, n = 0;

	for (i = 0; i < nrun; i++)
		if (run[i].fd >= 0) {
			pfd[n].fd = run[i].fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			which[n++] = i;
		}
	return n;
}

/* When this flush's workers must be done: the batch's deadline, or a
 * short chance for a flush that starts after it (see above). */
static long long
local_run_deadline(long long batch_ms)
{
	long long	 late = io_now_ms() + LOCAL_RUN_MIN_MS;

	if (late <= batch_ms)
		return batch_ms;
	return late < batch_ms + LOCAL_RUN_SLACK_MS ? late :
	    batch_ms + LOCAL_RUN_SLACK_MS;
}

void
local_run_wait(struct deliver_ctx *ctx, struct local_run *run, int nrun,
    long long batch_ms)
{
	struct pollfd	*pfd = xcalloc((size_t)nrun, sizeof(*pfd));
	int		*which = xcalloc((size_t)nrun, sizeof(*which));
	long long	 left, deadline_ms = local_run_deadline(batch_ms);
	int		 i, n;

	while ((n = local_run_pollset(run, nrun, pfd, which)) > 0) {
		left = deadline_ms - io_now_ms();
		if (left <= 0) {
			for (i = 0; i < n; i++)
				local_run_timeout(ctx, &run[which[i]],
				    deadline_ms > batch_ms);
			break;
		}
		if (poll(pfd, (nfds_t)n, left > 60000 ? 60000 : (int)left) < 0 &&
		    errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				(void)local_run_read(ctx, &run[which[i]]);
	}
	free(pfd);
	free(which);
}
