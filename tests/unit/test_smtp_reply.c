/*
 * Unit tests for smtp/smtp_reply.c, the parser of the replies the next MTA
 * sends (untrusted input): single and multi-line replies, enhanced codes
 * (kept once, refused when malformed or of another class), codes that
 * change between lines, bad separators, control characters, the line and
 * text bounds, and random bytes that must never be taken for a reply
 * beyond the rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp.h"

static int
feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_line(r, line, strlen(line));
}

static void
test_single(void **state)
{
	struct smtp_reply r;

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "250 2.1.5 Ok"), 1);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.dsn, "2.1.5");
	assert_string_equal(r.text, "Ok");
	/* Nothing may follow a last line. */
	assert_int_equal(feed(&r, "250 more"), -1);

	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "354"), 1);	/* bare code */
	assert_int_equal(r.code, 354);
	assert_string_equal(r.dsn, "");
	assert_string_equal(r.text, "");

	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "550 user unknown"), 1);
	assert_string_equal(r.dsn, "");
	assert_string_equal(r.text, "user unknown");
}

static void
test_multi(void **state)
{
	struct smtp_reply r;

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "550-5.7.1 first"), 0);
	assert_int_equal(feed(&r, "550-5.7.1 second"), 0);
	assert_int_equal(feed(&r, "550 5.7.1 third"), 1);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.dsn, "5.7.1");
	assert_string_equal(r.text, "first second third");
	assert_int_equal(r.lines, 3);

	/* The code may not change between lines. */
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "250-a"), 0);
	assert_int_equal(feed(&r, "251 b"), -1);
}

static void
test_dsn(void **state)
{
	static const struct { const char *line, *dsn, *text; } t[] = {
		{ "451 4.3.0 try later", "4.3.0", "try later" },
		{ "250 2.0.0", "2.0.0", "" },
		{ "552 5.3.4 too big", "5.3.4", "too big" },
		{ "550 5.100.999 x", "5.100.999", "x" },
		/* Not enhanced codes: kept as text. */
		{ "550 4.1.1 wrong class", "", "4.1.1 wrong class" },
		{ "550 5.1000.1 long", "", "5.1000.1 long" },
		{ "550 5.1.1000 long", "", "5.1.1000 long" },
		{ "550 5..1 empty", "", "5..1 empty" },
		{ "550 5.1.1x glued", "", "5.1.1x glued" },
		{ "550 3.1.1 class", "", "3.1.1 class" },
		{ "550 5.1 short", "", "5.1 short" },
	};
	struct smtp_reply r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		smtp_reply_init(&r);
		assert_int_equal(feed(&r, t[i].line), 1);
		assert_string_equal(r.dsn, t[i].dsn);
		assert_string_equal(r.text, t[i].text);
	}
}

static void
test_malformed(void **state)
{
	static const char *bad[] = { "", "2", "25", "25x ok", "abc",
	    "250x ok", "250_ok", "650 no such class", "150 no", "050 no",
	    ("250 a\x01" "b"), "250 a\x7f", "250 a\rb", "250 a\nb", "-250 x" };
	struct smtp_reply r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		smtp_reply_init(&r);
		if (smtp_reply_line(&r, bad[i], strlen(bad[i])) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	/* A NUL inside the line counts as a control character. */
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_line(&r, "250 a\0b", 7), -1);
	/* TAB is fine. */
	smtp_reply_init(&r);
	assert_int_equal(feed(&r, "250 a\tb"), 1);
}

static void
test_bounds(void **state)
{
	struct smtp_reply r;
	char		 line[SMTP_LINE_MAX];
	int		 i;

	(void)state;
	/* Too many lines. */
	smtp_reply_init(&r);
	for (i = 0; i < SMTP_REPLY_LINES; i++)
		assert_int_equal(feed(&r, "250-x"), 0);
	assert_int_equal(feed(&r, "250 x"), -1);
	/* Long text is cut, never overflows. */
	memset(line, 'a', sizeof(line));
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	for (i = 0; i < 10; i++)
		assert_int_equal(smtp_reply_line(&r, line, sizeof(line)), 0);
	line[3] = ' ';
	assert_int_equal(smtp_reply_line(&r, line, sizeof(line)), 1);
	assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
	assert_int_equal(r.textlen, sizeof(r.text) - 1);
}

static void
test_random(void **state)
{
	struct smtp_reply r;
	char		 line[64];
	int		 i, j, n, rc;

	(void)state;
	srand(7);
	for (i = 0; i < 100000; i++) {
		n = rand() % (int)sizeof(line);
		for (j = 0; j < n; j++)
			line[j] = (char)(rand() % 4 == 0 ? "2345- .\r"[rand() % 8] :
			    rand() % 256);
		smtp_reply_init(&r);
		rc = smtp_reply_line(&r, line, (size_t)n);
		assert_true(rc >= -1 && rc <= 1);
		if (rc >= 0) {
			assert_true(r.code >= 200 && r.code <= 599);
			assert_true(strlen(r.text) == r.textlen);
			assert_true(r.textlen < sizeof(r.text));
			for (j = 0; r.text[j] != '\0'; j++)
				assert_true((unsigned char)r.text[j] >= 0x20 ||
				    r.text[j] == '\t');
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_dsn),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
