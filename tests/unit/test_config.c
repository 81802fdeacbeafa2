/*
 * Unit tests for common/config.c: defaults, every value type with its
 * limits, file syntax (comments, continuations, CRLF), and the
 * "file:line: reason" error messages, captured from stderr.
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

#include "config.h"
#include "log.h"

/* stderr of the last parse, so error messages can be checked. */
static char	errtext[8192];

static int
parse_capture(const char *name, const char *text, struct tern_config *cf)
{
	FILE	*tmp = tmpfile();
	int	 saved, r;
	size_t	 n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	r = config_parse(name, text, strlen(text), cf);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(errtext, 1, sizeof(errtext) - 1, tmp);
	errtext[n] = '\0';
	fclose(tmp);
	return r;
}

static void
expect_error(const char *text, const char *msg)
{
	struct tern_config	 cf;

	if (parse_capture("/etc/t/tern.conf", text, &cf) != -1)
		fail_msg("accepted: %s", text);
	if (strstr(errtext, msg) == NULL)
		fail_msg("for %s: wanted \"%s\", got \"%s\"", text, msg, errtext);
	/* A failed parse leaves nothing allocated. */
	assert_null(cf.path);
	assert_null(cf.myhostname);
}

static void
test_defaults(void **state)
{
	struct tern_config	 cf;
	char			 host[256];

	(void)state;
	gethostname(host, sizeof(host));
	config_defaults(&cf);
	assert_string_equal(cf.myhostname, host);
	assert_int_equal(cf.mydestination.count, 2);
	assert_string_equal(cf.mydestination.item[0], "localhost");
	assert_string_equal(cf.mydestination.item[1], host);
	assert_true(strncmp(cf.smtpd_banner, host, strlen(host)) == 0);
	assert_string_equal(cf.smtpd_banner + strlen(host), " ESMTP tern");
	assert_string_equal(cf.queue_directory, "/var/spool/tern");
	assert_string_equal(cf.daemon_directory, TERN_LIBEXECDIR);
	assert_string_equal(cf.mail_owner, "tern");
	assert_string_equal(cf.master_config, TERN_SYSCONFDIR "/master.conf");
	assert_int_equal(cf.message_size_limit, 10240000);
	assert_int_equal(cf.smtpd_recipient_limit, 1000);
	assert_int_equal(cf.smtpd_timeout, 300);
	assert_int_equal(cf.smtpd_client_limit, 20000);
	assert_int_equal(cf.local_recipient_check, 1);
	assert_int_equal(cf.smtpd_forbid_bare_newline, CONFIG_BARE_NL_REJECT);
	assert_int_equal(cf.queue_scan_interval, 60);
	assert_int_equal(cf.minimal_backoff_time, 300);
	assert_int_equal(cf.maximal_backoff_time, 4000);
	assert_int_equal(cf.maximal_queue_lifetime, 5 * 86400);
	assert_int_equal(cf.deliver_concurrency, 4);
	assert_string_equal(cf.home_mailbox, "Maildir/");
	assert_int_equal(cf.resolver_nameservers.count, 0);
	assert_int_equal(cf.resolver_timeout, 30);
	assert_int_equal(cf.verbose, 0);
	config_free(&cf);
	assert_null(cf.myhostname);
	config_free(&cf);	/* twice is harmless */
}

static void
test_empty_file(void **state)
{
	struct tern_config	 cf;

	(void)state;
	assert_int_equal(parse_capture("/x/y/tern.conf", "", &cf), 0);
	assert_string_equal(errtext, "");
	assert_string_equal(cf.path, "/x/y/tern.conf");
	assert_string_equal(cf.master_config, "/x/y/master.conf");
	assert_int_equal(cf.smtpd_timeout, 300);
	config_free(&cf);
	assert_int_equal(parse_capture("tern.conf", "\n\n# only comments\n   \n", &cf), 0);
	assert_string_equal(cf.master_config, "master.conf");
	config_free(&cf);
}

