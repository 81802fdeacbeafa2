/*
 * test_ternmap_args - ternmap's command line: each mode and its one
 * table, -a with and without tables (newaliases), options that exclude
 * each other, bad counts and missing arguments refused as usage errors,
 * and a bare path taken as a hash: table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/ternmap/ternmap.h"

static int
args(struct ternmap_opts *o, ...)
{
	char	*argv[16];
	int	 argc = 0;
	va_list	 ap;

	argv[argc++] = "ternmap";
	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return ternmap_args(argc, argv, o);
}

static void
test_modes(void **state)
{
	struct ternmap_opts	 o;

	(void)state;
	assert_int_equal(args(&o, "hash:/a", "btree:/b", NULL), 0);
	assert_int_equal(o.mode, TM_BUILD);
	assert_int_equal(o.nmaps, 2);
	assert_int_equal(args(&o, "-a", NULL), 0);
	assert_int_equal(o.nmaps, 0);
	assert_true(o.aliases);
	assert_int_equal(args(&o, "-c", "/etc/x.conf", "-v", "-q", "Key",
	    "pgsql:/x.cf", NULL), 0);
	assert_int_equal(o.mode, TM_QUERY);
	assert_string_equal(o.key, "Key");
	assert_string_equal(o.config, "/etc/x.conf");
	assert_true(o.verbose);
	assert_int_equal(args(&o, "-d", "k", "/x", NULL), 0);
	assert_int_equal(o.mode, TM_DELETE);
	assert_int_equal(args(&o, "-ai", "hash:/x", NULL), 0);
	assert_int_equal(o.mode, TM_ADD);
	assert_int_equal(args(&o, "-b", "1000", "hash:/x", NULL), 0);
	assert_int_equal(o.mode, TM_BENCH);
	assert_int_equal(o.count, 1000);
}

static void
test_usage(void **state)
{
	static const char *const bad[][5] = {
		{ NULL },
		{ "-q", NULL },
		{ "-q", "", "hash:/x", NULL },
		{ "-q", "k", NULL },
		{ "-q", "k", "hash:/a", "hash:/b", NULL },
		{ "-q", "k", "-d", "k", "hash:/x" },
		{ "-i", "-b", "5", "hash:/x", NULL },
		{ "-b", "0", "hash:/x", NULL },
		{ "-b", "x", "hash:/x", NULL },
		{ "-Z", "hash:/x", NULL },
	};
	struct ternmap_opts	 o;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (args(&o, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
		    bad[i][4], NULL) != TM_EX_USAGE)
			fail_msg("accepted line %zu", i);
}

static void
test_spec(void **state)
{
	char	*s;

	(void)state;
	s = ternmap_spec("/etc/aliases");
	assert_string_equal(s, "hash:/etc/aliases");
	free(s);
	s = ternmap_spec("/odd:path");
	assert_string_equal(s, "hash:/odd:path");
	free(s);
	s = ternmap_spec("btree:/x");
	assert_string_equal(s, "btree:/x");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
