/*
 * Unit tests for local_recipient_resolve_aliases (common/local_recipient.c):
 * aliases are recipients, one-name aliases lead to their account (so
 * postmaster and root are one mailbox), user+tag tries the alias first and
 * then the account, mailer-daemon falls back to root, unknown names stay
 * unknown, and a table that cannot be read is a temporary failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "map.h"
#include "fake_passwd.h"

static enum local_recipient_status
resolve(const char *spec, const char *rcpt, struct local_user *u)
{
	struct map_list	 l;
	struct fake_db	 db;
	char		 err[MAP_ERR_MAX], *specs[1];
	enum local_recipient_status st;

	specs[0] = (char *)spec;
	memset(&db, 0, sizeof(db));
	db.users = fake_users;
	assert_int_equal(map_list_open(&l, specs, 1, err, sizeof(err)), 0);
	st = local_recipient_resolve_aliases(rcpt, &l, '+', fake_lookup, &db,
	    u, NULL);
	map_list_close(&l);
	return st;
}

static void
test_aliases(void **state)
{
	const char	*t = "inline:{ postmaster = root, { staff = alice, bob }, "
	    "list+x = alice, boss = Alice, loop = loop, far = x@elsewhere }";
	struct local_user u;

	(void)state;
	assert_int_equal(resolve(t, "staff@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "staff");
	assert_int_equal(resolve(t, "Postmaster@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "root");
	assert_int_equal(resolve(t, "boss@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "alice");
	assert_int_equal(resolve(t, "loop@here", &u), LOCAL_RCPT_FOUND);
	assert_int_equal(resolve(t, "far@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "far");
	assert_int_equal(resolve(t, "list+x@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "alice");
	assert_int_equal(resolve(t, "staff+y@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "staff");
	assert_int_equal(resolve(t, "alice+tag@here", &u), LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "alice");
	assert_int_equal(resolve(t, "mailer-daemon@here", &u),
	    LOCAL_RCPT_FOUND);
	assert_string_equal(u.name, "root");
	assert_int_equal(resolve(t, "nobody+x@here", &u), LOCAL_RCPT_UNKNOWN);
	assert_int_equal(resolve(t, "a+b+c@here", &u), LOCAL_RCPT_UNKNOWN);
	assert_int_equal(resolve("texthash:/nonexistent/aliases", "alice@here",
	    &u), LOCAL_RCPT_TEMPFAIL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
