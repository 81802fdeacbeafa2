/*
 * Unit tests for smtpd/smtpd_dsn.c and its use by the MAIL/RCPT parser:
 * xtext decoding (hex in either case, truncated escapes, bytes xtext may
 * not hold, control characters after decoding, length limits), RET,
 * NOTIFY (NEVER alone, each keyword once, any case), ORCPT (type;xtext),
 * ENVID, and the 501/555 replies the parser gives for bad and misplaced
 * parameters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue_file.h"
#include "smtpd/smtpd_command.h"
#include "smtpd/smtpd_dsn.h"

static int
xtext(const char *in, char *out, size_t outlen)
{
	return smtpd_xtext_decode(in, strlen(in), out, outlen);
}

static void
test_xtext(void **state)
{
	char	 out[16];

	(void)state;
	assert_int_equal(xtext("abc", out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(xtext("a+2Bb+3d", out, sizeof(out)), 4);
	assert_string_equal(out, "a+b=");
	assert_int_equal(xtext("+20x", out, sizeof(out)), 2);
	assert_string_equal(out, " x");
	assert_int_equal(xtext("", out, sizeof(out)), 0);
	assert_int_equal(xtext("a+", out, sizeof(out)), -1);
	assert_int_equal(xtext("a+2", out, sizeof(out)), -1);
	assert_int_equal(xtext("a+G0", out, sizeof(out)), -1);
	assert_int_equal(xtext("a=b", out, sizeof(out)), -1);
	assert_int_equal(xtext("a b", out, sizeof(out)), -1);
	assert_int_equal(xtext("a+0Ab", out, sizeof(out)), -1);	/* LF */
	assert_int_equal(xtext("a+00", out, sizeof(out)), -1);	/* NUL */
	assert_int_equal(xtext("+C3+A9", out, sizeof(out)), -1);	/* 8-bit */
	assert_int_equal(xtext("a\x80", out, sizeof(out)), -1);
	/* 15 bytes fit in 16, 16 do not. */
	assert_int_equal(xtext("aaaaaaaaaaaaaaa", out, sizeof(out)), 15);
	assert_int_equal(xtext("aaaaaaaaaaaaaaaa", out, sizeof(out)), -1);
	assert_int_equal(smtpd_xtext_decode("abc", 3, out, 0), -1);
}

static void
test_ret_notify(void **state)
{
	(void)state;
	assert_int_equal(smtpd_dsn_ret("FULL", 4), QUEUE_RET_FULL);
	assert_int_equal(smtpd_dsn_ret("hdrs", 4), QUEUE_RET_HDRS);
	assert_int_equal(smtpd_dsn_ret("FUL", 3), -1);
	assert_int_equal(smtpd_dsn_ret("FULLX", 5), -1);
	assert_int_equal(smtpd_dsn_ret(NULL, 0), -1);
	assert_int_equal(smtpd_dsn_notify("NEVER", 5), QUEUE_NOTIFY_NEVER);
	assert_int_equal(smtpd_dsn_notify("success", 7), QUEUE_NOTIFY_SUCCESS);
	assert_int_equal(smtpd_dsn_notify("SUCCESS,FAILURE,DELAY", 21),
	    QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY);
	assert_int_equal(smtpd_dsn_notify("DELAY,FAILURE", 13),
	    QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY);
	assert_int_equal(smtpd_dsn_notify("NEVER,DELAY", 11), -1);
	assert_int_equal(smtpd_dsn_notify("DELAY,DELAY", 11), -1);
	assert_int_equal(smtpd_dsn_notify("DELAY,", 6), -1);
	assert_int_equal(smtpd_dsn_notify(",DELAY", 6), -1);
	assert_int_equal(smtpd_dsn_notify("", 0), -1);
	assert_int_equal(smtpd_dsn_notify("SOMETIMES", 9), -1);
	assert_int_equal(smtpd_dsn_notify(NULL, 0), -1);
}

