/*
 * Unit tests for smtpd/smtpd_commit.c, the group commit: a message is
 * acknowledged (result 0) exactly when its file and its name in active/
 * are durable.  close() and fsync() are replaced in this program (the
 * library's calls bind to these definitions, which then make the system
 * call) so that a test can make the close after a durable commit fail (the
 * message must still stand: a 451 would have the client send it again, a
 * duplicate) or the fsync of active/ fail (the message must fail and its
 * file leave active/).
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "queue.h"
#include "queue_file.h"
#include "queue_writer.h"
#include "smtpd/smtpd_commit.h"

/* What the replaced calls make fail: any descriptor of the file with this
 * inode (close), or of the active/ directory (fsync). */
static struct {
	dev_t	 close_dev;
	ino_t	 close_ino;
	int	 close_failed;
	int	 fail_active_fsync;
	ino_t	 active_ino;
	int	 active_failed;
} hook;

/* Is fd the file dev/ino (0 if fstat fails, which no file matches)? */
static int
fd_is(int fd, dev_t dev, ino_t ino)
{
	struct stat	 st;

	return ino != 0 && fstat(fd, &st) == 0 && st.st_dev == dev &&
	    st.st_ino == ino;
}

static ino_t
fd_ino(int fd, dev_t *dev)
{
	struct stat	 st;

	if (fstat(fd, &st) != 0)
		return 0;
	*dev = st.st_dev;
	return st.st_ino;
}

/* Fails once, for the marked file's descriptor, after really closing it. */
int
close(int fd)
{
	int	 fail = fd_is(fd, hook.close_dev, hook.close_ino);
	int	 r = (int)syscall(SYS_close, fd);

	if (fail && r == 0) {
		hook.close_ino = 0;
		hook.close_failed++;
		errno = EIO;
		return -1;
	}
	return r;
}

int
fsync(int fd)
{
	struct stat	 st;

	if (hook.fail_active_fsync && fstat(fd, &st) == 0 &&
	    st.st_ino == hook.active_ino && S_ISDIR(st.st_mode)) {
		hook.active_failed++;
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
	memset(&hook, 0, sizeof(hook));
}

struct outcome {
	int	 called;
	int	 result;
	int	 err;
};

static void
committed(void *arg, int result, int err)
{
	struct outcome	*o = arg;

	o->called++;
	o->result = result;
	o->err = err;
}

/* A message written to a new queue file, ready for the commit. */
static struct queue_writer *
one_message(void)
{
	static char		 rcpt[] = "a@example.org";
	struct queue_writer	*w = calloc(1, sizeof(*w));
	struct queue_envelope	 env;

	assert_non_null(w);
	memset(&env, 0, sizeof(env));
	env.arrival = 1700000000;
	env.sender = "";
	env.client = "192.0.2.1";
	env.helo = "client.example";
	env.nrcpt = 1;
	env.rcpt = calloc(1, sizeof(*env.rcpt));
	assert_non_null(env.rcpt);
	env.rcpt[0].addr = rcpt;
	env.rcpt[0].status = RCPT_PENDING;
	assert_int_equal(queue_writer_open(w, &env), 0);
	free(env.rcpt);
	assert_int_equal(queue_writer_write(w, "Subject: t\n\nbody\n", 17), 0);
	return w;
}

/* Commit w into active/ and run the event loop until done (bounded);
 * asserts nothing, for a caller that has stderr redirected. */
static void
commit_run(struct queue_writer *w, struct outcome *o)
{
	struct event_base	*base = event_base_new();
	struct smtpd_commit	*c;
	int			 i;

	assert_non_null(base);
	c = smtpd_commit_new(base, 2);
	smtpd_commit_submit(c, w, QDIR_ACTIVE, committed, o);
	for (i = 0; i < 1000 && o->called == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	smtpd_commit_free(c);
	event_base_free(base);
}

static void
commit_one(struct queue_writer *w, struct outcome *o)
{
	commit_run(w, o);
	assert_int_equal(o->called, 1);
}

static int
in_active(const char *id)
{
	char		 path[QUEUE_PATH_SIZE];
	struct stat	 st;

	assert_int_equal(queue_path(path, sizeof(path), QDIR_ACTIVE, id), 0);
	return stat(path, &st) == 0;
}

static void
test_commit_ok(void **state)
{
	struct queue_writer	*w = one_message();
	struct outcome		 o = { 0, -1, -1 };

	(void)state;
	commit_one(w, &o);
	assert_int_equal(o.result, 0);
	assert_int_equal(o.err, 0);
	assert_true(in_active(w->id));
	free(w);
}

/* The close after a durable commit fails: the message stands, and the
 * event loop logs the error with the message's id. */
static void
test_close_error_after_commit(void **state)
{
	struct queue_writer	*w = one_message();
	struct outcome		 o = { 0, -1, -1 };
	char			 logged[1024], want[256];
	int			 p[2], saved;
	ssize_t			 n;

	(void)state;
	hook.close_ino = fd_ino(w->fd, &hook.close_dev);
	assert_true(hook.close_ino != 0);
	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0 && dup2(p[1], STDERR_FILENO) >= 0);
	commit_run(w, &o);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(p[1]);
	n = read(p[0], logged, sizeof(logged) - 1);
	close(p[0]);
	assert_true(n > 0);
	logged[n] = '\0';
	snprintf(want, sizeof(want), "warning: %s: queue file close after its "
	    "commit: %s\n", w->id, strerror(EIO));
	assert_int_equal(o.called, 1);
	assert_non_null(strstr(logged, want));
	assert_int_equal(hook.close_failed, 1);
	assert_int_equal(o.result, 0);
	assert_int_equal(o.err, EIO);
	assert_true(in_active(w->id));
	free(w);
}

/* The fsync of active/ fails: the message fails and leaves active/, so
 * that the 451 is true. */
static void
test_dir_fsync_error(void **state)
{
	struct queue_writer	*w = one_message();
	struct outcome		 o = { 0, -1, -1 };
	struct stat		 st;

	(void)state;
	assert_int_equal(stat(queue_dir_name(QDIR_ACTIVE), &st), 0);
	hook.active_ino = st.st_ino;
	hook.fail_active_fsync = 1;
	commit_one(w, &o);
	assert_true(hook.active_failed >= 1);
	assert_int_equal(o.result, -1);
	assert_int_equal(o.err, EIO);
	assert_false(in_active(w->id));
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_ok, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_close_error_after_commit,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_dir_fsync_error, setup_dir,
		    teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
