/*
 * Unit tests for anvil/anvil_table.c and anvil's request check: sessions
 * counted up and down per ident, the rate's fixed time unit (counted,
 * restarted once over, a clock that steps back), expiry of idle idents
 * only, a full table that frees expired entries, then the oldest idle one,
 * before it refuses, a client's sessions released when it goes, and the
 * key smtpd counts an IPv6 client under (its network).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "anvil/anvil.h"
#include "common/proto_anvil.h"
#include "smtpd/smtpd_anvil.h"

#define UNIT	60000LL

static void
connect_ok(struct anvil_table *t, const char *ident, long long now,
    int want_count, int want_rate)
{
	int	 count = -1, rate = -1;

	assert_int_equal(anvil_table_connect(t, ident, now, &count, &rate), 0);
	assert_int_equal(count, want_count);
	assert_int_equal(rate, want_rate);
}

static void
test_count(void **state)
{
	struct anvil_table	 t;
	int			 count;

	(void)state;
	anvil_table_init(&t, 100, UNIT);
	connect_ok(&t, "smtpd:192.0.2.1", 0, 1, 1);
	connect_ok(&t, "smtpd:192.0.2.1", 10, 2, 2);
	connect_ok(&t, "smtpd:192.0.2.2", 20, 1, 1);
	/* Another service counts apart. */
	connect_ok(&t, "submission:192.0.2.1", 30, 1, 1);
	assert_int_equal(anvil_table_disconnect(&t, "smtpd:192.0.2.1", 40,
	    &count), 0);
	assert_int_equal(count, 1);
	connect_ok(&t, "smtpd:192.0.2.1", 50, 2, 3);
	/* Never below zero; unknown idents are refused. */
	assert_int_equal(anvil_table_disconnect(&t, "smtpd:192.0.2.9", 60,
	    &count), -1);
	assert_int_equal(anvil_table_disconnect(&t, "smtpd:192.0.2.2", 60,
	    &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(anvil_table_disconnect(&t, "smtpd:192.0.2.2", 60,
	    &count), -1);
	assert_int_equal(t.n, 3);
	anvil_table_free(&t);
	assert_int_equal(t.n, 0);
}

static void
test_rate_window(void **state)
{
	struct anvil_table	 t;
	int			 count;

	(void)state;
	anvil_table_init(&t, 100, UNIT);
	connect_ok(&t, "a", 1000, 1, 1);
	assert_int_equal(anvil_table_disconnect(&t, "a", 1001, &count), 0);
	connect_ok(&t, "a", 2000, 1, 2);
	connect_ok(&t, "a", 1000 + UNIT - 1, 2, 3);
	/* The unit that began at 1000 is over: the rate starts again,
	 * the sessions stay. */
	connect_ok(&t, "a", 1000 + UNIT, 3, 1);
	connect_ok(&t, "a", 1000 + UNIT + 5, 4, 2);
	/* A clock that went back starts a new unit rather than never
	 * ending the old one. */
	connect_ok(&t, "a", 500, 5, 1);
	anvil_table_free(&t);
}

static void
test_expire(void **state)
{
	struct anvil_table	 t;
	int			 count;

	(void)state;
	anvil_table_init(&t, 100, UNIT);
	connect_ok(&t, "busy", 0, 1, 1);
	connect_ok(&t, "idle", 0, 1, 1);
	connect_ok(&t, "recent", UNIT / 2, 1, 1);
	assert_int_equal(anvil_table_disconnect(&t, "idle", 10, &count), 0);
	assert_int_equal(anvil_table_disconnect(&t, "recent", UNIT / 2 + 1,
	    &count), 0);
	/* Within its unit an idle ident keeps its rate. */
	assert_int_equal(anvil_table_expire(&t, UNIT - 1), 0);
	assert_int_equal(anvil_table_expire(&t, UNIT), 1);	/* idle */
	assert_int_equal(t.n, 2);
	connect_ok(&t, "idle", UNIT, 1, 1);	/* forgotten: starts anew */
	/* One with sessions is never expired. */
	assert_int_equal(anvil_table_expire(&t, 100 * UNIT), 1); /* recent */
	assert_int_equal(t.n, 2);
	/* The last session of an ident whose unit is over removes it. */
	assert_int_equal(anvil_table_disconnect(&t, "busy", 100 * UNIT,
	    &count), 0);
	assert_int_equal(t.n, 1);
	anvil_table_free(&t);
}

static void
test_full(void **state)
{
	struct anvil_table	 t;
	int			 count, rate;

	(void)state;
	anvil_table_init(&t, 2, UNIT);
	connect_ok(&t, "a", 0, 1, 1);
	connect_ok(&t, "b", 0, 1, 1);
	assert_int_equal(anvil_table_connect(&t, "c", 10, &count, &rate), -1);
	assert_int_equal(t.n, 2);
	/* Known idents are still counted. */
	connect_ok(&t, "a", 10, 2, 2);
	/* Once b is idle, c takes its place even while b's unit runs (b's
	 * rate is forgotten rather than no new ident counted at all). */
	assert_int_equal(anvil_table_disconnect(&t, "b", 10, &count), 0);
	connect_ok(&t, "c", 20, 1, 1);
	assert_int_equal(t.n, 2);
	assert_int_equal(anvil_table_disconnect(&t, "b", 30, &count), -1);
	anvil_table_free(&t);
}

static void
test_full_evicts_the_oldest_idle(void **state)
{
	struct anvil_table	 t;
	int			 count;

	(void)state;
	anvil_table_init(&t, 3, UNIT);
	connect_ok(&t, "busy", 0, 1, 1);
	connect_ok(&t, "old", 0, 1, 1);
	connect_ok(&t, "new", 5, 1, 1);
	assert_int_equal(anvil_table_disconnect(&t, "new", 6, &count), 0);
	assert_int_equal(anvil_table_disconnect(&t, "old", 7, &count), 0);
	connect_ok(&t, "x", 10, 1, 1);
	assert_int_equal(t.n, 3);
	/* "new" kept its rate; "old" starts again; "busy" was never a
	 * candidate. */
	connect_ok(&t, "new", 11, 1, 2);
	connect_ok(&t, "busy", 12, 2, 2);
	anvil_table_free(&t);
}

static void
test_ipv6_prefix(void **state)
{
	char	 key[64];

	(void)state;
	assert_int_equal(smtpd_anvil_ident("192.0.2.7", 84, key, sizeof(key)),
	    0);
	assert_string_equal(key, "192.0.2.7");
	assert_int_equal(smtpd_anvil_ident("2001:db8:1:2:3:4:5:6", 84, key,
	    sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1:2:3::/84");
	/* Another address of the same /84: the same key. */
	assert_int_equal(smtpd_anvil_ident("2001:db8:1:2:3:fff:ffff:ffff", 84,
	    key, sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1:2:3::/84");
	assert_int_equal(smtpd_anvil_ident("2001:db8:1:2:3:1000::", 84,
	    key, sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1:2:3:1000::/84");
	assert_int_equal(smtpd_anvil_ident("2001:db8:1:2:3:4:5:6", 64, key,
	    sizeof(key)), 0);
	assert_string_equal(key, "2001:db8:1:2::/64");
	assert_int_equal(smtpd_anvil_ident("2001:db8::1", 128, key,
	    sizeof(key)), 0);
	assert_string_equal(key, "2001:db8::1");
	assert_int_equal(smtpd_anvil_ident("::1", 0, key, sizeof(key)), 0);
	assert_string_equal(key, "::/0");
	assert_int_equal(smtpd_anvil_ident("2001:db8::1", 84, key, 8), -1);
	assert_int_equal(smtpd_anvil_ident("2001:zz::1", 84, key,
	    sizeof(key)), -1);
}

static void
test_release(void **state)
{
	struct anvil_table	 all, mine;
	int			 count;

	(void)state;
	anvil_table_init(&all, 100, UNIT);
	anvil_table_init(&mine, 100, UNIT);
	connect_ok(&all, "x", 0, 1, 1);		/* another client's */
	connect_ok(&all, "x", 0, 2, 2);
	connect_ok(&mine, "x", 0, 1, 1);
	connect_ok(&all, "y", 0, 1, 1);
	connect_ok(&mine, "y", 0, 1, 1);
	anvil_table_release(&all, &mine, 10);
	assert_int_equal(mine.n, 0);
	/* x keeps the other client's session; y keeps its rate until its
	 * unit is over. */
	connect_ok(&all, "x", 20, 2, 3);
	connect_ok(&all, "y", 20, 1, 2);
	assert_int_equal(anvil_table_disconnect(&all, "y", UNIT, &count), 0);
	connect_ok(&mine, "y", UNIT, 1, 1);
	anvil_table_release(&all, &mine, UNIT);
	assert_int_equal(all.n, 1);		/* y is gone altogether */
	anvil_table_free(&all);
	anvil_table_free(&mine);
}

static void
test_request_check(void **state)
{
	struct ipc_msg	 m;
	const char	*ident, *err;
	char		 longer[ANVIL_IDENT_MAX + 2];

	(void)state;
	ipc_msg_init(&m, ANVIL_T_CONNECT);
	assert_int_equal(ipc_msg_add_int(&m, "v", PROTO_ANVIL_VERSION), 0);
	assert_int_equal(ipc_msg_add(&m, "ident", "smtpd:192.0.2.1"), 0);
	assert_int_equal(anvil_request_check(&m, &ident, &err), 0);
	assert_string_equal(ident, "smtpd:192.0.2.1");
	m.type = ANVIL_T_REPLY;
	assert_int_equal(anvil_request_check(&m, &ident, &err), -1);
	ipc_msg_free(&m);

	ipc_msg_init(&m, ANVIL_T_DISCONNECT);
	assert_int_equal(ipc_msg_add_int(&m, "v", 2), 0);
	assert_int_equal(ipc_msg_add(&m, "ident", "x"), 0);
	assert_int_equal(anvil_request_check(&m, &ident, &err), -1);
	assert_string_equal(err, "unsupported protocol version");
	ipc_msg_free(&m);

	ipc_msg_init(&m, ANVIL_T_DISCONNECT);
	assert_int_equal(ipc_msg_add_int(&m, "v", PROTO_ANVIL_VERSION), 0);
	assert_int_equal(anvil_request_check(&m, &ident, &err), -1);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(ipc_msg_add(&m, "ident", longer), 0);
	assert_int_equal(anvil_request_check(&m, &ident, &err), -1);
	ipc_msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_rate_window),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_full_evicts_the_oldest_idle),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_request_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
