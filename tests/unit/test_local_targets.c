/*
 * Unit tests for deliver/local_targets.c, a recipient's growable, bounded
 * list of targets: growth up to the bound and not beyond, each target
 * once (an owner's uid tells commands apart), merging with the bound,
 * owners copied, empty strings shared, and freeing that leaves an empty
 * list to use again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/local_targets.h"

static void
test_grow_to_bound(void **state)
{
	struct lx_result	 r;
	char			 a[32];
	int			 i;

	(void)state;
	lx_result_init(&r, 1000);
	assert_int_equal(r.n, 0);
	assert_null(r.target);
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "m%d@vdomain.test", i);
		assert_int_equal(lx_result_add(&r, LX_REMOTE, a, NULL, NULL,
		    NULL), 1);
		assert_true(r.cap >= r.n && r.cap <= 1000);
	}
	assert_int_equal(r.n, 1000);
	assert_int_equal(r.cap, 1000);
	/* full: a new one is refused, one held already is still "there" */
	assert_int_equal(lx_result_add(&r, LX_REMOTE, "new@x", NULL, NULL,
	    NULL), -1);
	assert_int_equal(lx_result_add(&r, LX_REMOTE, "m999@vdomain.test",
	    NULL, NULL, NULL), 0);
	assert_string_equal(r.target[999].text, "m999@vdomain.test");
	lx_result_free(&r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cap, 0);
	assert_null(r.target);
	/* usable again, same bound */
	assert_int_equal(r.max, 1000);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "alice", NULL, NULL,
	    NULL), 1);
	lx_result_free(&r);
}

static void
test_once(void **state)
{
	struct lx_owner	 o1, o2;
	struct lx_result r;

	(void)state;
	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	o1.uid = 65534;
	snprintf(o1.home, sizeof(o1.home), "/nonexistent");
	o2.uid = 1000;
	lx_result_init(&r, 10);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "bob", "tag", "owner-l",
	    NULL), 1);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "bob", NULL, NULL,
	    NULL), 0);
	/* the same text as another kind is another target */
	assert_int_equal(lx_result_add(&r, LX_REMOTE, "bob", NULL, NULL,
	    NULL), 1);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, "/bin/x", NULL, NULL,
	    &o1), 1);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, "/bin/x", NULL, NULL,
	    &o1), 0);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, "/bin/x", NULL, NULL,
	    &o2), 1);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.target[0].ext, "tag");
	assert_string_equal(r.target[0].errors_to, "owner-l");
	assert_null(r.target[0].owner);
	assert_string_equal(r.target[1].ext, "");
	assert_string_equal(r.target[1].errors_to, "");
	/* the owner is a copy, not the caller's record */
	assert_non_null(r.target[2].owner);
	assert_true(r.target[2].owner != &o1);
	assert_string_equal(r.target[2].owner->home, "/nonexistent");
	assert_int_equal(r.target[3].owner->uid, 1000);
	lx_result_free(&r);
}

static void
test_merge(void **state)
{
	struct lx_result	 to, from;
	char			 a[16];
	int			 i;

	(void)state;
	lx_result_init(&to, 5);
	lx_result_init(&from, 100);
	assert_int_equal(lx_result_add(&to, LX_MAILBOX, "a", NULL, NULL,
	    NULL), 1);
	assert_int_equal(lx_result_add(&from, LX_MAILBOX, "a", NULL, NULL,
	    NULL), 1);
	assert_int_equal(lx_result_add(&from, LX_MAILBOX, "b", "x", NULL,
	    NULL), 1);
	assert_int_equal(lx_result_merge(&to, &from), 0);
	assert_int_equal(to.n, 2);
	assert_string_equal(to.target[1].text, "b");
	assert_string_equal(to.target[1].ext, "x");
	assert_int_equal(from.n, 0);
	assert_null(from.target);
	/* over to's bound: what fits stays, the rest is freed, -1 */
	for (i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "u%d", i);
		assert_int_equal(lx_result_add(&from, LX_MAILBOX, a, NULL,
		    NULL, NULL), 1);
	}
	assert_int_equal(lx_result_merge(&to, &from), -1);
	assert_int_equal(to.n, 5);
	assert_string_equal(to.target[4].text, "u2");
	assert_int_equal(from.n, 0);
	assert_null(from.target);
	lx_result_free(&to);
	lx_result_free(&from);
}

/* A target is a few pointers: a list at the default bound is small. */
static void
test_small(void **state)
{
	(void)state;
	assert_true(sizeof(struct lx_target) <= 48);
}

static void
test_bound_at_least_one(void **state)
{
	struct lx_result	 r;

	(void)state;
	lx_result_init(&r, 0);
	assert_int_equal(r.max, 1);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "a", NULL, NULL,
	    NULL), 1);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "b", NULL, NULL,
	    NULL), -1);
	lx_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_to_bound),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_bound_at_least_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
