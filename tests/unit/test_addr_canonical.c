/*
 * Unit tests for addr_canonical (common/addr.c), the one spelling smtpd
 * stores and compares recipients in: known spellings, every one of the
 * 2^10 backslash spellings of postmaster, hostile and invalid input,
 * exact output bounds (a canary after the buffer), and random mailboxes
 * (in exact-size buffers, so an over-read shows under ASan) for which the
 * result must be valid, no longer than the input, idempotent, and equal
 * for every re-spelling of the same local part.  Arbitrary bytes go
 * through it in test_addr.c's random test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

/* canonical(s) through an exact-size copy of s; -1 or 0. */
static int
canon(const char *s, size_t len, char *out, size_t outlen)
{
	char	*copy = malloc(len ? len : 1);
	int	 r;

	memcpy(copy, s, len);
	r = addr_canonical(copy, len, out, outlen);
	free(copy);
	return r;
}

static void
expect_canon(const char *in, const char *want)
{
	char	 out[ADDR_PATH_MAX + 1];

	if (canon(in, strlen(in), out, sizeof(out)) != 0)
		fail_msg("%s: refused", in);
	if (strcmp(out, want) != 0)
		fail_msg("%s: got %s, want %s", in, out, want);
}

static void
expect_refused(const char *in, size_t len)
{
	char	 out[ADDR_PATH_MAX + 1];

	if (canon(in, len, out, sizeof(out)) != -1)
		fail_msg("%.*s: accepted as %s", (int)len, in, out);
	assert_string_equal(out, "");
}

static void
test_spellings(void **state)
{
	(void)state;
	expect_canon("user@example.com", "user@example.com");
	expect_canon("user@Example.COM", "user@example.com");
	/* The local part keeps its case: a remote host may care. */
	expect_canon("User+Tag@X.ORG", "User+Tag@x.org");
	expect_canon("\"user\"@example.com", "user@example.com");
	expect_canon("\"\\u\\s\\e\\r\"@x", "user@x");
	expect_canon("\"p\\ostmaster\"@HOST", "postmaster@host");
	expect_canon("\"\\p\\o\\s\\t\\m\\a\\s\\t\\e\\r\"@localhost",
	    "postmaster@localhost");
	expect_canon("\"a.b\"@x", "a.b@x");
	expect_canon("\"first.last\\+tag\"@x", "first.last+tag@x");
	expect_canon("\"!#$%&'*+-/=?^_`{|}~\"@x", "!#$%&'*+-/=?^_`{|}~@x");
	/* Quoting is kept where RFC 5321 requires it, and minimal. */
	expect_canon("\"a b\"@x", "\"a b\"@x");
	expect_canon("\"a\\ b\"@x", "\"a b\"@x");
	expect_canon("\"a\\\"b\"@x", "\"a\\\"b\"@x");
	expect_canon("\"a\\\\b\"@x", "\"a\\\\b\"@x");
	expect_canon("\"\\\\\"@x", "\"\\\\\"@x");
	expect_canon("\"\"@x", "\"\"@x");
	expect_canon("\"a..b\"@x", "\"a..b\"@x");
	expect_canon("\".a\"@x", "\".a\"@x");
	expect_canon("\"a.\"@x", "\"a.\"@x");
	expect_canon("\"a@b\"@X", "\"a@b\"@x");
	expect_canon("\"a\\@b\"@x", "\"a@b\"@x");
	expect_canon("\"(a)\"@x", "\"(a)\"@x");
	expect_canon("\"a,b\"@x", "\"a,b\"@x");
	/* Address literals: the tag is case-insensitive, so any case is one. */
	expect_canon("u@[192.0.2.1]", "u@[192.0.2.1]");
	expect_canon("u@[IPv6:2001:DB8::1]", "u@[ipv6:2001:db8::1]");
	/* A bare postmaster, in any case. */
	expect_canon("postmaster", "postmaster");
	expect_canon("PostMaster", "postmaster");
}

/* Every choice of escaping or not escaping each of its ten letters. */
static void
test_postmaster_spellings(void **state)
{
	static const char	 word[] = "postmaster";
	char			 in[64], out[ADDR_PATH_MAX + 1];
	size_t			 n, i;
	unsigned int		 mask;

	(void)state;
	for (mask = 0; mask < 1024; mask++) {
		n = 0;
		in[n++] = '"';
		for (i = 0; i < 10; i++) {
			if (mask & (1u << i))
				in[n++] = '\\';
			in[n++] = word[i];
		}
		memcpy(in + n, "\"@LocalHost", 11);
		n += 11;
		assert_int_equal(canon(in, n, out, sizeof(out)), 0);
		assert_string_equal(out, "postmaster@localhost");
	}
}

