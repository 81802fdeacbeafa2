/*
 * Unit tests for common/queue.c, queue_file.c and queue_writer.c: ids and
 * paths, the writer's commit protocol, byte-exact round trips through a
 * real queue directory (a fresh mkdtemp directory per test), durable status
 * marks, and the strict header parser on corrupt input.
 *
 * fsync(), ftruncate() and renameat2() are replaced in this program (the
 * library's calls bind to these definitions, which then make the system
 * call) so that a test can watch the order of the writer's durable steps,
 * look at the file at each of them as a crash there would leave it, and
 * make renameat2() fail as it does where RENAME_NOREPLACE is unsupported.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "queue.h"
#include "queue_file.h"
#include "queue_outcome.h"
#include "queue_writer.h"
#include "buf.h"

/* What the replaced system calls watch and found. */
static struct {
	int		 no_renameat2;	/* fail renameat2() with EINVAL */
	ino_t		 watch;		/* the reused file */
	ino_t		 active;	/* active/ */
	char		 old_path[QUEUE_PATH_SIZE]; /* free/<old id> */
	const char	*old;		/* its content before reuse */
	size_t		 oldlen;
	const char	*id;		/* the new message */
	const char	*body;
	int		 settled;	/* fsyncs of active/ */
	int		 settled_clean;	/* ... while the file was still old */
	int		 truncates;	/* the writer's cut, and there */
	int		 cut_refused;	/* the file was no message for anyone */
	int		 syncs;		/* its fsyncs, and there */
	int		 sync_exact;	/* the file was exactly the new one */
} crash;

static char *
read_path(const char *path, size_t *len)
{
	struct stat	 st;
	char		*p;
	int		 fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	p = malloc((size_t)st.st_size + 1);
	*len = (size_t)pread(fd, p, (size_t)st.st_size, 0);
	close(fd);
	return p;
}

/* The file behind fd, as a crash now would leave it (the writer's own
 * descriptor is write-only). */
static char *
read_fd(int fd, size_t *len)
{
	char	 path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return read_path(path, len);
}

/* Could these bytes pass for a message under any name? */
static int
parses(const char *p, size_t len, struct queue_envelope *env)
{
	const char	*err;

	return queue_file_parse(p, len, env, &err) == 0;
}

int
fsync(int fd)
{
	struct queue_envelope	 env;
	struct stat		 st;
	size_t			 len;
	char			*p;

	if (crash.watch != 0 && fstat(fd, &st) == 0) {
		if (st.st_ino == crash.active) {
			crash.settled++;
			p = read_path(crash.old_path, &len);
			if (p != NULL && len == crash.oldlen &&
			    memcmp(p, crash.old, len) == 0)
				crash.settled_clean++;
			free(p);
		} else if (st.st_ino == crash.watch) {
			crash.syncs++;
			p = read_fd(fd, &len);
			if (p != NULL && parses(p, len, &env)) {
				if (strcmp(env.id, crash.id) == 0 &&
				    env.data_off + env.data_len == (off_t)len &&
				    env.data_len == (off_t)strlen(crash.body) &&
				    memcmp(p + env.data_off, crash.body,
				    strlen(crash.body)) == 0)
					crash.sync_exact++;
				queue_envelope_free(&env);
			}
			free(p);
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

int
ftruncate(int fd, off_t len)
{
	struct queue_envelope	 env;
	struct stat		 st;
	size_t			 n;
	char			*p;

	if (crash.watch != 0 && fstat(fd, &st) == 0 &&
	    st.st_ino == crash.watch) {
		crash.truncates++;
		p = read_fd(fd, &n);
		if (p != NULL && !parses(p, n, &env))
			crash.cut_refused++;
		else if (p != NULL)
			queue_envelope_free(&env);
		free(p);
	}
	return (int)syscall(SYS_ftruncate, fd, len);
}

int
renameat2(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath, unsigned int flags)
{
	if (crash.no_renameat2) {
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd,
	    newpath, flags);
}

/* The file (dev, ino) whose next close() fails with EIO after really
 * closing it; disarmed when it fires (close_failed counts). */
static struct {
	dev_t	 dev;
	ino_t	 ino;
	int	 failed;
} close_fail;

int
close(int fd)
{
	struct stat	 st;
	int		 fail, r;

	fail = close_fail.ino != 0 && fstat(fd, &st) == 0 &&
	    st.st_dev == close_fail.dev && st.st_ino == close_fail.ino;
	r = (int)syscall(SYS_close, fd);
	if (fail && r == 0) {
		close_fail.ino = 0;
		close_fail.failed++;
		errno = EIO;
		return -1;
	}
	return r;
}

/* Called once, just before the next flock(), then disarmed: what another
 * writer does between a claimant's open and its lock. */
static void	(*flock_hook)(void);

int
flock(int fd, int op)
{
	void	(*hook)(void) = flock_hook;

	flock_hook = NULL;
	if (hook != NULL)
		hook();
	return (int)syscall(SYS_flock, fd, op);
}

#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
	memset(&crash, 0, sizeof(crash));
	memset(&close_fail, 0, sizeof(close_fail));
}

static void
sample_env(struct queue_envelope *env, char **addrs, int n)
{
	int	 i;

	memset(env, 0, sizeof(*env));
	env->arrival = 1700000000;
	env->sender = "";
	env->client = "192.0.2.1";
	env->helo = "client.example";
	env->nrcpt = n;
	env->rcpt = calloc((size_t)n, sizeof(*env->rcpt));
	for (i = 0; i < n; i++) {
		env->rcpt[i].addr = addrs[i];
		env->rcpt[i].status = RCPT_PENDING;
	}
}

static char *
read_all(int fd, size_t *len)
{
	size_t	 cap = 1 << 20, n = 0;
	char	*p = malloc(cap);
	ssize_t	 r;

	while ((r = read(fd, p + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	assert_true(r == 0);
	*len = n;
	return p;
}

static void
test_dirs(void **state)
{
	static const char *const dirs[] = { "tmp", "incoming", "active",
	    "deferred", "hold", "corrupt", "free", "private", "pid" };
	struct stat	 st;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		assert_int_equal(stat(dirs[i], &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0700);
	}
	assert_int_equal(queue_dirs_create(), 0);	/* again: fine */
	assert_string_equal(queue_dir_name(QDIR_INCOMING), "incoming");
	assert_string_equal(queue_dir_name(QDIR_CORRUPT), "corrupt");
	assert_null(queue_dir_name(QDIR_COUNT));
	/* A file where a directory should be. */
	assert_int_equal(rmdir("hold"), 0);
	assert_int_equal(close(open("hold", O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(queue_dirs_create(), -1);
	assert_int_equal(errno, ENOTDIR);
}

static void
test_ids(void **state)
{
	char	 prev[QUEUE_ID_SIZE], id[QUEUE_ID_SIZE], path[QUEUE_PATH_SIZE];
	int	 i;

	(void)state;
	queue_id_new(prev);
	assert_true(queue_id_valid(prev));
	for (i = 0; i < 20000; i++) {
		queue_id_new(id);
		assert_true(queue_id_valid(id));
		assert_true(strlen(id) < QUEUE_ID_SIZE);
		/* Ids of one process sort by creation and never repeat. */
		if (strcmp(prev, id) >= 0)
			fail_msg("%s not after %s", id, prev);
		strcpy(prev, id);
	}
	assert_false(queue_id_valid(""));
	assert_false(queue_id_valid(NULL));
	assert_false(queue_id_valid("abc"));
	assert_false(queue_id_valid("AB/C"));
	assert_false(queue_id_valid("../X"));
	assert_true(queue_id_valid("0123456789ABCDEFGHIJKLMNOPQRSTU"));	/* 31 */
	assert_false(queue_id_valid("0123456789ABCDEFGHIJKLMNOPQRSTUV"));	/* 32 */

	assert_int_equal(queue_path(path, sizeof(path), QDIR_DEFERRED, "ABC"), 0);
	assert_string_equal(path, "deferred/ABC");
	assert_int_equal(queue_path(path, 12, QDIR_DEFERRED, "ABC"), -1);
	assert_int_equal(queue_path(path, 13, QDIR_DEFERRED, "ABC"), 0);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_TMP, "../x"), -1);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_COUNT, "ABC"), -1);
}

/* The "delay=" of log lines comes from the time in the id. */
static void
test_id_time(void **state)
{
	static const struct {
		long long	 usec;
		const char	*text;
	} delays[] = {
		{ 0, "0.00" }, { 4999, "0.00" }, { 5000, "0.01" },
		{ 994999, "0.99" }, { 995000, "1.00" }, { 1995000, "2.00" },
		{ 123456789012LL, "123456.79" },
		{ LLONG_MAX, "9223372036854.78" },
	};
	char		 id[QUEUE_ID_SIZE], d[32];
	size_t		 i;
	struct timeval	 tv;
	long long	 t, now;

	(void)state;
	gettimeofday(&tv, NULL);
	now = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	queue_id_new(id);
	t = queue_id_usec(id);
	assert_true(t >= now && t < now + 5000000);
	/* 1 s after the epoch: 1000000 us is 0000000UGI0 in base 32. */
	assert_int_equal(queue_id_usec("0000000UGI0000000000"), 1000000);
	assert_int_equal(queue_id_usec("ABC"), -1);		/* not our shape */
	assert_int_equal(queue_id_usec("0000000UGI00000000000"), -1); /* 21 */
	assert_int_equal(queue_id_usec("W0000000000000000000"), -1);	/* 'W' */
	queue_id_delay(id, d, sizeof(d));
	assert_true(strtod(d, NULL) >= 0 && strtod(d, NULL) < 5);
	assert_non_null(strchr(d, '.'));
	assert_int_equal(strlen(strchr(d, '.')), 3);	/* two decimals */
	queue_id_delay("0000000UGI0000000000", d, sizeof(d));
	assert_true(strtod(d, NULL) > 1e9);	/* since 1970 */
	assert_non_null(strchr(d, '.'));
	assert_int_equal(strlen(strchr(d, '.')), 3);
	queue_id_delay("ABC", d, sizeof(d));
	assert_string_equal(d, "0");
	/* Rounded half up to hundredths, exactly (where "%.2f" of the
	 * seconds as a double could round 1.995 down). */
	for (i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		queue_delay_text(delays[i].usec, d, sizeof(d));
		assert_string_equal(d, delays[i].text);
	}
}

/* A close() that fails once the message is durable in incoming/ does not
 * fail the commit: the caller would otherwise have it sent again. */
static void
test_commit_close_error(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));
	char			 path[QUEUE_PATH_SIZE];
	struct stat		 st;

	(void)state;
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_write(w, "x\n", 2), 0);
	assert_int_equal(fstat(w->fd, &st), 0);
	close_fail.dev = st.st_dev;
	close_fail.ino = st.st_ino;
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(close_fail.failed, 1);
	assert_int_equal(w->fd, -1);
	assert_int_equal(w->error, EIO);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, env.id),
	    0);
	assert_int_equal(stat(path, &st), 0);
	free(env.rcpt);
	free(w);
}

