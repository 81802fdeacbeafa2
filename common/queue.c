/*
 * queue - the queue's names and moves: its directories, queue ids, the
 * path of a message in a directory, and the renames that move a message
 * from one directory to another.  Ids are checked wherever a name is made,
 * so no path built here leaves its directory.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "queue.h"

#define QUEUE_ID_TIME_DIGITS	11	/* 55 bits of microseconds: year 3111 */
#define QUEUE_ID_PID_DIGITS	5	/* 25 bits >= Linux pid_max */
#define QUEUE_ID_SEQ_DIGITS	4	/* 20 bits per process and microsecond */

static const char *const queue_dirs[QDIR_COUNT] = {
	"tmp", "incoming", "active", "deferred", "hold", "corrupt", "free"
};

/* A move's destination ranks above its source (queue_links_repair): the
 * name a crash between link() and unlink() should keep is the later one.
 * (active/ to incoming/ and deferred/ to active/ and back both exist: for
 * those the file stays in active/, and its status bytes say what is left.) */
static const enum queue_dir queue_links_rank[] = {
	QDIR_FREE, QDIR_TMP, QDIR_INCOMING, QDIR_DEFERRED, QDIR_ACTIVE,
	QDIR_HOLD, QDIR_CORRUPT
};
#define QUEUE_LINKS_NRANK \
	(sizeof(queue_links_rank) / sizeof(queue_links_rank[0]))

const char *
queue_dir_name(enum queue_dir d)
{
	if ((unsigned)d >= QDIR_COUNT)
		return NULL;
	return queue_dirs[d];
}

