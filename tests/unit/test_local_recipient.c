/*
 * Unit tests for common/local_recipient.c, the answer smtpd's RCPT check
 * and deliver share: found, unknown and temporary failure against a fake
 * password database (case folding, quoted and escaped spellings, bare
 * postmaster and its fall-back to root, names that never reach the
 * database, a failed lookup, a database without root), and the system's
 * own database through local_recipient_getpw.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "local_recipient.h"
#include "fake_passwd.h"

static enum local_recipient_status
resolve(const struct fake_pw *table, int fail, const char *rcpt,
    struct local_user *u, struct fake_db *db, const char **why)
{
	memset(db, 0, sizeof(*db));
	db->users = table;
	db->fail = fail;
	return local_recipient_resolve(rcpt, fake_lookup, db, u, why);
}

static void
expect_found(const char *rcpt, const char *account, uid_t uid)
{
	struct fake_db		 db;
	struct local_user	 u;
	const char		*why;

	if (resolve(fake_users, 0, rcpt, &u, &db, &why) != LOCAL_RCPT_FOUND)
		fail_msg("%s: not found", rcpt);
	assert_string_equal(u.name, account);
	assert_int_equal(u.uid, uid);
	assert_int_equal(u.gid, uid + 1);
	assert_null(why);
}

static void
expect_unknown(const char *rcpt, const char *asked)
{
	struct fake_db		 db;
	struct local_user	 u;

	assert_int_equal(resolve(fake_users, 0, rcpt, &u, &db, NULL),
	    LOCAL_RCPT_UNKNOWN);
	assert_string_equal(u.name, "");
	if (strcmp(db.asked, asked) != 0)
		fail_msg("%s: asked \"%s\", expected \"%s\"", rcpt, db.asked,
		    asked);
}

static void
test_found(void **state)
{
	(void)state;
	expect_found("alice@localhost", "alice", 1001);
	expect_found("ALICE@LOCALHOST", "alice", 1001);
	expect_found("\"alice\"@localhost", "alice", 1001);
	expect_found("\"\\a\\l\\i\\c\\e\"@localhost", "alice", 1001);
	expect_found("Bob.Smith@example.org", "bob.smith", 1002);
	expect_found("\"bob\\.smith\"@example.org", "bob.smith", 1002);
	expect_found("root@localhost", "root", 0);
}

static void
test_postmaster(void **state)
{
	static const struct fake_pw	 with_pm[] = {
		{ "root", 0, "/root" },
		{ "postmaster", 1500, "/home/pm" },
		{ NULL, 0, NULL },
	};
	struct fake_db		 db;
	struct local_user	 u;

	(void)state;
	expect_found("postmaster@localhost", "root", 0);
	expect_found("PostMaster@localhost", "root", 0);
	expect_found("\"p\\ostmaster\"@localhost", "root", 0);
	expect_found("postmaster", "root", 0);
	expect_found("POSTMASTER", "root", 0);
	/* An account of its own wins. */
	assert_int_equal(resolve(with_pm, 0, "postmaster@x", &u, &db, NULL),
	    LOCAL_RCPT_FOUND);
	assert_int_equal(u.uid, 1500);
	assert_string_equal(db.asked, "postmaster");
}

static void
test_unknown(void **state)
{
	(void)state;
	/* Believed only because the same database still knows root. */
	expect_unknown("nobody-here@localhost", "nobody-here root");
	expect_unknown("Mallory@localhost", "mallory root");
	/* Never a login name: the database is not asked at all. */
	expect_unknown("\"a b\"@localhost", "");
	expect_unknown("\"\"@localhost", "");
	expect_unknown("*@localhost", "");
	expect_unknown("al\\ice@localhost", "");
	expect_unknown("\"al\\\\ice\"@localhost", "");
	expect_unknown("\"a@b\"@localhost", "");
	expect_unknown("-rf@localhost", "");
	expect_unknown("..@localhost", "");
	expect_unknown("a/b@localhost", "");
	expect_unknown("\xc3\xa9@localhost", "");
	expect_unknown("", "");
}

static void
test_tempfail(void **state)
{
	static const struct fake_pw	 no_root[] = {
		{ "alice", 1001, "/home/alice" },
		{ NULL, 0, NULL },
	};
	struct fake_db		 db;
	struct local_user	 u;
	const char		*why;

	(void)state;
	assert_int_equal(resolve(fake_users, EIO, "alice@localhost", &u, &db, &why),
	    LOCAL_RCPT_TEMPFAIL);
	assert_string_equal(why, strerror(EIO));
	assert_string_equal(db.asked, "alice");
	assert_string_equal(u.name, "");
	/* A database without root says "not found" for everyone. */
	assert_int_equal(resolve(no_root, 0, "bob@localhost", &u, &db, &why),
	    LOCAL_RCPT_TEMPFAIL);
	assert_string_equal(why, "password database has no root");
	assert_string_equal(db.asked, "bob root");
	assert_int_equal(resolve(no_root, 0, "postmaster@x", &u, &db, &why),
	    LOCAL_RCPT_TEMPFAIL);
	assert_string_equal(db.asked, "postmaster root");
	/* ... but the users it does have are found. */
	assert_int_equal(resolve(no_root, 0, "alice@x", &u, &db, &why),
	    LOCAL_RCPT_FOUND);
}

/* The real passwd database: root exists, a silly name does not. */
static void
test_getpw(void **state)
{
	struct local_user	 u;

	(void)state;
	assert_int_equal(local_recipient_getpw("root", &u, NULL), 1);
	assert_int_equal(u.uid, 0);
	assert_string_equal(u.name, "root");
	assert_true(u.home[0] == '/');
	assert_int_equal(local_recipient_getpw("no-such-user-tern-xyz", &u,
	    NULL), 0);
	assert_int_equal(local_recipient_resolve("no-such-user-tern-xyz@x",
	    local_recipient_getpw, NULL, &u, NULL), LOCAL_RCPT_UNKNOWN);
	assert_int_equal(local_recipient_resolve("Root@x",
	    local_recipient_getpw, NULL, &u, NULL), LOCAL_RCPT_FOUND);
	assert_int_equal(u.uid, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_postmaster),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_tempfail),
		cmocka_unit_test(test_getpw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
