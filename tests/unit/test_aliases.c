/*
 * test_aliases - the aliases(5) parser and the target splitter: names
 * quoted or not, lower-cased, continuation lines, comments, CRLF, the
 * first of two equal names kept (and counted); hostile input refused with
 * its line number (a missing colon, NULs, control characters, a huge
 * line, a huge name, an unclosed quote, a continuation with nothing
 * before it, an empty name or value); values split into addresses,
 * commands, files and includes, quotes and commas handled, bounds kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/aliases.h"
#include "common/map.h"

static void
test_parse(void **state)
{
	static const char text[] =
	    "# Debian's /etc/aliases\n"
	    "\n"
	    "postmaster:    root\n"
	    "MAILER-DAEMON: postmaster\n"
	    "root:\tadmin, \"|/usr/bin/procmail -a x\", /var/log/root.mail,\n"
	    "  :include:/etc/mail/staff\r\n"
	    "   # a comment inside\n"
	    "\t, last@example.org\n"
	    "\"Joe Smith\": joe\n"
	    "\"odd:name\" : x\n"
	    "postmaster: second\n"
	    "novalue_ok:x";
	struct map_table	*t;
	char			 err[MAP_ERR_MAX];
	size_t			 dups;

	(void)state;
	t = aliases_parse("a", text, sizeof(text) - 1, &dups, err,
	    sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	assert_int_equal(map_table_size(t), 6);
	assert_int_equal(dups, 1);
	assert_string_equal(map_table_get(t, "postmaster"), "root");
	assert_string_equal(map_table_get(t, "mailer-daemon"), "postmaster");
	assert_string_equal(map_table_get(t, "root"), "admin, \"|/usr/bin/"
	    "procmail -a x\", /var/log/root.mail, :include:/etc/mail/staff "
	    ", last@example.org");
	assert_string_equal(map_table_get(t, "joe smith"), "joe");
	assert_string_equal(map_table_get(t, "odd:name"), "x");
	assert_string_equal(map_table_get(t, "novalue_ok"), "x");
	map_table_free(t);
}

static void
test_hostile(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} bad[] = {
		{ "root\n", "a:1: expected \"name: value\"" },
		{ "ok: x\nno colon here\n", "a:2: expected" },
		{ "two words: x\n", "a:1: white space" },
		{ "a\"b: x\n", "a:1: white space or quote" },
		{ "\"unclosed: x\n", "a:1: unclosed quote" },
		{ ": x\n", "a:1: empty name" },
		{ "\"\": x\n", "a:1: empty name" },
		{ "name:\n", "a:1: no value" },
		{ "name:   \n", "a:1: no value" },
		{ "  x\n", "a:1: continuation" },
		{ "a: b\x01\n", "a:1: control" },
		{ "a: b\n\nc: d\x7f\x1b\n", "a:3: control" },
	};
	char		 err[MAP_ERR_MAX], *big;
	size_t		 i, dups;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (aliases_parse("a", bad[i].text, strlen(bad[i].text), &dups,
		    err, sizeof(err)) != NULL)
			fail_msg("accepted %zu", i);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%zu: \"%s\"", i, err);
	}
	/* A NUL on line 2. */
	assert_null(aliases_parse("a", "a: b\nc: d\0e\n", 12, &dups, err,
	    sizeof(err)));
	assert_string_equal(err, "a:2: NUL byte");
	/* A huge name, quoted or not, and a huge line. */
	big = malloc(2 * MAP_LINE_MAX);
	assert_non_null(big);
	memset(big, 'n', MAP_KEY_MAX + 1);
	strcpy(big + MAP_KEY_MAX + 1, ": x\n");
	assert_null(aliases_parse("a", big, strlen(big), &dups, err,
	    sizeof(err)));
	assert_string_equal(err, "a:1: name too long");
	memset(big, 'n', MAP_KEY_MAX + 2);
	big[0] = '"';
	strcpy(big + MAP_KEY_MAX + 2, "\": x\n");
	assert_null(aliases_parse("a", big, strlen(big), &dups, err,
	    sizeof(err)));
	assert_string_equal(err, "a:1: name too long");
	memcpy(big, "a: ", 3);
	memset(big + 3, 'v', MAP_LINE_MAX);
	strcpy(big + 3 + MAP_LINE_MAX, "\n");
	assert_null(aliases_parse("a", big, strlen(big), &dups, err,
	    sizeof(err)));
	assert_string_equal(err, "a:1: line too long");
	/* The same length spread over continuation lines. */
	for (i = 0; i + 8 < 2 * MAP_LINE_MAX - 1; i += 8)
		memcpy(big + i, i == 0 ? "a: xxxx\n" : "  xxxxx\n", 8);
	big[i] = '\0';
	assert_null(aliases_parse("a", big, strlen(big), &dups, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "line too long"));
	free(big);
}

static void
test_targets(void **state)
{
	static const char value[] = "admin, \"|/usr/bin/procmail -a \\\"x\\\", "
	    "y\"  ,/var/log/root.mail,\n :include: /etc/mail/staff ,"
	    "\"joe smith\"@example.org,|/bin/true,, last";
	const struct {
		enum alias_kind	 kind;
		const char	*text;
	} want[] = {
		{ ALIAS_ADDRESS, "admin" },
		{ ALIAS_COMMAND, "/usr/bin/procmail -a \"x\", y" },
		{ ALIAS_FILE, "/var/log/root.mail" },
		{ ALIAS_INCLUDE, "/etc/mail/staff" },
		{ ALIAS_ADDRESS, "\"joe smith\"@example.org" },
		{ ALIAS_COMMAND, "/bin/true" },
		{ ALIAS_ADDRESS, "last" },
	};
	struct alias_target	 t;
	const char		*cur = value, *why;
	char			 buf[256], small[8];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (alias_target_next(&cur, &t, buf, sizeof(buf), &why) != 1)
			fail_msg("target %zu: %s", i, why);
		assert_int_equal(t.kind, want[i].kind);
		assert_string_equal(t.text, want[i].text);
	}
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    0);
	cur = "  ";
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    0);

	cur = "\"unclosed, x";
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    -1);
	assert_string_equal(why, "unclosed quote");
	cur = ":include:relative";
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    -1);
	cur = "\"\"";
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    -1);
	cur = "|";
	assert_int_equal(alias_target_next(&cur, &t, buf, sizeof(buf), &why),
	    -1);
	cur = "toolongforit";
	assert_int_equal(alias_target_next(&cur, &t, small, sizeof(small),
	    &why), -1);
	assert_string_equal(why, "target too long");
	cur = "fits123";
	assert_int_equal(alias_target_next(&cur, &t, small, sizeof(small),
	    &why), 1);
	assert_string_equal(t.text, "fits123");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
