/*
 * Unit tests for smtpd/smtpd_command.c: verb splitting, MAIL/RCPT paths
 * (brackets, the one tolerated space, source routes, <>, <postmaster>,
 * 8-bit and control bytes, length limits), ESMTP parameters, and a
 * fixed-seed mutation loop that must never crash or read out of bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtpd/smtpd_command.h"

static void
split(const char *line, enum smtpd_verb verb, const char *arg)
{
	struct smtpd_command	 c;

	smtpd_command_split(line, strlen(line), &c);
	assert_int_equal(c.verb, verb);
	assert_int_equal(c.arglen, strlen(arg));
	assert_memory_equal(c.arg, arg, c.arglen);
}

static void
test_split(void **state)
{
	(void)state;
	split("HELO a.example", SMTP_VERB_HELO, "a.example");
	split("ehlo a.example  ", SMTP_VERB_EHLO, "a.example");
	split("Mail FROM:<a@b.c> SIZE=1", SMTP_VERB_MAIL, "FROM:<a@b.c> SIZE=1");
	split("RCPT  TO:<a@b.c>", SMTP_VERB_RCPT, "TO:<a@b.c>");
	split("DATA", SMTP_VERB_DATA, "");
	split("data \t", SMTP_VERB_DATA, "");
	split("RSET", SMTP_VERB_RSET, "");
	split("NOOP whatever", SMTP_VERB_NOOP, "whatever");
	split("VRFY root", SMTP_VERB_VRFY, "root");
	split("HELP", SMTP_VERB_HELP, "");
	split("QUIT", SMTP_VERB_QUIT, "");
	split("", SMTP_VERB_UNKNOWN, "");
	split("   ", SMTP_VERB_UNKNOWN, "");
	split("DATAX", SMTP_VERB_UNKNOWN, "");
	split("DAT", SMTP_VERB_UNKNOWN, "");
	split("FROB x", SMTP_VERB_UNKNOWN, "x");
	split("MAIL:FROM:<a@b>", SMTP_VERB_UNKNOWN, "");
	assert_string_equal(smtpd_command_name(SMTP_VERB_RCPT), "RCPT");
}

/* The verb is compared with its length: an embedded NUL is no match. */
static void
test_split_nul(void **state)
{
	struct smtpd_command	 c;

	(void)state;
	smtpd_command_split("QU\0T", 4, &c);
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	smtpd_command_split("QUIT\0", 4, &c);
	assert_int_equal(c.verb, SMTP_VERB_QUIT);
}

static void
mail_ok(const char *arg, const char *addr)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;

	if (smtpd_command_mail(arg, strlen(arg), &p, &r) != 0)
		fail_msg("MAIL %s: %d %s %s", arg, r.code, r.enhanced, r.text);
	assert_string_equal(p.addr, addr);
	assert_int_equal(p.addrlen, strlen(addr));
	assert_int_equal(p.null, addr[0] == '\0');
}

static void
rcpt_ok(const char *arg, const char *addr)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;

	if (smtpd_command_rcpt(arg, strlen(arg), &p, &r) != 0)
		fail_msg("RCPT %s: %d %s %s", arg, r.code, r.enhanced, r.text);
	assert_string_equal(p.addr, addr);
	assert_false(p.null);
}

static void
mail_bad_n(const char *arg, size_t len, int code, const char *enhanced)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;

	if (smtpd_command_mail(arg, len, &p, &r) != -1)
		fail_msg("MAIL %s accepted as <%s>", arg, p.addr);
	assert_int_equal(r.code, code);
	assert_string_equal(r.enhanced, enhanced);
	assert_non_null(r.text);
}

static void
mail_bad(const char *arg, int code, const char *enhanced)
{
	mail_bad_n(arg, strlen(arg), code, enhanced);
}

static void
rcpt_bad(const char *arg, int code, const char *enhanced)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;

	if (smtpd_command_rcpt(arg, strlen(arg), &p, &r) != -1)
		fail_msg("RCPT %s accepted as <%s>", arg, p.addr);
	assert_int_equal(r.code, code);
	assert_string_equal(r.enhanced, enhanced);
}

static void
test_mail_paths(void **state)
{
	(void)state;
	mail_ok("FROM:<a@example.org>", "a@example.org");
	mail_ok("from:<a@example.org>", "a@example.org");
	mail_ok("FROM: <a@example.org>", "a@example.org");
	mail_ok("FROM:<>", "");
	mail_ok("FROM:<First.Last+tag@Sub.Example.ORG>",
	    "First.Last+tag@Sub.Example.ORG");
	mail_ok("FROM:<\"odd > quoted\"@example.org>", "\"odd > quoted\"@example.org");
	mail_ok("FROM:<\"esc\\\"aped\"@example.org>", "\"esc\\\"aped\"@example.org");
	mail_ok("FROM:<a@[192.0.2.1]>", "a@[192.0.2.1]");
	mail_ok("FROM:<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]");
	/* Source routes are accepted and dropped. */
	mail_ok("FROM:<@relay.example:a@example.org>", "a@example.org");
	mail_ok("FROM:<@r1.example,@r2.example:a@example.org>", "a@example.org");
}

