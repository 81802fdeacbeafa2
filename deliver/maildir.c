/*
 * maildir - deliver messages into one user's Maildir, following the maildir
 * protocol (cr.yp.to/proto/maildir.html): write tmp/<unique>, fsync it, move
 * it to new/<unique> (its link and unlink in one renameat2 that never
 * replaces a name), fsync new/.  A reader only ever sees complete messages
 * in new/, and "ok" is reported only once the new/ entry is durable.
 * Several messages for the same mailbox share the work: all are written
 * (their write-back started) before the first is fsynced, so their fsyncs
 * share a journal commit, and one fsync of new/ makes all their entries
 * durable.  A recipient with a line in the
 * queue file gets a name of its own, the same at every attempt
 * (maildir_stable_name), so a repeated delivery (deliver killed after the
 * move into new/ and before it recorded the delivery in the queue file)
 * finds the name taken by a file of its size and is not made twice,
 * unless the user's mail reader moved the first copy to cur/ in between.
 * A name taken by a file of another size (a queue id that repeated) is
 * not this delivery: it goes under a unique name instead.
 *
 * Everything below the home directory happens with the recipient's
 * effective ids (privs_become), so a user's symbolic links, permissions and
 * quota apply to the delivery exactly as to the user: root never follows a
 * path the user controls.  The queue file was opened as root beforehand and
 * is only read through that descriptor.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "privs.h"
#include "deliver.h"

#define MAILDIR_COPY_SIZE	(64 * 1024)	/* copy buffer, on the stack */
#define MAILDIR_HEADER_SIZE	(2 * QUEUE_ADDR_MAX + 64)

/* Open directories of one Maildir; -1 when not open. */
struct maildir {
	int	 dir;
	int	 tmp;
	int	 new;
};

/* Append host to out[0..len) as a Maildir name's last part: '/' and ':'
 * written as \057 and \072, because '/' cannot be in a file name and ':'
 * starts a Maildir's info suffix.  0, or -1 if it does not fit or host is
 * empty. */
static int
maildir_name_host(char *out, size_t outlen, size_t len, const char *host)
{
	if (host == NULL || *host == '\0')
		return -1;
	for (; *host != '\0'; host++) {
		const char *enc = *host == '/' ? "\\057" :
		    *host == ':' ? "\\072" : NULL;
		size_t	 add = enc != NULL ? 4 : 1;

		if (len + add >= outlen)
			return -1;
		if (enc != NULL)
			memcpy(out + len, enc, add);
		else
			out[len] = *host;
		len += add;
	}
	out[len] = '\0';
	return 0;
}

/* "<sec>.M<usec>P<pid>Q<counter>.<host>", the maildir protocol's unique
 * name.  0, or -1 if it does not fit or host is empty. */
int
maildir_unique_name(char *out, size_t outlen, long long sec, long usec,
    long pid, unsigned long counter, const char *host)
{
	int	 n;

	n = snprintf(out, outlen, "%lld.M%ldP%ldQ%lu.", sec, usec, pid,
	    counter);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return maildir_name_host(out, outlen, (size_t)n, host);
}

/* "<arrival>.T<queue id>R<rcpt line>.<host>": the same name for every
 * attempt at one recipient of one message, so an attempt that finds it in
 * new/ knows an earlier one delivered it (deliver_record.c).  Unique as
 * long as queue ids are.  0, or -1 as above. */
int
maildir_stable_name(char *out, size_t outlen, long long arrival,
    const char *qid, int line, const char *host)
{
	int	 n;

	n = snprintf(out, outlen, "%lld.T%sR%d.", arrival, qid, line);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return maildir_name_host(out, outlen, (size_t)n, host);
}

/* Outcome of a failed step: a full disk or quota is "mailbox full" (4.2.2,
 * RFC 3463), anything else a temporary system error.  err 0: no errno. */