static void
test_orcpt_envid(void **state)
{
	char	 o[SMTP_ADDRTYPE_MAX + SMTP_ORCPT_MAX + 2];
	char	 e[SMTP_ENVID_MAX + 1], longv[SMTP_ORCPT_MAX + 20];
	const char *v;

	(void)state;
	v = "rfc822;a+2Bb@example.org";
	assert_int_equal(smtpd_dsn_orcpt(v, strlen(v), o, sizeof(o)), 0);
	assert_string_equal(o, "rfc822;a+b@example.org");
	v = "utf-8;x@y";
	assert_int_equal(smtpd_dsn_orcpt(v, strlen(v), o, sizeof(o)), 0);
	assert_string_equal(o, "utf-8;x@y");
	assert_int_equal(smtpd_dsn_orcpt("rfc822", 6, o, sizeof(o)), -1);
	assert_int_equal(smtpd_dsn_orcpt("rfc822;", 7, o, sizeof(o)), -1);
	assert_int_equal(smtpd_dsn_orcpt(";a@b", 4, o, sizeof(o)), -1);
	assert_int_equal(smtpd_dsn_orcpt("rf c;a@b", 8, o, sizeof(o)), -1);
	assert_int_equal(smtpd_dsn_orcpt("rfc822;a+0D@b", 13, o, sizeof(o)), -1);
	memcpy(longv, "rfc822;", 7);
	memset(longv + 7, 'a', SMTP_ORCPT_MAX);
	assert_int_equal(smtpd_dsn_orcpt(longv, 7 + SMTP_ORCPT_MAX, o,
	    sizeof(o)), 0);
	memset(longv + 7, 'a', SMTP_ORCPT_MAX + 1);
	assert_int_equal(smtpd_dsn_orcpt(longv, 8 + SMTP_ORCPT_MAX, o,
	    sizeof(o)), -1);
	assert_int_equal(smtpd_dsn_envid("abc+2B1", 7, e, sizeof(e)), 0);
	assert_string_equal(e, "abc+1");
	assert_int_equal(smtpd_dsn_envid("", 0, e, sizeof(e)), -1);
	assert_int_equal(smtpd_dsn_envid(NULL, 0, e, sizeof(e)), -1);
	memset(longv, 'x', SMTP_ENVID_MAX + 1);
	assert_int_equal(smtpd_dsn_envid(longv, SMTP_ENVID_MAX, e, sizeof(e)),
	    0);
	assert_int_equal(smtpd_dsn_envid(longv, SMTP_ENVID_MAX + 1, e,
	    sizeof(e)), -1);
}

static void
parse_ok(int is_mail, const char *arg, struct smtpd_path *p)
{
	struct smtpd_result	 r;
	int			 rc;

	rc = is_mail ? smtpd_command_mail(arg, strlen(arg), p, &r) :
	    smtpd_command_rcpt(arg, strlen(arg), p, &r);
	if (rc != 0)
		fail_msg("%s: %d %s", arg, r.code, r.text);
}

static void
parse_bad(int is_mail, const char *arg, int code)
{
	struct smtpd_path	 p;
	struct smtpd_result	 r;
	int			 rc;

	rc = is_mail ? smtpd_command_mail(arg, strlen(arg), &p, &r) :
	    smtpd_command_rcpt(arg, strlen(arg), &p, &r);
	assert_int_equal(rc, -1);
	assert_int_equal(r.code, code);
	assert_string_equal(r.enhanced, "5.5.4");
}

static void
test_commands(void **state)
{
	struct smtpd_path	 p;

	(void)state;
	parse_ok(1, "FROM:<a@b.example> RET=HDRS ENVID=QQ+2B1", &p);
	assert_int_equal(p.ret, QUEUE_RET_HDRS);
	assert_string_equal(p.envid, "QQ+1");
	parse_ok(1, "FROM:<> SIZE=10 ret=full", &p);
	assert_int_equal(p.ret, QUEUE_RET_FULL);
	assert_string_equal(p.envid, "");
	parse_ok(0, "TO:<c@d.example> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;C+40d.example", &p);
	assert_int_equal(p.notify, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY);
	assert_string_equal(p.orcpt, "rfc822;C@d.example");
	parse_ok(0, "TO:<c@d.example>", &p);
	assert_int_equal(p.notify, 0);
	assert_string_equal(p.orcpt, "");
	parse_bad(1, "FROM:<a@b.example> RET=ALL", 501);
	parse_bad(1, "FROM:<a@b.example> RET=FULL RET=HDRS", 501);
	parse_bad(1, "FROM:<a@b.example> RET", 501);
	parse_bad(1, "FROM:<a@b.example> ENVID=a+ZZ", 501);
	parse_bad(1, "FROM:<a@b.example> ENVID=a ENVID=b", 501);
	parse_bad(0, "TO:<c@d.example> NOTIFY=NEVER,SUCCESS", 501);
	parse_bad(0, "TO:<c@d.example> NOTIFY=DELAY NOTIFY=DELAY", 501);
	parse_bad(0, "TO:<c@d.example> ORCPT=c@d.example", 501);
	parse_bad(0, "TO:<c@d.example> ORCPT=rfc822;a ORCPT=rfc822;b", 501);
	/* On the other command: not a parameter of that command. */
	parse_bad(1, "FROM:<a@b.example> NOTIFY=NEVER", 555);
	parse_bad(1, "FROM:<a@b.example> ORCPT=rfc822;a", 555);
	parse_bad(0, "TO:<c@d.example> RET=FULL", 555);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_ret_notify),
		cmocka_unit_test(test_orcpt_envid),
		cmocka_unit_test(test_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
