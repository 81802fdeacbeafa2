/*
 * Unit tests for deliver/local_user.c and deliver/transport.c: the login
 * name rule, recipient to account as delivery outcomes against a fake
 * passwd table (found; unknown users bounce, names that must never reach a
 * passwd back end bounce without a lookup, lookup failures defer; the
 * resolution itself is test_local_recipient.c), the choice of transport
 * by domain, and the dispatcher's promise of one outcome per recipient in
 * request order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "config.h"
#include "deliver/deliver.h"
#include "fake_passwd.h"

static void
expect_user(const char *rcpt, const char *account, uid_t uid)
{
	struct fake_db		 db = { fake_users, 0, 0, "" };
	struct local_user	 u;
	struct deliver_result	 res;

	if (local_user_resolve(rcpt, fake_lookup, &db, &u, &res) != 0)
		fail_msg("%s: %s %s", rcpt, res.dsn, res.text);
	assert_string_equal(u.name, account);
	assert_int_equal(u.uid, uid);
}

static void
expect_unknown(const char *rcpt, int lookups)
{
	struct fake_db		 db = { fake_users, 0, 0, "" };
	struct local_user	 u;
	struct deliver_result	 res;

	assert_int_equal(local_user_resolve(rcpt, fake_lookup, &db, &u, &res), -1);
	assert_int_equal(res.status, DELIVER_BOUNCE);
	assert_string_equal(res.dsn, "5.1.1");
	assert_string_equal(res.text, "user unknown");
	if (db.calls != lookups)
		fail_msg("%s: %d lookups, expected %d", rcpt, db.calls, lookups);
}

static void
test_user_name(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(addr_local_user("Alice@LocalHost", out, sizeof(out)), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(addr_local_user("\"Bob.Smith\"@x", out, sizeof(out)), 0);
	assert_string_equal(out, "bob.smith");
	assert_int_equal(addr_local_user("PostMaster", out, sizeof(out)), 0);
	assert_string_equal(out, "postmaster");
	/* The local part is what comes before the last '@'. */
	assert_int_equal(addr_local_user("\"a@b\"@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("alice@localhost", out, 5), -1);
	assert_int_equal(addr_local_user("alice@localhost", out, 6), 0);
	/* Odd bytes never reach the passwd lookup. */
	assert_int_equal(addr_local_user("\"a b\"@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("\"\"@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("a*b@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("a/b@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("-rf@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("..@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("\"\\\"x\"@x", out, sizeof(out)), -1);
	assert_int_equal(addr_local_user("\xc3\xa9@x", out, sizeof(out)), -1);
}

/* Found: the account, no outcome. */
static void
test_found_users(void **state)
{
	(void)state;
	expect_user("alice@localhost", "alice", 1001);
	expect_user("\"p\\ostmaster\"@localhost", "root", 0);
}

static void
test_unknown_users(void **state)
{
	(void)state;
	/* Not found, and root still is: the database works, so it is true. */
	expect_unknown("nobody-here@localhost", 2);
	expect_unknown("mallory@localhost", 2);
	expect_unknown("\"a b\"@localhost", 0);
	expect_unknown("*@localhost", 0);
	expect_unknown("al\\ice@localhost", 0);
}

static void
test_lookup_failure_defers(void **state)
{
	struct fake_db		 db = { fake_users, EIO, 0, "" };
	struct local_user	 u;
	struct deliver_result	 res;

	(void)state;
	assert_int_equal(local_user_resolve("alice@localhost", fake_lookup, &db,
	    &u, &res), -1);
	assert_int_equal(res.status, DELIVER_DEFER);
	assert_string_equal(res.dsn, "4.3.0");
	assert_non_null(strstr(res.text, "user lookup failed"));
	assert_string_equal(db.asked, "alice");
}

/* Which recipients the local transport takes: ours, with or without a
 * domain; a bad address bounces 5.1.3, another domain (misrouted by qmgr)
 * 5.3.5, and neither reaches an account. */
static void
test_transport_check(void **state)
{
	static const char	 text[] =
	    "mydestination = localhost, mail.example.org\n";
	static const char *const local[] = {
		"a@localhost", "a@LOCALHOST", "a@Mail.Example.Org", "postmaster",
	};
	static const char *const bad[] = {
		"a..b@localhost", "a@-bad-.org", "@localhost", "x@",
	};
	static const char *const foreign[] = {
		"a@example.net", "a@[127.0.0.1]", "root@example.org",
	};
	struct deliver_result	 res;
	struct tern_config	 cfg;
	size_t			 i;

	(void)state;
	assert_int_equal(config_parse("test", text, strlen(text), &cfg), 0);
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
		deliver_result_set(&res, DELIVER_DEFER, "4.3.0", "untouched");
		assert_int_equal(transport_check(&cfg, local[i], &res), 0);
		assert_string_equal(res.text, "untouched");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(transport_check(&cfg, bad[i], &res), -1);
		assert_int_equal(res.status, DELIVER_BOUNCE);
		assert_string_equal(res.dsn, "5.1.3");
		assert_non_null(strstr(res.text, "bad recipient address"));
	}
	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		assert_int_equal(transport_check(&cfg, foreign[i], &res), -1);
		assert_int_equal(res.status, DELIVER_BOUNCE);
		assert_string_equal(res.dsn, "5.3.5");
		assert_non_null(strstr(res.text, "not a local domain"));
	}
	config_free(&cfg);
}

/* Misrouted and malformed recipients interleaved: each outcome lands at
 * its own index, and none of them reaches the local transport. */
static void
test_dispatch_keeps_request_order(void **state)
{
	const char		*rcpt[] = {
		"a@example.net", "bad..addr@localhost", "b@example.com",
		"x@", "c@example.net",
	};
	struct deliver_request	 req = { "0ABC", "active/0ABC", 6, "", "", 5,
	    rcpt };
	struct deliver_msg	 msg;
	struct deliver_result	 res[5];
	struct deliver_ctx	 ctx;
	struct tern_config	 cfg;
	struct deliver_params	 par;
	struct config_part	 part = { &deliver_params_table, &par };
	int			 i;

	(void)state;
	memset(&msg, 0, sizeof(msg));
	msg.req = &req;
	msg.fd = -1;
	msg.offset = msg.size = 6;
	config_defaults_parts(&cfg, &part, 1);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.par = &par;
	strcpy(ctx.hostname, "test");
	transport_dispatch(&ctx, &msg, res);
	for (i = 0; i < 5; i++)
		assert_int_equal(res[i].status, DELIVER_BOUNCE);
	assert_string_equal(res[0].dsn, "5.3.5");
	assert_string_equal(res[0].text,
	    "misrouted: example.net is not a local domain");
	assert_string_equal(res[1].dsn, "5.1.3");
	assert_string_equal(res[2].dsn, "5.3.5");
	assert_string_equal(res[3].dsn, "5.1.3");
	assert_string_equal(res[4].dsn, "5.3.5");
	assert_non_null(strstr(res[1].text, "bad recipient address"));
	config_free(&cfg);
	config_free_part(&deliver_params_table, &par);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_name),
		cmocka_unit_test(test_found_users),
		cmocka_unit_test(test_unknown_users),
		cmocka_unit_test(test_lookup_failure_defers),
		cmocka_unit_test(test_transport_check),
		cmocka_unit_test(test_dispatch_keeps_request_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