static void
test_round_trip(void **state)
{
	char			*addrs[] = { "a@example.org", "\"b c\"@example.org",
				    "d@[192.0.2.7]" };
	struct queue_envelope	 env, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	char			 path[QUEUE_PATH_SIZE], *data, *back;
	const char		*err = NULL;
	size_t			 dlen = 300000, blen, i;
	struct stat		 st;
	int			 fd;

	(void)state;
	/* Binary, NULs, a long run: everything must come back as it was. */
	data = malloc(dlen);
	for (i = 0; i < dlen; i++)
		data[i] = (char)(i * 7 + i / 1000);
	sample_env(&env, addrs, 3);
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_string_equal(env.id, w->id);
	assert_true(queue_id_valid(w->id));
	assert_int_equal(queue_path(path, sizeof(path), QDIR_TMP, w->id), 0);
	assert_string_equal(w->wpath, path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(queue_writer_write(w, data, 10), 0);
	assert_int_equal(queue_writer_write(w, data + 10, 100000), 0);
	for (i = 100010; i < dlen; i += 999)
		assert_int_equal(queue_writer_write(w, data + i,
		    dlen - i < 999 ? dlen - i : 999), 0);
	assert_int_equal(w->data_len, dlen);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(w->fd, -1);
	assert_int_equal(stat(path, &st), -1);		/* gone from tmp/ */
	queue_writer_abort(w);				/* harmless now */
	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, env.id), 0);
	assert_int_equal(stat(path, &st), 0);

	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got,
	    &fd, &err), 0);
	assert_string_equal(got.id, env.id);
	assert_int_equal(got.arrival, 1700000000);
	assert_string_equal(got.sender, "");
	assert_string_equal(got.client, "192.0.2.1");
	assert_string_equal(got.helo, "client.example");
	assert_int_equal(got.nrcpt, 3);
	for (i = 0; i < 3; i++) {
		assert_string_equal(got.rcpt[i].addr, addrs[i]);
		assert_int_equal(got.rcpt[i].status, RCPT_PENDING);
		assert_int_equal(got.rcpt[i].status_off, env.rcpt[i].status_off);
	}
	assert_int_equal(got.data_off, env.data_off);
	assert_int_equal(queue_pending_count(&got), 3);
	/* The fd is left at the message. */
	back = read_all(fd, &blen);
	assert_int_equal(blen, dlen);
	assert_memory_equal(back, data, dlen);
	assert_int_equal(st.st_size, (off_t)(got.data_off + (off_t)dlen));
	free(back);
	close(fd);
	queue_envelope_free(&got);
	assert_null(got.rcpt);
	free(env.rcpt);
	free(data);
	free(w);
}