static void
test_all_keys(void **state)
{
	struct tern_config	 cf;
	const char		*text =
	    "myhostname = mx.example.org\n"
	    "mydestination = example.org,  $myhostname , localhost.example.org\n"
	    "smtpd_banner = ${myhostname} ready # not a comment\n"
	    "queue_directory = /q\n"
	    "daemon_directory = /d\n"
	    "mail_owner = postman\n"
	    "master_config = svc.conf\n"
	    "message_size_limit = 20m\n"
	    "smtpd_recipient_limit = 50\n"
	    "smtpd_timeout = 5m\n"
	    "smtpd_client_limit = 7\n"
	    "local_recipient_check = no\n"
	    "queue_scan_interval = 10s\n"
	    "minimal_backoff_time = 1m\n"
	    "maximal_backoff_time = 2h\n"
	    "maximal_queue_lifetime = 1w\n"
	    "deliver_concurrency = 3\n"
	    "home_mailbox = Mail/\n"
	    "resolver_nameservers = 127.0.0.1@5353 ::1\n"
	    "resolver_timeout = 2\n"
	    "verbose = YES\n";

	(void)state;
	assert_int_equal(parse_capture("/etc/t/tern.conf", text, &cf), 0);
	assert_string_equal(errtext, "");
	assert_string_equal(cf.myhostname, "mx.example.org");
	assert_int_equal(cf.mydestination.count, 3);
	assert_string_equal(cf.mydestination.item[0], "example.org");
	assert_string_equal(cf.mydestination.item[1], "mx.example.org");
	assert_string_equal(cf.mydestination.item[2], "localhost.example.org");
	assert_string_equal(cf.smtpd_banner, "mx.example.org ready # not a comment");
	assert_string_equal(cf.queue_directory, "/q");
	assert_string_equal(cf.daemon_directory, "/d");
	assert_string_equal(cf.mail_owner, "postman");
	assert_string_equal(cf.master_config, "/etc/t/svc.conf");
	assert_int_equal(cf.message_size_limit, 20 * 1024 * 1024);
	assert_int_equal(cf.smtpd_recipient_limit, 50);
	assert_int_equal(cf.smtpd_timeout, 300);
	assert_int_equal(cf.smtpd_client_limit, 7);
	assert_int_equal(cf.local_recipient_check, 0);
	assert_int_equal(cf.queue_scan_interval, 10);
	assert_int_equal(cf.minimal_backoff_time, 60);
	assert_int_equal(cf.maximal_backoff_time, 7200);
	assert_int_equal(cf.maximal_queue_lifetime, 604800);
	assert_int_equal(cf.deliver_concurrency, 3);
	assert_string_equal(cf.home_mailbox, "Mail/");
	assert_int_equal(cf.resolver_nameservers.count, 2);
	assert_string_equal(cf.resolver_nameservers.item[0], "127.0.0.1@5353");
	assert_string_equal(cf.resolver_nameservers.item[1], "::1");
	assert_int_equal(cf.resolver_timeout, 2);
	assert_int_equal(cf.verbose, 1);
	config_free(&cf);
}

static void
test_hostname_expansion(void **state)
{
	struct tern_config	 cf;

	(void)state;
	/* myhostname may come after its use. */
	assert_int_equal(parse_capture("t", "smtpd_banner = $myhostname $myhostnames $x $\n"
	    "mydestination = $myhostname\nmyhostname = a.example\n", &cf), 0);
	assert_string_equal(cf.smtpd_banner, "a.example $myhostnames $x $");
	assert_string_equal(cf.mydestination.item[0], "a.example");
	assert_true(config_is_local_domain(&cf, "A.EXAMPLE."));
	assert_false(config_is_local_domain(&cf, "localhost"));
	config_free(&cf);
	/* Other keys are taken literally. */
	assert_int_equal(parse_capture("t", "home_mailbox = $myhostname/\n", &cf), 0);
	assert_string_equal(cf.home_mailbox, "$myhostname/");
	config_free(&cf);
	assert_int_equal(parse_capture("t", "smtpd_banner =\n", &cf), 0);
	assert_string_equal(cf.smtpd_banner, "");
	config_free(&cf);
}

