/*
 * Unit tests for smtp/smtp_next.c: which recipients a session leaves for
 * the next MX host (only deferrals the host gave before it could have
 * taken the message; never one accepted, bounced or perhaps delivered,
 * never one still without an outcome), and whether another host may be
 * tried under smtp_mx_address_limit and smtp_mx_session_limit (Postfix's
 * meanings, 0 for no limit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp.h"

static void
test_pending_mixed(void **state)
{
	struct smtp_result	 res[6];
	/* accepted, RCPT 4xx, RCPT 5xx, lost after the dot, 4xx to the dot,
	 * no outcome yet */
	int	 final[6] = { 1, 1, 1, 1, 1, 0 };
	int	 again[6] = { 1, 1, 1, 0, 1, 1 };
	int	 out[6], n;

	(void)state;
	memset(res, 0, sizeof(res));
	res[0].status = DELIVER_OK;
	res[1].status = DELIVER_DEFER;
	res[2].status = DELIVER_BOUNCE;
	res[3].status = DELIVER_DEFER;
	res[4].status = DELIVER_DEFER;
	res[5].status = DELIVER_DEFER;
	n = smtp_next_pending(res, final, again, 6, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 4);
	assert_int_equal(smtp_next_pending(res, final, again, 6, NULL), 2);
}

static void
test_pending_none(void **state)
{
	struct smtp_result	 res[2];
	int	 final[2] = { 1, 1 }, again[2] = { 0, 0 }, out[2];

	(void)state;
	memset(res, 0, sizeof(res));
	res[0].status = DELIVER_DEFER;	/* after the dot: maybe delivered */
	res[1].status = DELIVER_DEFER;
	assert_int_equal(smtp_next_pending(res, final, again, 2, out), 0);
	assert_int_equal(smtp_next_pending(res, final, again, 0, out), 0);
}

static void
test_allowed(void **state)
{
	(void)state;
	/* Postfix's defaults: 5 addresses, 2 sessions. */
	assert_true(smtp_next_allowed(1, 1, 5, 2));
	assert_false(smtp_next_allowed(2, 2, 5, 2));
	/* handshakes that failed do not count as sessions */
	assert_true(smtp_next_allowed(4, 1, 5, 2));
	assert_false(smtp_next_allowed(5, 1, 5, 2));
	/* 0: no limit */
	assert_true(smtp_next_allowed(100, 100, 0, 0));
	assert_false(smtp_next_allowed(100, 1, 0, 1));
	assert_false(smtp_next_allowed(1, 0, 1, 0));
	assert_true(smtp_next_allowed(0, 0, 1, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pending_mixed),
		cmocka_unit_test(test_pending_none),
		cmocka_unit_test(test_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
