/*
 * test_service_table - master.conf parsing (master/service_table.c), the
 * inet address syntax, the daemon command line the master builds
 * (master/service_spawn.c) and its restart back-off (master/supervise.c).  Malformed input must always end in one
 * "name:line: reason" message and an empty table, never a crash: the last
 * tests feed the parser mutated and random text under the sanitizers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/service_spawn.h"
#include "master/service_table.h"
#include "master/supervise.h"

#define NAME	"master.conf"

static const char example[] =
    "# master.conf - the services that master(8) starts.\n"
    "#\n"
    "# service   type   address              user   chroot  limit  program\n"
    "smtpd       inet   *:25                 -      n       2      smtpd\n"
    "qmgr        unix   private/qmgr         -      n       1      qmgr\n"
    "\n"
    "deliver     unix   private/deliver      root   n       4      deliver\n"
    "resolver    unix   private/resolver     -      y       1      resolver\n";

/* Parse text; on success return the table, else fail the test. */
static struct service_table
parse_ok(const char *text)
{
	struct service_table tab;
	char	 err[512];
	int	 rc;

	rc = service_table_parse(NAME, text, strlen(text), &tab, err,
	    sizeof(err));
	if (rc != 0)
		fail_msg("unexpected error: %s (input: %s)", err, text);
	return tab;
}

/* Parse text, which must fail with an error naming line and reason. */
static void
parse_err(const char *text, size_t line, const char *reason)
{
	struct service_table tab;
	char	 err[512], want[64];
	int	 rc;

	rc = service_table_parse(NAME, text, strlen(text), &tab, err,
	    sizeof(err));
	if (rc != -1)
		fail_msg("accepted bad input: %s", text);
	assert_int_equal(tab.count, 0);
	assert_null(tab.svc);
	if (line > 0)
		snprintf(want, sizeof(want), NAME ":%zu: ", line);
	else
		snprintf(want, sizeof(want), NAME ": ");
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	if (strstr(err, reason) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, reason);
}

/* One service line with the given fields, the others valid. */
static void
line_err(const char *line, const char *reason)
{
	char	 text[8192];

	assert_true(strlen(line) < sizeof(text) - 16);
	snprintf(text, sizeof(text), "# comment\n%.4096s\n", line);
	parse_err(text, 2, reason);
}

static void
line_ok(const char *line)
{
	struct service_table tab;

	tab = parse_ok(line);
	assert_int_equal(tab.count, 1);
	service_table_free(&tab);
}

static void
test_example(void **state)
{
	struct service_table tab;
	const struct service *s;

	(void)state;
	tab = parse_ok(example);
	assert_int_equal(tab.count, 4);

	s = &tab.svc[0];
	assert_string_equal(s->name, "smtpd");
	assert_int_equal(s->type, SERVICE_INET);
	assert_string_equal(s->address, "*:25");
	assert_string_equal(s->user, "-");
	assert_int_equal(s->chroot, 0);
	assert_int_equal(s->limit, 2);
	assert_string_equal(s->program, "smtpd");
	assert_int_equal(s->nargs, 0);
	assert_int_equal(s->line, 4);

	s = &tab.svc[1];
	assert_string_equal(s->name, "qmgr");
	assert_int_equal(s->type, SERVICE_UNIX);
	assert_string_equal(s->address, "private/qmgr");
	assert_int_equal(s->line, 5);

	s = &tab.svc[2];
	assert_string_equal(s->user, "root");
	assert_int_equal(s->limit, 4);
	assert_int_equal(s->line, 7);

	s = &tab.svc[3];
	assert_int_equal(s->chroot, 1);
	assert_int_equal(s->line, 8);

	assert_ptr_equal(service_table_find(&tab, "deliver"), &tab.svc[2]);
	assert_null(service_table_find(&tab, "pickup"));
	assert_null(service_table_find(&tab, "smtp"));
	service_table_free(&tab);
	assert_int_equal(tab.count, 0);
	assert_null(tab.svc);
	service_table_free(&tab);	/* twice is harmless */
}

