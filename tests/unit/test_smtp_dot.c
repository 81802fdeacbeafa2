/*
 * Unit tests for smtp/smtp_dot.c, the encoder of the message for DATA, and
 * smtp/smtp_nexthop.c's parser of next hops.  The encoder must give the
 * same bytes for any chunking, emit only CRLF line ends (never a bare CR
 * or LF), double every dot that starts a line, and never let
 * "CRLF.CRLF" appear before its own end: whatever the stored message
 * holds, it arrives as exactly one message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp.h"

/* Encode in[0..n) in chunks of the sizes rand() picks (max 0: whole). */
static char *
encode(const char *in, size_t n, size_t maxchunk, size_t *outlen)
{
	struct smtp_dot	 d;
	char		*out = malloc(SMTP_DOT_OUT(n) + SMTP_DOT_END_MAX + 1);
	size_t		 i = 0, o = 0, c;

	assert_non_null(out);
	smtp_dot_init(&d);
	while (i < n) {
		c = maxchunk == 0 ? n - i : 1 + (size_t)rand() % maxchunk;
		if (c > n - i)
			c = n - i;
		o += smtp_dot_encode(&d, in + i, c, out + o);
		i += c;
	}
	o += smtp_dot_finish(&d, out + o);
	out[o] = '\0';
	*outlen = o;
	return out;
}

static void
check(const char *in, const char *want)
{
	size_t	 len;
	char	*out = encode(in, strlen(in), 0, &len);

	assert_string_equal(out, want);
	free(out);
}

static void
test_examples(void **state)
{
	(void)state;
	check("", ".\r\n");
	check("a", "a\r\n.\r\n");
	check("a\n", "a\r\n.\r\n");
	check("a\r\n", "a\r\n.\r\n");
	check(".\n", "..\r\n.\r\n");
	check("a\n.\nb\n", "a\r\n..\r\nb\r\n.\r\n");
	check("..x\n", "...x\r\n.\r\n");
	check("a.b\n", "a.b\r\n.\r\n");
	/* Bare CR: a line end, so the dot after it is doubled. */
	check("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n");
	check("a\r", "a\r\n.\r\n");
	check("\r\r\n", "\r\n\r\n.\r\n");
	check("\n.\r\n", "\r\n..\r\n.\r\n");
}

/* The properties of out for any input: CR only before LF, LF only after
 * CR, no line "." before the last one, and it ends with CRLF.CRLF. */
static void
check_wire(const char *out, size_t len)
{
	size_t	 i;

	assert_true(len >= 3);
	assert_memory_equal(out + len - 3, ".\r\n", 3);
	for (i = 0; i < len; i++) {
		if (out[i] == '\r')
			assert_true(i + 1 < len && out[i + 1] == '\n');
		if (out[i] == '\n')
			assert_true(i > 0 && out[i - 1] == '\r');
		/* A line that is a lone dot ends the data: only the last. */
		if (out[i] == '.' && (i == 0 || out[i - 1] == '\n') &&
		    i + 2 < len && out[i + 1] == '\r')
			assert_int_equal(i + 3, len);
	}
}

static void
test_random_chunking(void **state)
{
	static const char alphabet[] = "..\r\n\r\nab";
	char	 in[200];
	char	*whole, *part;
	size_t	 n, i, wl, pl;
	int	 round;

	(void)state;
	srand(11);
	for (round = 0; round < 20000; round++) {
		n = (size_t)rand() % sizeof(in);
		for (i = 0; i < n; i++)
			in[i] = rand() % 8 == 0 ? (char)(rand() % 256) :
			    alphabet[rand() % (sizeof(alphabet) - 1)];
		whole = encode(in, n, 0, &wl);
		check_wire(whole, wl);
		part = encode(in, n, 1 + (size_t)rand() % 7, &pl);
		assert_int_equal(wl, pl);
		assert_memory_equal(whole, part, wl);
		free(whole);
		free(part);
	}
}

static void
test_bound(void **state)
{
	/* The worst case per byte: a pending CR then a dot. */
	char		 out[SMTP_DOT_OUT(1)];
	struct smtp_dot	 d;

	(void)state;
	smtp_dot_init(&d);
	assert_int_equal(smtp_dot_encode(&d, "\r", 1, out), 0);
	assert_int_equal(smtp_dot_encode(&d, ".", 1, out), 4);
	assert_memory_equal(out, "\r\n..", 4);
}

