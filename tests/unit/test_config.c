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
#include "anvil/anvil_params.h"
#include "bounce/bounce_params.h"
#include "deliver/deliver_params.h"
#include "master/master_params.h"
#include "qmgr/qmgr_params.h"
#include "resolver/resolver_params.h"
#include "smtp/smtp_params.h"
#include "smtpd/smtpd_params.h"

/* stderr of the last parse, so error messages can be checked. */
static char	errtext[8192];

/* Every daemon's keys, filled by the whole-file parse as the master does it
 * (CONFIG_ALL_KEYS), so each key's value can be checked. */
static struct smtpd_params	sp;
static struct qmgr_params	qp;
static struct deliver_params	dp;
static struct resolver_params	rp;
static struct anvil_params	ap;
static struct smtp_params	mp;
static struct bounce_params	bp;

static const struct config_part all_parts[] = {
	{ &smtpd_params_table, &sp },
	{ &qmgr_params_table, &qp },
	{ &deliver_params_table, &dp },
	{ &resolver_params_table, &rp },
	{ &anvil_params_table, &ap },
	{ &smtp_params_table, &mp },
	{ &bounce_params_table, &bp },
};
#define NPARTS	(sizeof(all_parts) / sizeof(all_parts[0]))

static int
parse_all(const char *name, const char *text, size_t len, struct tern_config *cf)
{
	return config_parse_parts(name, text, len, cf, all_parts, NPARTS,
	    CONFIG_ALL_KEYS);
}

static int
load_all(const char *path, struct tern_config *cf)
{
	return config_load_parts(path, cf, all_parts, NPARTS, CONFIG_ALL_KEYS);
}

static void
defaults_all(struct tern_config *cf)
{
	config_defaults_parts(cf, all_parts, NPARTS);
}

static void
free_all(struct tern_config *cf)
{
	size_t	 i;

	config_free(cf);
	for (i = 0; i < NPARTS; i++)
		config_free_part(all_parts[i].table, all_parts[i].dest);
}

static void
print_all(const struct tern_config *cf, int fd)
{
	size_t	 i;

	config_print(&config_global_table, cf, fd);
	for (i = 0; i < NPARTS; i++)
		config_print(all_parts[i].table, all_parts[i].dest, fd);
}

/* Parse with the given parts and flags, stderr kept in errtext. */
static int
parse_capture_parts(const char *name, const char *text, struct tern_config *cf,
    const struct config_part *part, size_t nparts, int flags)
{
	FILE	*tmp = tmpfile();
	int	 saved, r;
	size_t	 n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	r = config_parse_parts(name, text, strlen(text), cf, part, nparts, flags);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(errtext, 1, sizeof(errtext) - 1, tmp);
	errtext[n] = '\0';
	fclose(tmp);
	return r;
}

static int
parse_capture(const char *name, const char *text, struct tern_config *cf)
{
	return parse_capture_parts(name, text, cf, all_parts, NPARTS,
	    CONFIG_ALL_KEYS);
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
	assert_null(sp.smtpd_banner);
	assert_null(dp.home_mailbox);
}