static void
test_layout(void **state)
{
	struct service_table tab;

	(void)state;
	/* Tabs, CRLF, leading blanks, no final newline, indented comment. */
	tab = parse_ok("\r\n  \t# indented comment\t\x01 with a control byte\n"
	    "\tsmtpd\tinet\t127.0.0.1:2525\t-\tn\t1\tsmtpd\r\n"
	    "   \t  \n"
	    "qmgr unix private/qmgr - n 1 qmgr");
	assert_int_equal(tab.count, 2);
	assert_string_equal(tab.svc[0].address, "127.0.0.1:2525");
	assert_string_equal(tab.svc[0].program, "smtpd");
	assert_int_equal(tab.svc[0].line, 3);
	assert_string_equal(tab.svc[1].program, "qmgr");
	assert_int_equal(tab.svc[1].line, 5);
	service_table_free(&tab);
}

static void
test_args(void **state)
{
	struct service_table tab;
	char	 line[2048];
	int	 i;

	(void)state;
	tab = parse_ok("smtpd inet *:25 - n 1 /usr/lib/tern/smtpd -o x=y #z\n");
	assert_string_equal(tab.svc[0].program, "/usr/lib/tern/smtpd");
	assert_int_equal(tab.svc[0].nargs, 3);
	assert_string_equal(tab.svc[0].args[0], "-o");
	assert_string_equal(tab.svc[0].args[1], "x=y");
	assert_string_equal(tab.svc[0].args[2], "#z");
	service_table_free(&tab);

	/* Exactly SERVICE_ARGS_MAX is fine, one more is not. */
	snprintf(line, sizeof(line), "s inet *:25 - n 1 p");
	for (i = 0; i < SERVICE_ARGS_MAX; i++)
		strlcat(line, " a", sizeof(line));
	tab = parse_ok(line);
	assert_int_equal(tab.svc[0].nargs, SERVICE_ARGS_MAX);
	service_table_free(&tab);
	strlcat(line, " a", sizeof(line));
	line_err(line, "too many arguments");

	/* Argument length bound. */
	snprintf(line, sizeof(line), "s inet *:25 - n 1 p ");
	for (i = 0; i < SERVICE_ARG_MAX - 1; i++)
		strlcat(line, "x", sizeof(line));
	line_ok(line);
	strlcat(line, "x", sizeof(line));
	line_err(line, "argument 1 too long");
}

static void
test_missing_fields(void **state)
{
	static const char *const cases[][2] = {
		{ "smtpd", "missing field: type" },
		{ "smtpd inet", "missing field: address" },
		{ "smtpd inet *:25", "missing field: user" },
		{ "smtpd inet *:25 -", "missing field: chroot" },
		{ "smtpd inet *:25 - n", "missing field: limit" },
		{ "smtpd inet *:25 - n 1", "missing field: program" },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		line_err(cases[i][0], cases[i][1]);
}

static void
test_type(void **state)
{
	(void)state;
	line_err("smtpd tcp 127.0.0.1:1 - n 1 smtpd", "unknown service type "
	    "\"tcp\"");
	line_err("smtpd INET *:25 - n 1 smtpd", "unknown service type");
	line_err("smtpd inet6 *:25 - n 1 smtpd", "unknown service type");
	line_err("smtpd fifo x - n 1 smtpd", "unknown service type");
}

static void
test_name(void **state)
{
	char	 line[256];

	(void)state;
	line_ok("my-smtpd_2.x inet *:25 - n 1 smtpd");
	line_err("-smtpd inet *:25 - n 1 smtpd", "bad service name");
	line_err(".smtpd inet *:25 - n 1 smtpd", "bad service name");
	line_err("smtp/d inet *:25 - n 1 smtpd", "bad service name");
	line_err("smtp\xc3\xa9 inet *:25 - n 1 smtpd", "bad service name");
	snprintf(line, sizeof(line), "%0*d inet *:25 - n 1 smtpd",
	    SERVICE_NAME_MAX - 1, 0);
	line_ok(line);
	snprintf(line, sizeof(line), "%0*d inet *:25 - n 1 smtpd",
	    SERVICE_NAME_MAX, 0);
	line_err(line, "service name too long");
}

static void
test_inet_addresses(void **state)
{
	static const char *const good[] = {
		"*:25", "127.0.0.1:2525", "0.0.0.0:1", "[::1]:2525",
		"[::]:25", "[2001:db8::1]:587", "[::ffff:127.0.0.1]:25",
		"localhost:25", "mail.example.org:65535", "a-b.c:1",
	};
	static const char *const bad[][2] = {
		{ "127.0.0.1", "expected host:port" },
		{ "25", "expected host:port" },
		{ ":25", "missing host" },
		{ "127.0.0.1:", "bad port" },
		{ "127.0.0.1:0", "bad port" },
		{ "127.0.0.1:65536", "bad port" },
		{ "127.0.0.1:123456", "bad port" },
		{ "127.0.0.1:-1", "bad port" },
		{ "127.0.0.1:+25", "bad port" },
		{ "127.0.0.1:smtp", "bad port" },
		{ "::1:25", "needs brackets" },
		{ "[::1]25", "expected ]:port" },
		{ "[::1]", "expected ]:port" },
		{ "[::1:25", "missing ']'" },
		{ "[]:25", "bad IPv6" },
		{ "[zz::1]:25", "bad IPv6" },
		{ "[127.0.0.1]:25", "bad IPv6" },
		{ "[fe80::1%eth0]:25", "bad IPv6" },
		{ "999.1.1.1:25", "bad host" },
		{ "1.2.3:25", "bad host" },
		{ "host_name:25", "bad host" },
		{ "-host:25", "bad host" },
		{ "host-:25", "bad host" },
		{ "a..b:25", "bad host" },
		{ ".a:25", "bad host" },
		{ "a.:25", "bad host" },
		{ "**:25", "bad host" },
	};
	char	 line[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "s inet %s - n 1 p", good[i]);
		line_ok(line);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "s inet %s - n 1 p", bad[i][0]);
		line_err(line, bad[i][1]);
	}
}

