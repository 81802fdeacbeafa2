/*
 * Unit tests for common/addr.c: RFC 5321 mailboxes, domains and address
 * literals, the length limits, and random input in exact-size buffers so
 * an over-read shows under ASan (also through addr_canonical, whose own
 * tests are test_addr_canonical.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "addr.h"

static int
mailbox(const char *s, const char **err)
{
	size_t	 n = strlen(s);
	char	*copy = malloc(n ? n : 1);
	int	 r;

	memcpy(copy, s, n);
	r = addr_valid_mailbox(copy, n, err);
	free(copy);
	return r;
}

static void
test_valid(void **state)
{
	static const char *const good[] = {
		"user@example.com",
		"a@b",
		"first.last@sub.example.co.uk",
		"x@localhost",
		"!#$%&'*+-/=?^_`{|}~@example.org",
		"user+tag@example.org",
		"\"quoted string\"@example.com",
		"\"a\\\"b\"@example.com",
		"\"a\\\\b\"@example.com",
		"\"\"@example.com",
		"\"a@b\"@example.com",
		"user@[192.0.2.1]",
		"user@[0.0.0.0]",
		"user@[255.255.255.255]",
		"user@[010.1.1.1]",
		"user@[IPv6:::1]",
		"user@[ipv6:2001:db8::1]",
		"user@[IPv6:::ffff:192.0.2.1]",
		"user@1-2.example",
		"user@123.example",
		"USER@EXAMPLE.COM",
	};
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err = NULL;
		if (!mailbox(good[i], &err))
			fail_msg("refused %s: %s", good[i], err);
	}
	assert_int_equal(addr_valid_mailbox("a@b", 3, NULL), 1);
}

static void
test_invalid(void **state)
{
	static const struct { const char *s, *err; } bad[] = {
		{ "", "empty address" },
		{ "user", "missing domain" },
		{ "user@", "bad domain" },
		{ "@example.com", "bad local part" },
		{ ".user@example.com", "bad local part" },
		{ "user.@example.com", "bad local part" },
		{ "us..er@example.com", "bad local part" },
		{ "us er@example.com", "bad local part" },
		{ "us(er@example.com", "bad local part" },
		{ "a@b@example.com", "bad domain" },
		{ "user@-example.com", "bad domain" },
		{ "user@example-.com", "bad domain" },
		{ "user@exa_mple.com", "bad domain" },
		{ "user@example..com", "bad domain" },
		{ "user@.example.com", "bad domain" },
		{ "user@example.com.", "bad domain" },
		{ "user@exam ple.com", "bad domain" },
		{ "\"unterminated@example.com", "bad quoted local part" },
		{ "\"a\"b@example.com", "missing domain" },
		{ "\"a\"", "missing domain" },
		{ "\"a\\", "bad quoted local part" },
		{ "user@[192.0.2]", "bad address literal" },
		{ "user@[192.0.2.256]", "bad address literal" },
		{ "user@[192.0.2.1.5]", "bad address literal" },
		{ "user@[1.2.3.0001]", "bad address literal" },
		{ "user@[192.0.2.1", "bad address literal" },
		{ "user@[]", "bad address literal" },
		{ "user@[IPv6:]", "bad address literal" },
		{ "user@[IPv6:zz::1]", "bad address literal" },
		{ "user@[IPv6:1:2:3:4:5:6:7:8:9]", "bad address literal" },
		{ "user@[IPv6:192.0.2.1]", "bad address literal" },
		{ "user@[IPv6:::1%eth0]", "bad address literal" },
		{ "user@[x-tag:stuff]", "bad address literal" },
		{ "user@[192.0.2.1]x", "bad address literal" },
		{ "us\xc3\xa9r@example.com", "8-bit character" },
		{ "user@ex\xffmple.com", "8-bit character" },
		{ "user\n@example.com", "control character" },
		{ "\"a\tb\"@example.com", "control character" },
		{ "user@example.com\r", "control character" },
		{ "user@exa\x7fmple.com", "control character" },
	};
	const char	*err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (mailbox(bad[i].s, &err))
			fail_msg("accepted \"%s\"", bad[i].s);
		if (err == NULL || strcmp(err, bad[i].err) != 0)
			fail_msg("\"%s\": wanted '%s', got '%s'", bad[i].s,
			    bad[i].err, err ? err : "(null)");
	}
	/* A NUL inside the given length is a control character. */
	assert_int_equal(addr_valid_mailbox("a\0b@c", 5, &err), 0);
	assert_string_equal(err, "control character");
	assert_int_equal(addr_valid_mailbox(NULL, 0, &err), 0);
	assert_int_equal(addr_valid_mailbox("a@b", 0, NULL), 0);
	/* Only the given length counts. */
	assert_int_equal(addr_valid_mailbox("a@b.example", 3, NULL), 1);
	assert_int_equal(addr_valid_mailbox("a@b.example", 2, NULL), 0);
}