static void
test_mark_and_move(void **state)
{
	char			*addrs[] = { "a@x.example", "b@x.example" };
	struct queue_envelope	 env, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	const char		*err;
	int			 fd;

	(void)state;
	sample_env(&env, addrs, 2);
	env.sender = "sender@example.org";
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_write(w, "Subject: x\n\nhi\n", 15), 0);
	assert_int_equal(queue_writer_sync(w), 0);
	assert_int_equal(queue_writer_publish(w), 0);
	assert_int_equal(queue_move(env.id, QDIR_INCOMING, QDIR_ACTIVE), 0);
	assert_int_equal(queue_move(env.id, QDIR_INCOMING, QDIR_ACTIVE), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(queue_move("../x", QDIR_ACTIVE, QDIR_HOLD), -1);

	assert_int_equal(queue_file_open(QDIR_ACTIVE, env.id, O_RDWR, &got, &fd,
	    &err), 0);
	assert_string_equal(got.sender, "sender@example.org");
	assert_int_equal(queue_rcpt_mark(fd, &got, 1, RCPT_DELIVERED), 0);
	assert_int_equal(got.rcpt[1].status, RCPT_DELIVERED);
	assert_int_equal(queue_pending_count(&got), 1);
	assert_int_equal(queue_rcpt_mark(fd, &got, 2, RCPT_DELIVERED), -1);
	assert_int_equal(queue_rcpt_mark(fd, &got, -1, RCPT_DELIVERED), -1);
	assert_int_equal(queue_rcpt_mark(fd, &got, 0, 'X'), -1);
	assert_int_equal(got.rcpt[0].status, RCPT_PENDING);
	close(fd);
	queue_envelope_free(&got);

	/* The mark is on disk. */
	assert_int_equal(queue_file_open(QDIR_ACTIVE, env.id, O_RDONLY, &got, &fd,
	    &err), 0);
	assert_int_equal(got.rcpt[0].status, RCPT_PENDING);
	assert_int_equal(got.rcpt[1].status, RCPT_DELIVERED);
	/* A read-only fd cannot be marked. */
	assert_int_equal(queue_rcpt_mark(fd, &got, 0, RCPT_BOUNCED), -1);
	close(fd);
	queue_envelope_free(&got);

	assert_int_equal(queue_file_open(QDIR_ACTIVE, env.id, O_RDWR, &got, &fd,
	    &err), 0);
	assert_int_equal(queue_rcpt_mark(fd, &got, 0, RCPT_BOUNCED), 0);
	close(fd);
	queue_envelope_free(&got);
	assert_int_equal(queue_file_open(QDIR_ACTIVE, env.id, O_RDONLY, &got, &fd,
	    &err), 0);
	assert_int_equal(got.rcpt[0].status, RCPT_BOUNCED);
	assert_int_equal(queue_pending_count(&got), 0);
	close(fd);
	queue_envelope_free(&got);

	/* Missing file: plain errno, no corruption reason. */
	err = "unset";
	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got,
	    &fd, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(err);
	free(env.rcpt);
	free(w);
}

static void
test_abort(void **state)
{
	char			*addrs[] = { "a@x.example" };
	struct queue_envelope	 env;
	struct queue_writer	*w = calloc(1, sizeof(*w));
	char			 path[QUEUE_PATH_SIZE];
	struct stat		 st;

	(void)state;
	queue_writer_abort(w);		/* zeroed: does nothing */
	assert_true(fcntl(0, F_GETFD) >= 0);
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open(w, &env), 0);
	strcpy(path, w->wpath);
	assert_int_equal(queue_writer_write(w, "x", 1), 0);
	queue_writer_abort(w);
	assert_int_equal(stat(path, &st), -1);
	queue_writer_abort(w);
	assert_int_equal(queue_writer_write(w, "x", 1), -1);
	assert_int_equal(queue_writer_commit(w), -1);

	/* Renamed into incoming/, then withdrawn (its directory fsync
	 * failed): gone again, and a second try says so. */
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_sync(w), 0);
	assert_int_equal(queue_writer_rename(w), 0);
	assert_int_equal(queue_writer_close(w), 0);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, w->id),
	    0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(queue_writer_withdraw(w), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(queue_writer_withdraw(w), -1);
	assert_int_equal(errno, ENOENT);

	/* An envelope the reader would refuse is never written. */
	env.sender = "bad\nsender";
	assert_int_equal(queue_writer_open(w, &env), -1);
	assert_int_equal(errno, EINVAL);
	queue_writer_abort(w);
	env.sender = "";
	env.nrcpt = 0;
	assert_int_equal(queue_writer_open(w, &env), -1);
	assert_null(queue_envelope_format(&env, NULL));
	assert_int_equal(rmdir("tmp"), 0);	/* tmp/ is empty */
	free(env.rcpt);
	free(w);
}

/* Write a raw file into incoming/ under id and try to open it. */
static int
open_raw(const char *id, const char *text, size_t len, const char **err)
{
	struct queue_envelope	 env;
	char			 path[QUEUE_PATH_SIZE];
	int			 fd, r;

	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, id), 0);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	r = queue_file_open(QDIR_INCOMING, id, O_RDONLY, &env, &fd, err);
	if (r == 0) {
		close(fd);
		queue_envelope_free(&env);
	}
	return r;
}

#define NULLFROM "tern-queue 1\nid ABC\ntime 0\nfrom\nclient local\nhelo -\n" \
	"rcpt D x\ndata\nbody"
#define HEAD	"tern-queue 1\nid ABC\ntime 1700000000\nfrom s@x\nclient local\nhelo -\n"

