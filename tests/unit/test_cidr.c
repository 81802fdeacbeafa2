/*
 * Unit tests for common/cidr.c: the forms accepted and refused, prefixes at
 * and past their bounds, host bits beyond the prefix, and matching across
 * byte boundaries, IPv4-mapped IPv6 clients and the other family; and the
 * configuration key that uses it (smtpd_client_event_limit_exceptions).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/cidr.h"
#include "common/config.h"
#include "anvil/anvil_params.h"
#include "smtpd/smtpd_params.h"

static void
test_parse(void **state)
{
	static const char *good[] = { "127.0.0.0/8", "::1", "[::1]", "[::1]/128",
	    "192.0.2.1", "0.0.0.0/0", "::/0", "2001:db8::/32", "10.1.2.128/25",
	    "[2001:db8::]/48" };
	static const char *bad[] = { "", "/8", "127.0.0.1/8", "127.0.0.0/33",
	    "::1/129", "127.0.0.0/", "127.0.0.0/8x", "127.0.0.0/-1",
	    "127.0.0.0/0008", "[127.0.0.1]", "[::1", "::1]", "localhost",
	    "1.2.3", "1.2.3.4.5", "2001:db8::1/32", "10.1.2.129/25",
	    "[::1]]/128", "127.0.0.0/8/8" };
	struct cidr	 c;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(cidr_parse(good[i], &c), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], &c) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(cidr_parse("10.1.2.128/25", &c), 0);
	assert_int_equal(c.prefix, 25);
	assert_int_equal(cidr_parse("::1", &c), 0);
	assert_int_equal(c.prefix, 128);
}

static int
match(const char *net, const char *addr)
{
	struct cidr	 c;

	assert_int_equal(cidr_parse(net, &c), 0);
	return cidr_match(&c, addr);
}

static void
test_match(void **state)
{
	(void)state;
	assert_true(match("127.0.0.0/8", "127.0.0.1"));
	assert_true(match("127.0.0.0/8", "127.255.255.255"));
	assert_false(match("127.0.0.0/8", "128.0.0.1"));
	assert_true(match("10.1.2.128/25", "10.1.2.200"));
	assert_false(match("10.1.2.128/25", "10.1.2.127"));
	assert_true(match("192.0.2.1", "192.0.2.1"));
	assert_false(match("192.0.2.1", "192.0.2.2"));
	assert_true(match("0.0.0.0/0", "203.0.113.9"));
	assert_false(match("0.0.0.0/0", "::1"));
	assert_true(match("::1", "::1"));
	assert_false(match("::1", "::2"));
	assert_false(match("::1", "127.0.0.1"));
	assert_true(match("2001:db8::/32", "2001:db8:ffff::1"));
	assert_false(match("2001:db8::/33", "2001:db8:ffff::1"));
	/* A mapped IPv4 client is an IPv4 client. */
	assert_true(match("127.0.0.0/8", "::ffff:127.0.0.1"));
	assert_false(match("::/0", "::ffff:127.0.0.1"));
	assert_false(match("127.0.0.0/8", "unknown"));
	assert_false(match("127.0.0.0/8", ""));
}

static void
test_config_key(void **state)
{
	struct tern_config	 cf;
	struct smtpd_params	 sp;
	struct anvil_params	 ap;
	const struct config_part part[] = {
		{ &smtpd_params_table, &sp }, { &anvil_params_table, &ap },
	};

	(void)state;
	assert_int_equal(config_parse_parts("t", "", 0, &cf, part, 2, 0), 0);
	assert_int_equal(sp.smtpd_client_event_limit_exceptions.count, 2);
	assert_string_equal(sp.smtpd_client_event_limit_exceptions.item[0],
	    "127.0.0.0/8");
	assert_int_equal(sp.smtpd_client_connection_count_limit, 50);
	assert_int_equal(sp.smtpd_client_connection_rate_limit, 0);
	assert_int_equal(ap.anvil_rate_time_unit, 60);
	assert_int_equal(sp.smtpd_junk_command_limit, 100);
	assert_int_equal(sp.smtpd_session_time_limit, 3600);
	assert_int_equal(sp.queue_minfree, 0);
	config_free(&cf);
	config_free_part(&smtpd_params_table, &sp);
	config_free_part(&anvil_params_table, &ap);
	{
		static const char text[] =
		    "smtpd_client_event_limit_exceptions =\n";
		assert_int_equal(config_parse_parts("t", text, strlen(text), &cf,
		    part, 2, 0), 0);
		assert_int_equal(sp.smtpd_client_event_limit_exceptions.count, 0);
		config_free(&cf);
		config_free_part(&smtpd_params_table, &sp);
	}
	{
		static const char text[] =
		    "smtpd_client_event_limit_exceptions = 10.0.0.0/8, 10.1.0.0/8\n";
		assert_int_equal(config_parse_parts("t", text, strlen(text), &cf,
		    part, 2, 0), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_config_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
