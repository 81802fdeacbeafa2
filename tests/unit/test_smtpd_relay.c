/*
 * test_smtpd_relay - the relay decision: local domains and relay_domains
 * (with ".parent" entries) for anyone, anything for a client in mynetworks
 * (IPv4, IPv6, IPv4-mapped), and the classic relay tricks ('%' hack,
 * quoted '@', bang paths, address literals) refused from outside; and the
 * defaults of mynetworks and relay_domains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/cidr.h"
#include "common/config.h"
#include "smtpd/smtpd_relay.h"

static struct tern_config	cf;
static struct smtpd_relay	relay;

static int
setup(void **state)
{
	static const char text[] =
	    "myhostname = mail.example.org\n"
	    "mydestination = localhost, $myhostname\n"
	    "mynetworks = 192.0.2.0/24, [2001:db8::]/32\n"
	    "relay_domains = relay.example, .sub.example\n";

	(void)state;
	memset(&cf, 0, sizeof(cf));
	assert_int_equal(config_parse("test", text, sizeof(text) - 1, &cf), 0);
	smtpd_relay_init(&relay, &cf);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	smtpd_relay_free(&relay);
	config_free(&cf);
	return 0;
}

#define OUTSIDE	"198.51.100.7"
#define INSIDE	"192.0.2.9"

static enum smtpd_relay_verdict
check(const char *client, const char *rcpt)
{
	return smtpd_relay_check(&relay, client, rcpt, 0);
}

static void
test_local_and_relay_domains(void **state)
{
	(void)state;
	assert_int_equal(check(OUTSIDE, "user@localhost"), SMTPD_RELAY_LOCAL);
	assert_int_equal(check(OUTSIDE, "user@mail.example.org"),
	    SMTPD_RELAY_LOCAL);
	assert_int_equal(check(INSIDE, "user@localhost"), SMTPD_RELAY_LOCAL);
	assert_int_equal(smtpd_relay_check(&relay, OUTSIDE, "postmaster", 1),
	    SMTPD_RELAY_LOCAL);
	assert_int_equal(check(OUTSIDE, "u@relay.example"), SMTPD_RELAY_DOMAIN);
	/* An exact entry does not cover subdomains... */
	assert_int_equal(check(OUTSIDE, "u@a.relay.example"),
	    SMTPD_RELAY_DENIED);
	/* ...a ".parent" one covers them, not the parent itself. */
	assert_int_equal(check(OUTSIDE, "u@a.sub.example"), SMTPD_RELAY_DOMAIN);
	assert_int_equal(check(OUTSIDE, "u@a.b.sub.example"),
	    SMTPD_RELAY_DOMAIN);
	assert_int_equal(check(OUTSIDE, "u@sub.example"), SMTPD_RELAY_DENIED);
	assert_int_equal(check(OUTSIDE, "u@xsub.example"), SMTPD_RELAY_DENIED);
	assert_int_equal(check(OUTSIDE, "u@relay.example.evil"),
	    SMTPD_RELAY_DENIED);
}

static void
test_clients(void **state)
{
	(void)state;
	assert_int_equal(check(OUTSIDE, "u@remote.example"),
	    SMTPD_RELAY_DENIED);
	assert_int_equal(check(INSIDE, "u@remote.example"), SMTPD_RELAY_CLIENT);
	assert_int_equal(check("2001:db8::5", "u@remote.example"),
	    SMTPD_RELAY_CLIENT);
	assert_int_equal(check("2001:db9::5", "u@remote.example"),
	    SMTPD_RELAY_DENIED);
	assert_int_equal(check("::ffff:192.0.2.1", "u@remote.example"),
	    SMTPD_RELAY_CLIENT);
	assert_int_equal(check("127.0.0.1", "u@remote.example"),
	    SMTPD_RELAY_DENIED);
	assert_int_equal(check(NULL, "u@remote.example"), SMTPD_RELAY_DENIED);
	assert_int_equal(check("", "u@remote.example"), SMTPD_RELAY_DENIED);
}

static void
test_tricks(void **state)
{
	static const char *tricks[] = {
		"user%remote.example@localhost",
		"user%remote.example@mail.example.org",
		"remote.example!user@localhost",
		"\"user@remote.example\"@localhost",
		"\"user%remote.example\"@localhost",
		"user%remote.example@relay.example",
		"user@[127.0.0.1]",
		"user@[192.0.2.1]",
		"user@[IPv6:::1]",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
		if (check(OUTSIDE, tricks[i]) != SMTPD_RELAY_DENIED)
			fail_msg("relayed %s", tricks[i]);
		/* mynetworks may send anything (Postfix: permit_mynetworks
		 * first). */
		assert_int_equal(check(INSIDE, tricks[i]), SMTPD_RELAY_CLIENT);
	}
}

static void
test_defaults(void **state)
{
	struct tern_config	 d;
	struct smtpd_relay	 r;

	(void)state;
	memset(&d, 0, sizeof(d));
	config_defaults(&d);
	assert_int_equal(d.relay_domains.count, 0);
	smtpd_relay_init(&r, &d);
	assert_int_equal(r.nnets, 2);
	assert_int_equal(smtpd_relay_check(&r, "127.0.0.2", "u@remote.example",
	    0), SMTPD_RELAY_CLIENT);
	assert_int_equal(smtpd_relay_check(&r, "::1", "u@remote.example", 0),
	    SMTPD_RELAY_CLIENT);
	assert_int_equal(smtpd_relay_check(&r, "10.0.0.1", "u@remote.example",
	    0), SMTPD_RELAY_DENIED);
	smtpd_relay_free(&r);
	config_free(&d);
}

static void
test_bad_mynetworks(void **state)
{
	static const char text[] = "mynetworks = 127.0.0.1/8\n";
	struct tern_config	 d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(config_parse("test", text, sizeof(text) - 1, &d), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_and_relay_domains),
		cmocka_unit_test(test_clients),
		cmocka_unit_test(test_tricks),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_mynetworks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