static void
test_nexthop(void **state)
{
	static const char *bad[] = { "", "[", "[]", "[1.2.3.4", "[1.2.3.4]x",
	    "[1.2.3.4]:", "[1.2.3.4]:0", "[1.2.3.4]:65536", "[1.2.3.4]:2x",
	    "bad domain", "example.org:", "example.org:-1", ":25" };
	struct smtp_nexthop nh;
	size_t		 i;

	(void)state;
	assert_int_equal(smtp_nexthop_parse("example.org", &nh), 0);
	assert_string_equal(nh.host, "example.org");
	assert_int_equal(nh.port, 25);
	assert_int_equal(nh.literal, 0);
	assert_int_equal(smtp_nexthop_parse("[192.0.2.1]:2525", &nh), 0);
	assert_string_equal(nh.host, "192.0.2.1");
	assert_int_equal(nh.port, 2525);
	assert_int_equal(nh.literal, 1);
	assert_int_equal(smtp_nexthop_parse("[2001:db8::1]", &nh), 0);
	assert_string_equal(nh.host, "2001:db8::1");
	assert_int_equal(nh.port, 25);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (smtp_nexthop_parse(bad[i], &nh) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_nexthop_lmtp(void **state)
{
	static const char *bad[] = { "", "unix:", "inet:", "inet:[1.2.3.4]:0",
	    "[1.2.3.4", "bad domain", "host:", "inet:host:99999", ":24" };
	struct smtp_nexthop nh;
	struct smtp_addr a[4];
	char		 longpath[5 + 120 + 1];
	size_t		 i;
	int		 n;

	(void)state;
	/* A path that does not fit in sun_path. */
	memcpy(longpath, "unix:", 5);
	memset(longpath + 5, 'a', 120);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(smtp_nexthop_parse_lmtp(longpath, &nh), -1);
	/* A socket: its path as written, relative to the queue or not. */
	assert_int_equal(smtp_nexthop_parse_lmtp("unix:private/Dovecot-lmtp",
	    &nh), 0);
	assert_string_equal(nh.host, "private/Dovecot-lmtp");
	assert_int_equal(nh.unix_path, 1);
	assert_int_equal(nh.literal, 1);
	n = 0;
	assert_int_equal(smtp_nexthop_addrs(&nh, "mail.example", a, &n, 4), 1);
	assert_int_equal(a[0].sa.ss_family, AF_UNIX);
	assert_string_equal(a[0].host, "mail.example");
	assert_string_equal(a[0].ip, "private/Dovecot-lmtp");
	/* TCP: port 24 unless given, never an MX lookup. */
	assert_int_equal(smtp_nexthop_parse_lmtp("[192.0.2.1]", &nh), 0);
	assert_int_equal(nh.port, 24);
	assert_int_equal(nh.literal, 1);
	assert_int_equal(nh.unix_path, 0);
	assert_int_equal(smtp_nexthop_parse_lmtp("inet:192.0.2.1:2424", &nh),
	    0);
	assert_string_equal(nh.host, "192.0.2.1");
	assert_int_equal(nh.port, 2424);
	n = 0;
	assert_int_equal(smtp_nexthop_addrs(&nh, "m", a, &n, 4), 1);
	assert_string_equal(a[0].ip, "192.0.2.1");
	assert_int_equal(smtp_nexthop_parse_lmtp("localhost:2424", &nh), 0);
	n = 0;
	assert_int_equal(smtp_nexthop_addrs(&nh, "m", a, &n, 4), 2);
	assert_string_equal(a[0].ip, "127.0.0.1");
	assert_string_equal(a[1].ip, "::1");
	/* Another host name would need a lookup: none yet. */
	assert_int_equal(smtp_nexthop_parse_lmtp("store.example", &nh), 0);
	n = 0;
	assert_int_equal(smtp_nexthop_addrs(&nh, "m", a, &n, 4), 0);
	/* SMTP's "[localhost]" is no address (unchanged). */
	assert_int_equal(smtp_nexthop_parse("[localhost]", &nh), 0);
	n = 0;
	assert_int_equal(smtp_nexthop_addrs(&nh, "m", a, &n, 4), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (smtp_nexthop_parse_lmtp(bad[i], &nh) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_addr_list(void **state)
{
	struct smtp_addr a[3];
	int		 n = 0;

	(void)state;
	assert_int_equal(smtp_addr_add_list(a, &n, 3, "mx.example",
	    "2001:db8::1 junk 192.0.2.1  192.0.2.2 192.0.2.3", 25), 3);
	assert_int_equal(n, 3);
	assert_string_equal(a[0].ip, "2001:db8::1");
	assert_string_equal(a[1].ip, "192.0.2.1");
	assert_string_equal(a[2].host, "mx.example");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_random_chunking),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_nexthop),
		cmocka_unit_test(test_nexthop_lmtp),
		cmocka_unit_test(test_addr_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
