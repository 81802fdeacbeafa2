/*
 * test_resolver_dns_wire - the resolver's rdata parser on good and hostile
 * input: valid MX rdata, the root name, every truncation, label and name
 * length limits, compression pointers, bad octets, trailing bytes, address
 * rdata, and a run of random bytes.  Inputs are copied into buffers of
 * exactly their length so the sanitizer build catches any over-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/dns_wire.h"

/* Parse MX rdata from an exactly-sized heap copy. */
static enum dns_wire_err
parse_mx(const void *rdata, size_t len, struct dns_mx *mx)
{
	unsigned char		*copy = malloc(len > 0 ? len : 1);
	enum dns_wire_err	 e;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, rdata, len);
	e = dns_wire_mx(copy, len, mx);
	free(copy);
	return e;
}

/* Build "pref + name" rdata from labels given as one dotted string. */
static size_t
make_mx(unsigned char *out, size_t outlen, uint16_t pref, const char *dotted)
{
	size_t		 n = 0, l;
	const char	*p = dotted, *dot;

	assert_true(outlen > 3);
	out[n++] = (unsigned char)(pref >> 8);
	out[n++] = (unsigned char)pref;
	while (*p != '\0') {
		dot = strchr(p, '.');
		l = dot ? (size_t)(dot - p) : strlen(p);
		assert_true(n + 1 + l < outlen);
		out[n++] = (unsigned char)l;
		memcpy(out + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[n++] = 0;
	return n;
}

static void
test_mx_valid(void **state)
{
	unsigned char	 rd[300];
	struct dns_mx	 mx;
	size_t		 n;

	(void)state;
	n = make_mx(rd, sizeof(rd), 10, "mx1.example.org");
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	assert_int_equal(mx.pref, 10);
	assert_string_equal(mx.host, "mx1.example.org");

	n = make_mx(rd, sizeof(rd), 65535, "MX-2.Example.ORG");
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	assert_int_equal(mx.pref, 65535);
	assert_string_equal(mx.host, "mx-2.example.org");	/* lower case */

	n = make_mx(rd, sizeof(rd), 0, "_smtp.x1");
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	assert_string_equal(mx.host, "_smtp.x1");
}

static void
test_mx_root_name(void **state)
{
	const unsigned char	 nullmx[] = { 0, 0, 0 };
	struct dns_mx		 mx;

	(void)state;
	assert_int_equal(parse_mx(nullmx, sizeof(nullmx), &mx), DNS_WIRE_OK);
	assert_int_equal(mx.pref, 0);
	assert_string_equal(mx.host, ".");
}

static void
test_mx_every_truncation(void **state)
{
	unsigned char	 rd[300];
	struct dns_mx	 mx;
	size_t		 n, i;

	(void)state;
	n = make_mx(rd, sizeof(rd), 5, "a.bb.ccc.example");
	for (i = 0; i < n; i++) {
		assert_int_equal(parse_mx(rd, i, &mx), DNS_WIRE_ETRUNC);
		assert_string_equal(mx.host, "");
	}
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	/* A label that claims more bytes than there are. */
	rd[2] = 40;
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_ETRUNC);
	assert_int_equal(dns_wire_mx(NULL, 0, &mx), DNS_WIRE_ETRUNC);
}

static void
test_mx_label_length(void **state)
{
	unsigned char	 rd[300];
	char		 l63[64], l64[65], name[140];
	struct dns_mx	 mx;
	size_t		 n;

	(void)state;
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'b', 64);
	l64[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", l63);
	n = make_mx(rd, sizeof(rd), 1, name);
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	assert_int_equal(strlen(mx.host), 63 + 8);

	snprintf(name, sizeof(name), "%s.example", l64);
	n = make_mx(rd, sizeof(rd), 1, name);
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_ELABEL);
	assert_string_equal(mx.host, "");
}

static void
test_mx_name_length(void **state)
{
	unsigned char	 rd[400];
	char		 name[300];
	struct dns_mx	 mx;
	size_t		 n;

	(void)state;
	/* 3 x (1 + 63) + (1 + 61) + 1 = 255 octets: the longest name. */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[191 + 62] = '\0';
	n = make_mx(rd, sizeof(rd), 1, name);
	assert_int_equal(n, 2 + 255);
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_OK);
	assert_int_equal(strlen(mx.host), DNS_NAME_MAX);

	/* One more octet: 256. */
	name[191 + 62] = 'a';
	name[191 + 63] = '\0';
	n = make_mx(rd, sizeof(rd), 1, name);
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_ENAME);
	assert_string_equal(mx.host, "");

	/* Many short labels: 128 x "a" is 257 octets. */
	for (n = 0; n < 256; n += 2) {
		name[n] = 'a';
		name[n + 1] = '.';
	}
	name[255] = '\0';
	n = make_mx(rd, sizeof(rd), 1, name);
	assert_int_equal(parse_mx(rd, n, &mx), DNS_WIRE_ENAME);
}

