/*
 * Unit tests for deliver/local_worker.c: the check of a mailbox worker's
 * reply (it ran with a user's ids, so it is believed only as far as it is
 * well formed): the right version and count, each status one of ok, defer
 * and bounce with an enhanced status code of its class, and NUL-terminated
 * texts; anything else is refused whole and leaves the results alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deliver/deliver.h"

#define N	3

struct reply {
	struct local_worker_reply	 h;
	struct deliver_result		 r[N];
};

static void
make_reply(struct reply *rp)
{
	int	 k;

	memset(rp, 0, sizeof(*rp));
	rp->h.version = 2;
	rp->h.n = N;
	for (k = 0; k < N; k++)
		deliver_result_set(&rp->r[k], DELIVER_OK, "2.0.0",
		    "delivered to maildir");
	deliver_result_set(&rp->r[1], DELIVER_DEFER, "4.2.2", "mailbox full");
}

/* 0 if rp checks; res[] then holds its results. */
static int
check(const struct reply *rp, size_t len, int n, struct deliver_result *res)
{
	return local_worker_reply_check(rp, len, n, res);
}

static void
test_good_reply(void **state)
{
	struct reply		 rp;
	struct deliver_result	 res[N];

	(void)state;
	make_reply(&rp);
	assert_int_equal(local_worker_reply_size(N), sizeof(rp));
	assert_int_equal(check(&rp, sizeof(rp), N, res), 0);
	assert_int_equal(res[0].status, DELIVER_OK);
	assert_int_equal(res[1].status, DELIVER_DEFER);
	assert_string_equal(res[1].dsn, "4.2.2");
	assert_string_equal(res[1].text, "mailbox full");
}

static void
test_bad_replies(void **state)
{
	struct reply		 rp;
	struct deliver_result	 res[N];

	(void)state;
	memset(res, 0x5a, sizeof(res));
	make_reply(&rp);
	assert_int_equal(check(&rp, sizeof(rp) - 1, N, res), -1);
	assert_int_equal(check(&rp, sizeof(rp), N - 1, res), -1);
	rp.h.version = 1;	/* an older worker's */
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	make_reply(&rp);
	rp.h.n = N - 1;
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	make_reply(&rp);
	rp.r[2].status = (enum deliver_status)7;
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	make_reply(&rp);
	memset(rp.r[0].text, 'x', sizeof(rp.r[0].text));
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	make_reply(&rp);
	memset(rp.r[0].dsn, '2', sizeof(rp.r[0].dsn));
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	/* "ok" with a temporary code is not an ok. */
	make_reply(&rp);
	strcpy(rp.r[0].dsn, "4.3.0");
	assert_int_equal(check(&rp, sizeof(rp), N, res), -1);
	/* Nothing was taken from any refused reply. */
	assert_int_equal(((unsigned char *)res)[0], 0x5a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_reply),
		cmocka_unit_test(test_bad_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
