/*
 * Unit tests for common/queue_mark.c, the record a transport keeps of each
 * delivery in the queue file: a request's recipients matched to the
 * file's lines (in order, each line once, a pending line before a finished
 * one of the same address, a stranger matched to none), the mark written
 * to the file's status byte and to the envelope, and a recipient already
 * marked seen as done.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "queue_mark.h"

static const char HEAD[] =
    "tern-queue 2\nid 1J17AAAAAAAAAAAA0000\ntime 1700000000\n"
    "size 00000000000000000005\nfrom a@example.org\nclient 127.0.0.1\n"
    "helo h\nbody \nsmtputf8 0\nret \nenvid \n"
    "rcpt D x@example.org\norcpt \nnotify \n"
    "rcpt P x@example.org\norcpt \nnotify \n"
    "rcpt P y@example.org\norcpt \nnotify SUCCESS\n"
    "data\nbody\n";

static int
load(struct queue_envelope *env, char *path)
{
	const char	*err = NULL;
	int		 fd;

	strcpy(path, "/tmp/tern-mark-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, HEAD, sizeof(HEAD) - 1),
	    (ssize_t)(sizeof(HEAD) - 1));
	if (queue_file_read(fd, env, &err) != 0)
		fail_msg("queue_file_read: %s", err ? err : "?");
	return fd;
}

static void
test_match(void **state)
{
	struct queue_envelope	 env;
	const char		*req[] = { "x@example.org", "y@example.org",
				    "x@example.org", "z@example.org" };
	char			 path[64];
	int			*line, fd;

	(void)state;
	fd = load(&env, path);
	line = queue_mark_match(&env, env.id, req, 4);
	assert_int_equal(line[0], 1);	/* the pending x first */
	assert_int_equal(line[1], 2);
	assert_int_equal(line[2], 0);	/* then the delivered one */
	assert_int_equal(line[3], -1);	/* not in the file */
	assert_false(queue_mark_done(&env, line, 0));
	assert_true(queue_mark_done(&env, line, 2));
	assert_false(queue_mark_done(&env, line, 3));
	free(line);
	queue_envelope_free(&env);
	close(fd);
	unlink(path);
}

static void
test_mark(void **state)
{
	struct queue_envelope	 env, again;
	const char		*req[] = { "y@example.org", "z@example.org" };
	const char		*err = NULL;
	char			 path[64];
	int			*line, fd;

	(void)state;
	fd = load(&env, path);
	line = queue_mark_match(&env, env.id, req, 2);
	assert_int_equal(queue_mark_delivered(fd, &env, env.id, line, 0), 0);
	assert_int_equal(env.rcpt[2].status, RCPT_DELIVERED);
	assert_true(queue_mark_done(&env, line, 0));
	assert_int_equal(queue_mark_delivered(fd, &env, env.id, line, 0), 0);
	assert_int_equal(queue_mark_delivered(fd, &env, env.id, line, 1), -1);
	/* In the file itself, and nothing else changed. */
	assert_int_equal(queue_file_read(fd, &again, &err), 0);
	assert_int_equal(again.rcpt[0].status, RCPT_DELIVERED);
	assert_int_equal(again.rcpt[1].status, RCPT_PENDING);
	assert_int_equal(again.rcpt[2].status, RCPT_DELIVERED);
	assert_int_equal(again.data_len, 5);
	queue_envelope_free(&again);
	free(line);
	queue_envelope_free(&env);
	close(fd);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
