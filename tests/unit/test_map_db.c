/*
 * test_map_db - the hash: and btree: types and their writers, and the
 * inline: type: tables built and read back through map_open() (keys
 * folded, stored with their NUL as postmap stores them, and read without
 * it too), changes (delete, add, replace) made by a complete new file,
 * a missing or unreadable table a temporary failure that mends itself
 * when the file appears, a changed file reopened, a value over
 * MAP_VALUE_MAX refused, and inline: syntax errors caught at open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <db.h>

#include "common/map.h"
#include "common/map_build.h"
#include "common/map_db.h"
#include "common/map_inline.h"

static char	 dir[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_map_db.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
put_file(const char *name, const char *text)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Only name.db and name in dir: no temporary file left behind. */
static int
files_in_dir(void)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
expect(struct map *m, const char *key, int r, const char *value)
{
	const char	*v;
	char		 err[MAP_ERR_MAX];

	err[0] = '\0';
	if (map_lookup(m, key, &v, err, sizeof(err)) != r)
		fail_msg("%s: %s: not %d (%s)", map_name(m), key, r, err);
	if (r == MAP_FOUND)
		assert_string_equal(v, value);
}

static void
build_and_read(const char *type)
{
	char		 spec[160], err[MAP_ERR_MAX], *del[2];
	char		 path[160], path2[160];
	size_t		 entries, dups, n;
	struct map	*m;
	struct map_table *add;

	put_file("t", "Alpha one\nbeta two\n  more\n# no\nALPHA again\n");
	snprintf(spec, sizeof(spec), "%s:%s/t", type, dir);
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), 0);
	assert_int_equal(entries, 2);
	assert_int_equal(dups, 1);
	assert_int_equal(files_in_dir(), 2);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	expect(m, "alpha", MAP_FOUND, "one");
	expect(m, "BETA", MAP_FOUND, "two more");
	expect(m, "gamma", MAP_NOTFOUND, NULL);

	/* Changed by ternmap -d / -i: the open map sees the new file within
	 * a second. */
	del[0] = "alpha";
	del[1] = "nothere";
	assert_int_equal(map_db_change(spec, NULL, del, 2, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 1);
	add = map_table_parse("in", "Gamma three\nbeta TWO\n", 21, err,
	    sizeof(err));
	assert_non_null(add);
	assert_int_equal(map_db_change(spec, add, NULL, 0, &n, err,
	    sizeof(err)), 0);
	map_table_free(add);
	assert_int_equal(files_in_dir(), 2);
	sleep(1);
	expect(m, "alpha", MAP_NOTFOUND, NULL);
	expect(m, "gamma", MAP_FOUND, "three");
	expect(m, "beta", MAP_FOUND, "TWO");

	/* A key added a moment ago (the map looked in this very second) is
	 * found, never "not found" from the version before: the map stats
	 * the file again at once before it answers "not found". */
	add = map_table_parse("in", "delta four\n", 11, err, sizeof(err));
	assert_non_null(add);
	assert_int_equal(map_db_change(spec, add, NULL, 0, &n, err,
	    sizeof(err)), 0);
	map_table_free(add);
	expect(m, "delta", MAP_FOUND, "four");
	expect(m, "epsilon", MAP_NOTFOUND, NULL);

	/* A broken new file renamed into place: the old one stays in use. */
	put_file("t.db.new", "not a database");
	snprintf(path, sizeof(path), "%s/t.db.new", dir);
	snprintf(path2, sizeof(path2), "%s/t.db", dir);
	assert_int_equal(rename(path, path2), 0);
	sleep(1);
	expect(m, "gamma", MAP_FOUND, "three");
	map_close(m);
	/* Opened afresh, a broken file is a temporary failure. */
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	expect(m, "gamma", MAP_TEMPFAIL, NULL);
	map_close(m);

	/* A file rewritten in place under an open map (by a tool that does
	 * not rename) gives errors or old answers, never SIGBUS: the file is
	 * read, not mapped (DB_NOMMAP). */
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), 0);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	expect(m, "alpha", MAP_FOUND, "one");
	assert_int_equal(truncate(path2, 0), 0);
	{
		const char	*v;

		(void)map_lookup(m, "beta", &v, err, sizeof(err));
	}
	map_close(m);
}

static void
test_hash(void **state)
{
	(void)state;
	build_and_read("hash");
}

static void
test_btree(void **state)
{
	(void)state;
	build_and_read("btree");
}

/* A table whose file is missing opens, fails each lookup temporarily,
 * and answers once the file is built. */
static void
test_missing(void **state)
{
	char		 spec[160], err[MAP_ERR_MAX];
	size_t		 entries, dups;
	struct map	*m;
	const char	*v;

	(void)state;
	snprintf(spec, sizeof(spec), "hash:%s/later", dir);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(map_lookup(m, "k", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	assert_non_null(strstr(err, "No such file"));
	put_file("later", "k v\n");
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), 0);
	sleep(1);
	expect(m, "k", MAP_FOUND, "v");
	map_close(m);

	/* The wrong type for the file: temporary, not "not found". */
	snprintf(spec, sizeof(spec), "btree:%s/later", dir);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	expect(m, "k", MAP_TEMPFAIL, NULL);
	map_close(m);
	/* Names that can never work fail the open. */
	assert_null(map_open("hash:relative", err, sizeof(err)));
	assert_null(map_open("pgsql:relative.cf", err, sizeof(err)));
	/* A build of a missing source, or of a type with no file, fails. */
	snprintf(spec, sizeof(spec), "hash:%s/nosource", dir);
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), -1);
	assert_int_equal(map_build("texthash:/x", MAP_FORMAT_POSTMAP, &entries,
	    &dups, err, sizeof(err)), -1);
}

