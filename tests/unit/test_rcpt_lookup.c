/*
 * Unit tests for rcpt_lookup (common/rcpt_lookup.c), the lookup service's
 * answer to smtpd's recipient question: accounts, aliases (a one-name
 * alias leads to its account), user+tag with recipient_delimiter,
 * postmaster and mailer-daemon, unknown names, and temporary failures (a
 * table that cannot be read, a bad spec, a broken password database),
 * which must never be "unknown".  The tables open at the first lookup
 * and stay open.  With virtual domains configured their answer comes
 * first: virtual, unknown in a virtual domain, foreign outside our
 * domains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "rcpt_lookup.h"
#include "fake_passwd.h"

struct fixture {
	struct tern_config	 cfg;
	struct rcpt_lookup	 rl;
	struct fake_db		 db;
};

static void
setup(struct fixture *f, const char *aliases, const char *delimiter)
{
	memset(f, 0, sizeof(*f));
	f->cfg.alias_maps.count = aliases != NULL ? 1 : 0;
	f->cfg.alias_maps.item[0] = (char *)aliases;
	f->cfg.recipient_delimiter = (char *)delimiter;
	f->db.users = fake_users;
	rcpt_lookup_init(&f->rl, &f->cfg);
	f->rl.getpw = fake_lookup;
	f->rl.getpw_arg = &f->db;
}

static enum rcpt_lookup_status
ask(struct fixture *f, const char *rcpt, char *account, size_t len)
{
	const char	*why = NULL;
	enum rcpt_lookup_status st;

	st = rcpt_lookup_resolve(&f->rl, rcpt, account, len, &why);
	if (st == RCPT_LOOKUP_TEMPFAIL)
		assert_non_null(why);
	if (st != RCPT_LOOKUP_FOUND)
		assert_string_equal(account, "");
	return st;
}

static void
test_accounts_and_aliases(void **state)
{
	struct fixture	 f;
	char		 a[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	setup(&f, "inline:{ postmaster = root, { staff = alice, bob }, "
	    "boss = Alice, list+x = bob.smith }", "+");
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "alice");
	assert_int_equal(ask(&f, "ALICE@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "alice");
	assert_int_equal(ask(&f, "alice+tag@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "alice");
	assert_int_equal(ask(&f, "staff@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "staff");
	assert_int_equal(ask(&f, "boss@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "alice");
	assert_int_equal(ask(&f, "list+x@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "bob.smith");
	assert_int_equal(ask(&f, "postmaster", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "root");
	assert_int_equal(ask(&f, "mailer-daemon@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "root");
	assert_int_equal(ask(&f, "nobody@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	assert_int_equal(ask(&f, "nobody+x@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	/* Opened once, at the first lookup, and kept. */
	assert_int_equal(f.rl.aliases_open, 1);
	rcpt_lookup_free(&f.rl);
}

static void
test_no_delimiter(void **state)
{
	struct fixture	 f;
	char		 a[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	setup(&f, NULL, "");
	assert_int_equal(ask(&f, "alice+tag@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	/* An account name that does not fit is a failure, not a cut name. */
	assert_int_equal(ask(&f, "alice@here.example", a, 3),
	    RCPT_LOOKUP_TEMPFAIL);
	rcpt_lookup_free(&f.rl);
}

static void
test_failures(void **state)
{
	struct fixture	 f;
	char		 a[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	/* A table that cannot be read: tempfail, and again later. */
	setup(&f, "texthash:/nonexistent/aliases", "+");
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	assert_int_equal(ask(&f, "nobody@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	rcpt_lookup_free(&f.rl);
	/* A spec that can never work. */
	setup(&f, "nosuchtype:/x", "+");
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	assert_int_equal(f.rl.aliases_open, -1);
	rcpt_lookup_free(&f.rl);
	/* A password database that fails. */
	setup(&f, NULL, "");
	f.db.fail = EIO;
	assert_int_equal(ask(&f, "nobody@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	rcpt_lookup_free(&f.rl);
	/* One without root cannot be believed when it says "no such user". */
	setup(&f, NULL, "");
	f.db.users = fake_users + 1;
	assert_int_equal(ask(&f, "nobody@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_TEMPFAIL);
	rcpt_lookup_free(&f.rl);
}

static void
test_virtual(void **state)
{
	struct fixture	 f;
	char		 a[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	setup(&f, "inline:{ postmaster = root }", "+");
	f.cfg.mydestination.count = 1;
	f.cfg.mydestination.item[0] = "here.example";
	f.cfg.virtual_alias_maps.count = 1;
	f.cfg.virtual_alias_maps.item[0] =
	    "inline:{ info@valias.test = alice@here.example, "
	    "boss@here.example = bob@here.example }";
	f.cfg.virtual_alias_domains.count = 1;
	f.cfg.virtual_alias_domains.item[0] = "valias.test";
	f.cfg.virtual_mailbox_maps.count = 1;
	f.cfg.virtual_mailbox_maps.item[0] =
	    "inline:{ carol@vdomain.test = vdomain.test/carol/ }";
	f.cfg.virtual_mailbox_domains.count = 1;
	f.cfg.virtual_mailbox_domains.item[0] = "vdomain.test";
	assert_int_equal(ask(&f, "info@valias.test", a, sizeof(a)),
	    RCPT_LOOKUP_VIRTUAL);
	assert_int_equal(ask(&f, "carol@vdomain.test", a, sizeof(a)),
	    RCPT_LOOKUP_VIRTUAL);
	assert_int_equal(ask(&f, "boss@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_VIRTUAL);
	assert_int_equal(ask(&f, "nobody@valias.test", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	assert_int_equal(ask(&f, "erin@vdomain.test", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	assert_int_equal(ask(&f, "x@elsewhere.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOREIGN);
	/* Our own domain's recipients are still the local rule's. */
	assert_int_equal(ask(&f, "alice@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	assert_string_equal(a, "alice");
	assert_int_equal(ask(&f, "nosuch@here.example", a, sizeof(a)),
	    RCPT_LOOKUP_UNKNOWN);
	assert_int_equal(ask(&f, "postmaster", a, sizeof(a)),
	    RCPT_LOOKUP_FOUND);
	rcpt_lookup_free(&f.rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accounts_and_aliases),
		cmocka_unit_test(test_no_delimiter),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_virtual),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