int
queue_dirs_create(void)
{
	static const char *const extra[] = { "private", "pid" };
	struct stat	 st;
	const char	*name;
	size_t		 i;

	for (i = 0; i < QDIR_COUNT + 2; i++) {
		name = i < QDIR_COUNT ? queue_dirs[i] : extra[i - QDIR_COUNT];
		if (mkdir(name, 0700) == 0)
			continue;
		if (errno != EEXIST)
			return -1;
		if (stat(name, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return 0;
}

int
queue_id_valid(const char *id)
{
	size_t	 i;

	if (id == NULL)
		return 0;
	for (i = 0; id[i] != '\0'; i++)
		if (i >= QUEUE_ID_SIZE - 1 ||
		    !((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z')))
			return 0;
	return i > 0;
}

/* Fixed-width base 32 so that ids of one process sort by arrival.  The
 * alphabet is in ASCII order for the same reason. */
static char *
queue_b32(char *p, unsigned long long v, int digits)
{
	static const char	 alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
	int			 i;

	for (i = digits - 1; i >= 0; i--) {
		p[i] = alphabet[v & 31];
		v >>= 5;
	}
	return p + digits;
}

/* This process's pid, asked of the kernel once (and again in a child
 * after fork, which the atfork handler makes forget it): queue_id_new()
 * runs once or twice per message. */
static pid_t		 queue_pid;		/* process state */
static pthread_once_t	 queue_pid_once = PTHREAD_ONCE_INIT;

static void
queue_pid_forget(void)
{
	__atomic_store_n(&queue_pid, 0, __ATOMIC_RELAXED);
}

static void
queue_pid_watch_forks(void)
{
	(void)pthread_atfork(NULL, NULL, queue_pid_forget);
}

static pid_t
queue_pid_get(void)
{
	pid_t	 pid;

	(void)pthread_once(&queue_pid_once, queue_pid_watch_forks);
	if ((pid = __atomic_load_n(&queue_pid, __ATOMIC_RELAXED)) == 0) {
		pid = getpid();
		__atomic_store_n(&queue_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

int
queue_id_mine(const char *id)
{
	char	 part[QUEUE_ID_PID_DIGITS];

	if (strlen(id) != QUEUE_ID_TIME_DIGITS + QUEUE_ID_PID_DIGITS +
	    QUEUE_ID_SEQ_DIGITS)
		return 0;
	queue_b32(part, (unsigned long long)queue_pid_get(),
	    QUEUE_ID_PID_DIGITS);
	return memcmp(id + QUEUE_ID_TIME_DIGITS, part,
	    QUEUE_ID_PID_DIGITS) == 0;
}

void
queue_id_new(char id[QUEUE_ID_SIZE])
{
	static unsigned long	 counter;	/* process state: uniqueness */
	struct timeval		 tv;
	unsigned long long	 usec;
	unsigned long		 seq;
	char			*p = id;

	gettimeofday(&tv, NULL);
	usec = (unsigned long long)tv.tv_sec * 1000000 + (unsigned long long)tv.tv_usec;
	/* smtpd may create files from several threads. */
	seq = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	p = queue_b32(p, usec, QUEUE_ID_TIME_DIGITS);
	p = queue_b32(p, (unsigned long long)queue_pid_get(),
	    QUEUE_ID_PID_DIGITS);
	p = queue_b32(p, seq, QUEUE_ID_SEQ_DIGITS);
	*p = '\0';
}

long long
queue_id_usec(const char *id)
{
	unsigned long long	 v = 0;
	int			 i;

	if (!queue_id_valid(id) || strlen(id) != QUEUE_ID_TIME_DIGITS +
	    QUEUE_ID_PID_DIGITS + QUEUE_ID_SEQ_DIGITS)
		return -1;
	for (i = 0; i < QUEUE_ID_TIME_DIGITS; i++) {
		if (id[i] > 'V')
			return -1;
		v = v << 5 | (unsigned long long)(id[i] <= '9' ? id[i] - '0' :
		    id[i] - 'A' + 10);
	}
	return v > (unsigned long long)LLONG_MAX ? -1 : (long long)v;
}

void
queue_id_delay(const char *id, char *out, size_t outlen)
{
	struct timeval	 tv;
	long long	 made = queue_id_usec(id), now;

	gettimeofday(&tv, NULL);
	now = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	if (made < 0 || now < made)
		snprintf(out, outlen, "0");
	else
		queue_delay_text(now - made, out, outlen);
}

/* In integers: every delivery logs one, and floating point printf is
 * slow. */
void
queue_delay_text(long long usec, char *out, size_t outlen)
{
	long long	 cs = (usec < 0 ? 0 : usec / 10000 +
			    (usec % 10000 >= 5000));

	snprintf(out, outlen, "%lld.%02lld", cs / 100, cs % 100);
}

int
queue_path(char *out, size_t outlen, enum queue_dir d, const char *id)
{
	size_t	 dl, il;

	if ((unsigned)d >= QDIR_COUNT || !queue_id_valid(id))
		return -1;
	dl = strlen(queue_dirs[d]);
	il = strlen(id);
	if (dl + 1 + il >= outlen)
		return -1;
	memcpy(out, queue_dirs[d], dl);
	out[dl] = '/';
	memcpy(out + dl + 1, id, il + 1);
	return 0;
}

/* Where renameat2() has no RENAME_NOREPLACE (an old kernel, NFS, some
 * FUSE file systems): link() never replaces either; then unlink the old
 * name, or undo the link so that the file never keeps two names.  (An old
 * name already gone was removed by queue_links_repair(), racing us: the
 * move is done.) */
static int
queue_rename_link(const char *from, const char *to)
{
	int	 saved;

	if (link(from, to) < 0)
		return -1;
	if (unlink(from) == 0 || errno == ENOENT)
		return 0;
	saved = errno;
	(void)unlink(to);
	errno = saved;
	return -1;
}

int
queue_rename(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	return queue_rename_link(from, to);
}

int
queue_move(const char *id, enum queue_dir from, enum queue_dir to)
{
	char	 src[QUEUE_PATH_SIZE], dst[QUEUE_PATH_SIZE];

	if (queue_path(src, sizeof(src), from, id) < 0 ||
	    queue_path(dst, sizeof(dst), to, id) < 0) {
		errno = EINVAL;
		return -1;
	}
	return queue_rename(src, dst);
}

int
queue_recycle(enum queue_dir d, const char *id)
{
	return queue_recycle_sized(d, id, -1);
}

int
queue_recycle_sized(enum queue_dir d, const char *id, off_t size)
{
	char		 from[QUEUE_PATH_SIZE];
	struct stat	 st;

	if (queue_path(from, sizeof(from), d, id) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (size < 0 && stat(from, &st) == 0)
		size = st.st_size;
	/* A big file would sit in free/ at full size until reused; and a
	 * writer makes only active/ and deferred/ durable before it writes
	 * over a file from free/ (queue_writer.c). */
	if ((d == QDIR_ACTIVE || d == QDIR_DEFERRED) &&
	    size >= 0 && size <= QUEUE_REUSE_MAX &&
	    queue_move(id, d, QDIR_FREE) == 0)
		return 0;
	return unlink(from) == 0 || errno == ENOENT ? 0 : -1;
}

int
queue_free_remove(int dfd, const char *name)
{
	struct stat	 a, b;
	int		 fd, r = 0;

	if (!queue_id_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* Not a file of ours (a link, another owner's): no writer can
		 * claim it either. */
		if (errno != EACCES && errno != ELOOP && errno != EPERM)
			return -1;
		return unlinkat(dfd, name, 0) == 0 || errno == ENOENT ? 1 : -1;
	}
	/* Locked by a writer: its file now.  Locked by us: still free/<name>,
	 * as nobody moves a file out of free/ without the lock.  Where locks
	 * do not work at all, no writer holds one either; out of lock memory
	 * (ENOLCK) we cannot tell. */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 ||
	    (errno != EWOULDBLOCK && errno != ENOLCK)) {
		if (fstat(fd, &a) == 0 &&
		    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			r = unlinkat(dfd, name, 0) == 0 ? 1 : -1;
	}
	if (r < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return r;
}

int
queue_being_written(enum queue_dir d, const char *id)
{
	char	 path[QUEUE_PATH_SIZE];
	int	 fd, busy;

	if (queue_path(path, sizeof(path), d, id) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -1 : 1;	/* cannot tell: later */
	busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno != EINVAL &&
	    errno != EOPNOTSUPP;
	close(fd);
	return busy;
}

/* Whether <d>/<id> is the file st (another name of it). */
static int
queue_same_file(enum queue_dir d, const char *id, const struct stat *st)
{
	char		 path[QUEUE_PATH_SIZE];
	struct stat	 other;

	return queue_path(path, sizeof(path), d, id) == 0 &&
	    lstat(path, &other) == 0 && S_ISREG(other.st_mode) &&
	    other.st_dev == st->st_dev && other.st_ino == st->st_ino;
}

/* Drop <d>/<id> if the same file also has a name further along. */
static int
queue_links_one(enum queue_dir d, size_t rank, const char *id)
{
	char		 path[QUEUE_PATH_SIZE];
	struct stat	 st;
	size_t		 i;

	if (queue_path(path, sizeof(path), d, id) < 0 ||
	    lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink < 2)
		return 0;
	/* A file claimed in free/ is committed under a new id (queue_writer.c),
	 * so its later name is not <id>: a second name of a free/ file is the
	 * one to keep, wherever it is (free/ ranks first). */
	if (d == QDIR_FREE)
		return unlink(path) < 0 && errno != ENOENT ? -1 : 1;
	for (i = rank + 1; i < QUEUE_LINKS_NRANK; i++) {
		if (!queue_same_file(queue_links_rank[i], id, &st))
			continue;
		if (unlink(path) < 0)
			return -1;
		return 1;
	}
	return 0;
}

int
queue_links_repair(void)
{
	struct dirent	*de;
	DIR		*dir;
	size_t		 rank;
	int		 n = 0, r;

	for (rank = 0; rank + 1 < QUEUE_LINKS_NRANK; rank++) {
		if ((dir = opendir(queue_dirs[queue_links_rank[rank]])) == NULL)
			return -1;
		while ((de = readdir(dir)) != NULL) {
			if (!queue_id_valid(de->d_name))
				continue;
			if ((r = queue_links_one(queue_links_rank[rank], rank,
			    de->d_name)) < 0) {
				closedir(dir);
				return -1;
			}
			n += r;
		}
		closedir(dir);
	}
	return n;
}