static void
test_mx_pointers(void **state)
{
	const unsigned char	 ptr[] = { 0, 10, 0xc0, 0x0c };
	const unsigned char	 ptr_after[] = { 0, 10, 2, 'm', 'x', 0xc0, 0x0c };
	const unsigned char	 ptr_any[] = { 0, 10, 0xff, 0xff };
	const unsigned char	 ext40[] = { 0, 10, 0x41, 0 };
	const unsigned char	 ext80[] = { 0, 10, 0x80, 0 };
	struct dns_mx		 mx;

	(void)state;
	assert_int_equal(parse_mx(ptr, sizeof(ptr), &mx), DNS_WIRE_EPTR);
	assert_int_equal(parse_mx(ptr_after, sizeof(ptr_after), &mx),
	    DNS_WIRE_EPTR);
	assert_int_equal(parse_mx(ptr_any, sizeof(ptr_any), &mx),
	    DNS_WIRE_EPTR);
	/* Obsolete extended label types read as over-long labels. */
	assert_int_equal(parse_mx(ext40, sizeof(ext40), &mx), DNS_WIRE_ELABEL);
	assert_int_equal(parse_mx(ext80, sizeof(ext80), &mx), DNS_WIRE_ELABEL);
}

static void
test_mx_bad_octets(void **state)
{
	const unsigned char	 dot[] = { 0, 1, 3, 'a', '.', 'b', 0 };
	const unsigned char	 space[] = { 0, 1, 3, 'a', ' ', 'b', 0 };
	const unsigned char	 nul[] = { 0, 1, 3, 'a', 0, 'b', 0 };
	const unsigned char	 high[] = { 0, 1, 3, 'a', 0xe9, 'b', 0 };
	const unsigned char	 bslash[] = { 0, 1, 1, '\\', 0 };
	struct dns_mx		 mx;

	(void)state;
	assert_int_equal(parse_mx(dot, sizeof(dot), &mx), DNS_WIRE_ECHAR);
	assert_int_equal(parse_mx(space, sizeof(space), &mx), DNS_WIRE_ECHAR);
	assert_int_equal(parse_mx(nul, sizeof(nul), &mx), DNS_WIRE_ECHAR);
	assert_int_equal(parse_mx(high, sizeof(high), &mx), DNS_WIRE_ECHAR);
	assert_int_equal(parse_mx(bslash, sizeof(bslash), &mx), DNS_WIRE_ECHAR);
	assert_string_equal(mx.host, "");
}

static void
test_mx_trailing(void **state)
{
	const unsigned char	 trail[] = { 0, 1, 1, 'a', 0, 0 };
	const unsigned char	 root_trail[] = { 0, 1, 0, 'x' };
	struct dns_mx		 mx;

	(void)state;
	assert_int_equal(parse_mx(trail, sizeof(trail), &mx), DNS_WIRE_ETRAIL);
	assert_int_equal(parse_mx(root_trail, sizeof(root_trail), &mx),
	    DNS_WIRE_ETRAIL);
}

static void
test_name_small_output(void **state)
{
	const unsigned char	 wire[] = { 3, 'a', 'b', 'c', 2, 'd', 'e', 0 };
	const unsigned char	 root[] = { 0 };
	char			 out[8];
	size_t			 off = 0;

	(void)state;
	/* "abc.de" needs exactly 7 bytes with its NUL. */
	assert_int_equal(dns_wire_name(wire, sizeof(wire), &off, out, 6),
	    DNS_WIRE_ENAME);
	assert_string_equal(out, "");
	assert_int_equal(off, 0);
	assert_int_equal(dns_wire_name(wire, sizeof(wire), &off, out, 0),
	    DNS_WIRE_ENAME);
	assert_int_equal(dns_wire_name(wire, sizeof(wire), &off, out, 7),
	    DNS_WIRE_OK);
	assert_string_equal(out, "abc.de");
	assert_int_equal(off, sizeof(wire));
	off = 0;
	assert_int_equal(dns_wire_name(root, sizeof(root), &off, out, 1),
	    DNS_WIRE_ENAME);
	off = 0;
	assert_int_equal(dns_wire_name(root, sizeof(root), &off, out, 2),
	    DNS_WIRE_OK);
	assert_string_equal(out, ".");
}