static void
test_mail_bad_paths(void **state)
{
	char	 longaddr[400];

	(void)state;
	/* Command syntax: 5.5.4. */
	mail_bad("FROM:a@example.org", 501, "5.5.4");
	mail_bad("FROM:", 501, "5.5.4");
	mail_bad("FROM", 501, "5.5.4");
	mail_bad("TO:<a@example.org>", 501, "5.5.4");
	mail_bad("FROM:  <a@example.org>", 501, "5.5.4");
	mail_bad("FROM:<a@example.org", 501, "5.5.4");
	mail_bad("FROM:<a@example.org>x", 501, "5.5.4");
	mail_bad("FROM:<a@example.org>>", 501, "5.5.4");
	mail_bad("", 501, "5.5.4");
	/* Sender address syntax: 5.1.7 (RFC 3463). */
	mail_bad("FROM:<a@@example.org>", 501, "5.1.7");
	mail_bad("FROM:<no domain>", 501, "5.1.7");
	mail_bad("FROM:<nodomain>", 501, "5.1.7");
	mail_bad("FROM:<postmaster>", 501, "5.1.7");
	mail_bad("FROM:<a@-bad.example>", 501, "5.1.7");
	mail_bad("FROM:<a..b@example.org>", 501, "5.1.7");
	mail_bad("FROM:<a@[300.1.1.1]>", 501, "5.1.7");
	mail_bad("FROM:<\xc3\xa9@example.org>", 501, "5.1.7");
	mail_bad("FROM:<a@ex\xffmple.org>", 501, "5.1.7");
	mail_bad("FROM:<a\x01@example.org>", 501, "5.1.7");
	mail_bad_n("FROM:<a\0b@example.org>", 22, 501, "5.1.7");
	mail_bad("FROM:<@relay.example a@example.org>", 501, "5.1.7");
	mail_bad("FROM:<@:a@example.org>", 501, "5.1.7");
	mail_bad("FROM:<@r1.example,r2.example:a@example.org>", 501, "5.1.7");
	mail_bad("FROM:<@bad..example:a@example.org>", 501, "5.1.7");
	/* A local part of 65 octets, and a path over 256 octets. */
	memset(longaddr, 0, sizeof(longaddr));
	memcpy(longaddr, "FROM:<", 6);
	memset(longaddr + 6, 'l', 65);
	memcpy(longaddr + 71, "@example.org>", 13);
	mail_bad(longaddr, 501, "5.1.7");
	memset(longaddr + 6, 'l', 64);
	memcpy(longaddr + 70, "@example.org>", 14);
	mail_ok(longaddr,
	    "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"
	    "@example.org");
}

static void
test_long_domain(void **state)
{
	char	 arg[400], addr[300];
	size_t	 n;

	(void)state;
	/* a@ + 4 labels of 60 + dots = 2 + 243 = 245 octets: valid. */
	n = (size_t)snprintf(addr, sizeof(addr), "a@%060d.%060d.%060d.%060d", 0, 0, 0, 0);
	assert_int_equal(n, 245);
	snprintf(arg, sizeof(arg), "FROM:<%s>", addr);
	mail_ok(arg, addr);
	/* Two more labels push the path over 256 octets. */
	snprintf(arg, sizeof(arg), "FROM:<a@%060d.%060d.%060d.%060d.%060d>", 0, 0, 0, 0, 0);
	mail_bad(arg, 501, "5.1.7");
}

static void
test_mail_params(void **state)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;
	const char		*a;

	(void)state;
	a = "FROM:<a@example.org> SIZE=12345 BODY=8BITMIME";
	assert_int_equal(smtpd_command_mail(a, strlen(a), &p, &r), 0);
	assert_true(p.has_size);
	assert_true(p.size == 12345);
	assert_int_equal(p.body, SMTP_BODY_8BITMIME);

	a = "FROM:<> body=7bit  size=0";
	assert_int_equal(smtpd_command_mail(a, strlen(a), &p, &r), 0);
	assert_true(p.null);
	assert_true(p.has_size);
	assert_true(p.size == 0);
	assert_int_equal(p.body, SMTP_BODY_7BIT);

	a = "FROM:<a@example.org>";
	assert_int_equal(smtpd_command_mail(a, strlen(a), &p, &r), 0);
	assert_false(p.has_size);
	assert_int_equal(p.body, SMTP_BODY_NONE);

	a = "FROM:<a@example.org> SIZE=18446744073709551615";
	assert_int_equal(smtpd_command_mail(a, strlen(a), &p, &r), 0);
	assert_true(p.size == 18446744073709551615ULL);

	mail_bad("FROM:<a@example.org> SIZE=18446744073709551616", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> SIZE=", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> SIZE", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> SIZE=-1", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> SIZE=1x", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> SIZE=1 SIZE=2", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> BODY=BINARYMIME", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> BODY=7BIT BODY=7BIT", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> =x", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> -X=1", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> X_Y=1", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> X=a=b", 501, "5.5.4");
	mail_bad("FROM:<a@example.org> X=\xff", 501, "5.5.4");
	/* Well-formed but unknown: 555. */
	mail_bad("FROM:<a@example.org> FOO=BAR", 555, "5.5.4");
	mail_bad("FROM:<a@example.org> SMTPUTF8", 555, "5.5.4");
	mail_bad("FROM:<a@example.org> AUTH=<>", 555, "5.5.4");
}

