/*
 * Unit tests for smtpd/smtpd_space.c: the free-space rule (queue_minfree,
 * at least 1.5 x message_size_limit, a declared SIZE on top) at its edges,
 * without overflow for absurd values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "smtpd/smtpd_space.h"

static void
test_rule(void **state)
{
	(void)state;
	/* 1.5 x a 1000-byte limit: 1500 must stay free. */
	assert_true(smtpd_space_enough(1500, 0, 1000, 0));
	assert_false(smtpd_space_enough(1499, 0, 1000, 0));
	/* queue_minfree above that wins. */
	assert_false(smtpd_space_enough(1999, 2000, 1000, 0));
	assert_true(smtpd_space_enough(2000, 2000, 1000, 0));
	/* ... and below it does not lower it. */
	assert_false(smtpd_space_enough(1499, 10, 1000, 0));
	/* A declared size must fit beyond the reserve. */
	assert_true(smtpd_space_enough(2500, 0, 1000, 1000));
	assert_false(smtpd_space_enough(2499, 0, 1000, 1000));
	/* Absurd values neither wrap nor pass. */
	assert_false(smtpd_space_enough(~0ULL - 1, 0, SIZE_MAX, 0));
	assert_false(smtpd_space_enough(~0ULL, SIZE_MAX, 1, ~0ULL));
	assert_true(smtpd_space_enough(~0ULL, 0, 1, ~0ULL - 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