static void
test_refused(void **state)
{
	static const char	 nul[] = "a@b\0c";
	char			 big[ADDR_PATH_MAX + 8];

	(void)state;
	expect_refused("", 0);
	expect_refused("user", 4);
	expect_refused("postmaster@", 11);
	expect_refused("postmasters", 11);
	expect_refused("a@@b", 4);
	expect_refused("@b", 2);
	expect_refused("a..b@x", 6);
	expect_refused("\"unterminated@x", 15);
	expect_refused("\"a\"b@x", 6);
	expect_refused("\"a\\\"@x", 6);
	expect_refused("\"a\x01\"@x", 6);
	expect_refused("\"\\\x7f\"@x", 6);
	expect_refused("\xc3\xa9@x", 4);
	expect_refused("a@x\r\n", 5);
	expect_refused(nul, sizeof(nul) - 1);
	expect_refused("a@[1.2.3]", 9);
	expect_refused("a@-x", 4);
	/* 65 octets of local part, and a path over 256. */
	memset(big, 'a', 65);
	memcpy(big + 65, "@x", 2);
	expect_refused(big, 67);
	memset(big, 'a', 60);
	big[60] = '@';
	memset(big + 61, 'b', sizeof(big) - 61);
	for (size_t i = 70; i < sizeof(big); i += 60)
		big[i] = '.';
	expect_refused(big, sizeof(big));
	assert_int_equal(addr_canonical(NULL, 3, big, sizeof(big)), -1);
}

/* The result fits exactly or not at all, and nothing past outlen is
 * touched. */
static void
test_bounds(void **state)
{
	static const char	 in[] = "\"Ab\\c\"@EXAMPLE.org";
	static const char	 want[] = "Abc@example.org";
	char			 out[sizeof(want) + 8];
	size_t			 len;

	(void)state;
	for (len = 0; len <= sizeof(want); len++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(addr_canonical(in, sizeof(in) - 1, out, len),
		    len == sizeof(want) ? 0 : -1);
		/* Refused: an empty string, never a cut address. */
		if (len > 0 && len < sizeof(want))
			assert_string_equal(out, "");
		assert_int_equal(out[len], 'X');
	}
	assert_string_equal(out, want);
	/* The longest valid local part, quoted, canonicalizes within bounds. */
	{
		char	 q[ADDR_LOCAL_MAX + 16], o[ADDR_PATH_MAX + 1];
		size_t	 n = 0;

		q[n++] = '"';
		while (n < ADDR_LOCAL_MAX - 1)
			q[n++] = ' ';
		q[n++] = '"';
		memcpy(q + n, "@x", 2);
		n += 2;
		assert_int_equal(canon(q, n, o, sizeof(o)), 0);
		assert_int_equal(strlen(o), n);
	}
}

/* A random re-spelling of the octets raw[0..len) as a Quoted-string:
 * each octet escaped or not (those that must be, always). */
static size_t
respell(const char *raw, size_t len, char *out)
{
	size_t	 i, n = 0;

	out[n++] = '"';
	for (i = 0; i < len; i++) {
		if (raw[i] == '"' || raw[i] == '\\' || random() % 2)
			out[n++] = '\\';
		out[n++] = raw[i];
	}
	out[n++] = '"';
	return n;
}

static void
test_random_round_trip(void **state)
{
	static const char alphabet[] = "aZ09.@\"\\ !#-_+~(),";
	char	 raw[16], spelled[64], in[128], c1[ADDR_PATH_MAX + 1],
		 c2[ADDR_PATH_MAX + 1], c3[ADDR_PATH_MAX + 1];
	size_t	 len, n, i;
	int	 round, valid = 0;

	(void)state;
	srandom(7);
	for (round = 0; round < 100000; round++) {
		len = (size_t)random() % sizeof(raw);
		for (i = 0; i < len; i++)
			raw[i] = alphabet[random() % (sizeof(alphabet) - 1)];
		n = respell(raw, len, spelled);
		memcpy(in, spelled, n);
		memcpy(in + n, "@Ex.Org", 7);
		n += 7;
		assert_int_equal(canon(in, n, c1, sizeof(c1)), 0);
		assert_true(addr_valid_mailbox(c1, strlen(c1), NULL));
		assert_true(strlen(c1) <= n);
		/* Idempotent, and the same for another spelling. */
		assert_int_equal(canon(c1, strlen(c1), c2, sizeof(c2)), 0);
		assert_string_equal(c1, c2);
		n = respell(raw, len, spelled);
		memcpy(in, spelled, n);
		memcpy(in + n, "@eX.oRG", 7);
		assert_int_equal(canon(in, n + 7, c3, sizeof(c3)), 0);
		assert_string_equal(c1, c3);
		/* The octets survive. */
		assert_int_equal(addr_local_part(c1, spelled, sizeof(spelled)), 0);
		assert_int_equal(strlen(spelled), len);
		assert_memory_equal(spelled, raw, len);
		valid++;
	}
	assert_int_equal(valid, 100000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_postmaster_spellings),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
