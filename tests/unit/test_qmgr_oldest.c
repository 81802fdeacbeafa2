/*
 * test_qmgr_oldest - the bounded set of the oldest queue ids of a
 * directory pass (qmgr/qmgr_oldest.c): it keeps exactly the cap smallest
 * ids offered in any order, counts what it dropped, hands them out oldest
 * first, grows its memory only with what it keeps and gives it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qmgr/qmgr.h"

/* Ids of fixed width, as queue_id_new() makes them: "ID00042" etc. */
static void
id_of(char *buf, size_t len, int n)
{
	snprintf(buf, len, "ID%05d", n);
}

/* A permutation of 0..n-1 that is not sorted either way. */
static int
perm(int i, int n)
{
	return (int)(((long long)i * 7919) % n);
}

static void
test_keeps_the_oldest(void **state)
{
	struct qmgr_oldest	 o;
	char			 id[QUEUE_ID_SIZE];
	const char		*p;
	int			 i, n = 1000, cap = 37;

	(void)state;
	qmgr_oldest_init(&o, cap);
	assert_null(qmgr_oldest_next(&o));	/* not sorted yet */
	for (i = 0; i < n; i++) {
		id_of(id, sizeof(id), perm(i, n));
		(void)qmgr_oldest_offer(&o, id);
	}
	assert_int_equal(o.n, cap);
	assert_int_equal(o.dropped, n - cap);
	assert_int_equal(qmgr_oldest_left(&o), 0);
	qmgr_oldest_sort(&o);
	assert_int_equal(qmgr_oldest_left(&o), cap);
	for (i = 0; i < cap; i++) {
		id_of(id, sizeof(id), i);
		p = qmgr_oldest_next(&o);
		assert_non_null(p);
		assert_string_equal(p, id);
	}
	assert_null(qmgr_oldest_next(&o));
	assert_int_equal(qmgr_oldest_left(&o), 0);
	qmgr_oldest_reset(&o);
	assert_null(o.id);
	assert_int_equal(o.n, 0);
	assert_int_equal(o.cap, cap);
}

/* Fewer ids than room: all kept, none dropped, memory as needed. */
static void
test_under_cap(void **state)
{
	struct qmgr_oldest	 o;
	char			 id[QUEUE_ID_SIZE];
	int			 i;

	(void)state;
	qmgr_oldest_init(&o, 20000);
	for (i = 9; i >= 0; i--) {
		id_of(id, sizeof(id), i);
		assert_int_equal(qmgr_oldest_offer(&o, id), 1);
	}
	assert_int_equal(o.dropped, 0);
	assert_true(o.size < 20000);
	qmgr_oldest_sort(&o);
	assert_string_equal(qmgr_oldest_next(&o), "ID00000");
	assert_int_equal(qmgr_oldest_left(&o), 9);
	qmgr_oldest_reset(&o);
}

/* A full set: a newer id is dropped at once; an older one pushes out the
 * newest kept. */
static void
test_full_replaces_newest(void **state)
{
	struct qmgr_oldest o;

	(void)state;
	qmgr_oldest_init(&o, 2);
	assert_int_equal(qmgr_oldest_offer(&o, "B"), 1);
	assert_int_equal(qmgr_oldest_offer(&o, "D"), 1);
	assert_int_equal(qmgr_oldest_offer(&o, "E"), 0);
	assert_int_equal(qmgr_oldest_offer(&o, "A"), 1);	/* D goes */
	assert_int_equal(qmgr_oldest_offer(&o, "C"), 0);
	assert_int_equal(o.dropped, 3);
	qmgr_oldest_sort(&o);
	assert_string_equal(qmgr_oldest_next(&o), "A");
	assert_string_equal(qmgr_oldest_next(&o), "B");
	assert_null(qmgr_oldest_next(&o));
	qmgr_oldest_reset(&o);
	/* Not an id at all: too long to keep. */
	assert_int_equal(qmgr_oldest_offer(&o,
	    "0123456789012345678901234567890123456789"), 0);
	/* A cap below one still keeps one. */
	qmgr_oldest_init(&o, 0);
	assert_int_equal(qmgr_oldest_offer(&o, "X"), 1);
	assert_int_equal(qmgr_oldest_offer(&o, "W"), 1);
	qmgr_oldest_sort(&o);
	assert_string_equal(qmgr_oldest_next(&o), "W");
	qmgr_oldest_reset(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeps_the_oldest),
		cmocka_unit_test(test_under_cap),
		cmocka_unit_test(test_full_replaces_newest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