static void
test_inet_split(void **state)
{
	char		 host[SERVICE_ADDR_MAX], port[8], small[4];
	const char	*why = NULL;

	(void)state;
	assert_int_equal(service_inet_split("*:25", host, sizeof(host), port,
	    sizeof(port), &why), 0);
	assert_string_equal(host, "*");
	assert_string_equal(port, "25");
	assert_int_equal(service_inet_split("[::1]:2525", host, sizeof(host),
	    port, sizeof(port), &why), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "2525");
	assert_int_equal(service_inet_split("mx.example.org:587", host,
	    sizeof(host), port, sizeof(port), &why), 0);
	assert_string_equal(host, "mx.example.org");
	assert_string_equal(port, "587");
	/* Output bounds are honoured. */
	assert_int_equal(service_inet_split("mx.example.org:587", small,
	    sizeof(small), port, sizeof(port), &why), -1);
	assert_string_equal(why, "address too long");
	assert_int_equal(service_inet_split("a:65535", host, sizeof(host),
	    small, sizeof(small), &why), -1);
}

static void
test_unix_addresses(void **state)
{
	char	 line[512];

	(void)state;
	line_ok("s unix private/qmgr - n 1 p");
	line_ok("s unix qmgr - n 1 p");
	line_ok("s unix a/b/c.sock - n 1 p");
	line_err("s unix /run/qmgr - n 1 p", "must be relative");
	line_err("s unix ../qmgr - n 1 p", "bad unix socket path");
	line_err("s unix private/../../etc - n 1 p", "bad unix socket path");
	line_err("s unix ./qmgr - n 1 p", "bad unix socket path");
	line_err("s unix private//qmgr - n 1 p", "bad unix socket path");
	line_err("s unix private/ - n 1 p", "bad unix socket path");
	line_err("s unix . - n 1 p", "bad unix socket path");
	line_err("s unix .. - n 1 p", "bad unix socket path");
	line_ok("s unix private/..x - n 1 p");
	/* sun_path bound: 107 characters fit, 108 do not. */
	snprintf(line, sizeof(line), "s unix %0*d - n 1 p",
	    SERVICE_UNIX_MAX - 1, 0);
	line_ok(line);
	snprintf(line, sizeof(line), "s unix %0*d - n 1 p", SERVICE_UNIX_MAX,
	    0);
	line_err(line, "unix socket path too long");
	snprintf(line, sizeof(line), "s inet %0*d - n 1 p",
	    SERVICE_ADDR_MAX, 0);
	line_err(line, "address too long");
}

