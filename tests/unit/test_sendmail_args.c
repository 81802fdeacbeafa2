/*
 * Unit tests for tools/sendmail: the command line as Postfix's sendmail
 * reads it (every caller's exact arguments, the modes, usage errors), -N
 * and -V, reading a message (dots with and without -i, CRLF, NUL, size
 * limit) and recipient gathering.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tools/sendmail/sendmail.h"

static int
args(struct sendmail_opts *o, ...)
{
	static char *argv[32];	/* o->rcpt points into it */
	int	 argc = 0;
	va_list	 ap;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return sendmail_args(argc, argv, o);
}

static void
test_callers(void **state)
{
	struct sendmail_opts	 o;

	(void)state;
	assert_int_equal(args(&o, "sendmail", "-FCronDaemon", "-i",
	    "-B8BITMIME", "-oem", "root", NULL), 0);
	assert_string_equal(o.fullname, "CronDaemon");
	assert_true(o.ignore_dots);
	assert_int_equal(o.body, QUEUE_BODY_8BITMIME);
	assert_int_equal(o.nrcpt, 1);
	assert_string_equal(o.rcpt[0], "root");
	assert_int_equal(args(&o, "sendmail", "-oi", "-f", "a@b", "-t", NULL), 0);
	assert_true(o.extract && o.ignore_dots);
	assert_string_equal(o.sender, "a@b");
	assert_int_equal(o.nrcpt, 0);
	assert_int_equal(args(&o, "sendmail", "-oem", "-oi", "-B8BITMIME", "-f",
	    "a@b", "--", "-x@y", NULL), 0);
	assert_int_equal(o.nrcpt, 1);
	assert_string_equal(o.rcpt[0], "-x@y");
	assert_int_equal(args(&o, "sendmail", "-bs", "-odb", "-oem", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_SMTP);
	assert_int_equal(args(&o, "sendmail", "-r", "x", "-N", "success,delay",
	    "-R", "hdrs", "-V", "id1", "-v", "-L", "tag", "-C", "/c", "u",
	    NULL), 0);
	assert_string_equal(o.sender, "x");
	assert_int_equal(o.notify, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY);
	assert_int_equal(o.ret, QUEUE_RET_HDRS);
	assert_string_equal(o.envid, "id1");
	assert_string_equal(o.config, "/c");
	/* Options stop at the first recipient, as in Postfix. */
	assert_int_equal(args(&o, "sendmail", "u", "-t", NULL), 0);
	assert_false(o.extract);
	assert_int_equal(o.nrcpt, 2);
}

static void
test_modes(void **state)
{
	struct sendmail_opts	 o;

	(void)state;
	assert_int_equal(args(&o, "/usr/bin/mailq", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_MAILQ);
	assert_int_equal(args(&o, "newaliases", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_NEWALIASES);
	assert_int_equal(args(&o, "sendmail", "-bp", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_MAILQ);
	assert_int_equal(args(&o, "sendmail", "-I", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_NEWALIASES);
	assert_int_equal(args(&o, "sendmail", "-q", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_FLUSH);
	assert_int_equal(args(&o, "sendmail", "-q30m", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_IGNORE);	/* reads no message */
	assert_int_equal(args(&o, "sendmail", "-bh", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_IGNORE);
	assert_int_equal(args(&o, "sendmail", "-qRexample.org", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_FLUSH);
	assert_int_equal(args(&o, "sendmail", "-Am", "-L", "x", "-oA/etc/a",
	    "u", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_DELIVER);
	assert_int_equal(o.nrcpt, 1);
	assert_int_equal(args(&o, "sendmail", "-bv", "a@b", NULL), 0);
	assert_int_equal(o.mode, SM_MODE_VERIFY);
}

static void
test_usage_errors(void **state)
{
	struct sendmail_opts	 o;

	(void)state;
	assert_int_equal(args(&o, "sendmail", "-Z", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-f", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-bd", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-bx", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-B9BIT", "u", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-Nsometimes", "u", NULL),
	    SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-Rall", "u", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-V", "a=b", "u", NULL),
	    SM_EX_USAGE);
	assert_int_equal(args(&o, "mailq", "u", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-qX", NULL), SM_EX_USAGE);
	assert_int_equal(args(&o, "sendmail", "-bp", "-t", NULL), SM_EX_USAGE);
	assert_non_null(o.error);
}

static void
test_notify(void **state)
{
	int	 b;

	(void)state;
	assert_int_equal(sendmail_parse_notify("never", &b), 0);
	assert_int_equal(b, QUEUE_NOTIFY_NEVER);
	assert_int_equal(sendmail_parse_notify("FAILURE", &b), 0);
	assert_int_equal(b, QUEUE_NOTIFY_FAILURE);
	assert_int_equal(sendmail_parse_notify("", &b), -1);
	assert_int_equal(sendmail_parse_notify("success,", &b), -1);
	assert_int_equal(sendmail_parse_notify(",delay", &b), -1);
	assert_int_equal(sendmail_parse_notify("never,success", &b), -1);
}

/* Feed s to sendmail_read_message through a pipe. */
static char *
readmsg(const char *s, int ignore_dots, size_t max, size_t *len,
    const char **why)
{
	int	 p[2];
	char	*m;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], s, strlen(s)), (ssize_t)strlen(s));
	close(p[1]);
	m = sendmail_read_message(p[0], ignore_dots, max, len, why);
	close(p[0]);
	return m;
}

static void
test_read_message(void **state)
{
	const char	*why;
	size_t		 len;
	char		*m;

	(void)state;
	m = readmsg("a\r\n.\r\nb\r\n", 0, 100, &len, &why);
	assert_int_equal(len, 2);
	assert_memory_equal(m, "a\n", 2);
	free(m);
	m = readmsg("a\r\n.\r\nb\rc", 1, 100, &len, &why);
	assert_int_equal(len, 8);
	assert_memory_equal(m, "a\n.\nb\rc\n", 8);
	free(m);
	m = readmsg("..\n.x\n", 0, 100, &len, &why);
	assert_int_equal(len, 6);
	free(m);
	m = readmsg("a\n.", 0, 100, &len, &why);
	assert_int_equal(len, 2);
	free(m);
	m = readmsg("", 0, 100, &len, &why);
	assert_int_equal(len, 0);
	free(m);
	assert_null(readmsg("0123456789\n", 1, 5, &len, &why));
	assert_null(readmsg("a\n", 1, 2 - 1, &len, &why));
}

static void
test_rcpts(void **state)
{
	struct sendmail_rcpts	 l = { 0 };

	(void)state;
	sendmail_rcpt_add(&l, "<Bob@Example.ORG>", 17);
	sendmail_rcpt_add(&l, "Bob@EXAMPLE.org", 15);
	sendmail_rcpt_add(&l, "carol", 5);
	sendmail_rcpt_add(&l, "a b", 3);
	sendmail_rcpt_add(&l, "@@", 2);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.addr[0], "Bob@example.org");
	assert_string_equal(l.addr[1], "carol");
	assert_int_equal(l.bad, 2);
	sendmail_rcpts_free(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callers),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_read_message),
		cmocka_unit_test(test_rcpts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