static void
test_limits(void **state)
{
	char		 s[600], label[80];
	const char	*err;
	size_t		 n;

	(void)state;
	/* Local part: 64 fine, 65 not. */
	memset(s, 'l', 64);
	strcpy(s + 64, "@example.com");
	assert_int_equal(mailbox(s, &err), 1);
	memset(s, 'l', 65);
	strcpy(s + 65, "@example.com");
	assert_int_equal(mailbox(s, &err), 0);
	assert_string_equal(err, "local part too long");
	/* A quoted local part counts with its quotes. */
	s[0] = '"';
	memset(s + 1, 'q', 62);
	strcpy(s + 63, "\"@example.com");
	assert_int_equal(mailbox(s, &err), 1);
	s[0] = '"';
	memset(s + 1, 'q', 63);
	strcpy(s + 64, "\"@example.com");
	assert_int_equal(mailbox(s, &err), 0);
	assert_string_equal(err, "local part too long");

	/* Labels: 63 fine, 64 not. */
	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(s, sizeof(s), "u@%s.example", label);
	assert_int_equal(mailbox(s, &err), 1);
	snprintf(s, sizeof(s), "u@%sd.example", label);
	assert_int_equal(mailbox(s, &err), 0);
	assert_string_equal(err, "bad domain");

	/* Path: "<" mailbox ">" at most 256, so a mailbox of 254 is the most. */
	n = 0;
	s[n++] = 'u';
	s[n++] = '@';
	for (; n < 254; n++)
		s[n] = n % 50 == 0 ? '.' : 'x';
	s[n] = '\0';
	assert_int_equal(strlen(s), 254);
	assert_int_equal(mailbox(s, &err), 1);
	s[n++] = 'x';
	s[n] = '\0';
	assert_int_equal(mailbox(s, &err), 0);
	assert_string_equal(err, "address too long");

	/* Domain on its own: 255 fine, 256 not. */
	for (n = 0; n < 255; n++)
		s[n] = n % 60 == 59 ? '.' : 'y';
	assert_int_equal(addr_valid_domain(s, 255), 1);
	s[255] = 'y';
	assert_int_equal(addr_valid_domain(s, 256), 0);
}