/* A name that starts in the middle of a buffer, as in a packet. */
static void
test_name_at_offset(void **state)
{
	const unsigned char	 buf[] = { 0xff, 0xff, 1, 'x', 0, 0xee };
	char			 out[DNS_NAME_MAX + 1];
	size_t			 off = 2;

	(void)state;
	assert_int_equal(dns_wire_name(buf, sizeof(buf), &off, out,
	    sizeof(out)), DNS_WIRE_OK);
	assert_string_equal(out, "x");
	assert_int_equal(off, 5);
	off = sizeof(buf);
	assert_int_equal(dns_wire_name(buf, sizeof(buf), &off, out,
	    sizeof(out)), DNS_WIRE_ETRUNC);
}

static void
test_addr(void **state)
{
	const unsigned char	 a[] = { 192, 0, 2, 1 };
	const unsigned char	 aaaa[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				    0, 0, 0, 0, 0, 0, 0, 1 };
	char			 out[DNS_ADDR_TEXT_MAX];

	(void)state;
	assert_int_equal(dns_wire_addr(DNS_TYPE_A, a, 4, out, sizeof(out)),
	    DNS_WIRE_OK);
	assert_string_equal(out, "192.0.2.1");
	assert_int_equal(dns_wire_addr(DNS_TYPE_AAAA, aaaa, 16, out,
	    sizeof(out)), DNS_WIRE_OK);
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(dns_wire_addr(DNS_TYPE_A, a, 3, out, sizeof(out)),
	    DNS_WIRE_ELEN);
	assert_string_equal(out, "");
	assert_int_equal(dns_wire_addr(DNS_TYPE_A, aaaa, 16, out, sizeof(out)),
	    DNS_WIRE_ELEN);
	assert_int_equal(dns_wire_addr(DNS_TYPE_AAAA, aaaa, 15, out,
	    sizeof(out)), DNS_WIRE_ELEN);
	assert_int_equal(dns_wire_addr(DNS_TYPE_MX, a, 4, out, sizeof(out)),
	    DNS_WIRE_ELEN);
	assert_int_equal(dns_wire_addr(DNS_TYPE_A, NULL, 4, out, sizeof(out)),
	    DNS_WIRE_ELEN);
	/* Too small for the text: an error, never an overflow. */
	assert_int_not_equal(dns_wire_addr(DNS_TYPE_A, a, 4, out, 5),
	    DNS_WIRE_OK);
}

static void
test_names_of_things(void **state)
{
	char	 tmp[16];

	(void)state;
	assert_string_equal(dns_rcode_name(0, tmp, sizeof(tmp)), "NOERROR");
	assert_string_equal(dns_rcode_name(2, tmp, sizeof(tmp)), "SERVFAIL");
	assert_string_equal(dns_rcode_name(5, tmp, sizeof(tmp)), "REFUSED");
	assert_string_equal(dns_rcode_name(23, tmp, sizeof(tmp)), "RCODE23");
	assert_string_equal(dns_rcode_name(-1, tmp, sizeof(tmp)), "RCODE-1");
	assert_string_equal(dns_wire_strerror(DNS_WIRE_EPTR),
	    "compression pointer in rdata");
	assert_string_equal(dns_wire_strerror((enum dns_wire_err)99),
	    "unknown error");
}

/* Random rdata, biased towards small label lengths so that some of it
 * parses: nothing may crash, and whatever parses must be clean text. */
static void
test_random_rdata(void **state)
{
	unsigned char	 rd[64];
	struct dns_mx	 mx;
	uint32_t	 seed = 12345;
	size_t		 len, i, j;
	int		 ok = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof(rd);
		for (j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			rd[j] = (seed >> 24) % 4 == 0 ? (unsigned char)((seed >> 8) % 6) :
			    (unsigned char)("abcXYZ-_09.\\ "[(seed >> 12) % 13]);
		}
		if (parse_mx(rd, len, &mx) != DNS_WIRE_OK) {
			assert_string_equal(mx.host, "");
			continue;
		}
		ok++;
		assert_true(strlen(mx.host) <= DNS_NAME_MAX);
		for (j = 0; mx.host[j] != '\0'; j++)
			assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
			    "0123456789-_.", mx.host[j]));
	}
	assert_true(ok > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_valid),
		cmocka_unit_test(test_mx_root_name),
		cmocka_unit_test(test_mx_every_truncation),
		cmocka_unit_test(test_mx_label_length),
		cmocka_unit_test(test_mx_name_length),
		cmocka_unit_test(test_mx_pointers),
		cmocka_unit_test(test_mx_bad_octets),
		cmocka_unit_test(test_mx_trailing),
		cmocka_unit_test(test_name_small_output),
		cmocka_unit_test(test_name_at_offset),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_names_of_things),
		cmocka_unit_test(test_random_rdata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