static void
maildir_fail(struct deliver_result *res, const char *what, int err)
{
	if (err == ENOSPC || err == EDQUOT)
		deliver_result_set(res, DELIVER_DEFER, "4.2.2", "mailbox full");
	else if (err == 0)
		deliver_result_set(res, DELIVER_DEFER, "4.3.0", "%s", what);
	else
		deliver_result_set(res, DELIVER_DEFER, "4.3.0", "%s: %s", what,
		    strerror(err));
}

/* Open the subdirectory name of parent, making it (mode 0700) if it is
 * missing.  The usual case, an existing directory, costs one openat().  A
 * directory we create is made durable right away (fsync of its parent), or
 * a crash could take a delivered message with it. */
static int
maildir_subdir_open(int parent, const char *name)
{
	int	 fd;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (mkdirat(parent, name, 0700) == 0) {
		if (fsync(parent) < 0)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	return openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
maildir_close(struct maildir *md)
{
	if (md->dir >= 0)
		close(md->dir);
	if (md->tmp >= 0)
		close(md->tmp);
	if (md->new >= 0)
		close(md->new);
	md->dir = md->tmp = md->new = -1;
}

/* The usual case, a Maildir that is all there: home/mailbox opened in one
 * path walk (as the user, following links as the walk one component at a
 * time would), its tmp/ and new/ opened and cur/ only looked at.  0, or
 * -1 with nothing open, for maildir_open() to do it step by step and say
 * what is wrong. */
static int
maildir_open_fast(struct maildir *md, const char *home, const char *mailbox)
{
	char		 path[DELIVER_PATH_SIZE];
	struct stat	 st;
	int		 n;

	n = snprintf(path, sizeof(path), "%s/%s", home, mailbox);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	if ((md->dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((md->tmp = openat(md->dir, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0 &&
	    (md->new = openat(md->dir, "new", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0 &&
	    fstatat(md->dir, "cur", &st, 0) == 0 && S_ISDIR(st.st_mode))
		return 0;
	maildir_close(md);
	return -1;
}

/* Open (creating what is missing) home/mailbox and its tmp/, new/ and cur/.
 * mailbox is relative to the home directory, e.g. "Maildir/". */
static int
maildir_open(struct maildir *md, const char *home, const char *mailbox,
    struct deliver_result *res)
{
	char	 path[DELIVER_PATH_SIZE], *comp, *save;
	int	 fd, cur;

	md->dir = md->tmp = md->new = -1;
	if (maildir_open_fast(md, home, mailbox) == 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s", mailbox) >= (int)sizeof(path)) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "mailbox path too long");
		return -1;
	}
	if ((md->dir = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			deliver_result_set(res, DELIVER_DEFER, "4.3.0",
			    "home directory %s does not exist", home);
		else
			maildir_fail(res, "open home directory", errno);
		return -1;
	}
	for (comp = strtok_r(path, "/", &save); comp != NULL;
	    comp = strtok_r(NULL, "/", &save)) {
		if ((fd = maildir_subdir_open(md->dir, comp)) < 0) {
			maildir_fail(res, "create maildir", errno);
			return -1;
		}
		close(md->dir);
		md->dir = fd;
	}
	if ((md->tmp = maildir_subdir_open(md->dir, "tmp")) < 0 ||
	    (md->new = maildir_subdir_open(md->dir, "new")) < 0 ||
	    (cur = maildir_subdir_open(md->dir, "cur")) < 0) {
		maildir_fail(res, "create maildir", errno);
		return -1;
	}
	close(cur);
	return 0;
}

/* Return-Path:, Delivered-To:, then the message bytes [offset, size) of
 * the queue file.  The headers go out with the first chunk of the message,
 * in one write.  pread() leaves the shared file offset alone. */
int
deliver_message_write(int out, const struct deliver_msg *msg, const char *rcpt,
    const char **what)
{
	char	 buf[MAILDIR_COPY_SIZE];
	off_t	 off = msg->offset;
	ssize_t	 n;
	size_t	 want, used;
	int	 len;

	len = snprintf(buf, MAILDIR_HEADER_SIZE,
	    "Return-Path: <%s>\nDelivered-To: %s\n", msg->req->sender, rcpt);
	if (len < 0 || len >= MAILDIR_HEADER_SIZE) {
		*what = "address too long";
		errno = 0;
		return -1;
	}
	used = (size_t)len;
	while (off < msg->size) {
		want = sizeof(buf) - used;
		if ((off_t)want > msg->size - off)
			want = (size_t)(msg->size - off);
		if ((n = pread(msg->fd, buf + used, want, off)) < 0) {
			if (errno == EINTR)
				continue;
			*what = "read queue file";
			return -1;
		}
		if (n == 0) {
			*what = "queue file is shorter than expected";
			errno = 0;
			return -1;
		}
		*what = "write message";
		if (io_write_all(out, buf, used + (size_t)n) < 0)
			return -1;
		used = 0;
		off += n;
	}
	*what = "write message";
	return used > 0 ? io_write_all(out, buf, used) : 0;
}

/* Move tmp/name to new/name.  The protocol's link() and unlink() in one
 * step: renameat2(RENAME_NOREPLACE) is atomic and, like link(), never
 * replaces an existing name.  Where it is not supported (NFS, older
 * kernels), link() then unlink(), or rename() on file systems without
 * hard links. */
static int
maildir_publish(const struct maildir *md, const char *name)
{
	if (renameat2(md->tmp, name, md->new, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	if (linkat(md->tmp, name, md->new, name, 0) < 0) {
		if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
			return -1;
		return renameat(md->tmp, name, md->new, name);
	}
	/* The message is delivered; a stale tmp/ file is only clutter,
	 * which Maildir readers clean up after 36 hours. */
	if (unlinkat(md->tmp, name, 0) < 0)
		log_warn("maildir: unlink tmp/%s: %s", name, strerror(errno));
	return 0;
}

/* The job's name in tmp/ and new/: stable when the recipient has a line
 * in the queue file, else unique (1 or 0 in *stable).  0 or -1. */
static int
maildir_name_unique(struct deliver_ctx *ctx, char *out, size_t outlen)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ctx->pid == 0)	/* ask once (a worker resets it) */
		ctx->pid = getpid();
	return maildir_unique_name(out, outlen, (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)ctx->pid, ++ctx->counter, ctx->hostname);
}

static int
maildir_name_new(struct deliver_ctx *ctx, const struct maildir_job *job,
    char *out, size_t outlen, int *stable)
{
	const struct deliver_msg *msg = job->msg;

	*stable = msg->line != NULL && msg->line[job->j] >= 0;
	if (*stable)
		return maildir_stable_name(out, outlen, msg->env.arrival,
		    msg->req->id, msg->line[job->j], ctx->hostname);
	return maildir_name_unique(ctx, out, outlen);
}

/* new/<job->name>, a stable name, is taken.  1: by this very delivery (the
 * same size as tmp/<name>), made by an attempt killed before it recorded
 * it; tmp/<name> is removed.  0: by something else (a repeated queue id),
 * so tmp/<name> is renamed to a unique name, in job->name, for the caller
 * to publish.  -1 (errno). */
static int
maildir_taken(struct deliver_ctx *ctx, const struct maildir *md,
    struct maildir_job *job)
{
	struct stat	 ours, there;
	char		 name[MAILDIR_NAME_SIZE];

	if (fstatat(md->tmp, job->name, &ours, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (fstatat(md->new, job->name, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(there.st_mode) && there.st_size == ours.st_size) {
		unlinkat(md->tmp, job->name, 0);
		log_qid(LOG_LEVEL_INFO, job->msg->req->id, "to=<%s>: new/%s is "
		    "there from an earlier attempt", job->rcpt, job->name);
		return 1;
	}
	if (maildir_name_unique(ctx, name, sizeof(name)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (renameat(md->tmp, job->name, md->tmp, name) < 0)
		return -1;
	memcpy(job->name, name, sizeof(name));
	return 0;
}

/* Create tmp/name for writing.  A stable name may be left there by an
 * attempt that was killed while writing it: that file is ours, and goes.
 * The descriptor, or -1. */
static int
maildir_tmp_create(const struct maildir *md, const char *name, int stable)
{
	int	 flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
	int	 fd;

	fd = openat(md->tmp, name, flags, 0600);
	if (fd < 0 && stable && errno == EEXIST &&
	    unlinkat(md->tmp, name, 0) == 0)
		fd = openat(md->tmp, name, flags, 0600);
	return fd;
}

/* Write the job's message into a new tmp/ file and start its write-back,
 * so that the fsyncs of a batch's files, which come after every file is
 * written, find their data on its way and share one journal commit
 * instead of waiting for one each.  The open descriptor, or -1 with
 * job->res set and nothing left behind. */
static int
maildir_write(struct deliver_ctx *ctx, const struct maildir *md,
    struct maildir_job *job, int *stable, int alone)
{
	const char	*what;
	int		 fd, err;

	if (maildir_name_new(ctx, job, job->name, sizeof(job->name),
	    stable) < 0) {
		deliver_result_set(job->res, DELIVER_DEFER, "4.3.0",
		    "host name too long for a maildir file name");
		return -1;
	}
	fd = maildir_tmp_create(md, job->name, *stable);
	if (fd < 0) {
		maildir_fail(job->res, "create tmp file", errno);
		return -1;
	}
	if (deliver_message_write(fd, job->msg, job->rcpt, &what) < 0) {
		err = errno;
		close(fd);
		unlinkat(md->tmp, job->name, 0);
		maildir_fail(job->res, what, err);
		return -1;
	}
	/* Only a hint: the fsync below is what makes the file durable and
	 * reports any write error, so a failure here changes nothing.  A
	 * file alone in its batch is fsynced next anyway. */
	if (!alone)
		(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return fd;
}

/* Make the written tmp/ file on fd durable, close it and move it into
 * new/.  0, or -1 with job->res set and nothing left behind: a retry must
 * not make a second copy.  The link is not durable until the caller's
 * fsync of new/. */
static int
maildir_finish(struct deliver_ctx *ctx, const struct maildir *md,
    struct maildir_job *job, int fd, int stable)
{
	const char	*what = "fsync message";
	int		 r, err;

	r = fsync(fd);
	err = errno;
	/* close() can report a failed write-back (NFS, quota). */
	if (close(fd) < 0 && r == 0) {
		r = -1;
		err = errno;
		what = "close message";
	}
	if (r < 0) {
		unlinkat(md->tmp, job->name, 0);
		maildir_fail(job->res, what, err);
		return -1;
	}
	if (maildir_publish(md, job->name) < 0) {
		err = errno;
		/* The copy of an attempt killed before it could record its
		 * delivery stands, and the fsync of new/ below makes sure of
		 * it; a name taken by anything else is left alone. */
		if (stable && err == EEXIST &&
		    ((r = maildir_taken(ctx, md, job)) == 1 ||
		    (r == 0 && maildir_publish(md, job->name) == 0)))
			return 0;
		if (stable && err == EEXIST)
			err = errno;
		unlinkat(md->tmp, job->name, 0);
		maildir_fail(job->res, "move message into new/", err);
		return -1;
	}
	return 0;
}

/* Make every link made into new/ durable with one fsync, or take them all
 * back: without that fsync a crash could lose a message reported as
 * delivered. */
static void
maildir_commit(const struct maildir *md, struct maildir_job **jobs,
    const int *stored, int n)
{
	int	 k, err;

	if (fsync(md->new) < 0) {
		err = errno;
		for (k = 0; k < n; k++)
			if (stored[k]) {
				unlinkat(md->new, jobs[k]->name, 0);
				maildir_fail(jobs[k]->res, "fsync new/", err);
			}
		return;
	}
	for (k = 0; k < n; k++)
		if (stored[k])
			deliver_result_set(jobs[k]->res, DELIVER_OK, "2.0.0",
			    "delivered to maildir");
}

/* Every file is written before the first is fsynced (maildir_write), and
 * each is fsynced before it is moved into new/, so a reader never sees a
 * file in new/ that a crash could still cut short. */
static void
maildir_store_all(struct deliver_ctx *ctx, const struct maildir *md,
    struct maildir_job **jobs, int n)
{
	int	*fd, *stable, *stored, k, any = 0;

	fd = xcalloc((size_t)n, sizeof(*fd));
	stable = xcalloc((size_t)n, sizeof(*stable));
	stored = xcalloc((size_t)n, sizeof(*stored));
	for (k = 0; k < n; k++)
		fd[k] = maildir_write(ctx, md, jobs[k], &stable[k], n == 1);
	for (k = 0; k < n; k++)
		if (fd[k] >= 0)
			any |= stored[k] = maildir_finish(ctx, md, jobs[k],
			    fd[k], stable[k]) == 0;
	if (any)
		maildir_commit(md, jobs, stored, n);
	free(stored);
	free(stable);
	free(fd);
}

/* What happened to the first job happened to all of them. */
static void
maildir_same_result(struct maildir_job **jobs, int n)
{
	int	 k;

	for (k = 1; k < n; k++)
		*jobs[k]->res = *jobs[0]->res;
}

/* Deliver jobs[0..n) (n >= 1) into home/mailbox of user u (mailbox ends
 * in "/"), already running with u's effective ids: one opening of the
 * Maildir and one fsync of new/ for all of them, which is what makes a
 * busy mailbox cheap. */
void
maildir_deliver_home(struct deliver_ctx *ctx, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n)
{
	struct maildir	 md;

	if (u->home[0] != '/') {
		deliver_result_set(jobs[0]->res, DELIVER_DEFER, "4.3.0",
		    "home directory of %s is not an absolute path", u->name);
		maildir_same_result(jobs, n);
	} else if (maildir_open(&md, u->home, mailbox, jobs[0]->res) == 0) {
		maildir_store_all(ctx, &md, jobs, n);
		maildir_close(&md);
	} else {
		maildir_same_result(jobs, n);
		maildir_close(&md);
	}
}

/* The outcome of every job when privs_become(u) failed (errno). */
void
maildir_deliver_denied(const struct local_user *u, struct maildir_job **jobs,
    int n)
{
	if (!privs_is_root())
		deliver_result_set(jobs[0]->res, DELIVER_DEFER, "4.3.0",
		    "not running as root: cannot deliver to user %s", u->name);
	else
		maildir_fail(jobs[0]->res, "cannot switch to the user", errno);
	maildir_same_result(jobs, n);
}

/* maildir_deliver_home() with a switch to u's ids and back.  Always comes
 * back as root: if that fails the process must not go on, since the next
 * user's mail would be written with the wrong ids. */
void
maildir_deliver_many(struct deliver_ctx *ctx, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n)
{
	if (privs_become(u->uid, u->gid) < 0)
		maildir_deliver_denied(u, jobs, n);
	else
		maildir_deliver_home(ctx, u, mailbox, jobs, n);
	if (privs_restore() < 0)
		log_fatal("cannot get root privileges back: %s",
		    strerror(errno));
}

/* One message for one recipient: a batch of one. */
void
maildir_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, const struct local_user *u, const char *mailbox,
    struct deliver_result *res)
{
	struct maildir_job	 job, *one = &job;

	memset(&job, 0, sizeof(job));
	job.msg = msg;
	job.rcpt = rcpt;
	job.res = res;
	maildir_deliver_many(ctx, u, mailbox, &one, 1);
}
