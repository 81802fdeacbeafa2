/*
 * Unit tests for deliver/local_pass.c's reading of mailbox_transport:
 * "transport:nexthop" gives the service's socket under private/ and the
 * next hop as written (a socket path keeps its case); an empty transport
 * or next hop, a transport name with other than lower-case letters,
 * digits, '-' and '_', "local" (a loop back into deliver), and a next hop
 * with spaces or control characters or too long are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/deliver.h"

static void
test_parse_good(void **state)
{
	char		 sock[64];
	const char	*hop = NULL;

	(void)state;
	assert_int_equal(local_pass_parse("lmtp:unix:private/Dovecot-lmtp",
	    sock, sizeof(sock), &hop), 0);
	assert_string_equal(sock, "private/lmtp");
	assert_string_equal(hop, "unix:private/Dovecot-lmtp");
	assert_int_equal(local_pass_parse("my_lmtp-2:[192.0.2.1]:24", sock,
	    sizeof(sock), &hop), 0);
	assert_string_equal(sock, "private/my_lmtp-2");
	assert_string_equal(hop, "[192.0.2.1]:24");
}

static void
test_parse_bad(void **state)
{
	static const char *bad[] = { "", "lmtp", "lmtp:", ":unix:/x",
	    "LMTP:unix:/x", "lm tp:unix:/x", "local:x", "lmtp:unix:/a b",
	    "lmtp:unix:/a\tb", "lmtp:unix:/a\x7f",
	    "../x:unix:/x", "lmtp/..:unix:/x" };
	char		 sock[64], big[DELIVER_NEXTHOP_MAX + 16];
	const char	*hop;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (local_pass_parse(bad[i], sock, sizeof(sock), &hop) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	memcpy(big, "lmtp:", 5);
	memset(big + 5, 'x', sizeof(big) - 6);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(local_pass_parse(big, sock, sizeof(sock), &hop), -1);
	/* A name too long for the socket buffer. */
	assert_int_equal(local_pass_parse("abcdefghijklmnopqrstuvwxyz:x", sock,
	    16, &hop), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
