/*
 * Unit tests for common/daemon.c's signal set-up: a process that holds a
 * write lease, taken as the queue writer takes it (F_SETLEASE, F_WRLCK on a
 * file of its own), survives another process opening the file (the kernel
 * then sends the holder SIGIO).  The control case shows that without
 * daemon_signals() the same lease break kills the holder, so the test can
 * fail.  Each holder runs in a child process, so a death is a result here,
 * not a crash of the test.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"

/* Holder exit codes other than 0 (survived). */
#define HOLDER_NO_LEASE	3	/* leases unsupported here: skip */
#define HOLDER_FAILED	4

/* Open path from another process (non-blocking: the open breaks the lease
 * and fails with EWOULDBLOCK instead of waiting for the holder). */
static int
open_elsewhere(const char *path)
{
	int	 status;
	pid_t	 pid;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_NONBLOCK);

		_exit(fd < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* In a child: set signals up (or not), take the lease, have it broken,
 * drop it.  Returns the child's wait status. */
static int
lease_holder(const char *path, int daemon_like)
{
	int	 status, fd;
	pid_t	 pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (daemon_like)
			daemon_signals();
		else
			signal(SIGIO, SIG_DFL);
		if ((fd = open(path, O_RDWR)) < 0)
			_exit(HOLDER_FAILED);
		if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
			_exit(HOLDER_NO_LEASE);
		if (open_elsewhere(path) < 0)
			_exit(HOLDER_FAILED);
		/* The signal is sent when the lease breaks; make sure it has
		 * been delivered before we report survival. */
		(void)fcntl(fd, F_SETLEASE, F_UNLCK);
		(void)getpid();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int
holder_file(char *path, size_t len)
{
	int	 fd;

	snprintf(path, len, "/tmp/tern-lease-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static void
test_lease_break_spares_daemon(void **state)
{
	char	 path[64];
	int	 status;

	(void)state;
	holder_file(path, sizeof(path));
	status = lease_holder(path, 1);
	unlink(path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == HOLDER_NO_LEASE)
		skip();
	if (WIFSIGNALED(status))
		fail_msg("lease holder killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The mechanism is real: the default action of SIGIO kills the holder. */
static void
test_lease_break_kills_by_default(void **state)
{
	char	 path[64];
	int	 status;

	(void)state;
	holder_file(path, sizeof(path));
	status = lease_holder(path, 0);
	unlink(path);
	if (WIFEXITED(status) && WEXITSTATUS(status) == HOLDER_NO_LEASE)
		skip();
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGIO);
}

static void
test_signals_ignored(void **state)
{
	struct sigaction	 sa;

	(void)state;
	daemon_signals();
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
	assert_int_equal(sigaction(SIGIO, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_break_spares_daemon),
		cmocka_unit_test(test_lease_break_kills_by_default),
		cmocka_unit_test(test_signals_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