static void
test_corrupt(void **state)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "", "bad version line" },
		{ "tern-queue 3\n", "bad version line" },
		{ "tern-queue 0\n", "bad version line" },
		{ "tern-queue 1 \n", "bad version line" },
		{ "id ABC\ntern-queue 1\n", "bad version line" },
		{ "tern-queue 1\nid abc\n", "bad id record" },
		{ "tern-queue 1\nid \n", "bad id record" },
		{ "tern-queue 1\nident ABC\n", "bad id record" },
		{ "tern-queue 1\ntime 1\nid ABC\n", "bad id record" },
		{ "tern-queue 1\nid ABC\ntime x1\n", "bad time record" },
		{ "tern-queue 1\nid ABC\ntime \n", "bad time record" },
		{ "tern-queue 1\nid ABC\ntime 1234567890123456789\n", "bad time record" },
		{ "tern-queue 1\nid ABC\ntime 1\nclient local\n", "bad from record" },
		{ "tern-queue 1\nid ABC\ntime 1\nfrom a\rb\n", "bad from record" },
		{ "tern-queue 1\nid ABC\ntime 1\nfrom \nclient \n", "bad client record" },
		{ "tern-queue 1\nid ABC\ntime 1\nfrom \nclient x\nhelo\n", "bad helo record" },
		{ HEAD "data\n", "no recipients" },
		{ HEAD "rcpt X a@b\ndata\n", "bad rcpt status" },
		{ HEAD "rcpt p a@b\ndata\n", "bad rcpt status" },
		{ HEAD "rcpt P\ndata\n", "bad rcpt record" },
		{ HEAD "rcpt P \ndata\n", "bad rcpt record" },
		{ HEAD "rcpt PP a@b\ndata\n", "bad rcpt record" },
		{ HEAD "rcpt P a\tb\ndata\n", "bad rcpt address" },
		{ HEAD "rcpt P a@b\r\ndata\r\n", "bad rcpt address" },
		{ HEAD "rcpt P a@b\nhelo x\ndata\n", "unexpected record" },
		{ HEAD "rcpt P a@b\ndata \n", "unexpected record" },
		{ HEAD "rcpt P a@b\n", "missing data record" },
		{ HEAD "rcpt P a@b\ndata", "missing data record" },
		{ "tern-queue 1\nid ABC\ntime 1\nfrom x\n", "truncated header" },
	};
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (open_raw("ABC", cases[i].text, strlen(cases[i].text), &err) != -1)
			fail_msg("case %zu accepted", i);
		assert_int_equal(errno, EINVAL);
		if (err == NULL || strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu: wanted '%s', got '%s'", i, cases[i].err,
			    err ? err : "(null)");
	}
	/* The id must match the file name. */
	assert_int_equal(open_raw("ABD", HEAD "rcpt P a@b\ndata\n",
	    strlen(HEAD "rcpt P a@b\ndata\n"), &err), -1);
	assert_string_equal(err, "id does not match file name");
	assert_int_equal(open_raw("ABC", HEAD "rcpt P a@b\ndata\n",
	    strlen(HEAD "rcpt P a@b\ndata\n"), &err), 0);
	/* A bare "from" is the null sender too. */
	assert_int_equal(open_raw("ABC", NULLFROM, strlen(NULLFROM), &err), 0);
}

static void
test_addr_limit(void **state)
{
	char			 text[2 * QUEUE_ADDR_MAX], *addr;
	struct queue_envelope	 env;
	const char		*err;

	(void)state;
	addr = malloc(QUEUE_ADDR_MAX + 2);
	memset(addr, 'a', QUEUE_ADDR_MAX + 1);
	addr[QUEUE_ADDR_MAX] = '\0';
	snprintf(text, sizeof(text), HEAD "rcpt P %s\ndata\n", addr);
	assert_int_equal(queue_envelope_parse(text, strlen(text), &env, &err), 0);
	assert_int_equal(strlen(env.rcpt[0].addr), QUEUE_ADDR_MAX);
	queue_envelope_free(&env);
	addr[QUEUE_ADDR_MAX] = 'a';
	addr[QUEUE_ADDR_MAX + 1] = '\0';
	snprintf(text, sizeof(text), HEAD "rcpt P %s\ndata\n", addr);
	assert_int_equal(queue_envelope_parse(text, strlen(text), &env, &err), -1);
	assert_string_equal(err, "bad rcpt address");
	free(addr);
}

static void
test_parse_prefixes(void **state)
{
	const char		 text[] = HEAD "rcpt P a@b\nrcpt B c@d\ndata\nmessage";
	struct queue_envelope	 env;
	const char		*err;
	char			*copy;
	size_t			 full = strlen(text) - strlen("message"), i;

	(void)state;
	/* Every cut before the end of "data\n" fails cleanly; exact-size
	 * copies let ASan catch any over-read. */
	for (i = 0; i <= strlen(text); i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, text, i);
		if (i < full)
			assert_int_equal(queue_envelope_parse(copy, i, &env, &err), -1);
		else {
			assert_int_equal(queue_envelope_parse(copy, i, &env, &err), 0);
			assert_int_equal(env.data_off, (off_t)full);
			assert_int_equal(env.nrcpt, 2);
			assert_int_equal(text[env.rcpt[1].status_off], 'B');
			queue_envelope_free(&env);
		}
		free(copy);
	}
	assert_int_equal(queue_envelope_parse(NULL, 0, &env, &err), -1);
}

static void
test_parse_mutations(void **state)
{
	const char		 text[] = HEAD "rcpt P a@b\nrcpt B c@d\ndata\nmessage";
	struct queue_envelope	 env;
	const char		*err;
	char			*copy;
	size_t			 len = sizeof(text) - 1;
	int			 round, k, ok = 0;

	(void)state;
	srandom(4711);
	for (round = 0; round < 100000; round++) {
		copy = malloc(len);
		memcpy(copy, text, len);
		for (k = random() % 3; k >= 0; k--)
			copy[random() % len] = (char)(random() % 4 ? random() % 128 : random());
		if (queue_envelope_parse(copy, len, &env, &err) == 0) {
			assert_true(env.nrcpt >= 1);
			assert_true(env.data_off <= (off_t)len);
			queue_envelope_free(&env);
			ok++;
		} else
			assert_non_null(err);
		free(copy);
	}
	assert_true(ok > 0);
}

static void
test_big_header(void **state)
{
	struct queue_envelope	 env, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	char			**addrs;
	const char		*err;
	int			 i, n = 2000, fd;
	size_t			 blen;
	char			*back;

	(void)state;
	/* Far more than the reader's first chunk. */
	addrs = calloc((size_t)n, sizeof(*addrs));
	for (i = 0; i < n; i++) {
		addrs[i] = malloc(64);
		snprintf(addrs[i], 64, "recipient-number-%06d@long.example.org", i);
	}
	sample_env(&env, addrs, n);
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_write(w, "body\n", 5), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDWR, &got, &fd,
	    &err), 0);
	assert_int_equal(got.nrcpt, n);
	assert_string_equal(got.rcpt[n - 1].addr, addrs[n - 1]);
	assert_int_equal(queue_rcpt_mark(fd, &got, n - 1, RCPT_DELIVERED), 0);
	back = read_all(fd, &blen);
	assert_int_equal(blen, 5);
	assert_memory_equal(back, "body\n", 5);
	free(back);
	close(fd);
	queue_envelope_free(&got);
	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got, &fd,
	    &err), 0);
	assert_int_equal(got.rcpt[n - 1].status, RCPT_DELIVERED);
	assert_int_equal(got.rcpt[n - 2].status, RCPT_PENDING);
	close(fd);
	queue_envelope_free(&got);
	for (i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
	free(env.rcpt);
	free(w);
}

