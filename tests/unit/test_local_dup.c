/*
 * Unit tests for deliver/local_dup.c, a message's duplicate filter of
 * targets: a key made once is found with its copy's outcome; keys tell
 * kinds, ids and senders apart and fold a remote domain's case, not the
 * local part's; the filter grows past its first table and remembers no
 * more than its limit (then a target is made again: never lost); a
 * missing filter (NULL) filters nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "deliver/deliver.h"

static char *
key_of(enum lx_kind kind, const char *text, uid_t uid, const char *sender)
{
	struct buf	 b;
	char		*k;

	buf_init(&b, LOCAL_DUP_KEY_MAX);
	assert_int_equal(local_dup_key(&b, kind, text, uid, sender), 0);
	k = strdup(buf_str(&b));
	buf_free(&b);
	return k;
}

static int
same_key(enum lx_kind k1, const char *t1, uid_t u1, const char *s1,
    enum lx_kind k2, const char *t2, uid_t u2, const char *s2)
{
	char	*a = key_of(k1, t1, u1, s1), *b = key_of(k2, t2, u2, s2);
	int	 same = strcmp(a, b) == 0;

	free(a);
	free(b);
	return same;
}

static void
test_keys(void **state)
{
	struct buf	 b;

	(void)state;
	assert_true(same_key(LX_REMOTE, "Someone@Remote.TEST", 0, "s@x",
	    LX_REMOTE, "Someone@remote.test", 0, "s@x"));
	assert_false(same_key(LX_REMOTE, "someone@remote.test", 0, "s@x",
	    LX_REMOTE, "Someone@remote.test", 0, "s@x"));
	assert_false(same_key(LX_REMOTE, "a@b", 0, "s@x", LX_REMOTE, "a@b", 0,
	    "owner-l@here"));
	assert_true(same_key(LX_REMOTE, "a@b", 0, NULL, LX_REMOTE, "a@b", 0,
	    ""));
	assert_false(same_key(LX_COMMAND, "/bin/x", 1000, NULL, LX_COMMAND,
	    "/bin/x", 65534, NULL));
	assert_false(same_key(LX_COMMAND, "/tmp/f", 1000, NULL, LX_FILE,
	    "/tmp/f", 1000, NULL));
	/* an mbox file and a /file of the same path and ids: one file */
	assert_true(same_key(LX_MAILBOX, "/var/mail/u", 1000, NULL, LX_FILE,
	    "/var/mail/u", 1000, NULL));
	buf_init(&b, LOCAL_DUP_KEY_MAX);
	assert_int_equal(local_dup_key(&b, LX_VIRTUAL, "a@v", 0, NULL), -1);
	buf_free(&b);
	/* too long for the key: no key (the target is simply not filtered) */
	buf_init(&b, 16);
	assert_int_equal(local_dup_key(&b, LX_COMMAND,
	    "/a/very/long/command/line", 0, NULL), -1);
	buf_free(&b);
}

static void
test_find_add(void **state)
{
	struct local_dup		*d = local_dup_new(1000);
	struct deliver_result		 r;
	const struct deliver_result	*got;
	const char			*by = NULL, *rcpt = "user+1@localhost";

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_null(local_dup_find(d, "R\ns\nsomeone@remote.test", NULL));
	deliver_result_set(&r, DELIVER_OK, "2.0.0", "forwarded as %s",
	    "ABC123");
	assert_int_equal(local_dup_add(d, "R\ns\nsomeone@remote.test", &r,
	    rcpt), 1);
	got = local_dup_find(d, "R\ns\nsomeone@remote.test", &by);
	assert_non_null(got);
	assert_ptr_equal(by, rcpt);	/* whose copy it is, for the log */
	assert_int_equal(got->status, DELIVER_OK);
	assert_string_equal(got->text, "forwarded as ABC123");
	assert_null(local_dup_find(d, "R\ns\nother@remote.test", NULL));
	/* a deferral is remembered too: the others defer with it */
	deliver_result_set(&r, DELIVER_DEFER, "4.3.0", "later");
	assert_int_equal(local_dup_add(d, "C\n1\n/bin/x", &r, "a@x"), 1);
	assert_int_equal(local_dup_find(d, "C\n1\n/bin/x", NULL)->status,
	    DELIVER_DEFER);
	local_dup_free(d);
	/* no filter: nothing found, nothing kept */
	assert_null(local_dup_find(NULL, "x", NULL));
	assert_int_equal(local_dup_add(NULL, "x", &r, "a@x"), 0);
	local_dup_free(NULL);
}

static void
test_limit_and_growth(void **state)
{
	struct local_dup	*d = local_dup_new(1000);
	struct deliver_result	 r;
	char			 k[64];
	int			 i;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "R\n\nm%d@remote.test", i);
		deliver_result_set(&r, DELIVER_OK, "2.0.0", "copy %d", i);
		assert_int_equal(local_dup_add(d, k, &r, "a@x"), 1);
	}
	/* full: a new key is not remembered (made again), old ones stay */
	assert_int_equal(local_dup_add(d, "R\n\nnew@remote.test", &r,
	    "a@x"), 0);
	assert_null(local_dup_find(d, "R\n\nnew@remote.test", NULL));
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "R\n\nm%d@remote.test", i);
		snprintf(k + 32, 32, "copy %d", i);
		assert_non_null(local_dup_find(d, k, NULL));
		assert_string_equal(local_dup_find(d, k, NULL)->text, k + 32);
	}
	local_dup_free(d);
	/* 0 is no limit, as Postfix's duplicate_filter_limit = 0 */
	d = local_dup_new(0);
	for (i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "R\n\nm%d@remote.test", i);
		assert_int_equal(local_dup_add(d, k, &r, "a@x"), 1);
	}
	assert_non_null(local_dup_find(d, "R\n\nm2999@remote.test", NULL));
	local_dup_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_find_add),
		cmocka_unit_test(test_limit_and_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