static void
test_user(void **state)
{
	char	 line[256];

	(void)state;
	line_ok("s inet *:25 tern n 1 p");
	line_ok("s inet *:25 _tern-2.x n 1 p");
	line_err("s inet *:25 -tern n 1 p", "bad user name");
	line_err("s inet *:25 -- n 1 p", "bad user name");
	line_err("s inet *:25 te:rn n 1 p", "bad user name");
	snprintf(line, sizeof(line), "s inet *:25 u%0*d n 1 p",
	    SERVICE_USER_MAX - 2, 0);
	line_ok(line);
	snprintf(line, sizeof(line), "s inet *:25 u%0*d n 1 p",
	    SERVICE_USER_MAX - 1, 0);
	line_err(line, "user name too long");
}

static void
test_chroot(void **state)
{
	(void)state;
	line_err("s inet *:25 - yes 1 p", "bad chroot flag \"yes\"");
	line_err("s inet *:25 - Y 1 p", "bad chroot flag");
	line_err("s inet *:25 - - 1 p", "bad chroot flag");
	line_err("s inet *:25 - 1 1 p", "bad chroot flag");
}

/* An smtpd with no service on private/lookup (a master.conf from before
 * the lookup service) is found, by program name, also at a path. */
static void
test_smtpd_without_lookup(void **state)
{
	struct service_table tab;
	const struct service *s;

	(void)state;
	tab = parse_ok("qmgr unix private/qmgr - n 1 qmgr\n"
	    "submission inet 127.0.0.1:587 - y 1 /usr/lib/tern/smtpd\n"
	    "smtpd inet *:25 - y 2 smtpd\n");
	s = service_table_smtpd_without_lookup(&tab);
	assert_non_null(s);
	assert_string_equal(s->name, "submission");
	service_table_free(&tab);
	tab = parse_ok("smtpd inet *:25 - y 2 smtpd\n"
	    "lookup unix private/lookup - n 4 lookup\n");
	assert_null(service_table_smtpd_without_lookup(&tab));
	service_table_free(&tab);
	/* No smtpd, no need; a lookup service by another name counts. */
	tab = parse_ok("qmgr unix private/qmgr - n 1 qmgr\n");
	assert_null(service_table_smtpd_without_lookup(&tab));
	service_table_free(&tab);
	tab = parse_ok("smtpd inet *:25 - y 2 smtpd\n"
	    "rcpt unix private/lookup - n 2 lookup\n");
	assert_null(service_table_smtpd_without_lookup(&tab));
	service_table_free(&tab);
}

static void
test_limit(void **state)
{
	struct service_table tab;
	static const char *const bad[] = {
		"0", "1001", "-1", "+1", "1.5", "1e3", "x", "99999999999999999999",
		"00000000000000000000000001001", "0x10",
	};
	char	 line[256];
	size_t	 i;

	(void)state;
	tab = parse_ok("s inet *:25 - n 1000 p\nt inet *:26 - n 001 p\n");
	assert_int_equal(tab.svc[0].limit, 1000);
	assert_int_equal(tab.svc[1].limit, 1);
	service_table_free(&tab);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "s inet *:25 - n %s p", bad[i]);
		line_err(line, "bad process limit");
	}
}

static void
test_program(void **state)
{
	char	 line[512];

	(void)state;
	line_ok("s inet *:25 - n 1 libexec/smtpd");
	line_ok("s inet *:25 - n 1 /usr/lib/tern/smtpd");
	line_err("s inet *:25 - n 1 ../bin/sh", "bad program");
	line_err("s inet *:25 - n 1 /usr/lib/../bin/sh", "bad program");
	line_err("s inet *:25 - n 1 /", "bad program");
	line_err("s inet *:25 - n 1 smtpd/", "bad program");
	snprintf(line, sizeof(line), "s inet *:25 - n 1 %0*d",
	    SERVICE_PATH_MAX, 0);
	line_err(line, "program name too long");
}