static void
test_rcpt(void **state)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;

	(void)state;
	rcpt_ok("TO:<user@localhost>", "user@localhost");
	rcpt_ok("to: <User@LocalHost>", "User@LocalHost");
	rcpt_ok("TO:<@a.example,@b.example:user@localhost>", "user@localhost");
	rcpt_ok("TO:<postmaster>", "postmaster");
	rcpt_ok("TO:<PostMaster>", "PostMaster");
	assert_int_equal(smtpd_command_rcpt("TO:<postmaster>", 15, &p, &r), 0);
	assert_true(p.postmaster);
	assert_int_equal(smtpd_command_rcpt("TO:<postmaster@localhost>", 25, &p, &r), 0);
	assert_false(p.postmaster);

	rcpt_bad("TO:<>", 501, "5.1.3");
	rcpt_bad("TO:<no domain>", 501, "5.1.3");
	rcpt_bad("TO:<postmasterx>", 501, "5.1.3");
	rcpt_bad("TO:user@localhost", 501, "5.5.4");
	rcpt_bad("FROM:<user@localhost>", 501, "5.5.4");
	rcpt_bad("TO:<user@localhost> RET=FULL", 555, "5.5.4");
	rcpt_bad("TO:<user@localhost> ENVID=x", 555, "5.5.4");
	rcpt_bad("TO:<user@localhost> SIZE=1", 555, "5.5.4");
	rcpt_bad("TO:<user@localhost> BODY=8BITMIME", 555, "5.5.4");
	/* Trailing blanks after the path are fine. */
	rcpt_ok("TO:<user@localhost>  ", "user@localhost");
}

/* Random mutations of valid commands: no crash, no out-of-bounds read
 * (run under ASan), and every refusal is a complete reply. */
static void
test_mutations(void **state)
{
	static const char *const seeds[] = {
		"FROM:<a@example.org> SIZE=100 BODY=8BITMIME",
		"TO:<@r.example:\"q\\\"x\"@[IPv6:::1]>",
		"FROM:<>",
		"TO:<postmaster>",
	};
	static const char	 alphabet[] = "<>@:,.\" \\=[]aZ9\r\n\0\x80";
	struct smtpd_path	 p;
	struct smtpd_result	 r;
	unsigned int		 seed = 777;
	size_t			 len, i, round;
	char			*buf;
	int			 rc;

	(void)state;
	for (round = 0; round < 50000; round++) {
		const char *s = seeds[round % 4];

		len = strlen(s);
		/* Exactly len bytes on the heap, so ASan sees overreads. */
		len = len - (size_t)(rand_r(&seed) % 3);
		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		memcpy(buf, s, len);
		for (i = 0; i < 3 && len > 0; i++)
			buf[rand_r(&seed) % (int)len] =
			    alphabet[rand_r(&seed) % (int)(sizeof(alphabet) - 1)];
		rc = (round & 1) ? smtpd_command_mail(buf, len, &p, &r) :
		    smtpd_command_rcpt(buf, len, &p, &r);
		if (rc == 0) {
			assert_true(p.addrlen < sizeof(p.addr));
			assert_int_equal(strlen(p.addr), p.addrlen);
		} else {
			assert_true(r.code == 501 || r.code == 555);
			assert_non_null(r.enhanced);
			assert_non_null(r.text);
		}
		free(buf);
	}
}

/* A bare CR anywhere, or a line ended by a bare LF (eol_len 1). */
static void
test_bare(void **state)
{
	(void)state;
	assert_null(smtpd_command_bare("NOOP", 4, 2));
	assert_null(smtpd_command_bare("", 0, 2));
	assert_string_equal(smtpd_command_bare("NOOP", 4, 1), "LF");
	assert_string_equal(smtpd_command_bare("", 0, 1), "LF");
	assert_string_equal(smtpd_command_bare("HELO a\rb", 8, 2), "CR");
	assert_string_equal(smtpd_command_bare("NOOP\r", 5, 2), "CR");
	assert_string_equal(smtpd_command_bare("\r", 1, 1), "CR");
	/* Bounded by len: a CR past it is not looked at. */
	assert_null(smtpd_command_bare("NOOP\r", 4, 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_nul),
		cmocka_unit_test(test_mail_paths),
		cmocka_unit_test(test_mail_bad_paths),
		cmocka_unit_test(test_long_domain),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_bare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
