/*
 * Unit tests for tools/ternctl: the command line (every command, the
 * filters, ALL / - / ids, usage errors), ages, and config set's text edit
 * (a key replaced in place with its continuation lines, comments and
 * order kept, a new key appended, a commented-out key not taken for a
 * set one) and config -n's list of keys set.
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

#include "tools/ternctl/ternctl.h"

static int
args(struct ctl_opts *o, ...)
{
	static char *argv[32];	/* o->args points into it */
	int	 argc = 0;
	va_list	 ap;

	va_start(ap, o);
	argv[argc++] = "ternctl";
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return ctl_args(argc, argv, o);
}

static void
test_commands(void **state)
{
	struct ctl_opts	 o;

	(void)state;
	assert_int_equal(args(&o, "queue", "list", NULL), 0);
	assert_int_equal(o.cmd, CTL_QUEUE_LIST);
	assert_false(o.json || o.filtered);
	assert_int_equal(args(&o, "-c", "/x/tern.conf", "queue", "list",
	    "--json", "--sender", "a@b", "--recipient=c@d", "--queue",
	    "deferred,hold", "--older-than", "2h", NULL), 0);
	assert_string_equal(o.config, "/x/tern.conf");
	assert_true(o.json && o.filtered);
	assert_string_equal(o.filter.sender, "a@b");
	assert_string_equal(o.filter.rcpt, "c@d");
	assert_int_equal(o.filter.queues, (1u << QL_DEFERRED) | (1u << QL_HOLD));
	assert_int_equal(o.filter.min_age, 7200);
	assert_int_equal(args(&o, "queue", "show", "-h", "ABC123", NULL), 0);
	assert_int_equal(o.cmd, CTL_QUEUE_SHOW);
	assert_int_equal(o.show, CTL_SHOW_HEADER);
	assert_string_equal(o.args[0], "ABC123");
	assert_int_equal(args(&o, "queue", "delete", "ALL", NULL), 0);
	assert_true(o.all);
	assert_int_equal(o.cmd, CTL_QUEUE_DELETE);
	assert_int_equal(args(&o, "queue", "hold", "-", NULL), 0);
	assert_true(o.stdin_ids);
	assert_int_equal(args(&o, "queue", "release", "A1", "B2", NULL), 0);
	assert_int_equal(o.nargs, 2);
	assert_string_equal(o.args[1], "B2");
	assert_int_equal(args(&o, "queue", "requeue", "--queue", "deferred",
	    NULL), 0);
	assert_true(o.filtered);
	assert_int_equal(args(&o, "queue", "flush", NULL), 0);
	assert_int_equal(o.cmd, CTL_QUEUE_FLUSH);
	assert_int_equal(args(&o, "config", NULL), 0);
	assert_int_equal(o.cmd, CTL_CONFIG);
	assert_int_equal(args(&o, "config", "-n", NULL), 0);
	assert_int_equal(o.config_mode, 'n');
	assert_int_equal(args(&o, "config", "-d", "relayhost", NULL), 0);
	assert_int_equal(o.config_mode, 'd');
	assert_int_equal(o.nargs, 1);
	assert_int_equal(args(&o, "config", "set", "a=b", "c = d", NULL), 0);
	assert_int_equal(o.cmd, CTL_CONFIG_SET);
	assert_int_equal(o.nargs, 2);
	assert_int_equal(args(&o, "status", NULL), 0);
	assert_int_equal(o.cmd, CTL_STATUS);
	assert_int_equal(args(&o, "reload", NULL), 0);
	assert_int_equal(args(&o, "--help", NULL), 0);
	assert_int_equal(o.cmd, CTL_HELP);
}