static void
test_duplicates(void **state)
{
	(void)state;
	parse_err("smtpd inet *:25 - n 1 smtpd\n"
	    "# other\n"
	    "smtpd inet *:26 - n 1 smtpd\n", 3, "duplicate service name "
	    "\"smtpd\" (first defined at line 1)");
	parse_err("a unix private/x - n 1 p\n"
	    "b unix private/x - n 1 p\n", 2, "already used by service \"a\"");
	parse_err("a inet 127.0.0.1:25 - n 1 p\n"
	    "b inet 127.0.0.1:25 - n 1 p\n", 2, "already used");
	/* Same text, different type: two different sockets. */
	{
		struct service_table tab;

		tab = parse_ok("a unix x:1 - n 1 p\nb inet x:1 - n 1 p\n");
		assert_int_equal(tab.count, 2);
		service_table_free(&tab);
	}
}

static void
test_bad_bytes(void **state)
{
	struct service_table tab;
	static const char nul[] = "smtpd inet *:25 - n 1 sm\0tpd\n";
	char	 err[256];

	(void)state;
	assert_int_equal(service_table_parse(NAME, nul, sizeof(nul) - 1, &tab,
	    err, sizeof(err)), -1);
	assert_string_equal(err, NAME ":1: invalid character (byte 0x00)");
	line_err("smtpd inet *:25 - n 1 smtpd\x1b[2J", "invalid character "
	    "(byte 0x1b)");
	line_err("smtpd inet *:25 - n 1 smtpd\x7f", "byte 0x7f");
	line_err("smtpd inet *:25 - n\v1 smtpd", "byte 0x0b");
	/* A NUL inside a comment is just part of the comment. */
	assert_int_equal(service_table_parse(NAME, "# a\0b\ns inet *:1 - n 1 p",
	    24, &tab, err, sizeof(err)), 0);
	service_table_free(&tab);
}

static void
test_empty(void **state)
{
	(void)state;
	parse_err("", 0, "no services defined");
	parse_err("# nothing here\n\n   \n", 0, "no services defined");
}

static void
test_too_many_services(void **state)
{
	struct service_table tab;
	char	*text;
	size_t	 len = 0, cap = 64 * (SERVICE_TABLE_MAX + 1);
	int	 i;

	(void)state;
	text = calloc(1, cap);
	assert_non_null(text);
	for (i = 0; i < SERVICE_TABLE_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "s%d unix p/s%d - n 1 p\n", i, i);
	tab = parse_ok(text);
	assert_int_equal(tab.count, SERVICE_TABLE_MAX);
	service_table_free(&tab);
	snprintf(text + len, cap - len, "extra unix p/extra - n 1 p\n");
	parse_err(text, SERVICE_TABLE_MAX + 1, "too many services");
	free(text);
}

static void
test_error_line_numbers(void **state)
{
	(void)state;
	parse_err("a inet *:25 - n 1 p\r\n\r\n# c\r\nb inet *:26 - x 1 p\r\n",
	    4, "bad chroot flag \"x\"");
	/* Long garbage is quoted back shortened, not whole. */
	{
		char	 q[2048], line[4096], err[4096];
		struct service_table tab;

		memset(q, 'q', sizeof(q) - 1);
		q[sizeof(q) - 1] = '\0';
		snprintf(line, sizeof(line), "s %s *:25 - n 1 p", q);
		assert_int_equal(service_table_parse(NAME, line, strlen(line),
		    &tab, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "unknown service type \"qqq"));
		assert_true(strlen(err) < 200);
	}
}

static void
test_small_error_buffer(void **state)
{
	struct service_table tab;
	char	 err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(service_table_parse(NAME, "bad", 3, &tab, err,
	    sizeof(err)), -1);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(service_table_parse(NAME, "bad", 3, &tab, NULL, 0),
	    -1);
}

static void
test_same_endpoint(void **state)
{
	struct service_table tab;

	(void)state;
	tab = parse_ok("a inet *:25 - n 1 p\nb unix x - n 1 p\n"
	    "c inet 127.0.0.1:25 - n 1 p\n");
	assert_true(service_same_endpoint(&tab.svc[0], &tab.svc[0]));
	assert_false(service_same_endpoint(&tab.svc[0], &tab.svc[1]));
	assert_false(service_same_endpoint(&tab.svc[0], &tab.svc[2]));
	service_table_free(&tab);
}

