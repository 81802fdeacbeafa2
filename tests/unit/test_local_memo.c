/*
 * Unit tests for deliver/local_memo.c: within a batch an account is looked
 * up in the database once, found or not; lookup errors are not kept; a
 * .forward found absent is remembered only for an account looked up; a
 * reset forgets everything; past its bound the memo asks the database;
 * a NULL memo remembers nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deliver/deliver.h"
#include "fake_passwd.h"

static void
test_found_once(void **state)
{
	struct fake_db		 db = { fake_users, 0, 0, "" };
	struct local_memo	*m = local_memo_new(fake_lookup, &db);
	struct local_user	 u;
	int			 i;

	(void)state;
	for (i = 0; i < 3; i++) {
		memset(&u, 0, sizeof(u));
		assert_int_equal(local_memo_getpw("alice", &u, m), 1);
		assert_string_equal(u.name, "alice");
		assert_string_equal(u.home, "/home/alice");
		assert_int_equal(u.uid, 1001);
		assert_int_equal(u.gid, 1002);
		assert_int_equal(local_memo_getpw("nobody-here", &u, m), 0);
	}
	assert_int_equal(db.calls, 2);
	assert_string_equal(db.asked, "alice nobody-here");
	local_memo_reset(m);
	assert_int_equal(local_memo_getpw("alice", &u, m), 1);
	assert_int_equal(db.calls, 3);
	local_memo_free(m);
}

static void
test_errors_not_kept(void **state)
{
	struct fake_db		 db = { fake_users, EIO, 0, "" };
	struct local_memo	*m = local_memo_new(fake_lookup, &db);
	struct local_user	 u;

	(void)state;
	assert_int_equal(local_memo_getpw("alice", &u, m), -1);
	assert_int_equal(errno, EIO);
	db.fail = 0;
	assert_int_equal(local_memo_getpw("alice", &u, m), 1);
	assert_int_equal(local_memo_getpw("alice", &u, m), 1);
	assert_int_equal(db.calls, 2);
	local_memo_free(m);
}

static void
test_no_forward(void **state)
{
	struct fake_db		 db = { fake_users, 0, 0, "" };
	struct local_memo	*m = local_memo_new(fake_lookup, &db);
	struct local_user	 u;

	(void)state;
	/* Only for an account the batch looked up. */
	local_memo_set_no_forward(m, "alice");
	assert_int_equal(local_memo_no_forward(m, "alice"), 0);
	assert_int_equal(local_memo_getpw("alice", &u, m), 1);
	assert_int_equal(local_memo_getpw("root", &u, m), 1);
	assert_int_equal(local_memo_no_forward(m, "alice"), 0);
	local_memo_set_no_forward(m, "alice");
	assert_int_equal(local_memo_no_forward(m, "alice"), 1);
	assert_int_equal(local_memo_no_forward(m, "root"), 0);
	local_memo_reset(m);
	assert_int_equal(local_memo_no_forward(m, "alice"), 0);
	assert_int_equal(local_memo_no_forward(NULL, "alice"), 0);
	local_memo_set_no_forward(NULL, "alice");
	local_memo_free(m);
}

static void
test_bounded(void **state)
{
	struct fake_db		 db = { fake_users, 0, 0, "" };
	struct local_memo	*m = local_memo_new(fake_lookup, &db);
	struct local_user	 u;
	char			 name[32];
	int			 i, calls;

	(void)state;
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		assert_int_equal(local_memo_getpw(name, &u, m), 0);
	}
	assert_int_equal(db.calls, 100);
	/* The first ones are still known, the later ones are asked again. */
	calls = db.calls;
	assert_int_equal(local_memo_getpw("x0", &u, m), 0);
	assert_int_equal(db.calls, calls);
	assert_int_equal(local_memo_getpw("x99", &u, m), 0);
	assert_int_equal(db.calls, calls + 1);
	local_memo_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_once),
		cmocka_unit_test(test_errors_not_kept),
		cmocka_unit_test(test_no_forward),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