static void
test_usage_errors(void **state)
{
	static const char *const bad[][8] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "queue", NULL },
		{ "queue", "lsit", NULL },
		{ "queue", "list", "--bogus", NULL },
		{ "queue", "list", "--sender", NULL },
		{ "queue", "list", "--queue", "corrupt", NULL },
		{ "queue", "list", "--older-than", "2y", NULL },
		{ "queue", "list", "extra", NULL },
		{ "queue", "show", NULL },
		{ "queue", "show", "A", "B", NULL },
		{ "queue", "show", "../etc", NULL },
		{ "queue", "show", "--json", "A", NULL },
		{ "queue", "delete", NULL },
		{ "queue", "delete", "ALL", "A", NULL },
		{ "queue", "delete", "A", "--sender", "x", NULL },
		{ "queue", "hold", "a/b", NULL },
		{ "queue", "flush", "now", NULL },
		{ "config", "set", NULL },
		{ "config", "set", "novalue", NULL },
		{ "config", "-h", NULL },
		{ "status", "-n", NULL },
	};
	struct ctl_opts	 o;
	char		*argv[10];
	size_t		 i;
	int		 argc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[0] = "ternctl";
		for (argc = 1; bad[i][argc - 1] != NULL; argc++)
			argv[argc] = (char *)bad[i][argc - 1];
		argv[argc] = NULL;
		assert_int_equal(ctl_args(argc, argv, &o), CTL_EX_USAGE);
		assert_non_null(o.error);
	}
}

static void
test_age(void **state)
{
	long long	 v;

	(void)state;
	assert_int_equal(ctl_parse_age("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(ctl_parse_age("15m", &v), 0);
	assert_int_equal(v, 900);
	assert_int_equal(ctl_parse_age("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(ctl_parse_age("2w", &v), 0);
	assert_int_equal(v, 14 * 86400);
	assert_int_equal(ctl_parse_age("", &v), -1);
	assert_int_equal(ctl_parse_age("-1", &v), -1);
	assert_int_equal(ctl_parse_age("1hh", &v), -1);
	assert_int_equal(ctl_parse_age("h", &v), -1);
	assert_int_equal(ctl_parse_age("99999999999999w", &v), -1);
}

static void
edit(const char *in, const char *key, const char *value, const char *want)
{
	size_t	 len;
	char	*out = ctl_conf_edit(in, strlen(in), key, value, &len);

	assert_non_null(out);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
}

static void
test_conf_edit(void **state)
{
	(void)state;
	/* In place, comments and the others kept; continuation lines go. */
	edit("# main\nmyhostname = a\n#relayhost = old\nrelayhost = x\n"
	    "   y\n\n# end\n", "relayhost", "[h]:25",
	    "# main\nmyhostname = a\n#relayhost = old\nrelayhost = [h]:25\n"
	    "\n# end\n");
	/* Not there (only commented out): appended. */
	edit("#relayhost = old\n", "relayhost", "h",
	    "#relayhost = old\nrelayhost = h\n");
	/* No final newline; a key that is a prefix of another. */
	edit("relayhost_x = 1", "relayhost", "h",
	    "relayhost_x = 1\nrelayhost = h\n");
	edit("", "a", "", "a = \n");
	edit("a=1\nb = 2\n", "a", "3", "a = 3\nb = 2\n");
	/* Comments end nothing: the continuation after one goes too. */
	edit("a = 1\n  # c\n\n  2\nb = 3\n  4\n", "a", "x",
	    "a = x\n  # c\n\nb = 3\n  4\n");
}

static void
test_conf_keys(void **state)
{
	const char	 text[] = "# c\na = 1\n  continued\nb=2\n#c = 3\n\n"
	    "\td = 4\nc_1 = x\n";
	char		**k;

	(void)state;
	k = ctl_conf_keys(text, sizeof(text) - 1);
	assert_non_null(k);
	assert_string_equal(k[0], "a");
	assert_string_equal(k[1], "b");
	assert_string_equal(k[2], "c_1");
	assert_null(k[3]);
	ctl_conf_keys_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_conf_edit),
		cmocka_unit_test(test_conf_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