static void
test_load(void **state)
{
	struct service_table tab;
	char	 path[] = "/tmp/test_service_table.XXXXXX", err[512];
	char	*big;
	FILE	*f;
	int	 fd;

	(void)state;
	assert_int_equal(service_table_load("/nonexistent/master.conf", &tab,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/master.conf: No such file or "
	    "directory");

	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(example, f);
	fclose(f);
	assert_int_equal(service_table_load(path, &tab, err, sizeof(err)), 0);
	assert_int_equal(tab.count, 4);
	service_table_free(&tab);

	/* A syntax error names the file as it was given. */
	assert_non_null(f = fopen(path, "w"));
	fputs("smtpd tcp 127.0.0.1:1 - n 1 smtpd\n", f);
	fclose(f);
	assert_int_equal(service_table_load(path, &tab, err, sizeof(err)), -1);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_int_equal(strncmp(err + strlen(path), ":1: ", 4), 0);

	/* Larger than SERVICE_FILE_MAX: refused before parsing. */
	big = malloc(SERVICE_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', SERVICE_FILE_MAX + 1);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(big, 1, SERVICE_FILE_MAX + 1, f),
	    SERVICE_FILE_MAX + 1);
	fclose(f);
	assert_int_equal(service_table_load(path, &tab, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file too large"));
	free(big);
	unlink(path);
}

static void
test_spawn_argv(void **state)
{
	struct service_table tab;
	struct spawn_opts o = { "/etc/tern/tern.conf", "/usr/lib/tern", 0, 0 };
	char	 path[SPAWN_PATH_MAX], *argv[SPAWN_ARGV_MAX];
	static const char *const want1[] = {
		"smtpd", "-c", "/etc/tern/tern.conf", "-s", "smtpd", "-u",
		"tern", "-l", NULL
	};
	static const char *const want2[] = {
		"/opt/qmgr", "-c", "/etc/tern/tern.conf", "-s", "qmgr", "-u",
		"root", "-C", "-v", "-f", "-l", "-x", "y", NULL
	};
	char	 longdir[SPAWN_PATH_MAX];
	int	 i;

	(void)state;
	tab = parse_ok("smtpd inet *:25 - n 2 smtpd\n"
	    "qmgr unix private/qmgr root y 1 /opt/qmgr -x y\n");
	assert_int_equal(service_spawn_argv(&o, &tab.svc[0], "tern", path,
	    sizeof(path), argv), 0);
	assert_string_equal(path, "/usr/lib/tern/smtpd");
	for (i = 0; want1[i] != NULL; i++)
		assert_string_equal(argv[i], want1[i]);
	assert_null(argv[i]);

	o.verbose = o.foreground = 1;
	assert_int_equal(service_spawn_argv(&o, &tab.svc[1], "root", path,
	    sizeof(path), argv), 0);
	assert_string_equal(path, "/opt/qmgr");
	for (i = 0; want2[i] != NULL; i++)
		assert_string_equal(argv[i], want2[i]);
	assert_null(argv[i]);

	/* The path must fit, or nothing is started. */
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	o.daemon_directory = longdir;
	assert_int_equal(service_spawn_argv(&o, &tab.svc[0], "tern", path,
	    sizeof(path), argv), -1);
	assert_int_equal(service_spawn_argv(&o, &tab.svc[1], "tern", path,
	    sizeof(path), argv), 0);
	service_table_free(&tab);
}

static void
test_spawn_argv_max(void **state)
{
	struct service_table tab;
	struct spawn_opts o = { "/c", "/d", 1, 1 };
	char	 line[512], path[SPAWN_PATH_MAX], *argv[SPAWN_ARGV_MAX];
	int	 i;

	(void)state;
	snprintf(line, sizeof(line), "s inet *:25 - y 1 p");
	for (i = 0; i < SERVICE_ARGS_MAX; i++)
		strlcat(line, " a", sizeof(line));
	tab = parse_ok(line);
	assert_int_equal(service_spawn_argv(&o, &tab.svc[0], "u", path,
	    sizeof(path), argv), 0);
	assert_null(argv[SPAWN_ARGV_MAX - 1]);
	assert_string_equal(argv[SPAWN_ARGV_MAX - 2], "a");
	service_table_free(&tab);
}

/* The restart policy of one instance slot (master/supervise.c). */
static void
test_backoff(void **state)
{
	struct instance in = { 0, 0, 0, SUPERVISE_BACKOFF_MIN, -1 };
	static const long long waits[] = {
		1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000
	};
	long long now = 1000000;
	size_t	 i;

	(void)state;
	/* A crash loop: each wait doubles, up to the maximum. */
	for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		supervise_schedule(&in, 50, now);
		assert_int_equal(in.start_at - now, waits[i]);
		now += 100000;
	}
	/* Lived 10 s: restarted at once, but the back-off is remembered. */
	supervise_schedule(&in, SUPERVISE_RESTART_MS, now);
	assert_int_equal(in.start_at, now);
	supervise_schedule(&in, 9999, now);
	assert_int_equal(in.start_at - now, 60000);
	/* Lived 60 s: at once, and the next early death waits 1 s again. */
	supervise_schedule(&in, SUPERVISE_RESET_MS, now);
	assert_int_equal(in.start_at, now);
	supervise_schedule(&in, 0, now);
	assert_int_equal(in.start_at - now, 1000);
	supervise_schedule(&in, 0, now);
	assert_int_equal(in.start_at - now, 2000);
}

/* Whatever the input, the result is consistent: a table with at least one
 * service and sane fields, or -1 with an empty table and a message. */
static void
check_any(const char *buf, size_t len)
{
	struct service_table tab;
	char	 err[256];
	int	 i, rc;

	rc = service_table_parse("fuzz", buf, len, &tab, err, sizeof(err));
	if (rc == -1) {
		assert_int_equal(tab.count, 0);
		assert_null(tab.svc);
		assert_int_equal(strncmp(err, "fuzz:", 5), 0);
		return;
	}
	assert_int_equal(rc, 0);
	assert_in_range(tab.count, 1, SERVICE_TABLE_MAX);
	for (i = 0; i < tab.count; i++) {
		const struct service *s = &tab.svc[i];
		assert_in_range(s->limit, 1, SERVICE_LIMIT_MAX);
		assert_in_range(s->nargs, 0, SERVICE_ARGS_MAX);
		assert_true(strlen(s->name) > 0);
		assert_true(strlen(s->program) > 0);
		assert_true(s->type == SERVICE_INET || s->type == SERVICE_UNIX);
	}
	service_table_free(&tab);
}

static void
test_fuzz_mutations(void **state)
{
	static const char alphabet[] = " \t\r\n#:[]*./-0123456789abyn\x01\xff";
	char	 buf[sizeof(example)];
	size_t	 len, pos;
	int	 round, k;

	(void)state;
	srandom(4242);
	for (round = 0; round < 20000; round++) {
		memcpy(buf, example, sizeof(example));
		len = sizeof(example) - 1;
		for (k = random() % 8; k >= 0; k--) {
			pos = (size_t)random() % len;
			switch (random() % 3) {
			case 0:		/* replace one byte */
				buf[pos] = alphabet[random() %
				    (sizeof(alphabet) - 1)];
				break;
			case 1:		/* cut the text short */
				len = pos + 1;
				break;
			default:	/* drop one byte */
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				if (len > 1)
					len--;
				break;
			}
		}
		/* Parse from an exact-size heap copy: ASan sees overreads. */
		{
			char *copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, buf, len);
			check_any(copy, len);
			free(copy);
		}
	}
}

static void
test_fuzz_random(void **state)
{
	char	*buf;
	size_t	 len, i;
	int	 round;

	(void)state;
	srandom(99);
	for (round = 0; round < 5000; round++) {
		len = (size_t)random() % 300;
		buf = malloc(len + 1);
		assert_non_null(buf);
		for (i = 0; i < len; i++)
			buf[i] = (char)(random() % 4 == 0 ? ' ' : random());
		check_any(buf, len);
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_inet_addresses),
		cmocka_unit_test(test_inet_split),
		cmocka_unit_test(test_unix_addresses),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_chroot),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_smtpd_without_lookup),
		cmocka_unit_test(test_program),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_too_many_services),
		cmocka_unit_test(test_error_line_numbers),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_same_endpoint),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_spawn_argv),
		cmocka_unit_test(test_spawn_argv_max),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_fuzz_mutations),
		cmocka_unit_test(test_fuzz_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