static void
test_format(void **state)
{
	char			*addrs[] = { "x@y" };
	struct queue_envelope	 env;
	char			*s;
	size_t			 len;

	(void)state;
	sample_env(&env, addrs, 1);
	strcpy(env.id, "0ABC");
	s = queue_envelope_format(&env, &len);
	assert_non_null(s);
	assert_string_equal(s, "tern-queue 2\nid 0ABC\ntime 1700000000\n"
	    "size 00000000000000000000\nfrom \nclient 192.0.2.1\n"
	    "helo client.example\nbody \nsmtputf8 0\nret \nenvid \n"
	    "rcpt P x@y\norcpt \nnotify \ndata\n");
	assert_int_equal(len, strlen(s));
	free(s);
	env.rcpt[0].status = 'Q';
	assert_null(queue_envelope_format(&env, &len));
	env.rcpt[0].status = RCPT_BOUNCED;
	env.helo = "";
	assert_null(queue_envelope_format(&env, &len));
	free(env.rcpt);
}

/* Put a file of len bytes of 'X' in free/ under a fresh id; its inode. */
static ino_t
free_file(const char *id, size_t len, int links)
{
	char		 path[QUEUE_PATH_SIZE], *fill = malloc(len);
	struct stat	 st;
	int		 fd;

	memset(fill, 'X', len);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_FREE, id), 0);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, fill, len), (ssize_t)len);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	if (links > 1)
		assert_int_equal(link(path, "elsewhere"), 0);
	free(fill);
	return st.st_ino;
}

/* Entries in one queue directory, "." and ".." not counted. */
static int
count_dir(enum queue_dir d)
{
	struct dirent	*e;
	DIR		*dir = opendir(queue_dir_name(d));
	int		 n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

/* A file from free/ is written over and cut to the new message's size:
 * no byte of the longer old content survives, and it is the same inode. */
static void
test_reuse(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct queue_pool	 pool;
	struct stat		 st;
	const char		*err = NULL, *body = "Subject: s\n\nshort\n";
	char			 path[QUEUE_PATH_SIZE], *back;
	size_t			 blen;
	ino_t			 ino;
	int			 fd;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	ino = free_file("OLD1", 100000, 1);
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 1);
	/* Claimed in place: still in free/, nothing in tmp/, until the
	 * commit renames it (its one rename). */
	assert_int_equal(count_dir(QDIR_FREE), 1);
	assert_int_equal(count_dir(QDIR_TMP), 0);
	assert_int_equal(queue_writer_write(w, body, strlen(body)), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	assert_int_equal(count_dir(QDIR_TMP), 0);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, env.id),
	    0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got,
	    &fd, &err), 0);
	assert_string_equal(got.id, env.id);
	back = read_all(fd, &blen);
	assert_int_equal(blen, strlen(body));
	assert_memory_equal(back, body, blen);
	assert_int_equal(st.st_size, got.data_off + (off_t)blen);
	free(back);
	close(fd);
	queue_envelope_free(&got);

	/* Finished: back to free/, under its id; a second time is harmless. */
	assert_int_equal(queue_move(env.id, QDIR_INCOMING, QDIR_ACTIVE), 0);
	assert_int_equal(queue_recycle(QDIR_ACTIVE, env.id), 0);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_FREE, env.id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(queue_recycle(QDIR_ACTIVE, env.id), 0);
	free(env.rcpt);
	free(w);
}

/* A file in free/ with a second name is not written over (the other name
 * would see the new message): it is dropped and a new file made. */
static void
test_reuse_refuses_linked(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct queue_pool	 pool;
	struct stat		 st;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	free_file("LINKED", 10, 2);
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 0);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	assert_int_equal(count_dir(QDIR_TMP), 1);
	assert_int_equal(stat("elsewhere", &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_size, 10);
	queue_writer_abort(w);
	assert_int_equal(count_dir(QDIR_TMP), 0);

	/* free/ was found empty: no new look until retry_ms. */
	assert_true(pool.retry_ms > 0);
	pool.retry_ms = LLONG_MAX;
	free_file("LATER", 10, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	queue_writer_abort(w);
	pool.retry_ms = 0;
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 1);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	/* Given up: left in free/, no message for anyone, unlocked. */
	queue_writer_abort(w);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	assert_int_equal(count_dir(QDIR_TMP), 0);
	unlink("elsewhere");
	free(env.rcpt);
	free(w);
}

/* A file somebody still has open (a delivery agent qmgr gave up on, still
 * reading the old message) is not written over: the reader goes on seeing
 * the old bytes, and the writer gets a new file. */
static void
test_reuse_refuses_open(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct queue_pool	 pool;
	char			 path[QUEUE_PATH_SIZE], c;
	ino_t			 ino;
	struct stat		 st;
	int			 reader;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	ino = free_file("BUSY", 10, 1);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_FREE, "BUSY"), 0);
	reader = open(path, O_RDONLY);
	assert_true(reader >= 0);
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 0);
	assert_int_equal(fstat(w->fd, &st), 0);
	assert_true(st.st_ino != ino);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	assert_int_equal(queue_writer_write(w, "new", 3), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(pread(reader, &c, 1, 0), 1);
	assert_int_equal(c, 'X');
	close(reader);
	free(env.rcpt);
	free(w);
}

