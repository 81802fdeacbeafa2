/*
 * Unit tests for deliver/local_loop.c: a Delivered-To: field for the
 * recipient is found in any case and spacing, in a folded header, and not
 * in the body or for another recipient.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/deliver.h"

static int
seen(const char *text, const char *rcpt)
{
	return local_loop_seen(text, strlen(text), rcpt);
}

static void
test_loop(void **state)
{
	(void)state;
	assert_true(seen("Delivered-To: a@b\nSubject: x\n\nbody\n", "a@b"));
	assert_true(seen("Received: x\n\ty\ndelivered-to:   A@B \n\n", "a@b"));
	assert_false(seen("Delivered-To: a@b.c\n\n", "a@b"));
	assert_false(seen("Subject: x\n\nDelivered-To: a@b\n", "a@b"));
	assert_false(seen("X-Delivered-To: a@b\n\n", "a@b"));
	assert_false(seen("", "a@b"));
	assert_true(seen("Delivered-To: a@b", "a@b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
