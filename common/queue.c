/*
 * queue - queue file names, directories and the queue file format.  The
 * header parser is strict and bounded: a file that does not match queue.h
 * to the byte is corrupt, and qmgr moves it aside rather than guessing.  The
 * writer keeps the durability order that lets smtpd acknowledge a message:
 * write, fsync the file, rename into incoming/, fsync the directory.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "queue.h"

#define QUEUE_ID_TIME_DIGITS	11	/* 55 bits of microseconds: year 3111 */
#define QUEUE_ID_PID_DIGITS	5	/* 25 bits >= Linux pid_max */
#define QUEUE_ID_SEQ_DIGITS	4	/* 20 bits per process and microsecond */
#define QUEUE_OPEN_TRIES	100

static const char *const queue_dirs[QDIR_COUNT] = {
	"tmp", "incoming", "active", "deferred", "hold", "corrupt", "free"
};

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
	p = queue_b32(p, (unsigned long long)getpid(), QUEUE_ID_PID_DIGITS);
	p = queue_b32(p, seq, QUEUE_ID_SEQ_DIGITS);
	*p = '\0';
}

int
queue_path(char *out, size_t outlen, enum queue_dir d, const char *id)
{
	int	 n;

	if ((unsigned)d >= QDIR_COUNT || !queue_id_valid(id))
		return -1;
	n = snprintf(out, outlen, "%s/%s", queue_dirs[d], id);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Header parsing */

struct queue_parser {
	const char	*buf;
	size_t		 len;
	size_t		 pos;		/* start of the next line */
	const char	*line;		/* current line, without its LF */
	size_t		 linelen;
	const char	*err;
};

/* Advance to the next LF-terminated line; 0 at the end of the buffer. */
static int
queue_next_line(struct queue_parser *qp)
{
	const char	*nl;

	if (qp->pos >= qp->len)
		return 0;
	if ((nl = memchr(qp->buf + qp->pos, '\n', qp->len - qp->pos)) == NULL)
		return 0;
	qp->line = qp->buf + qp->pos;
	qp->linelen = (size_t)(nl - qp->line);
	qp->pos += qp->linelen + 1;
	return 1;
}

/* Is the current line "keyword value" (or a bare "keyword": empty value)?
 * The value is returned through val and vlen. */
static int
queue_record(struct queue_parser *qp, const char *kw, const char **val,
    size_t *vlen)
{
	size_t	 kl = strlen(kw);

	if (qp->linelen < kl || memcmp(qp->line, kw, kl) != 0)
		return 0;
	if (qp->linelen == kl) {
		*val = qp->line + kl;
		*vlen = 0;
		return 1;
	}
	if (qp->line[kl] != ' ')
		return 0;
	*val = qp->line + kl + 1;
	*vlen = qp->linelen - kl - 1;
	return 1;
}

static int
queue_clean_value(const char *v, size_t n)
{
	size_t	 i;

	if (n > QUEUE_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

static int
queue_fail(struct queue_parser *qp, const char *why)
{
	qp->err = why;
	return -1;
}

/* Read one mandatory "kw value" record into a new string. */
static int
queue_string_record(struct queue_parser *qp, const char *kw, int empty_ok,
    char **out, const char *why)
{
	const char	*v;
	size_t		 n;

	if (!queue_next_line(qp))
		return queue_fail(qp, "truncated header");
	if (!queue_record(qp, kw, &v, &n) || (n == 0 && !empty_ok) ||
	    !queue_clean_value(v, n))
		return queue_fail(qp, why);
	*out = xstrndup(v, n);
	return 0;
}

static int
queue_parse_head(struct queue_parser *qp, struct queue_envelope *env)
{
	const char		*v;
	size_t			 n, i;
	unsigned long long	 t = 0;

	if (!queue_next_line(qp) || qp->linelen != 12 ||
	    memcmp(qp->line, "tern-queue 1", 12) != 0)
		return queue_fail(qp, "bad version line");
	if (!queue_next_line(qp) || !queue_record(qp, "id", &v, &n) ||
	    n == 0 || n >= QUEUE_ID_SIZE)
		return queue_fail(qp, "bad id record");
	memcpy(env->id, v, n);
	env->id[n] = '\0';
	if (!queue_id_valid(env->id))
		return queue_fail(qp, "bad id record");
	if (!queue_next_line(qp) || !queue_record(qp, "time", &v, &n) ||
	    n == 0 || n > 18)
		return queue_fail(qp, "bad time record");
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return queue_fail(qp, "bad time record");
		t = t * 10 + (unsigned long long)(v[i] - '0');
	}
	env->arrival = (long long)t;
	if (queue_string_record(qp, "from", 1, &env->sender, "bad from record") < 0 ||
	    queue_string_record(qp, "client", 0, &env->client, "bad client record") < 0 ||
	    queue_string_record(qp, "helo", 0, &env->helo, "bad helo record") < 0)
		return -1;
	return 0;
}

static int
queue_parse_rcpts(struct queue_parser *qp, struct queue_envelope *env)
{
	const char	*v;
	size_t		 n;
	int		 cap = 0;

	for (;;) {
		if (!queue_next_line(qp))
			return queue_fail(qp, "missing data record");
		if (qp->linelen == 4 && memcmp(qp->line, "data", 4) == 0)
			break;
		if (!queue_record(qp, "rcpt", &v, &n))
			return queue_fail(qp, "unexpected record");
		/* "<S> <address>" */
		if (n < 3 || v[1] != ' ')
			return queue_fail(qp, "bad rcpt record");
		if (v[0] != RCPT_PENDING && v[0] != RCPT_DELIVERED &&
		    v[0] != RCPT_BOUNCED)
			return queue_fail(qp, "bad rcpt status");
		if (!queue_clean_value(v + 2, n - 2))
			return queue_fail(qp, "bad rcpt address");
		if (env->nrcpt == cap) {
			cap = cap ? cap * 2 : 8;
			env->rcpt = xreallocarray(env->rcpt, (size_t)cap,
			    sizeof(*env->rcpt));
		}
		env->rcpt[env->nrcpt].addr = xstrndup(v + 2, n - 2);
		env->rcpt[env->nrcpt].status = v[0];
		env->rcpt[env->nrcpt].status_off = (off_t)(v - qp->buf);
		env->nrcpt++;
	}
	if (env->nrcpt == 0)
		return queue_fail(qp, "no recipients");
	env->data_off = (off_t)qp->pos;
	return 0;
}

int
queue_envelope_parse(const char *buf, size_t len, struct queue_envelope *env,
    const char **err)
{
	struct queue_parser	 qp;

	memset(env, 0, sizeof(*env));
	memset(&qp, 0, sizeof(qp));
	qp.buf = buf;
	qp.len = len;
	if (buf == NULL || queue_parse_head(&qp, env) < 0 ||
	    queue_parse_rcpts(&qp, env) < 0) {
		if (err != NULL)
			*err = qp.err != NULL ? qp.err : "no header";
		queue_envelope_free(env);
		return -1;
	}
	return 0;
}

void
queue_envelope_free(struct queue_envelope *env)
{
	int	 i;

	for (i = 0; i < env->nrcpt; i++)
		free(env->rcpt[i].addr);
	free(env->rcpt);
	free(env->sender);
	free(env->client);
	free(env->helo);
	memset(env, 0, sizeof(*env));
}

char *
queue_envelope_format(const struct queue_envelope *env, size_t *lenp)
{
	struct queue_envelope	 check;
	struct buf		 b;
	int			 i, ok = 1;

	buf_init(&b, QUEUE_HEADER_MAX);
	ok &= buf_appendf(&b, "tern-queue %d\nid %s\ntime %lld\nfrom %s\n"
	    "client %s\nhelo %s\n", QUEUE_FORMAT_VERSION, env->id, env->arrival,
	    env->sender ? env->sender : "", env->client ? env->client : "",
	    env->helo ? env->helo : "") == 0;
	for (i = 0; ok && i < env->nrcpt; i++)
		ok &= buf_appendf(&b, "rcpt %c %s\n", env->rcpt[i].status,
		    env->rcpt[i].addr ? env->rcpt[i].addr : "") == 0;
	ok &= buf_append_str(&b, "data\n") == 0;
	/* Never write what the reader would call corrupt. */
	if (!ok || queue_envelope_parse(b.data, b.len, &check, NULL) < 0) {
		buf_free(&b);
		errno = EINVAL;
		return NULL;
	}
	queue_envelope_free(&check);
	if (lenp != NULL)
		*lenp = b.len;
	return b.data;
}

/* Writer */

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
		if (queue_path(w->tmp_path, sizeof(w->tmp_path), QDIR_TMP, w->id) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		w->fd = open(w->tmp_path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		    0600);
		if (w->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	w->tmp_path[0] = '\0';
	return -1;
}

/* Refill the pool with up to QUEUE_POOL_BATCH names from free/, a random
 * sample of its first QUEUE_FREE_MAX entries (reservoir sampling), so that
 * smtpd processes reading the same directory seldom reach for the same
 * file.  Nothing found: no new look for a while. */
static void
queue_pool_fill(struct queue_pool *pool)
{
	struct dirent	*de;
	DIR		*d;
	int		 seen = 0, j;

	if (io_now_ms() < pool->retry_ms)
		return;
	if (pool->seed == 0)
		pool->seed = (unsigned int)getpid() ^ (unsigned int)io_now_ms();
	if ((d = opendir(queue_dirs[QDIR_FREE])) != NULL) {
		while (seen < QUEUE_FREE_MAX && (de = readdir(d)) != NULL) {
			if (!queue_id_valid(de->d_name))
				continue;
			j = seen < QUEUE_POOL_BATCH ? seen :
			    rand_r(&pool->seed) % (seen + 1);
			seen++;
			if (j < QUEUE_POOL_BATCH)
				strlcpy(pool->name[j], de->d_name,
				    QUEUE_ID_SIZE);
		}
		closedir(d);
	}
	pool->n = seen < QUEUE_POOL_BATCH ? seen : QUEUE_POOL_BATCH;
	if (pool->n == 0)
		pool->retry_ms = io_now_ms() + QUEUE_POOL_RETRY_MS;
}

/* Is the file on fd one we may overwrite: a regular file of ours, with no
 * other name, that nobody else has open?  The last is what a write lease
 * tells (Linux grants one only then): a delivery agent that qmgr gave up
 * on may still be reading the old message through its own descriptor, and
 * must go on reading the old message, not a new one.  Once the file has
 * left active/, its name in tmp/ is the only way to open it. */
static int
queue_reuse_ok(int fd)
{
	struct stat	 st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1)
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

/* Take a file from free/ as tmp/<new id>.  0, or -1 when none is left or
 * free/ cannot be used (the caller then creates a file). */
static int
queue_writer_take(struct queue_writer *w, struct queue_pool *pool)
{
	char	 from[QUEUE_PATH_SIZE];

	for (;;) {
		if (pool->n == 0)
			queue_pool_fill(pool);
		if (pool->n == 0)
			return -1;
		pool->n--;
		if (queue_path(from, sizeof(from), QDIR_FREE,
		    pool->name[pool->n]) < 0)
			continue;
		queue_id_new(w->id);
		if (queue_path(w->tmp_path, sizeof(w->tmp_path), QDIR_TMP,
		    w->id) < 0)
			return -1;
		/* Never over an existing tmp/ file, as O_EXCL would not. */
		if (renameat2(AT_FDCWD, from, AT_FDCWD, w->tmp_path,
		    RENAME_NOREPLACE) < 0) {
			/* Another process took it first: try the next. */
			if (errno == ENOENT)
				continue;
			/* Read-only, no permission, another mount... */
			return queue_pool_pause(pool);
		}
		/* O_NONBLOCK: a FIFO planted there must not hang us. */
		w->fd = open(w->tmp_path,
		    O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		if (w->fd >= 0 && queue_reuse_ok(w->fd)) {
			w->reused = 1;
			return 0;
		}
		if (w->fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Ours to use later: put it back. */
			if (rename(w->tmp_path, from) < 0)
				unlink(w->tmp_path);
			w->tmp_path[0] = '\0';
			return queue_pool_pause(pool);
		}
		/* Not reusable: removed, as qmgr would have. */
		if (w->fd >= 0)
			close(w->fd);
		w->fd = -1;
		unlink(w->tmp_path);
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
	w->id[0] = w->tmp_path[0] = '\0';
	w->error = 0;
	w->reused = 0;
	w->size = 0;
	w->data_len = w->pending = 0;
	if ((pool == NULL || queue_writer_take(w, pool) < 0) &&
	    queue_writer_create(w) < 0)
		return -1;
	memcpy(env->id, w->id, sizeof(env->id));
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
		queue_envelope_free(&check);
	}
	if (io_write_all(w->fd, head, len) < 0) {
		int saved = errno;

		free(head);
		queue_writer_abort(w);
		errno = saved;
		return -1;
	}
	free(head);
	w->size = (off_t)len;
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

int
queue_writer_sync(struct queue_writer *w)
{
	if (w->fd < 0) {
		errno = w->error ? w->error : EBADF;
		return -1;
	}
	if (queue_writer_flush(w) < 0)
		return -1;
	/* A reused file may be longer than this message: cut the rest. */
	if (w->reused && ftruncate(w->fd, w->size) < 0)
		return queue_writer_fail(w);
	if (fsync(w->fd) < 0)
		return queue_writer_fail(w);
	return 0;
}

int
queue_writer_rename(struct queue_writer *w)
{
	char	 path[QUEUE_PATH_SIZE];

	if (w->error != 0 || w->fd < 0 || w->pending > 0) {
		errno = w->error ? w->error : w->fd < 0 ? EBADF : EINVAL;
		return -1;
	}
	if (queue_path(path, sizeof(path), QDIR_INCOMING, w->id) < 0) {
		errno = ENAMETOOLONG;
		return queue_writer_fail(w);
	}
	if (rename(w->tmp_path, path) < 0)
		return queue_writer_fail(w);
	/* The file has left tmp/: abort must not unlink anything now. */
	w->tmp_path[0] = '\0';
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
	if (io_fsync_dir(queue_dirs[QDIR_INCOMING]) < 0) {
		saved = errno;
		close(w->fd);
		w->fd = -1;
		(void)queue_writer_withdraw(w);
		errno = saved;
		return queue_writer_fail(w);
	}
	return queue_writer_close(w);
}

int
queue_writer_withdraw(struct queue_writer *w)
{
	char	 path[QUEUE_PATH_SIZE];
	int	 saved = errno;

	if (queue_path(path, sizeof(path), QDIR_INCOMING, w->id) < 0) {
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

	/* tmp_path marks ownership, so a zeroed or published writer is left
	 * alone (fd 0 is never closed by mistake). */
	if (w->tmp_path[0] != '\0') {
		if (w->fd >= 0)
			close(w->fd);
		unlink(w->tmp_path);
		w->tmp_path[0] = '\0';
	}
	w->fd = -1;
	w->pending = 0;
	errno = saved;
}

/* Reader */

/* Read the start of the file, growing until the header parses or cannot
 * fit QUEUE_HEADER_MAX.  0, -1 with errno (EINVAL and *err: corrupt). */
static int
queue_read_header(int fd, struct queue_envelope *env, const char **err)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 eof = 0;

	for (;;) {
		if (len == cap && cap < QUEUE_HEADER_MAX) {
			cap = cap ? cap * 2 : 16 * 1024;
			if (cap > QUEUE_HEADER_MAX)
				cap = QUEUE_HEADER_MAX;
			buf = xrealloc(buf, cap);
		}
		if (len < cap && !eof) {
			n = pread(fd, buf + len, cap - len, (off_t)len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(buf);
				return -1;
			}
			eof = n == 0;
			len += (size_t)n;
			if (len < cap && !eof)
				continue;	/* fill the chunk before parsing */
		}
		if (queue_envelope_parse(buf, len, env, err) == 0)
			break;
		/* Only a header cut short by the chunk is worth reading on. */
		if (eof || len >= QUEUE_HEADER_MAX ||
		    (strcmp(*err, "missing data record") != 0 &&
		    strcmp(*err, "truncated header") != 0)) {
			free(buf);
			errno = EINVAL;
			return -1;
		}
	}
	free(buf);
	return 0;
}

int
queue_file_open(enum queue_dir d, const char *id, int flags,
    struct queue_envelope *env, int *fdp, const char **err)
{
	char		 path[QUEUE_PATH_SIZE];
	const char	*why = NULL;
	int		 fd, saved;

	memset(env, 0, sizeof(*env));
	if (err != NULL)
		*err = NULL;
	if (queue_path(path, sizeof(path), d, id) < 0) {
		errno = EINVAL;
		if (err != NULL)
			*err = "bad queue id";
		return -1;
	}
	flags &= O_ACCMODE;
	if ((fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (queue_read_header(fd, env, &why) < 0) {
		saved = errno;
		close(fd);
		if (err != NULL && saved == EINVAL)
			*err = why;
		errno = saved;
		return -1;
	}
	/* A file renamed by hand, or misplaced, must not be delivered under
	 * another message's id. */
	if (strcmp(env->id, id) != 0) {
		queue_envelope_free(env);
		close(fd);
		if (err != NULL)
			*err = "id does not match file name";
		errno = EINVAL;
		return -1;
	}
	/* Leave the offset at the message so a plain read() gets its text. */
	if (lseek(fd, env->data_off, SEEK_SET) < 0) {
		saved = errno;
		queue_envelope_free(env);
		close(fd);
		errno = saved;
		return -1;
	}
	*fdp = fd;
	return 0;
}

int
queue_rcpt_write(int fd, const struct queue_envelope *env, int i, char status)
{
	ssize_t	 n;

	if (i < 0 || i >= env->nrcpt || (status != RCPT_PENDING &&
	    status != RCPT_DELIVERED && status != RCPT_BOUNCED)) {
		errno = EINVAL;
		return -1;
	}
	do
		n = pwrite(fd, &status, 1, env->rcpt[i].status_off);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

int
queue_rcpt_mark(int fd, struct queue_envelope *env, int i, char status)
{
	if (queue_rcpt_write(fd, env, i, status) < 0 || fdatasync(fd) < 0)
		return -1;
	env->rcpt[i].status = status;
	return 0;
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
	return rename(src, dst);
}

int
queue_pending_count(const struct queue_envelope *env)
{
	int	 i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].status == RCPT_PENDING)
			n++;
	return n;
}

int
queue_recycle(enum queue_dir d, const char *id)
{
	char		 from[QUEUE_PATH_SIZE];
	struct stat	 st;

	if (queue_path(from, sizeof(from), d, id) < 0) {
		errno = EINVAL;
		return -1;
	}
	/* A big file would sit in free/ at full size until reused. */
	if (stat(from, &st) == 0 && st.st_size <= QUEUE_REUSE_MAX &&
	    queue_move(id, d, QDIR_FREE) == 0)
		return 0;
	return unlink(from) == 0 || errno == ENOENT ? 0 : -1;
}
