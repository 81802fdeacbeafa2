/*
 * test_map_pgsql - the pgsql: type's configuration file (pgsql_table(5)'s
 * keys, hosts in every form, a password file, defaults, every mistake
 * with its line) and the query expansion (%s, %u, %d, %%, each through
 * the escape function; no domain for %d means no lookup; bounds and bad
 * escapes refused).  The lookups themselves need a server: the
 * integration test tests/integration/test_maps.py runs one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/map.h"
#include "common/map_pgsql.h"

static int
parse(const char *text, struct pgsql_conf *c, char *err, size_t errlen)
{
	return pgsql_conf_parse("cf", text, strlen(text), c, err, errlen);
}

static void
test_conf(void **state)
{
	struct pgsql_conf	 c;
	char			 err[MAP_ERR_MAX], pw[] = "/tmp/test_pgsql.XXXXXX";
	char			 text[512];
	FILE			*f;
	int			 fd;

	(void)state;
	assert_int_equal(parse("# virtual\nhosts = db1, db2:5433 "
	    "unix:/run/postgresql\n  inet:10.0.0.1:6432, [::1]:5434 ::1 [fe80::1]"
	    "\nuser = tern\n"
	    "password = secret\ndbname = mail\nquery = SELECT goto FROM alias "
	    "WHERE address='%s'\nconnect_timeout = 2\nquery_timeout = 3\n"
	    "expansion_limit = 10\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.nhosts, 7);
	assert_string_equal(c.host[4], "::1");
	assert_string_equal(c.port[4], "5434");
	assert_string_equal(c.host[5], "::1");
	assert_null(c.port[5]);
	assert_string_equal(c.host[6], "fe80::1");
	assert_null(c.port[6]);
	assert_string_equal(c.host[0], "db1");
	assert_null(c.port[0]);
	assert_string_equal(c.host[1], "db2");
	assert_string_equal(c.port[1], "5433");
	assert_string_equal(c.host[2], "/run/postgresql");
	assert_string_equal(c.host[3], "10.0.0.1");
	assert_string_equal(c.port[3], "6432");
	assert_string_equal(c.user, "tern");
	assert_string_equal(c.password, "secret");
	assert_string_equal(c.dbname, "mail");
	assert_int_equal(c.connect_timeout, 2);
	assert_int_equal(c.query_timeout, 3);
	assert_int_equal(c.expansion_limit, 10);
	pgsql_conf_free(&c);

	/* Defaults; the password from a file, its first line. */
	fd = mkstemp(pw);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("from file\nsecond line\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "dbname = d\nquery = q\n"
	    "password_file = %s\n", pw);
	assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nhosts, 1);
	assert_string_equal(c.host[0], "localhost");
	assert_int_equal(c.connect_timeout, 5);
	assert_int_equal(c.query_timeout, 10);
	assert_string_equal(c.password, "from file");
	pgsql_conf_free(&c);
	unlink(pw);
	assert_int_equal(parse(text, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void
test_conf_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} bad[] = {
		{ "dbname = d\n", "cf: no query" },
		{ "query = q\n", "cf: no dbname" },
		{ "dbname = d\nquery = q\nbogus = 1\n", "cf:3: unknown key" },
		{ "dbname = d\nquery = q\ndbname = e\n", "cf:3: key given" },
		{ "dbname d\n", "cf:1: expected" },
		{ "dbname = d\nquery = q\nconnect_timeout = 0\n", "cf:3: bad" },
		{ "dbname = d\nquery = q\nquery_timeout = x\n", "cf:3: bad" },
		{ "hosts = unix:relative\n", "cf:1: unix:" },
		{ "hosts = a b c d e f g h i\n", "cf:1: too many" },
		{ "hosts = [::1\n", "cf:1: bad [address]" },
		{ "hosts = [::1]:\n", "cf:1: bad [address]" },
		{ "hosts = []\n", "cf:1: empty host" },
		{ "hosts = :5432\n", "cf:1: empty host" },
		{ "dbname = d\nquery = q\npassword_file = rel\n",
		    "password_file rel: not an absolute" },
		{ "dbname = d\x01\n", "cf:1: control" },
	};
	struct pgsql_conf	 c;
	char			 err[MAP_ERR_MAX];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i].text, &c, err, sizeof(err)) != -1)
			fail_msg("accepted %zu", i);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fail_msg("%zu: \"%s\"", i, err);
	}
}

/* Doubles quotes, as PQescapeStringConn does; "fail" fails. */
static long
escape(void *ctx, char *out, const char *in, size_t len)
{
	size_t	 i, o = 0;

	(void)ctx;
	if (len == 4 && memcmp(in, "fail", 4) == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (in[i] == '\'')
			out[o++] = '\'';
		out[o++] = in[i];
	}
	out[o] = '\0';
	return (long)o;
}

static void
test_expand(void **state)
{
	char	 out[128];

	(void)state;
	assert_int_equal(pgsql_expand("s='%s' u='%u' d='%d' 100%%",
	    "o'neil@example.org", escape, NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "s='o''neil@example.org' u='o''neil' "
	    "d='example.org' 100%");
	assert_int_equal(pgsql_expand("u='%u' s='%s'", "local", escape, NULL,
	    out, sizeof(out)), 1);
	assert_string_equal(out, "u='local' s='local'");
	/* No domain: no lookup. */
	assert_int_equal(pgsql_expand("d='%d'", "local", escape, NULL, out,
	    sizeof(out)), 0);
	assert_int_equal(pgsql_expand("%x", "k", escape, NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(pgsql_expand("trailing %", "k", escape, NULL, out,
	    sizeof(out)), -1);
	assert_int_equal(pgsql_expand("%s", "fail", escape, NULL, out,
	    sizeof(out)), -1);
	/* Bounds: the output, with room for every escape. */
	assert_int_equal(pgsql_expand("0123456789", "k", escape, NULL, out,
	    10), -1);
	assert_int_equal(pgsql_expand("012345678", "k", escape, NULL, out,
	    10), 1);
	assert_int_equal(pgsql_expand("%s", "12345", escape, NULL, out, 11),
	    -1);
	assert_int_equal(pgsql_expand("%s", "12345", escape, NULL, out, 12),
	    1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_expand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