static void
test_defaults(void **state)
{
	struct tern_config	 cf;
	char			 host[256];

	(void)state;
	gethostname(host, sizeof(host));
	defaults_all(&cf);
	assert_string_equal(cf.myhostname, host);
	assert_int_equal(cf.mydestination.count, 2);
	assert_string_equal(cf.mydestination.item[0], "localhost");
	assert_string_equal(cf.mydestination.item[1], host);
	assert_true(strncmp(sp.smtpd_banner, host, strlen(host)) == 0);
	assert_string_equal(sp.smtpd_banner + strlen(host), " ESMTP tern");
	assert_string_equal(cf.queue_directory, "/var/spool/tern");
	assert_string_equal(cf.daemon_directory, TERN_LIBEXECDIR);
	assert_string_equal(cf.mail_owner, "tern");
	assert_string_equal(cf.master_config, TERN_SYSCONFDIR "/master.conf");
	assert_int_equal(cf.message_size_limit, 10240000);
	assert_int_equal(sp.smtpd_recipient_limit, 1000);
	assert_int_equal(sp.smtpd_timeout, 300);
	assert_int_equal(sp.smtpd_client_limit, 20000);
	assert_int_equal(sp.local_recipient_check, 1);
	assert_int_equal(sp.smtpd_forbid_bare_newline, CONFIG_BARE_NL_REJECT);
	assert_int_equal(qp.queue_scan_interval, 60);
	assert_int_equal(qp.minimal_backoff_time, 300);
	assert_int_equal(qp.maximal_backoff_time, 4000);
	assert_int_equal(qp.maximal_queue_lifetime, 5 * 86400);
	assert_int_equal(qp.deliver_concurrency, 4);
	assert_string_equal(dp.home_mailbox, "Maildir/");
	assert_int_equal(rp.resolver_nameservers.count, 0);
	assert_int_equal(cf.resolver_timeout, 30);
	assert_int_equal(cf.verbose, 0);
	free_all(&cf);
	assert_null(cf.myhostname);
	free_all(&cf);	/* twice is harmless */
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
	assert_int_equal(sp.smtpd_timeout, 300);
	free_all(&cf);
	assert_int_equal(parse_capture("tern.conf", "\n\n# only comments\n   \n", &cf), 0);
	assert_string_equal(cf.master_config, "master.conf");
	free_all(&cf);
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
	assert_string_equal(sp.smtpd_banner, "mx.example.org ready # not a comment");
	assert_string_equal(cf.queue_directory, "/q");
	assert_string_equal(cf.daemon_directory, "/d");
	assert_string_equal(cf.mail_owner, "postman");
	assert_string_equal(cf.master_config, "/etc/t/svc.conf");
	assert_int_equal(cf.message_size_limit, 20 * 1024 * 1024);
	assert_int_equal(sp.smtpd_recipient_limit, 50);
	assert_int_equal(sp.smtpd_timeout, 300);
	assert_int_equal(sp.smtpd_client_limit, 7);
	assert_int_equal(sp.local_recipient_check, 0);
	assert_int_equal(qp.queue_scan_interval, 10);
	assert_int_equal(qp.minimal_backoff_time, 60);
	assert_int_equal(qp.maximal_backoff_time, 7200);
	assert_int_equal(qp.maximal_queue_lifetime, 604800);
	assert_int_equal(qp.deliver_concurrency, 3);
	assert_string_equal(dp.home_mailbox, "Mail/");
	assert_int_equal(rp.resolver_nameservers.count, 2);
	assert_string_equal(rp.resolver_nameservers.item[0], "127.0.0.1@5353");
	assert_string_equal(rp.resolver_nameservers.item[1], "::1");
	assert_int_equal(cf.resolver_timeout, 2);
	assert_int_equal(cf.verbose, 1);
	free_all(&cf);
}