/* active/<id>, size bytes long (a hole). */
static void
put_sized(const char *id, off_t size)
{
	char	 path[QUEUE_PATH_SIZE];
	int	 fd;

	assert_int_equal(queue_path(path, sizeof(path), QDIR_ACTIVE, id), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/* Only small files go to free/; a big one is removed. */
static void
test_recycle_size_limit(void **state)
{
	(void)state;
	put_sized("BIG", QUEUE_REUSE_MAX + 1);
	assert_int_equal(queue_recycle(QDIR_ACTIVE, "BIG"), 0);
	assert_int_equal(count_dir(QDIR_ACTIVE), 0);
	assert_int_equal(count_dir(QDIR_FREE), 0);
}

/* A size the caller knows is believed (no stat); -1 is looked up. */
static void
test_recycle_sized(void **state)
{
	(void)state;
	put_sized("SMALL", 0);
	assert_int_equal(queue_recycle_sized(QDIR_ACTIVE, "SMALL", 100), 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	put_sized("BIG", QUEUE_REUSE_MAX + 1);
	assert_int_equal(queue_recycle_sized(QDIR_ACTIVE, "BIG", -1), 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	put_sized("BIG2", 0);
	assert_int_equal(queue_recycle_sized(QDIR_ACTIVE, "BIG2",
	    QUEUE_REUSE_MAX + 1), 0);
	assert_int_equal(count_dir(QDIR_ACTIVE), 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
}

/* Write text as <dir>/<id>. */
static void
put(enum queue_dir d, const char *id, const char *text)
{
	close(put_file(d, id, text, strlen(text)));
}

/* Is <dir>/<id> there with exactly text (and one name)? */
static int
holds(enum queue_dir d, const char *id, const char *text)
{
	char		 path[QUEUE_PATH_SIZE], *p;
	struct stat	 st;
	size_t		 len;
	int		 ok;

	assert_int_equal(queue_path(path, sizeof(path), d, id), 0);
	if (stat(path, &st) < 0 || st.st_nlink != 1 ||
	    (p = read_path(path, &len)) == NULL)
		return 0;
	ok = len == strlen(text) && memcmp(p, text, len) == 0;
	free(p);
	return ok;
}

/* A move never replaces a file already under the name, with
 * RENAME_NOREPLACE and with the link()+unlink() used where the file
 * system lacks it. */
static void
test_move_noreplace(void **state)
{
	int	 fallback;

	(void)state;
	for (fallback = 0; fallback < 2; fallback++) {
		crash.no_renameat2 = fallback;
		put(QDIR_INCOMING, "DUP", "new");
		put(QDIR_ACTIVE, "DUP", "acknowledged");
		assert_int_equal(queue_move("DUP", QDIR_INCOMING, QDIR_ACTIVE), -1);
		assert_int_equal(errno, EEXIST);
		assert_true(holds(QDIR_INCOMING, "DUP", "new"));
		assert_true(holds(QDIR_ACTIVE, "DUP", "acknowledged"));
		assert_int_equal(queue_move("DUP", QDIR_ACTIVE, QDIR_DEFERRED), 0);
		assert_int_equal(queue_move("DUP", QDIR_INCOMING, QDIR_ACTIVE), 0);
		assert_true(holds(QDIR_ACTIVE, "DUP", "new"));
		assert_true(holds(QDIR_DEFERRED, "DUP", "acknowledged"));
		assert_int_equal(count_dir(QDIR_INCOMING), 0);
		assert_int_equal(queue_move("DUP", QDIR_INCOMING, QDIR_ACTIVE), -1);
		assert_int_equal(errno, ENOENT);
		/* Recycling onto a name taken in free/ removes the file. */
		put(QDIR_FREE, "DUP", "free");
		assert_int_equal(queue_recycle(QDIR_ACTIVE, "DUP"), 0);
		assert_int_equal(count_dir(QDIR_ACTIVE), 0);
		assert_true(holds(QDIR_FREE, "DUP", "free"));
		assert_int_equal(unlink("free/DUP"), 0);
		assert_int_equal(unlink("deferred/DUP"), 0);
	}
}

/* A crash between link() and unlink() of the fallback left files with two
 * names: the later one of each move stays, the earlier goes; other links
 * and other files of the same id are left alone. */
static void
test_links_repair(void **state)
{
	struct stat	 st;

	(void)state;
	put(QDIR_INCOMING, "A", "taken");
	assert_int_equal(link("incoming/A", "active/A"), 0);
	put(QDIR_TMP, "B", "committed");
	assert_int_equal(link("tmp/B", "incoming/B"), 0);
	put(QDIR_ACTIVE, "D", "finished");
	assert_int_equal(link("active/D", "free/D"), 0);
	put(QDIR_DEFERRED, "C", "one");
	put(QDIR_ACTIVE, "C", "another");
	assert_int_equal(link("deferred/C", "stray"), 0);
	assert_int_equal(queue_links_repair(), 3);
	assert_true(holds(QDIR_ACTIVE, "A", "taken"));
	assert_int_equal(count_dir(QDIR_INCOMING), 1);
	assert_true(holds(QDIR_INCOMING, "B", "committed"));
	assert_int_equal(count_dir(QDIR_TMP), 0);
	assert_true(holds(QDIR_ACTIVE, "D", "finished"));
	assert_int_equal(count_dir(QDIR_FREE), 0);
	assert_int_equal(stat("deferred/C", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(queue_links_repair(), 0);
	assert_int_equal(unlink("stray"), 0);
	assert_true(holds(QDIR_DEFERRED, "C", "one"));
	assert_true(holds(QDIR_ACTIVE, "C", "another"));
}

/* A commit that finds its name taken in incoming/ fails (the client gets
 * a temporary error) and leaves the acknowledged file as it was. */
static void
test_commit_noreplace(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));
	int			 fallback;

	(void)state;
	sample_env(&env, addrs, 1);
	for (fallback = 0; fallback < 2; fallback++) {
		crash.no_renameat2 = fallback;
		assert_int_equal(queue_writer_open(w, &env), 0);
		put(QDIR_INCOMING, w->id, "acknowledged");
		assert_int_equal(queue_writer_write(w, "second\n", 7), 0);
		assert_int_equal(queue_writer_commit(w), -1);
		assert_int_equal(errno, EEXIST);
		assert_true(holds(QDIR_INCOMING, w->id, "acknowledged"));
		queue_writer_abort(w);
		assert_int_equal(count_dir(QDIR_TMP), 0);
		/* The same with the group commit's halves. */
		assert_int_equal(queue_writer_open(w, &env), 0);
		put(QDIR_INCOMING, w->id, "acknowledged");
		assert_int_equal(queue_writer_sync(w), 0);
		assert_int_equal(queue_writer_rename(w), -1);
		assert_int_equal(errno, EEXIST);
		assert_true(holds(QDIR_INCOMING, w->id, "acknowledged"));
		queue_writer_abort(w);
		assert_int_equal(count_dir(QDIR_TMP), 0);
		assert_int_equal(count_dir(QDIR_INCOMING), 2 * fallback + 2);
	}
	free(env.rcpt);
	free(w);
}

/* Only files leaving active/ or deferred/ go to free/: those are the
 * directories a writer makes durable before it reuses a file. */
static void
test_recycle_sources(void **state)
{
	(void)state;
	put(QDIR_HOLD, "H1", "held");
	assert_int_equal(queue_recycle(QDIR_HOLD, "H1"), 0);
	assert_int_equal(count_dir(QDIR_HOLD), 0);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	put(QDIR_DEFERRED, "D1", "deferred");
	assert_int_equal(queue_recycle(QDIR_DEFERRED, "D1"), 0);
	assert_true(holds(QDIR_FREE, "D1", "deferred"));
}

static int
count_records(const struct queue_outcome *o, void *arg)
{
	(void)o;
	(*(int *)arg)++;
	return 0;
}

/* Issue 8, finding 5: a long old message's file reused for a short new
 * one.  At every point where a crash could stop the writer, the file must
 * be no message with the new id and the old tail, and the old name must
 * not be able to come back over new bytes: active/ is made durable (its
 * fsync) before the first byte of the file changes; the file is refused
 * until the writer has cut it and written the size; at its fsync it is
 * exactly the new message. */
static void
test_reuse_crash_order(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env, old, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct queue_pool	 pool;
	struct buf		 b;
	struct stat		 st;
	const char		*body = "Subject: short\n\nnew\n", *err = NULL;
	char			*head, *p, path[QUEUE_PATH_SIZE];
	size_t			 len, n;
	int			 i, fd, records = 0;

	(void)state;
	/* The old message: a real queue file whose text looks like outcome
	 * records, which must never be read as the new message's. */
	sample_env(&old, addrs, 1);
	strcpy(old.id, "OLDX");
	buf_init(&b, QUEUE_REUSE_MAX);
	for (i = 0; b.len < 48 * 1024; i++)
		assert_int_equal(buf_appendf(&b,
		    "outcome 0 D 1 - - forged %d\n", i), 0);
	old.data_len = (off_t)b.len;
	head = queue_envelope_format(&old, &len);
	assert_non_null(head);
	put(QDIR_ACTIVE, "OLDX", head);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_ACTIVE, "OLDX"), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	free(head);
	buf_free(&b);
	free(old.rcpt);
	assert_int_equal(queue_recycle(QDIR_ACTIVE, "OLDX"), 0);

	memset(&crash, 0, sizeof(crash));
	assert_int_equal(queue_path(crash.old_path, sizeof(crash.old_path),
	    QDIR_FREE, "OLDX"), 0);
	crash.old = read_path(crash.old_path, &crash.oldlen);
	assert_int_equal(stat(crash.old_path, &st), 0);
	crash.watch = st.st_ino;
	assert_int_equal(stat("active", &st), 0);
	crash.active = st.st_ino;

	memset(&pool, 0, sizeof(pool));
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 1);
	crash.id = w->id;
	crash.body = body;
	/* Before anything was written over the old bytes, active/ was
	 * durable without the old name. */
	assert_true(crash.settled >= 1);
	assert_int_equal(crash.settled_clean, crash.settled);

	/* A crash after the header, or after the message: new id, old tail,
	 * and refused. */
	p = read_path(w->wpath, &n);
	assert_false(parses(p, n, &got));
	assert_int_equal(queue_file_parse(p, n, &got, &err), -1);
	assert_string_equal(err, "unfinished file");
	free(p);
	/* The state after the message is written, before the cut, is looked
	 * at by ftruncate() above. */
	assert_int_equal(queue_writer_write(w, body, strlen(body)), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(crash.truncates, 1);
	assert_int_equal(crash.cut_refused, 1);
	assert_int_equal(crash.syncs, 1);
	assert_int_equal(crash.sync_exact, 1);
	assert_int_equal(count_dir(QDIR_ACTIVE), 0);

	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got,
	    &fd, &err), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_ino, crash.watch);
	assert_int_equal(got.data_len, (off_t)strlen(body));
	assert_int_equal(queue_outcome_read(fd, &got, count_records, &records), 0);
	assert_int_equal(records, 0);
	close(fd);
	queue_envelope_free(&got);
	free((char *)crash.old);
	memset(&crash, 0, sizeof(crash));
	free(env.rcpt);
	free(w);
}

/* One name in two pools (two smtpd processes read the same free/): the
 * file a writer has claimed in place is nobody else's, nor qmgr's to trim,
 * until that writer lets it go; after its commit the name is gone. */
static void
test_reuse_claim_is_exclusive(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct queue_pool	 pa, pb;
	struct stat		 st;
	ino_t			 ino;
	int			 dfd;

	(void)state;
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
	pa.owner_refills = pb.owner_refills = 1;
	pa.n = pb.n = 1;
	strcpy(pa.name[0], "SHARED");
	strcpy(pb.name[0], "SHARED");
	ino = free_file("SHARED", 10, 1);
	sample_env(&env, addrs, 1);
	dfd = open(queue_dir_name(QDIR_FREE), O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);

	assert_int_equal(queue_writer_open_reuse(a, &env, &pa), 0);
	assert_int_equal(a->reused, 1);
	assert_int_equal(queue_writer_open_reuse(b, &env, &pb), 0);
	assert_int_equal(b->reused, 0);		/* a new file */
	assert_int_equal(fstat(b->fd, &st), 0);
	assert_true(st.st_ino != ino);
	assert_int_equal(queue_free_remove(dfd, "SHARED"), 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	queue_writer_abort(b);

	/* Committed: moved out of free/ under the writer's lock; a stale
	 * name finds nothing, and trimming it removes nothing. */
	assert_int_equal(queue_writer_write(a, "x", 1), 0);
	assert_int_equal(queue_writer_commit(a), 0);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	pb.n = 1;
	assert_int_equal(queue_writer_open_reuse(b, &env, &pb), 0);
	assert_int_equal(b->reused, 0);
	queue_writer_abort(b);
	assert_int_equal(queue_free_remove(dfd, "SHARED"), 0);
	assert_int_equal(queue_free_remove(dfd, "../x"), -1);

	/* Let go (aborted): back to anyone, and trimmed. */
	free_file("LATER", 10, 1);
	pa.n = 1;
	strcpy(pa.name[0], "LATER");
	assert_int_equal(queue_writer_open_reuse(a, &env, &pa), 0);
	assert_int_equal(a->reused, 1);
	queue_writer_abort(a);
	assert_int_equal(queue_free_remove(dfd, "LATER"), 1);
	assert_int_equal(count_dir(QDIR_FREE), 0);
	close(dfd);
	free(env.rcpt);
	free(a);
	free(b);
}

/* The race the name check is for: writer A has claimed free/RACE; writer
 * B opens the same name (A still holds the lock); before B's lock, A
 * commits (acknowledged mail, now incoming/<A's id>) and lets go.  B's lock
 * then succeeds and nobody else has the file open, but it is no longer
 * free/RACE: B must pass it over, or it would write over A's message. */
static struct queue_writer	*race_a;

static void
race_commit_a(void)
{
	assert_int_equal(queue_writer_write(race_a, "mail of A\n", 10), 0);
	assert_int_equal(queue_writer_commit(race_a), 0);
}

static void
test_reuse_claim_after_commit(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env, got;
	struct queue_writer	*a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct queue_pool	 pb;
	struct stat		 st;
	const char		*err = NULL;
	char			 ida[QUEUE_ID_SIZE], *back;
	size_t			 blen;
	ino_t			 ino;
	int			 fd;

	(void)state;
	ino = free_file("RACE", 10, 1);
	sample_env(&env, addrs, 1);
	race_a = a;
	memset(&pb, 0, sizeof(pb));
	pb.owner_refills = 1;
	pb.n = 1;
	strcpy(pb.name[0], "RACE");
	assert_int_equal(queue_writer_open_reuse(a, &env, &pb), 0);
	assert_int_equal(a->reused, 1);
	pb.owner_refills = 1;
	pb.n = 1;
	strcpy(pb.name[0], "RACE");
	flock_hook = race_commit_a;
	assert_int_equal(queue_writer_open_reuse(b, &env, &pb), 0);
	assert_null(flock_hook);
	strcpy(ida, a->id);
	assert_int_equal(b->reused, 0);
	assert_int_equal(fstat(b->fd, &st), 0);
	assert_true(st.st_ino != ino);
	assert_int_equal(queue_writer_write(b, "mail of B\n", 10), 0);
	assert_int_equal(queue_writer_commit(b), 0);

	assert_int_equal(queue_file_open(QDIR_INCOMING, ida, O_RDONLY, &got,
	    &fd, &err), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_ino, ino);
	back = read_all(fd, &blen);
	assert_int_equal(blen, 10);
	assert_memory_equal(back, "mail of A\n", 10);
	free(back);
	close(fd);
	queue_envelope_free(&got);
	free(env.rcpt);
	free(a);
	free(b);
}

/* A crash between link() and unlink() of the fallback rename leaves a
 * file claimed in free/ with its old name there and its new one, under
 * another id, in incoming/: the start-up repair drops the free/ name. */
static void
test_links_repair_free(void **state)
{
	char		 from[QUEUE_PATH_SIZE], to[QUEUE_PATH_SIZE];
	struct stat	 st;

	(void)state;
	free_file("OLDNAME", 10, 1);
	assert_int_equal(queue_path(from, sizeof(from), QDIR_FREE, "OLDNAME"),
	    0);
	assert_int_equal(queue_path(to, sizeof(to), QDIR_INCOMING, "NEWNAME"),
	    0);
	assert_int_equal(link(from, to), 0);
	assert_int_equal(queue_links_repair(), 1);
	assert_int_equal(stat(from, &st), -1);
	assert_int_equal(stat(to, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(queue_links_repair(), 0);
}

/* A file is its writer's (locked) from its creation to its close, past
 * the rename into active/ and its directory fsync: qmgr leaves a file in
 * active/ alone while a failed commit may still take it back out. */
static void
test_locked_until_closed(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));

	(void)state;
	sample_env(&env, addrs, 1);
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(w->unlocked, 0);
	assert_int_equal(queue_writer_write(w, "x\n", 2), 0);
	assert_int_equal(queue_writer_sync(w), 0);
	assert_int_equal(queue_writer_rename_to(w, QDIR_ACTIVE), 0);
	assert_int_equal(queue_being_written(QDIR_ACTIVE, w->id), 1);
	assert_int_equal(queue_writer_withdraw(w), 0);	/* before the close */
	assert_int_equal(queue_being_written(QDIR_ACTIVE, w->id), -1);
	assert_int_equal(queue_writer_close(w), 0);

	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_sync(w), 0);
	assert_int_equal(queue_writer_rename_to(w, QDIR_ACTIVE), 0);
	assert_int_equal(queue_writer_close(w), 0);
	assert_int_equal(queue_being_written(QDIR_ACTIVE, w->id), 0);
	free(env.rcpt);
	free(w);
}

/* A pool its owner refills (smtpd, in a commit worker) is never refilled
 * by the writer, so taking a name costs no fsync: empty, the writer makes
 * a new file and leaves free/ alone.  queue_pool_refill() settles active/
 * before it returns the names; merged in (once, however often merged),
 * they are reused. */
static void
test_reuse_owner_refills(void **state)
{
	char			*addrs[] = { "a@example.org" };
	struct queue_envelope	 env;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct queue_pool	 pool, staged;
	struct stat		 st;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	memset(&staged, 0, sizeof(staged));
	pool.owner_refills = 1;
	memset(&crash, 0, sizeof(crash));
	crash.watch = free_file("OWN1", 10, 1);
	assert_int_equal(stat("active", &st), 0);
	crash.active = st.st_ino;
	sample_env(&env, addrs, 1);

	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 0);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	assert_int_equal(crash.settled, 0);
	queue_writer_abort(w);

	assert_int_equal(queue_pool_refill(&staged), 1);
	assert_int_equal(crash.settled, 1);
	queue_pool_merge(&pool, &staged);
	queue_pool_merge(&pool, &staged);
	assert_int_equal(pool.n, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 1);
	assert_int_equal(count_dir(QDIR_FREE), 1);
	queue_writer_abort(w);		/* OWN1 stays in free/ */

	/* Empty again: no look at free/ in line, whatever retry_ms says. */
	crash.watch = free_file("OWN2", 10, 1);
	assert_int_equal(queue_writer_open_reuse(w, &env, &pool), 0);
	assert_int_equal(w->reused, 0);
	assert_int_equal(count_dir(QDIR_FREE), 2);
	assert_int_equal(crash.settled, 1);
	queue_writer_abort(w);
	memset(&crash, 0, sizeof(crash));
	free(env.rcpt);
	free(w);
}

/* A refill takes the names of files this process wrote last before any
 * other's (each smtpd process then reuses its own files and seldom races
 * another for one); others fill what is left of the batch. */
static void
test_refill_prefers_own(void **state)
{
	struct queue_pool	 pool;
	char			 mine[QUEUE_ID_SIZE], other[QUEUE_ID_SIZE];
	int			 i, own = 0;

	(void)state;
	queue_id_new(mine);
	assert_true(queue_id_mine(mine));
	/* The same time and sequence, another pid (digits 11..15). */
	strlcpy(other, mine, sizeof(other));
	other[15] = other[15] == '0' ? '1' : '0';
	assert_false(queue_id_mine(other));
	assert_false(queue_id_mine("ABC"));
	free_file(mine, 10, 1);
	for (i = 0; i < QUEUE_POOL_BATCH + 10; i++) {
		snprintf(other + 16, sizeof(other) - 16, "%04d", i);
		free_file(other, 10, 1);
	}
	memset(&pool, 0, sizeof(pool));
	assert_int_equal(queue_pool_refill(&pool), QUEUE_POOL_BATCH);
	for (i = 0; i < pool.n; i++)
		own += strcmp(pool.name[i], mine) == 0;
	assert_int_equal(own, 1);
	/* Writers take from the end of the pool: ours is taken first. */
	assert_string_equal(pool.name[pool.n - 1], mine);
}

#define QT(f)	cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		QT(test_dirs),
		QT(test_links_repair),
		QT(test_ids),
		QT(test_id_time),
		QT(test_round_trip),
		QT(test_commit_close_error),
		QT(test_mark_and_move),
		QT(test_abort),
		QT(test_corrupt),
		QT(test_addr_limit),
		QT(test_parse_prefixes),
		QT(test_parse_mutations),
		QT(test_big_header),
		QT(test_format),
		QT(test_reuse),
		QT(test_reuse_refuses_linked),
		QT(test_reuse_refuses_open),
		QT(test_recycle_size_limit),
		QT(test_recycle_sized),
		QT(test_move_noreplace),
		QT(test_commit_noreplace),
		QT(test_recycle_sources),
		QT(test_reuse_crash_order),
		QT(test_reuse_claim_is_exclusive),
		QT(test_locked_until_closed),
		QT(test_reuse_claim_after_commit),
		QT(test_links_repair_free),
		QT(test_reuse_owner_refills),
		QT(test_refill_prefers_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
