/*
 * local_run - each account's mailbox work in a child process, under a
 * deadline that the deliver process enforces with SIGKILL.
 *
 * A Maildir on a hung NFS server or on a FUSE mount whose server stopped
 * answering blocks open(), write() and fsync() in the kernel, often in an
 * uninterruptible or only killable sleep: alarm() and other signals that
 * are caught cannot get such a call back, and no thread of the blocked
 * process can be made to return.  What always works is that another
 * process never touches the mailbox: deliver forks one child per account
 * of a flush (they run side by side), the child takes the account's ids
 * and does the maildir work (maildir.c), and sends one deliver_result per
 * job back through a pipe.  The parent polls the pipes until the batch's
 * deadline (local_time_limit); a child still at work then is killed with
 * SIGKILL (which a killable sleep honours; a truly uninterruptible one
 * leaves the child stuck, but never the parent), and its deliveries are
 * deferred with 4.3.0 "mailbox delivery timed out", so qmgr retries them
 * after the normal back-off while the other accounts' replies go out on
 * time.  A child killed after it moved a message into new/ may leave that
 * copy behind: a retry can then deliver it twice, never lose it.  The
 * deadline is the batch's, not each flush's, so that deliver answers qmgr
 * within local_time_limit (qmgr's watchdog is that plus a grace): in the
 * rare batch that needs more than one flush (over LOCAL_BATCH_USERS
 * accounts), a hung mailbox in an early flush would leave the later ones
 * no time.  So a flush that starts late still gets LOCAL_RUN_MIN_MS, as
 * long as that ends within LOCAL_RUN_SLACK_MS of the batch's deadline
 * (well inside qmgr's grace); after that its accounts are deferred too.
 *
 * Children are reaped by the kernel (deliver sets SIGCHLD to SIG_IGN), so
 * a child stuck in the kernel leaves no zombie for deliver to wait for.
 * A child that dies without a full report defers its deliveries too.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
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

/* The child: deliver, report, exit without running anything of the
 * parent's (no atexit handlers, no stdio flush). */
static void __attribute__((noreturn))
local_run_child(struct deliver_ctx *ctx, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n, int out)
{
	int	 k, r = 0;

	ctx->pid = 0;	/* Maildir names carry the child's own pid */
	maildir_deliver_many(ctx, u, mailbox, jobs, n);
	for (k = 0; k < n && r == 0; k++)
		r = io_write_all(out, jobs[k]->res, sizeof(*jobs[k]->res));
	_exit(r == 0 ? 0 : 1);
}

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
    struct local_run *run)
{
	int	 p[2];

	memset(run, 0, sizeof(*run));
	run->jobs = jobs;
	run->n = n;
	run->fd = -1;
	run->pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("pipe: %s", strerror(errno));
		local_run_fail(run, "4.3.0", "cannot start mailbox delivery");
		return;
	}
	if ((run->pid = fork()) < 0) {
		log_warn("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		local_run_fail(run, "4.3.0", "cannot start mailbox delivery");
		return;
	}
	if (run->pid == 0) {
		close(p[0]);
		local_run_child(ctx, u, mailbox, jobs, n, p[1]);
	}
	close(p[1]);
	/* The child counted its own names; keep ours moving past them. */
	ctx->counter += (unsigned long)n;
	run->fd = p[0];
	run->buf = xcalloc((size_t)n, sizeof(*run->buf));
}

/* Read what run's child has sent; 1 when it is over (report complete,
 * or the child gone without one: its jobs deferred). */
static int
local_run_read(struct local_run *run)
{
	size_t	 want = (size_t)run->n * sizeof(*run->buf);
	ssize_t	 r;
	int	 k;

	r = read(run->fd, (char *)run->buf + run->got, want - run->got);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r > 0) {
		run->got += (size_t)r;
		if (run->got < want)
			return 0;
		for (k = 0; k < run->n; k++)
			*run->jobs[k]->res = run->buf[k];
		return 1;
	}
	log_warn("mailbox delivery process %ld ended without a report",
	    (long)run->pid);
	local_run_fail(run, "4.3.0", "mailbox delivery process failed");
	return 1;
}

static void
local_run_end(struct local_run *run)
{
	close(run->fd);
	run->fd = -1;
	free(run->buf);
	run->buf = NULL;
}

/* Kill a child past the deadline and defer its deliveries. */
static void
local_run_timeout(struct local_run *run)
{
	log_warn("mailbox delivery process %ld did not finish in time: "
	    "killed", (long)run->pid);
	kill(run->pid, SIGKILL);
	local_run_fail(run, "4.3.0", "mailbox delivery timed out");
	local_run_end(run);
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

/* When this flush's children must be done: the batch's deadline, or a
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
local_run_wait(struct local_run *run, int nrun, long long batch_ms)
{
	struct pollfd	*pfd = xcalloc((size_t)nrun, sizeof(*pfd));
	int		*which = xcalloc((size_t)nrun, sizeof(*which));
	long long	 left, deadline_ms = local_run_deadline(batch_ms);
	int		 i, n;

	while ((n = local_run_pollset(run, nrun, pfd, which)) > 0) {
		left = deadline_ms - io_now_ms();
		if (left <= 0) {
			for (i = 0; i < n; i++)
				local_run_timeout(&run[which[i]]);
			break;
		}
		if (poll(pfd, (nfds_t)n, left > 60000 ? 60000 : (int)left) < 0 &&
		    errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0 &&
			    local_run_read(&run[which[i]]))
				local_run_end(&run[which[i]]);
	}
	free(pfd);
	free(which);
}
