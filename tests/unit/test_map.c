/*
 * test_map - the map interface and its texthash type: postmap(1)'s input
 * format (comments, blank lines, continuation lines, CRLF), keys folded to
 * lower case, the first of two equal keys winning, hostile input refused
 * with file:line (control characters, a key without a value, a leading
 * continuation, over-long lines and keys), "type:name" errors, lists
 * searched in order, and a file read again when it changes (a bad new
 * version keeps the old table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/map.h"

static struct map_table *
parse(const char *text, char *err, size_t errlen)
{
	return map_table_parse("t", text, strlen(text), err, errlen);
}

static void
test_parse(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "Example.COM   smtp:[mx.example.com]:25\n"
	    ".example.com\tsmtp:\n"
	    "  # a comment inside does not end the entry\n"
	    "multi   error:5.1.1\n"
	    "   first line\n"
	    "\tsecond line\n"
	    "crlf value\r\n"
	    "dup first\n"
	    "DUP second\n"
	    "last\tno newline";
	struct map_table	*t;
	char			 err[MAP_ERR_MAX];

	(void)state;
	t = map_table_parse("t", text, sizeof(text) - 1, err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(map_table_size(t), 6);
	assert_string_equal(map_table_get(t, "example.com"),
	    "smtp:[mx.example.com]:25");
	assert_null(map_table_get(t, "Example.COM"));	/* keys are folded */
	assert_string_equal(map_table_get(t, ".example.com"), "smtp:");
	assert_string_equal(map_table_get(t, "multi"),
	    "error:5.1.1 first line second line");
	assert_string_equal(map_table_get(t, "crlf"), "value");
	assert_string_equal(map_table_get(t, "dup"), "first");
	assert_string_equal(map_table_get(t, "last"), "no newline");
	assert_null(map_table_get(t, "absent"));
	map_table_free(t);

	t = parse("", err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(map_table_size(t), 0);
	assert_null(map_table_get(t, "x"));
	map_table_free(t);
}

static void
test_hostile(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} bad[] = {
		{ "key\n", "t:1: expected" },
		{ "ok v\nkey   \n", "t:2: expected" },
		{ "  leading continuation\n", "t:1: continuation" },
		{ "a b\x01\n", "t:1: control" },
		{ "a b\rc\n", "t:1: control" },
		{ "a b\n\nc d\x1b\n", "t:3: control" },
	};
	char		 err[MAP_ERR_MAX], *big;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i].text, err, sizeof(err)) != NULL)
			fail_msg("accepted %zu", i);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%zu: \"%s\"", i, err);
	}
	/* A NUL inside the text. */
	assert_null(map_table_parse("t", "a b\0c\n", 6, err, sizeof(err)));
	/* A key and a line over their bounds. */
	big = malloc(MAP_LINE_MAX + 16);
	assert_non_null(big);
	memset(big, 'k', MAP_KEY_MAX + 1);
	strcpy(big + MAP_KEY_MAX + 1, " v\n");
	assert_null(parse(big, err, sizeof(err)));
	assert_non_null(strstr(err, "key too long"));
	memset(big, 'v', MAP_LINE_MAX + 8);
	memcpy(big, "k ", 2);
	strcpy(big + MAP_LINE_MAX + 8, "\n");
	assert_null(parse(big, err, sizeof(err)));
	assert_non_null(strstr(err, "line too long"));
	free(big);
}