static void
test_hostname_expansion(void **state)
{
	struct tern_config	 cf;

	(void)state;
	/* myhostname may come after its use. */
	assert_int_equal(parse_capture("t", "smtpd_banner = $myhostname $myhostnames $x $\n"
	    "mydestination = $myhostname\nmyhostname = a.example\n", &cf), 0);
	assert_string_equal(sp.smtpd_banner, "a.example $myhostnames $x $");
	assert_string_equal(cf.mydestination.item[0], "a.example");
	assert_true(config_is_local_domain(&cf, "A.EXAMPLE."));
	assert_false(config_is_local_domain(&cf, "localhost"));
	free_all(&cf);
	/* Other keys are taken literally. */
	assert_int_equal(parse_capture("t", "home_mailbox = $myhostname/\n", &cf), 0);
	assert_string_equal(dp.home_mailbox, "$myhostname/");
	free_all(&cf);
	assert_int_equal(parse_capture("t", "smtpd_banner =\n", &cf), 0);
	assert_string_equal(sp.smtpd_banner, "");
	free_all(&cf);
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
	assert_string_equal(sp.smtpd_banner, "one two three");
	assert_int_equal(cf.verbose, 1);
	free_all(&cf);

	/* CRLF files. */
	assert_int_equal(parse_capture("t", "smtpd_timeout = 10\r\nverbose = yes\r\n", &cf), 0);
	assert_int_equal(sp.smtpd_timeout, 10);
	assert_int_equal(cf.verbose, 1);
	free_all(&cf);

	/* Value containing '='. */
	assert_int_equal(parse_capture("t", "smtpd_banner = a=b\n", &cf), 0);
	assert_string_equal(sp.smtpd_banner, "a=b");
	free_all(&cf);
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
	assert_int_equal(parse_all("t", text, sizeof(text) - 1, &cf), -1);
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

	/* Braces hold an item together (inline: tables), as in Postfix. */
	assert_int_equal(config_parse_list("hash:/a, inline:{ k = v, { x = "
	    "y, z } } texthash:/b", &l), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.item[1], "inline:{ k = v, { x = y, z } }");
	assert_string_equal(l.item[2], "texthash:/b");
	config_list_free(&l);
	assert_int_equal(config_parse_list("inline:{ k = v", &l), -1);
	assert_int_equal(config_parse_list("a}, b", &l), -1);
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
	free_all(&cf);
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
	assert_int_equal(load_all(path, &cf), 0);
	assert_string_equal(cf.path, path);
	assert_int_equal(cf.message_size_limit, 1024);
	assert_string_equal(cf.master_config, "/abs/m.conf");

	snprintf(out, sizeof(out), "%s/print", dir);
	f = fopen(out, "w+");
	assert_non_null(f);
	print_all(&cf, fileno(f));
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
	free_all(&cf);
	unlink(out);
	unlink(path);

	/* A missing file names itself. */
	fflush(stderr);
	f = tmpfile();
	saved = dup(2);
	dup2(fileno(f), 2);
	assert_int_equal(load_all(path, &cf), -1);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	assert_non_null(strstr(text, path));
	assert_int_equal(load_all(dir, &cf), -1);	/* a directory */
	rmdir(dir);
}

static void
test_choice(void **state)
{
	struct tern_config	 cf;

	(void)state;
	assert_int_equal(parse_capture("t", "smtpd_forbid_bare_newline = no\n",
	    &cf), 0);
	assert_int_equal(sp.smtpd_forbid_bare_newline, CONFIG_BARE_NL_NO);
	free_all(&cf);
	assert_int_equal(parse_capture("t", "smtpd_forbid_bare_newline = REJECT\n",
	    &cf), 0);
	assert_int_equal(sp.smtpd_forbid_bare_newline, CONFIG_BARE_NL_REJECT);
	free_all(&cf);
}

/* A table of this test's own, to check the mechanism apart from any
 * daemon: defaults through the parsers, min, choice words, expansion only
 * where flagged, not_above. */
struct test_params {
	int		 n;
	int		 lo, hi;
	int		 mode;
	int		 level;
	char		*name;
	struct config_list l;
};

static const char *const test_words[] = { "off", "on", "auto", NULL };

static const struct config_key test_keys[] = {
	{ "test_n", CT_COUNT, offsetof(struct test_params, n), "7", 0, 2,
	    NULL, NULL },
	{ "test_lo", CT_TIME, offsetof(struct test_params, lo), "1m", 0, 0,
	    NULL, "test_hi" },
	{ "test_hi", CT_TIME, offsetof(struct test_params, hi), "1h", 0, 0,
	    NULL, NULL },
	{ "test_mode", CT_CHOICE, offsetof(struct test_params, mode), "AUTO", 0,
	    0, test_words, NULL },
	/* Empty allowed: it is the first word, whatever the default. */
	{ "test_level", CT_CHOICE, offsetof(struct test_params, level), "on",
	    CF_EMPTY_OK, 0, test_words, NULL },
	{ "test_name", CT_STRING, offsetof(struct test_params, name),
	    "at $myhostname", CF_EXPAND, 0, NULL, NULL },
	{ "test_list", CT_LIST, offsetof(struct test_params, l), "a $myhostname",
	    0, 0, NULL, NULL },
};

