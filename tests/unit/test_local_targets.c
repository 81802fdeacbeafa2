/*
 * Unit tests for deliver/local_targets.c, a recipient's growable, bounded
 * list of targets: growth up to the bound and not beyond, each target
 * once (an owner's uid tells commands apart), merging with the bound,
 * owners copied, empty strings shared, and freeing that leaves an empty
 * list to use again; the hash index beside the list: texts whose hashes
 * collide (in full, and in a slot), growth to a bound of 10000 with every
 * target found after each rebuild, the owner rule across the index, and
 * merging into an indexed list (test_merge).
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
	/* what was merged is in to's index: found, not added again */
	for (i = 0; i < to.n; i++)
		assert_int_equal(lx_result_add(&to, LX_MAILBOX,
		    to.target[i].text, NULL, NULL, NULL), 0);
	assert_null(from.slot);
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

/* Two texts of kind LX_COMMAND with the same 32-bit hash, found by the
 * birthday bound among "c" and 400000 scrambled numbers. */
struct hx {
	uint32_t	 h;
	int		 i;
};

static int
hx_cmp(const void *a, const void *b)
{
	const struct hx	*x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h ? 1 : x->i - y->i;
}

static void
full_collision(char *a, char *b, size_t len)
{
	enum { N = 400000 };
	struct hx	*v = calloc(N, sizeof(*v));
	char		 t[32];
	int		 i;

	assert_non_null(v);
	for (i = 0; i < N; i++) {
		snprintf(t, sizeof(t), "c%u", (unsigned)i * 2654435761U);
		v[i].h = lx_target_hash(LX_COMMAND, t);
		v[i].i = i;
	}
	qsort(v, N, sizeof(*v), hx_cmp);
	for (i = 1; i < N && v[i].h != v[i - 1].h; i++)
		;
	assert_true(i < N);
	snprintf(a, len, "c%u", (unsigned)v[i - 1].i * 2654435761U);
	snprintf(b, len, "c%u", (unsigned)v[i].i * 2654435761U);
	free(v);
}

static void
test_index_collisions(void **state)
{
	struct lx_owner		 o1, o2;
	struct lx_result	 r;
	char			 a[32], b[32], t[32];
	uint32_t		 h0;
	int			 i, n;

	(void)state;
	memset(&o1, 0, sizeof(o1));
	memset(&o2, 0, sizeof(o2));
	o1.uid = 1000;
	o2.uid = 1001;
	full_collision(a, b, sizeof(a));
	assert_string_not_equal(a, b);
	assert_int_equal(lx_target_hash(LX_COMMAND, a),
	    lx_target_hash(LX_COMMAND, b));
	lx_result_init(&r, 100);
	/* equal hashes, different texts: two targets, each found */
	assert_int_equal(lx_result_add(&r, LX_COMMAND, a, NULL, NULL, &o1), 1);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, b, NULL, NULL, &o1), 1);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, b, NULL, NULL, &o1), 0);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, a, NULL, NULL, &o1), 0);
	/* the owner rule through the index: another uid is another target,
	 * no owner on either side matches any */
	assert_int_equal(lx_result_add(&r, LX_COMMAND, a, NULL, NULL, &o2), 1);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, a, NULL, NULL, &o2), 0);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, b, NULL, NULL, NULL), 0);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "m", NULL, NULL, NULL),
	    1);
	assert_int_equal(lx_result_add(&r, LX_MAILBOX, "m", NULL, NULL, &o1),
	    0);
	/* the same text as another kind hashes apart and is another target */
	assert_int_equal(lx_result_add(&r, LX_FILE, a, NULL, NULL, &o1), 1);
	assert_int_equal(r.n, 5);
	lx_result_free(&r);

	/* texts sharing a home slot of the first index (16 slots): a run
	 * of probes, every one found, none twice */
	lx_result_init(&r, 100);
	h0 = lx_target_hash(LX_REMOTE, "s0") & 15;
	for (i = n = 0; n < 7; i++) {
		snprintf(t, sizeof(t), "s%d", i);
		if ((lx_target_hash(LX_REMOTE, t) & 15) != h0)
			continue;
		assert_int_equal(lx_result_add(&r, LX_REMOTE, t, NULL, NULL,
		    NULL), 1);
		n++;
	}
	assert_int_equal(r.nslot, 16);
	for (i = 0; i < r.n; i++)
		assert_int_equal(lx_result_add(&r, LX_REMOTE, r.target[i].text,
		    NULL, NULL, NULL), 0);
	assert_int_equal(r.n, 7);
	lx_result_free(&r);
	assert_null(r.slot);
	assert_int_equal(r.nslot, 0);
}

/* Growth to a bound of 10000 (local_expansion_limit's default): after
 * every rebuild each target is still found, the index is at most half
 * full and never more than four slots a target of the bound. */
static void
test_index_growth(void **state)
{
	struct lx_result	 r;
	char			 t[32];
	int			 i, k, nslot = 0;

	(void)state;
	lx_result_init(&r, 10000);
	for (i = 0; i < 10000; i++) {
		snprintf(t, sizeof(t), "|/bin/true %d", i);
		assert_int_equal(lx_result_add(&r, LX_COMMAND, t + 1, NULL,
		    NULL, NULL), 1);
		assert_true(2 * r.n <= r.nslot);
		assert_int_equal(r.nslot & (r.nslot - 1), 0);
		if (r.nslot != nslot) {
			nslot = r.nslot;
			for (k = 0; k <= i; k++)
				assert_int_equal(lx_result_add(&r, LX_COMMAND,
				    r.target[k].text, NULL, NULL, NULL), 0);
		}
	}
	assert_true(r.nslot <= 4 * 10000);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, "/bin/true 0", NULL,
	    NULL, NULL), 0);
	assert_int_equal(lx_result_add(&r, LX_COMMAND, "/bin/true x", NULL,
	    NULL, NULL), -1);
	assert_int_equal(r.n, 10000);
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
		cmocka_unit_test(test_index_collisions),
		cmocka_unit_test(test_index_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
