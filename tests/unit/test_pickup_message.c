/*
 * Unit tests for pickup/pickup_message.c: the Received: line with the
 * submitter's uid, Bcc: removed with its continuation lines, From:, Date:
 * and Message-ID: added only when missing, the empty line supplied when
 * the user gave none, a header over PICKUP_HEADER_MAX refused; and
 * pickup_address() qualifying bare names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pickup/pickup.h"

static struct buf out;

static int
build(const char *msg, const char *sender, const char *fullname,
    const char **err)
{
	struct drop_envelope	 env;
	struct pickup_info	 in = { "host.example", "QID1", 1001, 0 };

	memset(&env, 0, sizeof(env));
	env.sender = (char *)sender;
	env.fullname = (char *)fullname;
	buf_free(&out);
	buf_init(&out, 1 << 20);
	return pickup_message_build(&env, msg, strlen(msg), &in, &out, err);
}

static void
test_added(void **state)
{
	const char	*err;

	(void)state;
	assert_int_equal(build("Subject: s\n\nbody\n", "alice", "A \"B\"",
	    &err), 0);
	assert_non_null(strstr(buf_str(&out), "Received: by host.example "
	    "(tern, from userid 1001)\n\tid QID1; "));
	assert_non_null(strstr(buf_str(&out),
	    "\nFrom: \"A \\\"B\\\"\" <alice@host.example>\n"));
	assert_non_null(strstr(buf_str(&out), "\nDate: "));
	assert_non_null(strstr(buf_str(&out), "\nMessage-ID: <"));
	assert_non_null(strstr(buf_str(&out), ".QID1@host.example>\n\nbody\n"));
	assert_int_equal(build("hello\n", "", NULL, &err), 0);
	assert_non_null(strstr(buf_str(&out),
	    "From: <MAILER-DAEMON@host.example>\n"));
	assert_non_null(strstr(buf_str(&out), ">\n\nhello\n"));
}

static void
test_kept_and_bcc(void **state)
{
	const char	*err;

	(void)state;
	assert_int_equal(build("From: x@y\nBcc: a@b,\n c@d\nDate: d\n"
	    "Message-ID: <m@y>\nbcc: e@f\nTo: t", "alice", NULL, &err), 0);
	assert_null(strstr(buf_str(&out), "a@b"));
	assert_null(strstr(buf_str(&out), "c@d"));
	assert_null(strstr(buf_str(&out), "e@f"));
	assert_null(strstr(buf_str(&out), "alice"));
	assert_non_null(strstr(buf_str(&out),
	    "\nFrom: x@y\nDate: d\nMessage-ID: <m@y>\nTo: t\n\n"));
}

static void
test_header_too_big(void **state)
{
	const char	*err;
	char		*m = malloc(PICKUP_HEADER_MAX + 100);

	(void)state;
	memcpy(m, "X: ", 3);
	memset(m + 3, 'a', PICKUP_HEADER_MAX + 10);
	strcpy(m + PICKUP_HEADER_MAX + 13, "\n\n");
	assert_int_equal(build(m, "a", NULL, &err), -1);
	assert_string_equal(err, "header too big");
	free(m);
	buf_free(&out);
}

static void
test_address(void **state)
{
	char	 a[300];

	(void)state;
	assert_int_equal(pickup_address("bob", "h.example", a, sizeof(a)), 0);
	assert_string_equal(a, "bob@h.example");
	assert_int_equal(pickup_address("Bob@EX.org", "h", a, sizeof(a)), 0);
	assert_string_equal(a, "Bob@ex.org");
	assert_int_equal(pickup_address("a b", "h", a, sizeof(a)), -1);
	assert_int_equal(pickup_address("a@", "h", a, sizeof(a)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_added),
		cmocka_unit_test(test_kept_and_bcc),
		cmocka_unit_test(test_header_too_big),
		cmocka_unit_test(test_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
