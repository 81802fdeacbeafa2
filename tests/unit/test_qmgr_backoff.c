/*
 * test_qmgr_backoff - qmgr's retry arithmetic: the deferred back-off derived
 * from a message's age, queue lifetime expiry, the short retry delay after
 * delivery-agent trouble, and log-text sanitising.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qmgr/qmgr.h"

static void
test_backoff_doubles_from_age(void **state)
{
	(void)state;
	/* Attempts at 0, 300, 900, 2100, 4500 (waits 300, 600, 1200, ...). */
	assert_int_equal(qmgr_backoff(0, 300, 4000), 300);
	assert_int_equal(qmgr_backoff(299, 300, 4000), 300);
	assert_int_equal(qmgr_backoff(300, 300, 4000), 600);
	assert_int_equal(qmgr_backoff(899, 300, 4000), 600);
	assert_int_equal(qmgr_backoff(900, 300, 4000), 1200);
	assert_int_equal(qmgr_backoff(2100, 300, 4000), 2400);
	assert_int_equal(qmgr_backoff(4500, 300, 4000), 4000);
	assert_int_equal(qmgr_backoff(5 * 86400, 300, 4000), 4000);
}

static void
test_backoff_bounds(void **state)
{
	long long age;
	int prev = 0, w;

	(void)state;
	for (age = 0; age < 200000; age += 7) {
		w = qmgr_backoff(age, 300, 4000);
		assert_true(w >= 300 && w <= 4000);
		assert_true(w >= prev);		/* never shrinks with age */
		prev = w;
	}
}

static void
test_backoff_odd_input(void **state)
{
	(void)state;
	assert_int_equal(qmgr_backoff(-1000, 300, 4000), 300);	/* clock */
	assert_int_equal(qmgr_backoff(0, 0, 4000), 1);		/* min 0 */
	assert_int_equal(qmgr_backoff(100000, 600, 60), 600);	/* max<min */
	assert_int_equal(qmgr_backoff(LLONG_MAX, INT_MAX / 2 + 1, INT_MAX),
	    INT_MAX);
	assert_int_equal(qmgr_backoff(LLONG_MAX, 1, INT_MAX), INT_MAX);
	assert_int_equal(qmgr_backoff(LLONG_MAX, INT_MAX, INT_MAX), INT_MAX);
}

static void
test_expired(void **state)
{
	(void)state;
	assert_false(qmgr_expired(0, 432000));
	assert_false(qmgr_expired(432000, 432000));
	assert_true(qmgr_expired(432001, 432000));
	assert_true(qmgr_expired(1, 0));
	assert_false(qmgr_expired(-5, 0));
}

static void
test_notice_abandoned(void **state)
{
	(void)state;
	assert_false(qmgr_notice_abandoned(432001, 432000));	/* expired */
	assert_false(qmgr_notice_abandoned(864000, 432000));
	assert_true(qmgr_notice_abandoned(864001, 432000));
	/* a lifetime of 0 (or tiny): a day's grace all the same */
	assert_false(qmgr_notice_abandoned(1, 0));
	assert_false(qmgr_notice_abandoned(QMGR_NOTICE_LIFETIME_MIN, 60));
	assert_true(qmgr_notice_abandoned(QMGR_NOTICE_LIFETIME_MIN + 1, 0));
	assert_false(qmgr_notice_abandoned(2 * (long long)INT_MAX, INT_MAX));
	assert_true(qmgr_notice_abandoned(LLONG_MAX, INT_MAX));
	assert_false(qmgr_notice_abandoned(-5, 0));
}

static void
test_retry_delay(void **state)
{
	(void)state;
	assert_int_equal(qmgr_retry_delay(1), QMGR_RETRY_MIN);
	assert_int_equal(qmgr_retry_delay(2), 2);
	assert_int_equal(qmgr_retry_delay(3), 4);
	assert_int_equal(qmgr_retry_delay(5), 16);
	assert_int_equal(qmgr_retry_delay(6), QMGR_RETRY_MAX);
	assert_int_equal(qmgr_retry_delay(1000000), QMGR_RETRY_MAX);
	assert_int_equal(qmgr_retry_delay(0), QMGR_RETRY_MIN);
	assert_int_equal(qmgr_retry_delay(-3), QMGR_RETRY_MIN);
}

static void
test_text_safe(void **state)
{
	char out[16];

	(void)state;
	qmgr_text_safe(out, sizeof(out), "ok\nfake: line");
	assert_string_equal(out, "ok?fake: line");
	qmgr_text_safe(out, sizeof(out), "\x1b[31m\xc3\xa9");
	assert_string_equal(out, "?[31m??");
	qmgr_text_safe(out, sizeof(out), "0123456789abcdefghij");
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out, "0123456789ab...");
	qmgr_text_safe(out, sizeof(out), "0123456789abcde");	/* fits */
	assert_string_equal(out, "0123456789abcde");
	qmgr_text_safe(out, sizeof(out), NULL);
	assert_string_equal(out, "");
	qmgr_text_safe(out, 1, "abc");
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_from_age),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_odd_input),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_notice_abandoned),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_text_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