/* A file written by another tool without the trailing NULs is read; a
 * value over MAP_VALUE_MAX is a failure, never cut short; a key over
 * MAP_KEY_MAX is not found. */
static void
test_foreign_and_bounds(void **state)
{
	char		 path[160], spec[160], err[MAP_ERR_MAX], *big;
	DB		*db;
	DBT		 k, v;
	struct map	*m;

	(void)state;
	snprintf(path, sizeof(path), "%s/foreign.db", dir);
	assert_int_equal(db_create(&db, NULL, 0), 0);
	assert_int_equal(db->open(db, NULL, path, NULL, DB_HASH, DB_CREATE,
	    0644), 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "nonul";
	k.size = 5;
	v.data = "plain";
	v.size = 5;
	assert_int_equal(db->put(db, NULL, &k, &v, 0), 0);
	big = malloc(MAP_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', MAP_VALUE_MAX + 1);
	k.data = "big";
	k.size = 4;
	v.data = big;
	v.size = MAP_VALUE_MAX + 1;
	assert_int_equal(db->put(db, NULL, &k, &v, 0), 0);
	k.data = "nul";
	k.size = 4;
	v.data = "a\0b";
	v.size = 4;
	assert_int_equal(db->put(db, NULL, &k, &v, 0), 0);
	assert_int_equal(db->close(db, 0), 0);
	snprintf(spec, sizeof(spec), "hash:%s/foreign", dir);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	expect(m, "NoNul", MAP_FOUND, "plain");
	expect(m, "big", MAP_TEMPFAIL, NULL);
	expect(m, "nul", MAP_TEMPFAIL, NULL);
	memset(big, 'k', MAP_KEY_MAX + 1);
	big[MAP_KEY_MAX + 1] = '\0';
	expect(m, big, MAP_NOTFOUND, NULL);
	map_close(m);
	free(big);
}

/* A hash file cut short at a page boundary opens in Berkeley DB and
 * answers "not found" for the keys on the missing pages: it must be a
 * temporary failure instead, as any other broken table.  And a FIFO in
 * place of the source or of the .db is refused, not waited on (alarm:
 * the test fails instead of hanging). */
static void
test_truncated_and_fifo(void **state)
{
	char		 spec[160], path[160], err[MAP_ERR_MAX], key[32];
	size_t		 entries, dups, off = 0;
	struct map	*m;
	const char	*v;
	char		*text;
	int		 i, found = 0, notfound = 0;

	(void)state;
	text = malloc(20000 * 32);
	assert_non_null(text);
	for (i = 0; i < 20000; i++)
		off += (size_t)sprintf(text + off, "key%d value%d\n", i, i);
	put_file("big", text);
	free(text);
	snprintf(spec, sizeof(spec), "hash:%s/big", dir);
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/big.db", dir);
	assert_int_equal(truncate(path, 8192), 0);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	for (i = 0; i < 20000; i += 97) {
		snprintf(key, sizeof(key), "key%d", i);
		switch (map_lookup(m, key, &v, err, sizeof(err))) {
		case MAP_FOUND:
			found++;
			break;
		case MAP_NOTFOUND:
			notfound++;
			break;
		}
	}
	map_close(m);
	assert_int_equal(notfound, 0);
	assert_int_equal(found, 0);

	alarm(10);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(spec, sizeof(spec), "hash:%s/fifo", dir);
	assert_int_equal(map_build(spec, MAP_FORMAT_POSTMAP, &entries, &dups,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/pipe.db", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(spec, sizeof(spec), "hash:%s/pipe", dir);
	m = map_open(spec, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(map_lookup(m, "k", &v, err, sizeof(err)),
	    MAP_TEMPFAIL);
	map_close(m);
	alarm(0);
}

static void
test_inline(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "a = b", "{ a }", "{ = b }", "{ a = }",
		"{ {a = b }", "{ a = b }}", "{ a = b, { c = d }", "{ a\n= b }",
	};
	char		 err[MAP_ERR_MAX];
	struct map	*m;
	struct map_table *t;
	size_t		 i;

	(void)state;
	m = map_open("inline:{ Key = value, k2=v2, { k3 = text, with comma },"
	    ", K4 = { braced } }", err, sizeof(err));
	assert_non_null(m);
	expect(m, "key", MAP_FOUND, "value");
	expect(m, "K2", MAP_FOUND, "v2");
	expect(m, "k3", MAP_FOUND, "text, with comma");
	expect(m, "k4", MAP_FOUND, "{ braced }");
	expect(m, "k5", MAP_NOTFOUND, NULL);
	map_close(m);
	t = map_inline_parse("{}", err, sizeof(err));
	assert_non_null(t);
	assert_int_equal(map_table_size(t), 0);
	map_table_free(t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (map_inline_parse(bad[i], err, sizeof(err)) != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_null(map_open("inline:{ a }", err, sizeof(err)));
	assert_non_null(strstr(err, "element 1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_btree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_and_bounds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_fifo, setup,
		    teardown),
		cmocka_unit_test(test_inline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