static char *
write_file(const char *text)
{
	static char	 path[64];
	FILE		*f;
	int		 fd;

	strcpy(path, "/tmp/test_map.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void
rewrite(const char *path, const char *text, long mtime)
{
	struct timespec	 ts[2];
	FILE		*f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void
test_open_lookup(void **state)
{
	char		 spec[128], err[MAP_ERR_MAX], *path;
	const char	*v;
	struct map	*m;

	(void)state;
	path = write_file("a.example x\n");
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	assert_string_equal(map_name(m), spec);
	assert_int_equal(map_lookup(m, "A.Example", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "x");
	assert_int_equal(map_lookup(m, "b.example", &v, err, sizeof(err)), 0);
	assert_null(v);

	/* Changed: read again (at most once a second, hence the sleep). */
	rewrite(path, "b.example y\n", 1000000);
	sleep(1);
	assert_int_equal(map_lookup(m, "b.example", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "y");
	assert_int_equal(map_lookup(m, "a.example", &v, err, sizeof(err)), 0);
	/* A "not found" checks the file again at once (no sleep): a key
	 * just added is found, never refused from the old version. */
	rewrite(path, "b.example y\nc.example z\n", 1500000);
	assert_int_equal(map_lookup(m, "c.example", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "z");
	/* A bad new version keeps the table in use for what it finds, but
	 * its "not found" is no answer (the new version may hold the key):
	 * a temporary failure, every time, without parsing the file again. */
	rewrite(path, "broken\n", 2000000);
	sleep(1);
	assert_int_equal(map_lookup(m, "b.example", &v, err, sizeof(err)), 1);
	assert_int_equal(map_lookup(m, "d.example", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	assert_non_null(strstr(err, "cannot be read"));
	assert_int_equal(map_lookup(m, "d.example", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	/* Mended: read at once. */
	rewrite(path, "b.example y\nd.example w\n", 2500000);
	assert_int_equal(map_lookup(m, "d.example", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "w");
	/* Gone: what is found stays, "not found" is a temporary failure. */
	unlink(path);
	assert_int_equal(map_lookup(m, "e.example", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	map_close(m);

	assert_null(map_open("nosuchtype:/x", err, sizeof(err)));
	assert_non_null(strstr(err, "unsupported map type"));
	assert_null(map_open("texthash", err, sizeof(err)));
	assert_null(map_open("texthash:", err, sizeof(err)));
	assert_null(map_open(":/x", err, sizeof(err)));
	assert_null(map_open("texthash:relative", err, sizeof(err)));
	/* A table that cannot be read is no mistake in its name: it opens,
	 * and every lookup fails temporarily (never "not found") until the
	 * file is there. */
	m = map_open("texthash:/nonexistent/map", err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(map_lookup(m, "k", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	assert_non_null(strstr(err, "No such file"));
	map_close(m);
	m = map_open("texthash:/tmp", err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(map_lookup(m, "k", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	assert_non_null(strstr(err, "not a regular file"));
	map_close(m);
}

static void
test_list(void **state)
{
	char		 s1[128], s2[128], err[MAP_ERR_MAX], *p;
	char		*specs[2] = { s1, s2 };
	const char	*v;
	struct map_list	 l;

	(void)state;
	p = write_file("k first\n");
	snprintf(s1, sizeof(s1), "texthash:%s", p);
	p = write_file("k second\nonly two\n");
	snprintf(s2, sizeof(s2), "texthash:%s", p);
	assert_int_equal(map_list_open(&l, specs, 2, err, sizeof(err)), 0);
	assert_int_equal(map_list_lookup(&l, "k", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "first");
	assert_int_equal(map_list_lookup(&l, "only", &v, err, sizeof(err)), 1);
	assert_string_equal(v, "two");
	assert_int_equal(map_list_lookup(&l, "none", &v, err, sizeof(err)), 0);
	map_list_close(&l);
	unlink(s1 + 9);
	unlink(s2 + 9);
	/* A list with one bad name does not open. */
	snprintf(s2, sizeof(s2), "texthash:relative");
	assert_int_equal(map_list_open(&l, specs, 2, err, sizeof(err)), -1);
	assert_int_equal(l.count, 0);
	/* A missing table stops the search with a temporary failure: a later
	 * table must not answer for it. */
	snprintf(s1, sizeof(s1), "texthash:/nonexistent");
	snprintf(s2, sizeof(s2), "inline:{ k = later }");
	assert_int_equal(map_list_open(&l, specs, 2, err, sizeof(err)), 0);
	assert_int_equal(map_list_lookup(&l, "k", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	map_list_close(&l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_open_lookup),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