static void
test_syntax(void **state)
{
	struct tern_config	 cf;

	(void)state;
	/* Continuations join with one space; comments and blank lines inside
	 * do not end the entry. */
	assert_int_equal(parse_capture("t",
	    "# head\n"
	    "mydestination = a.example,\n"
	    "   b.example\n"
	    "# between\n"
	    "\n"
	    "\tc.example\n"
	    "smtpd_banner = one\n"
	    "  two   \n"
	    "\t three\n"
	    "   # indented comment\n"
	    "verbose=yes", &cf), 0);
	assert_int_equal(cf.mydestination.count, 3);
	assert_string_equal(cf.mydestination.item[2], "c.example");
	assert_string_equal(cf.smtpd_banner, "one two three");
	assert_int_equal(cf.verbose, 1);
	config_free(&cf);

	/* CRLF files. */
	assert_int_equal(parse_capture("t", "smtpd_timeout = 10\r\nverbose = yes\r\n", &cf), 0);
	assert_int_equal(cf.smtpd_timeout, 10);
	assert_int_equal(cf.verbose, 1);
	config_free(&cf);

	/* Value containing '='. */
	assert_int_equal(parse_capture("t", "smtpd_banner = a=b\n", &cf), 0);
	assert_string_equal(cf.smtpd_banner, "a=b");
	config_free(&cf);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("\n# comment\nfoo = 1\n", "/etc/t/tern.conf:3: unknown key 'foo'");
	expect_error("message_size_limit = abc\n",
	    "/etc/t/tern.conf:1: bad value for message_size_limit: 'abc'");
	expect_error("verbose = yes\nverbose = no\n",
	    "/etc/t/tern.conf:2: duplicate key 'verbose'");
	expect_error("  continued\n", "/etc/t/tern.conf:1: continuation line without a key");
	expect_error("verbose\n", "/etc/t/tern.conf:1: missing '='");
	expect_error(" = 3\n", "continuation line without a key");
	expect_error("= 3\n", "/etc/t/tern.conf:1: missing key");
	expect_error("verbose = maybe\n", "bad value for verbose: 'maybe'");
	/* Postfix's "normalize" is not offered; its "yes" meant different
	 * things in different versions. */
	expect_error("smtpd_forbid_bare_newline = normalize\n",
	    "bad value for smtpd_forbid_bare_newline: 'normalize'");
	expect_error("smtpd_forbid_bare_newline = yes\n",
	    "bad value for smtpd_forbid_bare_newline: 'yes'");
	expect_error("verbose =\n", "bad value for verbose: ''");
	expect_error("smtpd_timeout = 10x\n", "bad value for smtpd_timeout");
	expect_error("smtpd_timeout = 0\n", "bad value for smtpd_timeout: '0'");
	expect_error("deliver_concurrency = 0\n", "bad value for deliver_concurrency");
	expect_error("deliver_concurrency = -1\n", "bad value for deliver_concurrency");
	expect_error("smtpd_client_limit = 2147483648\n", "bad value for smtpd_client_limit");
	expect_error("maximal_queue_lifetime = 24856d\n", "bad value for maximal_queue_lifetime");
	expect_error("message_size_limit = 99999999999999999999\n",
	    "bad value for message_size_limit");
	expect_error("message_size_limit = 17179869184g\n",
	    "bad value for message_size_limit");
	expect_error("message_size_limit = 0\n", "bad value for message_size_limit");
	expect_error("queue_directory =\n", "bad value for queue_directory: ''");
	expect_error("myhostname = not a host\n", "bad value for myhostname");
	expect_error("myhostname = -bad.example\n", "bad value for myhostname");
	expect_error("smtpd_banner = a\x01z\n", "bad value for smtpd_banner: 'a?z'");
	expect_error("minimal_backoff_time = 2h\nmaximal_backoff_time = 1h\n",
	    "/etc/t/tern.conf:2: minimal_backoff_time (7200) is larger than");
	/* A continuation belongs to the entry's first line. */
	expect_error("x = 1\n\n  2\n", "/etc/t/tern.conf:1: unknown key 'x'");
	/* Every error is reported, not just the first. */
	expect_error("a = 1\nb = 2\n", "tern.conf:2: unknown key 'b'");
	assert_non_null(strstr(errtext, "tern.conf:1: unknown key 'a'"));
}

static void
test_nul_and_long(void **state)
{
	struct tern_config	 cf;
	const char		 text[] = "verbose = yes\nsmtpd_banner = a\0b\n";
	char			*big;
	size_t			 n = 70000;

	(void)state;
	assert_int_equal(config_parse("t", text, sizeof(text) - 1, &cf), -1);
	big = malloc(n + 32);
	assert_non_null(big);
	strcpy(big, "smtpd_banner = ");
	memset(big + strlen(big), 'x', n);
	big[15 + n] = '\n';
	strcpy(big + 16 + n, "  more\n");
	expect_error(big, ":1: entry longer than");
	free(big);
}