static const struct config_table test_table =
    CONFIG_TABLE("test", test_keys, struct test_params);

static void
test_table_mechanism(void **state)
{
	struct tern_config	 cf;
	struct test_params	 tp;
	struct config_part	 part = { &test_table, &tp };

	(void)state;
	/* Defaults, run through the parsers. */
	assert_int_equal(parse_capture_parts("t", "myhostname = h.example\n",
	    &cf, &part, 1, CONFIG_ALL_KEYS), 0);
	assert_int_equal(tp.n, 7);
	assert_int_equal(tp.lo, 60);
	assert_int_equal(tp.hi, 3600);
	assert_int_equal(tp.mode, 2);
	assert_int_equal(tp.level, 1);
	assert_string_equal(tp.name, "at h.example");
	assert_int_equal(tp.l.count, 2);
	assert_string_equal(tp.l.item[1], "$myhostname");	/* no CF_EXPAND */
	config_free(&cf);
	config_free_part(&test_table, &tp);
	assert_null(tp.name);

	/* Values from the file, the global keys beside them. */
	assert_int_equal(parse_capture_parts("t", "test_n = 2\ntest_mode = on\n"
	    "test_hi = 2m\ntest_lo = 2m\nverbose = yes\ntest_name =  x  \n"
	    "test_level =\n", &cf, &part, 1, CONFIG_ALL_KEYS), 0);
	assert_string_equal(errtext, "");
	assert_int_equal(tp.n, 2);
	assert_int_equal(tp.mode, 1);
	assert_int_equal(tp.level, 0);
	assert_int_equal(tp.lo, 120);
	assert_int_equal(cf.verbose, 1);
	assert_string_equal(tp.name, "x");
	config_free(&cf);
	config_free_part(&test_table, &tp);

	/* Errors in a part's keys are reported like the global ones, all of
	 * them, and leave the part freed. */
	assert_int_equal(parse_capture_parts("/c/tern.conf", "test_n = 1\n"
	    "test_mode = sometimes\ntest_n = 5\ntest_name =\ntest_mode =\n",
	    &cf, &part, 1, CONFIG_ALL_KEYS), -1);
	assert_non_null(strstr(errtext, "/c/tern.conf:1: bad value for test_n: '1'"));
	assert_non_null(strstr(errtext,
	    "/c/tern.conf:2: bad value for test_mode: 'sometimes'"));
	assert_non_null(strstr(errtext,
	    "/c/tern.conf:3: duplicate key 'test_n' (first set on line 1)"));
	assert_non_null(strstr(errtext, "/c/tern.conf:4: bad value for test_name"));
	/* Empty is refused where the key does not allow it (the duplicate
	 * is reported first). */
	assert_non_null(strstr(errtext, "/c/tern.conf:5: "));
	assert_null(tp.name);
	assert_int_equal(tp.l.count, 0);
	assert_null(cf.path);
	assert_int_equal(parse_capture_parts("/c/tern.conf",
	    "test_lo = 2h\n\ntest_hi = 1h\n", &cf, &part, 1, 0), -1);
	assert_non_null(strstr(errtext,
	    "/c/tern.conf:3: test_lo (7200) is larger than test_hi (3600)"));
}

/* A daemon parses the global table and its own and skips every other key,
 * valid or not: the whole-file check is the master's. */
