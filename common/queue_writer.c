/*
 * queue_writer - create queue files: write the header and the message, then
 * commit in the order that lets smtpd acknowledge a message (write, fsync
 * the file, rename into incoming/ or active/, fsync the directory), the
 * file locked (flock) from its creation or claim until it is closed, reusing the files
 * of finished messages from free/ when it safely can: claimed there by a
 * lock and written in place, so that the commit's rename is the file's
 * only one (queue_writer_claim).  Safely also means: qmgr
 * renames a finished file into free/ without an fsync, so a name is taken
 * from free/ only after an fsync of active/ and deferred/ that started
 * once the name had been read there (queue_pool_settle); before that a
 * crash could bring back active/<old id> over bytes being rewritten.  The
 * refill that reads and settles names blocks for those fsyncs: a caller
 * without threads lets the writer do it in line when its pool is empty,
 * smtpd does it in a commit worker (owner_refills, smtpd/smtpd_pool.c) and
 * creates a new file whenever no settled name is at hand.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "queue.h"
#include "queue_file.h"
#include "queue_writer.h"

#define QUEUE_OPEN_TRIES	100

static int
queue_writer_fail(struct queue_writer *w)
{
	if (w->error == 0)
		w->error = errno ? errno : EIO;
	errno = w->error;
	return -1;
}

/* Create tmp/<new id>, retrying on the rare clash with an existing name. */
static int
queue_writer_create(struct queue_writer *w)
{
	int	 tries;

	for (tries = 0; tries < QUEUE_OPEN_TRIES; tries++) {
		queue_id_new(w->id);
		if (queue_path(w->wpath, sizeof(w->wpath), QDIR_TMP, w->id) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		w->fd = open(w->wpath, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		    0600);
		if (w->fd >= 0) {
			/* Held until the file is committed and closed, as a
			 * claimed one's: qmgr leaves a locked file in active/
			 * alone (a commit may still withdraw it).  Without
			 * it, the file must not go to active/ (unlocked). */
			w->unlocked = flock(w->fd, LOCK_EX | LOCK_NB) < 0;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	w->wpath[0] = '\0';
	return -1;
}

/* Make the renames that put the listed files into free/ durable before
 * any of them is written over.  A file leaves active/ (or deferred/) for
 * free/ without an fsync of the directory; were it overwritten in place
 * while that rename could still be undone by a crash, active/<old id>
 * could come back naming a file whose first block is the old message's,
 * id check passed, and whose later blocks hold parts of a new one.  One
 * fsync of each source directory after reading free/ covers every name
 * read: it was renamed before the fsync started.  (Opening the file with
 * O_TRUNC instead would rely on a journal ordering the truncation after
 * the rename, which ext4 without a journal does not give, and would throw
 * away the blocks that reuse keeps.) */
static int
queue_pool_settle(void)
{
	if (io_fsync_dir(queue_dir_name(QDIR_ACTIVE)) < 0 ||
	    io_fsync_dir(queue_dir_name(QDIR_DEFERRED)) < 0)
		return -1;
	return 0;
}

/* Offer name to a reservoir sample of at most QUEUE_POOL_BATCH names, of
 * which *seen were offered before. */
static void
queue_pool_sample(char names[QUEUE_POOL_BATCH][QUEUE_ID_SIZE], int *seen,
    const char *name, unsigned int *seed)
{
	int	 j;

	j = *seen < QUEUE_POOL_BATCH ? *seen : rand_r(seed) % (*seen + 1);
	(*seen)++;
	if (j < QUEUE_POOL_BATCH)
		strlcpy(names[j], name, QUEUE_ID_SIZE);
}

/* Read up to QUEUE_POOL_BATCH names from free/ into pool, a random sample
 * of its first QUEUE_FREE_MAX entries (reservoir sampling), files this
 * process wrote last first: a file goes back to free/ under the id its
 * last writer gave it, so smtpd processes reading the same directory each
 * take mostly their own files and seldom race for the same one; then
 * settle them.  None when a file could not be committed out of free/.  Blocks for two directory fsyncs: an owner with
 * an event loop calls it in a worker thread, on a pool of its own. */
/* Can a file claimed in free/ be committed: is free/ ours to rename out
 * of, and on the file system of incoming/ and active/?  A claim opens the
 * file only, so what a rename needs is asked here, before any message is
 * written into a file that could then not be committed. */
static int
queue_pool_usable(void)
{
	struct stat	 f, st;

	if (faccessat(AT_FDCWD, queue_dir_name(QDIR_FREE), W_OK | X_OK,
	    AT_EACCESS) < 0 || stat(queue_dir_name(QDIR_FREE), &f) < 0)
		return 0;
	if (stat(queue_dir_name(QDIR_INCOMING), &st) < 0 ||
	    st.st_dev != f.st_dev)
		return 0;
	if (stat(queue_dir_name(QDIR_ACTIVE), &st) < 0 ||
	    st.st_dev != f.st_dev)
		return 0;
	return 1;
}

int
queue_pool_refill(struct queue_pool *pool)
{
	char		 own[QUEUE_POOL_BATCH][QUEUE_ID_SIZE];
	char		 other[QUEUE_POOL_BATCH][QUEUE_ID_SIZE];
	struct dirent	*de;
	DIR		*d;
	int		 mine = 0, others = 0, i, k, o;

	if (pool->seed == 0)
		pool->seed = (unsigned int)getpid() ^ (unsigned int)io_now_ms();
	if (queue_pool_usable() &&
	    (d = opendir(queue_dir_name(QDIR_FREE))) != NULL) {
		while (mine + others < QUEUE_FREE_MAX &&
		    (de = readdir(d)) != NULL) {
			if (!queue_id_valid(de->d_name))
				continue;
			if (queue_id_mine(de->d_name))
				queue_pool_sample(own, &mine, de->d_name,
				    &pool->seed);
			else
				queue_pool_sample(other, &others, de->d_name,
				    &pool->seed);
		}
		closedir(d);
	}
	/* Writers take from the end: others first in the array. */
	k = mine < QUEUE_POOL_BATCH ? mine : QUEUE_POOL_BATCH;
	o = others < QUEUE_POOL_BATCH - k ? others : QUEUE_POOL_BATCH - k;
	for (pool->n = 0, i = 0; i < o; i++)
		strlcpy(pool->name[pool->n++], other[i], QUEUE_ID_SIZE);
	for (i = 0; i < k; i++)
		strlcpy(pool->name[pool->n++], own[i], QUEUE_ID_SIZE);
	if (pool->n > 0 && queue_pool_settle() < 0)
		pool->n = 0;
	return pool->n;
}

/* The pool of a caller without a worker thread: refilled in line when
 * empty.  Nothing found: no new look for a while. */
static void
queue_pool_fill(struct queue_pool *pool)
{
	if (io_now_ms() < pool->retry_ms)
		return;
	if (queue_pool_refill(pool) == 0)
		pool->retry_ms = io_now_ms() + QUEUE_POOL_RETRY_MS;
}

/* Add the names of from that pool lacks, as many as fit. */
void
queue_pool_merge(struct queue_pool *pool, const struct queue_pool *from)
{
	int	 i, j;

	for (i = 0; i < from->n && pool->n < QUEUE_POOL_BATCH; i++) {
		for (j = 0; j < pool->n; j++)
			if (strcmp(pool->name[j], from->name[i]) == 0)
				break;
		if (j == pool->n)
			strlcpy(pool->name[pool->n++], from->name[i],
			    QUEUE_ID_SIZE);
	}
}

/* Is the file on fd one we may overwrite: a regular file of ours, with no
 * other name, that nobody else has open?  The last is what a write lease
 * tells (Linux grants one only then): a delivery agent that qmgr gave up
 * on may still be reading the old message through its own descriptor, and
 * must go on reading the old message, not a new one.  Once the file has
 * left active/, only its name in free/ leads to it, and whoever opens that
 * (other writers, qmgr's trim) only takes the lock and never reads. */
static int
queue_reuse_ok(int fd, const struct stat *st, uid_t euid)
{
	if (!S_ISREG(st->st_mode) || st->st_uid != euid || st->st_nlink != 1)
		return 0;
	if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
		return 0;
	(void)fcntl(fd, F_SETLEASE, F_UNLCK);
	return 1;
}

/* Nothing more from free/ for a while (it cannot be used just now). */
static int
queue_pool_pause(struct queue_pool *pool)
{
	pool->n = 0;
	pool->retry_ms = io_now_ms() + QUEUE_POOL_RETRY_MS;
	return -1;
}

/* Is the file on fd (its fstat in *st) still the one named path (nobody
 * moved it away between our open and our lock)? */
static int
queue_claim_same(int fd, const char *path, struct stat *st)
{
	struct stat	 b;

	return fstat(fd, st) == 0 &&
	    fstatat(AT_FDCWD, path, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st->st_dev == b.st_dev && st->st_ino == b.st_ino;
}

/* Claim free/<name> in place: open it and take its lock.  The file keeps
 * its name in free/ while the new message is written into it and leaves it
 * only at the commit's rename into incoming/, so a message costs one
 * rename there, not two (free/ to tmp/, tmp/ to incoming/).  The lock
 * (flock, held until the writer closes the file, after that rename) is
 * what a rename into tmp/ used to be: whoever holds it owns the file.
 * Everyone who takes a file out of free/ takes the lock first (writers
 * here, qmgr's trim), so once we hold it and the name still leads to our
 * file, nobody else will move or remove it.  0 claimed (fd in w->fd),
 * 1 not this one (try the next), -1 free/ cannot be used just now. */
static int
queue_writer_claim(struct queue_writer *w, const char *from, uid_t euid)
{
	struct stat	 st;
	int		 fd;

	/* O_NONBLOCK: a FIFO planted there must not hang us.  A file we may
	 * not open (another owner's, a link) is passed over, and qmgr's trim
	 * removes it; no descriptor or a read-only queue stops the pool. */
	fd = open(from, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == EMFILE || errno == ENFILE || errno == EROFS ?
		    -1 : 1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		close(fd);
		/* Held by another writer: the next.  Locks that do not work
		 * here (ENOLCK...) would make every name look held. */
		return saved == EWOULDBLOCK ? 1 : -1;
	}
	/* Taken and committed since we opened it (its lock went with its
	 * descriptor, and so did the name): the next. */
	if (!queue_claim_same(fd, from, &st)) {
		close(fd);
		return 1;
	}
	/* st is as fresh as the old second fstat was: taken under the lock
	 * that every writer and qmgr's trim take first (a reader's open
	 * shows in the lease below). */
	if (queue_reuse_ok(fd, &st, euid)) {
		w->reused_size = st.st_size;
		w->fd = fd;
		return 0;
	}
	/* Not reusable (a second name, a reader qmgr gave up on): removed
	 * while locked, as qmgr would have. */
	unlink(from);
	close(fd);
	return 1;
}

/* Take a file from free/, claimed in place under its old name, for the
 * message <new id>.  0, or -1 when none is left or free/ cannot be used
 * (the caller then creates a file). */
static int
queue_writer_take(struct queue_writer *w, struct queue_pool *pool)
{
	char	 from[QUEUE_PATH_SIZE];
	int	 r;

	for (;;) {
		/* An owner-refilled pool never makes the caller wait. */
		if (pool->n == 0 && !pool->owner_refills)
			queue_pool_fill(pool);
		if (pool->n == 0)
			return -1;
		pool->n--;
		if (queue_path(from, sizeof(from), QDIR_FREE,
		    pool->name[pool->n]) < 0)
			continue;
		/* Asked once per pool: a writer's ids do not change. */
		if (!pool->euid_known) {
			pool->euid = geteuid();
			pool->euid_known = 1;
		}
		if ((r = queue_writer_claim(w, from, pool->euid)) < 0)
			return queue_pool_pause(pool);
		if (r > 0)
			continue;
		queue_id_new(w->id);
		strlcpy(w->wpath, from, sizeof(w->wpath));
		w->claimed = 1;
		w->reused = 1;
		return 0;
	}
}

int
queue_writer_open(struct queue_writer *w, struct queue_envelope *env)
{
	return queue_writer_open_reuse(w, env, NULL);
}

int
queue_writer_open_reuse(struct queue_writer *w, struct queue_envelope *env,
    struct queue_pool *pool)
{
	struct queue_envelope	 check;
	char			*head;
	size_t			 len;
	int			 i;

	w->fd = -1;
	w->id[0] = w->wpath[0] = '\0';
	w->error = 0;
	w->reused = w->claimed = w->unlocked = 0;
	w->into = QDIR_INCOMING;
	w->reused_size = 0;
	w->size = w->size_off = 0;
	w->data_len = w->pending = 0;
	if ((pool == NULL || queue_writer_take(w, pool) < 0) &&
	    queue_writer_create(w) < 0)
		return -1;
	memcpy(env->id, w->id, sizeof(env->id));
	/* The size is written at sync; until then readers refuse the file. */
	env->data_len = -1;
	if ((head = queue_envelope_format(env, &len)) == NULL) {
		queue_writer_abort(w);
		errno = EINVAL;
		return -1;
	}
	/* Give the caller the offsets the reader will see. */
	if (queue_envelope_parse(head, len, &check, NULL) == 0) {
		for (i = 0; i < env->nrcpt && i < check.nrcpt; i++)
			env->rcpt[i].status_off = check.rcpt[i].status_off;
		env->data_off = check.data_off;
		env->size_off = w->size_off = check.size_off;
		queue_envelope_free(&check);
	}
	/* Kept in the buffer when it fits: a message that does too is then
	 * written, header and finished size included, with one write(2) at
	 * sync.  A reused file still holds its old message: it gets the new
	 * header (its size unfinished) at once, so that from now on it is no
	 * message for anyone; with pwrite(2), so that the buffer, which
	 * holds that header too, is still written from the start. */
	if (len <= sizeof(w->wbuf)) {
		memcpy(w->wbuf, head, len);
		w->pending = len;
		if (w->reused && queue_pwrite_all(w->fd, head, len, 0) < 0) {
			int saved = errno;

			free(head);
			queue_writer_abort(w);
			errno = saved;
			return -1;
		}
	} else if (io_write_all(w->fd, head, len) < 0) {
		int saved = errno;

		free(head);
		queue_writer_abort(w);
		errno = saved;
		return -1;
	} else
		w->size = (off_t)len;
	free(head);
	return 0;
}

static int
queue_writer_flush(struct queue_writer *w)
{
	if (w->error != 0) {
		errno = w->error;
		return -1;
	}
	if (w->pending > 0 && io_write_all(w->fd, w->wbuf, w->pending) < 0)
		return queue_writer_fail(w);
	w->size += (off_t)w->pending;
	w->pending = 0;
	return 0;
}

int
queue_writer_write(struct queue_writer *w, const void *p, size_t n)
{
	if (w->error != 0 || w->fd < 0) {
		errno = w->error ? w->error : EBADF;
		return -1;
	}
	if (w->pending + n > sizeof(w->wbuf)) {
		if (queue_writer_flush(w) < 0)
			return -1;
		if (n >= sizeof(w->wbuf)) {
			if (io_write_all(w->fd, p, n) < 0)
				return queue_writer_fail(w);
			w->size += (off_t)n;
			w->data_len += n;
			return 0;
		}
	}
	memcpy(w->wbuf + w->pending, p, n);
	w->pending += n;
	w->data_len += n;
	return 0;
}

/* The whole file is still in wbuf (and nothing but a reused file's
 * unfinished header in the file): cut a longer reused file to this length
 * first, then write everything, the header's size filled in, at once, so
 * that no state of the file has a finished header followed by old bytes.
 * 0 or -1. */
static int
queue_writer_sync_whole(struct queue_writer *w)
{
	off_t	 len = (off_t)w->pending;

	if (queue_size_put(w->wbuf + w->size_off, (off_t)w->data_len) < 0)
		return queue_writer_fail(w);
	if (w->reused && w->reused_size > len && ftruncate(w->fd, len) < 0)
		return queue_writer_fail(w);
	if (io_write_all(w->fd, w->wbuf, w->pending) < 0)
		return queue_writer_fail(w);
	w->size = len;
	w->pending = 0;
	if (fsync(w->fd) < 0)
		return queue_writer_fail(w);
	return 0;
}

int
queue_writer_sync(struct queue_writer *w)
{
	if (w->fd < 0) {
		errno = w->error ? w->error : EBADF;
		return -1;
	}
	if (w->error == 0 && w->size == 0 && w->size_off > 0 &&
	    (size_t)w->size_off + QUEUE_SIZE_DIGITS <= w->pending)
		return queue_writer_sync_whole(w);
	if (queue_writer_flush(w) < 0)
		return -1;
	/* A reused file may be longer than this message: cut the rest, and
	 * only then say where the message ends, so that no state of the file
	 * in between has a finished header followed by old bytes.  One no
	 * longer than what was written has nothing left to cut (it is ours
	 * alone since it was taken, so its length is still the one seen
	 * then), and a truncate costs ext4 a journalled orphan record. */
	if (w->reused && w->reused_size > w->size &&
	    ftruncate(w->fd, w->size) < 0)
		return queue_writer_fail(w);
	if (queue_size_write(w->fd, w->size_off, (off_t)w->data_len) < 0)
		return queue_writer_fail(w);
	if (fsync(w->fd) < 0)
		return queue_writer_fail(w);
	return 0;
}

int
queue_writer_rename(struct queue_writer *w)
{
	return queue_writer_rename_to(w, QDIR_INCOMING);
}

int
queue_writer_rename_to(struct queue_writer *w, enum queue_dir into)
{
	char	 to[QUEUE_PATH_SIZE];

	if (w->error != 0 || w->fd < 0 || w->pending > 0) {
		errno = w->error ? w->error : w->fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	/* Never over a file already in incoming/ (EEXIST): the commit fails
	 * with a temporary error, and acknowledged mail stays as it was. */
	w->into = into;
	if (w->claimed) {
		if (queue_path(to, sizeof(to), into, w->id) < 0) {
			errno = ENAMETOOLONG;
			return queue_writer_fail(w);
		}
		if (queue_rename(w->wpath, to) < 0)
			return queue_writer_fail(w);
	} else if (queue_move(w->id, QDIR_TMP, into) < 0)
		return queue_writer_fail(w);
	/* The file has left tmp/ (or free/): abort must not unlink anything
	 * now. */
	w->wpath[0] = '\0';
	return 0;
}

int
queue_writer_close(struct queue_writer *w)
{
	int	 fd = w->fd;

	w->fd = -1;
	if (fd < 0) {
		errno = w->error ? w->error : EBADF;
		return -1;
	}
	if (close(fd) < 0)
		return queue_writer_fail(w);
	return 0;
}

int
queue_writer_publish(struct queue_writer *w)
{
	int	 saved;

	if (queue_writer_rename(w) < 0)
		return -1;
	if (io_fsync_dir(queue_dir_name(QDIR_INCOMING)) < 0) {
		saved = errno;
		(void)queue_writer_withdraw(w);
		close(w->fd);
		w->fd = -1;
		errno = saved;
		return queue_writer_fail(w);
	}
	/* Durable now, whatever close() says (the file was fsynced, and
	 * the descriptor and its lock go either way): failing here would
	 * have the message sent again, a duplicate.  Its error stays in
	 * w->error. */
	(void)queue_writer_close(w);
	return 0;
}

int
queue_writer_withdraw(struct queue_writer *w)
{
	char	 path[QUEUE_PATH_SIZE];
	int	 saved = errno;

	if (queue_path(path, sizeof(path), w->into, w->id) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (unlink(path) < 0)
		return -1;
	errno = saved;
	return 0;
}

int
queue_writer_commit(struct queue_writer *w)
{
	if (queue_writer_sync(w) < 0)
		return -1;
	return queue_writer_publish(w);
}

void
queue_writer_abort(struct queue_writer *w)
{
	int	 saved = errno;

	/* wpath marks ownership, so a zeroed or published writer is left
	 * alone (fd 0 is never closed by mistake).  A file claimed in free/
	 * stays there, its lock dropped with the descriptor: its header,
	 * unfinished, makes it no message for anyone, as before. */
	if (w->wpath[0] != '\0') {
		if (w->fd >= 0)
			close(w->fd);
		if (!w->claimed)
			unlink(w->wpath);
		w->wpath[0] = '\0';
	}
	w->fd = -1;
	w->pending = 0;
	errno = saved;
}