static void
test_parse_bool(void **state)
{
	int	 v = 7;

	(void)state;
	assert_int_equal(config_parse_bool("yes", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(config_parse_bool("No", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_bool("true", &v), -1);
	assert_int_equal(config_parse_bool("", &v), -1);
	assert_int_equal(config_parse_bool("yes ", &v), -1);
	assert_int_equal(config_parse_bool("1", &v), -1);
}

static void
test_parse_count(void **state)
{
	int	 v;

	(void)state;
	assert_int_equal(config_parse_count("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_count("2147483647", &v), 0);
	assert_int_equal(v, 2147483647);
	assert_int_equal(config_parse_count("2147483648", &v), -1);
	assert_int_equal(config_parse_count("99999999999999999999999", &v), -1);
	assert_int_equal(config_parse_count("-1", &v), -1);
	assert_int_equal(config_parse_count("+1", &v), -1);
	assert_int_equal(config_parse_count("1k", &v), -1);
	assert_int_equal(config_parse_count(" 1", &v), -1);
	assert_int_equal(config_parse_count("", &v), -1);
	assert_int_equal(config_parse_count("0x10", &v), -1);
}

static void
test_parse_size(void **state)
{
	size_t	 v;

	(void)state;
	assert_int_equal(config_parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(config_parse_size("1k", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_size("2M", &v), 0);
	assert_int_equal(v, 2 * 1024 * 1024);
	assert_int_equal(config_parse_size("3g", &v), 0);
	assert_int_equal(v, 3ULL * 1024 * 1024 * 1024);
	assert_int_equal(config_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(config_parse_size("18446744073709551616", &v), -1);
	assert_int_equal(config_parse_size("17179869183g", &v), 0);
	assert_int_equal(config_parse_size("17179869184g", &v), -1);
	assert_int_equal(config_parse_size("k", &v), -1);
	assert_int_equal(config_parse_size("1kb", &v), -1);
	assert_int_equal(config_parse_size("1t", &v), -1);
	assert_int_equal(config_parse_size("1 k", &v), -1);
	assert_int_equal(config_parse_size("-1", &v), -1);
	assert_int_equal(config_parse_size("", &v), -1);
}

static void
test_parse_time(void **state)
{
	int	 v;

	(void)state;
	assert_int_equal(config_parse_time("45", &v), 0);
	assert_int_equal(v, 45);
	assert_int_equal(config_parse_time("45s", &v), 0);
	assert_int_equal(v, 45);
	assert_int_equal(config_parse_time("2m", &v), 0);
	assert_int_equal(v, 120);
	assert_int_equal(config_parse_time("3H", &v), 0);
	assert_int_equal(v, 10800);
	assert_int_equal(config_parse_time("5d", &v), 0);
	assert_int_equal(v, 432000);
	assert_int_equal(config_parse_time("2w", &v), 0);
	assert_int_equal(v, 1209600);
	assert_int_equal(config_parse_time("24855d", &v), 0);
	assert_int_equal(config_parse_time("24856d", &v), -1);
	assert_int_equal(config_parse_time("2147483648", &v), -1);
	assert_int_equal(config_parse_time("1y", &v), -1);
	assert_int_equal(config_parse_time("1ms", &v), -1);
	assert_int_equal(config_parse_time("s", &v), -1);
	assert_int_equal(config_parse_time("1.5h", &v), -1);
}

static void
test_parse_list(void **state)
{
	struct config_list	 l;
	char			 text[1024];
	int			 i;

	(void)state;
	assert_int_equal(config_parse_list(" a, b,,c\td ,", &l), 0);
	assert_int_equal(l.count, 4);
	assert_string_equal(l.item[0], "a");
	assert_string_equal(l.item[3], "d");
	config_list_free(&l);
	assert_int_equal(l.count, 0);
	assert_int_equal(config_parse_list("", &l), 0);
	assert_int_equal(l.count, 0);
	assert_int_equal(config_parse_list(" , ,", &l), 0);
	assert_int_equal(l.count, 0);

	text[0] = '\0';
	for (i = 0; i < CONFIG_LIST_MAX; i++)
		strcat(text, "x,");
	assert_int_equal(config_parse_list(text, &l), 0);
	assert_int_equal(l.count, CONFIG_LIST_MAX);
	config_list_free(&l);
	strcat(text, "y");
	assert_int_equal(config_parse_list(text, &l), -1);
	assert_int_equal(l.count, 0);
}

static void
test_local_domain(void **state)
{
	struct tern_config	 cf;

	(void)state;
	assert_int_equal(parse_capture("t", "mydestination = Example.ORG, b.example.\n", &cf), 0);
	assert_true(config_is_local_domain(&cf, "example.org"));
	assert_true(config_is_local_domain(&cf, "EXAMPLE.org."));
	assert_true(config_is_local_domain(&cf, "b.example"));
	assert_true(config_is_local_domain(&cf, "B.EXAMPLE."));
	assert_false(config_is_local_domain(&cf, "example.org.."));
	assert_false(config_is_local_domain(&cf, "sub.example.org"));
	assert_false(config_is_local_domain(&cf, "example"));
	assert_false(config_is_local_domain(&cf, ""));
	assert_false(config_is_local_domain(&cf, "."));
	assert_false(config_is_local_domain(&cf, NULL));
	config_free(&cf);
}

static void
test_load_and_print(void **state)
{
	char			 dir[] = "/tmp/tern-config-XXXXXX", path[256], out[256];
	struct tern_config	 cf;
	FILE			*f;
	char			 text[4096];
	size_t			 n;
	int			 saved;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tern.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("message_size_limit = 1k\nmaster_config = /abs/m.conf\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &cf), 0);
	assert_string_equal(cf.path, path);
	assert_int_equal(cf.message_size_limit, 1024);
	assert_string_equal(cf.master_config, "/abs/m.conf");

	snprintf(out, sizeof(out), "%s/print", dir);
	f = fopen(out, "w+");
	assert_non_null(f);
	config_print(&cf, fileno(f));
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, "message_size_limit = 1024\n"));
	assert_non_null(strstr(text, "verbose = no\n"));
	assert_non_null(strstr(text, "mydestination = localhost, "));
	assert_non_null(strstr(text, "resolver_nameservers =\n"));
	assert_non_null(strstr(text, "maximal_queue_lifetime = 432000\n"));
	assert_non_null(strstr(text, "smtpd_forbid_bare_newline = reject\n"));
	config_free(&cf);
	unlink(out);
	unlink(path);

	/* A missing file names itself. */
	fflush(stderr);
	f = tmpfile();
	saved = dup(2);
	dup2(fileno(f), 2);
	assert_int_equal(config_load(path, &cf), -1);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, path));
	assert_int_equal(config_load(dir, &cf), -1);	/* a directory */
	rmdir(dir);
}

static void
test_choice(void **state)
{
	struct tern_config	 cf;

	(void)state;
	assert_int_equal(parse_capture("t", "smtpd_forbid_bare_newline = no\n",
	    &cf), 0);
	assert_int_equal(cf.smtpd_forbid_bare_newline, CONFIG_BARE_NL_NO);
	config_free(&cf);
	assert_int_equal(parse_capture("t", "smtpd_forbid_bare_newline = REJECT\n",
	    &cf), 0);
	assert_int_equal(cf.smtpd_forbid_bare_newline, CONFIG_BARE_NL_REJECT);
	config_free(&cf);
}

/* The SMTP client's keys: the four TLS levels, defaults, $myhostname in
 * smtp_helo_name. */
static void
test_smtp_client_keys(void **state)
{
	static const char *const level[] = { "none", "may", "encrypt",
	    "verify" };
	struct tern_config	 cf;
	char			 text[64];
	int			 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "smtp_tls_security_level = %s\n",
		    level[i]);
		assert_int_equal(parse_capture("t", text, &cf), 0);
		assert_int_equal(cf.smtp_tls_security_level, i);
		config_free(&cf);
	}
	assert_int_equal(parse_capture("t", "smtp_tls_security_level = dane\n",
	    &cf), -1);
	assert_int_equal(parse_capture("t", "myhostname = mx.example\n", &cf),
	    0);
	assert_int_equal(cf.smtp_tls_security_level, CONFIG_TLS_MAY);
	assert_string_equal(cf.smtp_helo_name, "mx.example");
	assert_int_equal(cf.smtp_connect_timeout, 30);
	assert_int_equal(cf.smtp_data_done_timeout, 600);
	assert_string_equal(cf.smtp_tls_CAfile, "");
	config_free(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_hostname_expansion),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_long),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_count),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_load_and_print),
		cmocka_unit_test(test_choice),
		cmocka_unit_test(test_smtp_client_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