static void
test_daemon_view(void **state)
{
	struct tern_config	 cf;
	struct smtpd_params	 own;
	struct config_part	 part = { &smtpd_params_table, &own };
	const char		*text = "myhostname = d.example\n"
	    "smtpd_timeout = 10\n"
	    "home_mailbox = Mail/\n"		/* deliver's */
	    "deliver_concurrency = 0\n"		/* qmgr's, and bad */
	    "no_such_key = 1\n";

	(void)state;
	assert_int_equal(parse_capture_parts("/d/tern.conf", text, &cf, &part, 1,
	    0), 0);
	assert_string_equal(errtext, "");
	assert_int_equal(own.smtpd_timeout, 10);
	assert_string_equal(own.smtpd_banner, "d.example ESMTP tern");
	assert_string_equal(cf.myhostname, "d.example");
	config_free(&cf);
	config_free_part(&smtpd_params_table, &own);

	/* The same file fails the whole-file check, on the right lines. */
	assert_int_equal(parse_capture("/d/tern.conf", text, &cf), -1);
	assert_non_null(strstr(errtext,
	    "/d/tern.conf:4: bad value for deliver_concurrency: '0'"));
	assert_non_null(strstr(errtext, "/d/tern.conf:5: unknown key 'no_such_key'"));
	assert_null(strstr(errtext, "home_mailbox"));
	/* Its own keys' mistakes a daemon still finds itself. */
	assert_int_equal(parse_capture_parts("/d/tern.conf",
	    "smtpd_timeout = 0\n", &cf, &part, 1, 0), -1);
	assert_non_null(strstr(errtext, "/d/tern.conf:1: bad value for smtpd_timeout"));
	assert_null(own.smtpd_banner);
}

/* The master's list holds every daemon's table, and no key is declared
 * twice (the first table would silently win). */
static void
test_tables_disjoint(void **state)
{
	const struct config_table	*t[16];
	size_t				 n = 0, i, j, a, b;

	(void)state;
	assert_int_equal(master_params_ntables, NPARTS);
	t[n++] = &config_global_table;
	for (i = 0; i < master_params_ntables; i++) {
		assert_ptr_equal(master_params_tables[i], all_parts[i].table);
		t[n++] = master_params_tables[i];
	}
	for (i = 0; i < n; i++)
		for (j = i; j < n; j++)
			for (a = 0; a < t[i]->nkey; a++)
				for (b = i == j ? a + 1 : 0; b < t[j]->nkey; b++)
					if (strcmp(t[i]->key[a].name,
					    t[j]->key[b].name) == 0)
						fail_msg("%s in %s and %s",
						    t[i]->key[a].name,
						    t[i]->name, t[j]->name);
}

/* master_params_load(): the file against every table, global kept. */
static void
test_master_check(void **state)
{
	char			 dir[] = "/tmp/tern-config-XXXXXX", path[256];
	struct tern_config	 cf;
	FILE			*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tern.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("home_mailbox = M/\nanvil_rate_time_unit = 2m\nmail_owner = m\n", f);
	fclose(f);
	assert_int_equal(master_params_load(path, &cf), 0);
	assert_string_equal(cf.mail_owner, "m");
	config_free(&cf);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("home_mailbox_typo = M/\n", f);
	fclose(f);
	assert_int_equal(master_params_load(path, &cf), -1);
	assert_null(cf.path);
	unlink(path);
	rmdir(dir);
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
		assert_int_equal(mp.smtp_tls_security_level, i);
		free_all(&cf);
	}
	assert_int_equal(parse_capture("t", "smtp_tls_security_level = dane\n",
	    &cf), -1);
	assert_int_equal(parse_capture("t", "myhostname = mx.example\n", &cf),
	    0);
	assert_int_equal(mp.smtp_tls_security_level, CONFIG_TLS_MAY);
	assert_string_equal(mp.smtp_helo_name, "mx.example");
	assert_int_equal(mp.smtp_connect_timeout, 30);
	assert_int_equal(mp.smtp_data_done_timeout, 600);
	assert_string_equal(mp.smtp_tls_CAfile, "");
	free_all(&cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table_mechanism),
		cmocka_unit_test(test_daemon_view),
		cmocka_unit_test(test_tables_disjoint),
		cmocka_unit_test(test_master_check),
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
