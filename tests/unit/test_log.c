/*
 * Unit tests for common/log.c's stderr lines: "ident[pid]: [label: ]text"
 * put together without printf, control characters replaced, an overlong
 * text cut and the line still ended by a newline, the ident and pid as
 * log_open() and a fork set them, and a batch written whole by log_flush().
 */
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* Run fn with stderr on a pipe; what it wrote, NUL-terminated, in out. */
static size_t
capture(void (*fn)(void), char *out, size_t cap)
{
	int	 p[2], saved;
	size_t	 n = 0;
	ssize_t	 r;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	fn();
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	while (n + 1 < cap && (r = read(p[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	close(p[0]);
	out[n] = '\0';
	return n;
}

/* Before log_open() (the program's first test: nothing opened yet), lines
 * go to stderr under the default ident. */
static void
emit_unopened(void)
{
	log_warn("early %s", "line");
}

static void
test_before_open(void **state)
{
	char	 got[256], want[256];

	(void)state;
	capture(emit_unopened, got, sizeof(got));
	snprintf(want, sizeof(want), "tern[%ld]: warning: early line\n",
	    (long)getpid());
	assert_string_equal(got, want);
}

static void
emit_plain(void)
{
	log_open("unit", 1);
	log_info("hello %d", 42);
	log_warn("careful");
	log_error("bad\r\n\033[1mline");
	log_qid(LOG_LEVEL_INFO, "ABC", "from=<%s>", "a@b");
}

static void
test_line_format(void **state)
{
	char	 got[4096], want[4096];
	long	 pid = (long)getpid();

	(void)state;
	capture(emit_plain, got, sizeof(got));
	snprintf(want, sizeof(want),
	    "unit[%ld]: hello 42\n"
	    "unit[%ld]: warning: careful\n"
	    "unit[%ld]: error: bad???[1mline\n"
	    "unit[%ld]: ABC: from=<a@b>\n", pid, pid, pid, pid);
	assert_string_equal(got, want);
}

static void
emit_long(void)
{
	char	*big = malloc(5000);

	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_open("unit", 1);
	log_warn("%s", big);
	free(big);
}

static void
test_long_line(void **state)
{
	char	 got[8192], prefix[64];
	size_t	 n, pl, i;

	(void)state;
	n = capture(emit_long, got, sizeof(got));
	pl = (size_t)snprintf(prefix, sizeof(prefix), "unit[%ld]: warning: ",
	    (long)getpid());
	assert_true(n > pl + 1000);
	assert_memory_equal(got, prefix, pl);
	assert_int_equal(got[n - 1], '\n');
	for (i = pl; i < n - 1; i++)
		assert_int_equal(got[i], 'x');
	/* One line: the text was cut, not continued on another. */
	assert_ptr_equal(strchr(got, '\n'), got + n - 1);
}

static void
emit_renamed(void)
{
	log_open("first", 1);
	log_open("second", 1);
	log_info("one");
}

static void
test_reopen_ident(void **state)
{
	char	 got[256], want[256];

	(void)state;
	capture(emit_renamed, got, sizeof(got));
	snprintf(want, sizeof(want), "second[%ld]: one\n", (long)getpid());
	assert_string_equal(got, want);
}

/* A child's lines carry its own pid (the prefix is made again at fork). */
static void
emit_forked(void)
{
	pid_t	 pid;
	int	 status;

	log_open("unit", 1);
	if ((pid = fork()) == 0) {
		log_info("child");
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	log_info("parent");
}

static void
test_fork_pid(void **state)
{
	char	 got[512], want[512];
	long	 child;

	(void)state;
	capture(emit_forked, got, sizeof(got));
	child = strtol(strchr(got, '[') + 1, NULL, 10);
	assert_true(child != (long)getpid());
	snprintf(want, sizeof(want), "unit[%ld]: child\nunit[%ld]: parent\n",
	    child, (long)getpid());
	assert_string_equal(got, want);
}

static void
no_wake(void *arg)
{
	(void)arg;
}

/* Batched lines wait for log_flush() and come out whole and in order; a
 * warning writes what waited first. */
static void
emit_batched(void)
{
	log_open("unit", 1);
	log_batch(no_wake, NULL);
	log_info("a");
	log_info("b");
	log_warn("c");
	log_info("d");
	log_flush();
	log_batch(NULL, NULL);
}

static void
test_batch(void **state)
{
	char	 got[512], want[512];
	long	 pid = (long)getpid();

	(void)state;
	capture(emit_batched, got, sizeof(got));
	snprintf(want, sizeof(want), "unit[%ld]: a\nunit[%ld]: b\n"
	    "unit[%ld]: warning: c\nunit[%ld]: d\n", pid, pid, pid, pid);
	assert_string_equal(got, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_open),	/* must be first */
		cmocka_unit_test(test_line_format),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_reopen_ident),
		cmocka_unit_test(test_fork_pid),
		cmocka_unit_test(test_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