static void
test_domain_literal(void **state)
{
	(void)state;
	assert_int_equal(addr_valid_domain("example.org", 11), 1);
	assert_int_equal(addr_valid_domain("a", 1), 1);
	assert_int_equal(addr_valid_domain("a-b.c-d", 7), 1);
	assert_int_equal(addr_valid_domain("", 0), 0);
	assert_int_equal(addr_valid_domain(".", 1), 0);
	assert_int_equal(addr_valid_domain("a.", 2), 0);
	assert_int_equal(addr_valid_domain("-a", 2), 0);
	assert_int_equal(addr_valid_domain("a-", 2), 0);
	assert_int_equal(addr_valid_domain("[1.2.3.4]", 9), 0);
	assert_int_equal(addr_valid_literal("[1.2.3.4]", 9), 1);
	assert_int_equal(addr_valid_literal("[IPv6:fe80::1]", 14), 1);
	assert_int_equal(addr_valid_literal("[IPv6:fe80::1]", 13), 0);
	assert_int_equal(addr_valid_literal("1.2.3.4", 7), 0);
	assert_int_equal(addr_valid_literal("[", 1), 0);
	assert_int_equal(addr_valid_literal("[]", 2), 0);
	assert_int_equal(addr_valid_literal("[1.2.3.-4]", 10), 0);
	assert_int_equal(addr_valid_literal("[IPv6:1::2::3]", 14), 0);
	assert_int_equal(addr_valid_literal(
	    "[IPv6:0000:0000:0000:0000:0000:ffff:255.255.255.255]", 52), 1);
}

static void
test_parts(void **state)
{
	char	 out[16];

	(void)state;
	assert_string_equal(addr_domain("user@example.org"), "example.org");
	assert_string_equal(addr_domain("\"a@b\"@c.example"), "c.example");
	assert_null(addr_domain("nodomain"));
	assert_null(addr_domain(NULL));

	assert_int_equal(addr_local_part("user@example.org", out, sizeof(out)), 0);
	assert_string_equal(out, "user");
	assert_int_equal(addr_local_part("\"a b\\\"c\"@x", out, sizeof(out)), 0);
	assert_string_equal(out, "a b\"c");
	assert_int_equal(addr_local_part("\"a@b\"@x", out, sizeof(out)), 0);
	assert_string_equal(out, "a@b");
	assert_int_equal(addr_local_part("\"\"@x", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(addr_local_part("nodomain", out, sizeof(out)), -1);
	/* Exactly fitting, and one too long. */
	assert_int_equal(addr_local_part("123456789012345@x", out, sizeof(out)), 0);
	assert_string_equal(out, "123456789012345");
	assert_int_equal(addr_local_part("1234567890123456@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_part("\"1234567890123456\"@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_part("a@x", out, 0), -1);

	assert_string_equal(addr_lower("MiXeD@Example.ORG", out, sizeof(out)),
	    "mixed@example.o");
	assert_string_equal(addr_lower("ABC", out, 2), "a");
	assert_string_equal(addr_lower("", out, sizeof(out)), "");
}

/* addr_canonical refuses exactly what is not a mailbox (or a bare
 * postmaster); what it gives is a mailbox, no longer, and canonical. */
static void
canonical_agrees(const char *s, size_t len, int valid)
{
	char	 c1[ADDR_PATH_MAX + 1], c2[ADDR_PATH_MAX + 1];
	int	 r = addr_canonical(s, len, c1, sizeof(c1));

	if (len == 10 && strncasecmp(s, "postmaster", 10) == 0)
		return;
	assert_int_equal(r, valid ? 0 : -1);
	if (!valid)
		return;
	assert_true(addr_valid_mailbox(c1, strlen(c1), NULL));
	assert_true(strlen(c1) <= len);
	assert_int_equal(addr_canonical(c1, strlen(c1), c2, sizeof(c2)), 0);
	assert_string_equal(c1, c2);
}

static void
test_random(void **state)
{
	static const char alphabet[] = "aZ09.@\"\\[]:-_ \x01\x80!IPv6";
	char	*s;
	size_t	 len, i;
	int	 round, ok = 0, valid;

	(void)state;
	srandom(99);
	for (round = 0; round < 200000; round++) {
		len = (size_t)random() % 40;
		s = malloc(len ? len : 1);
		for (i = 0; i < len; i++)
			s[i] = random() % 8 ? alphabet[random() % (sizeof(alphabet) - 1)] :
			    (char)random();
		ok += valid = addr_valid_mailbox(s, len, NULL);
		canonical_agrees(s, len, valid);
		addr_valid_domain(s, len);
		addr_valid_literal(s, len);
		free(s);
	}
	assert_true(ok > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_domain_literal),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
