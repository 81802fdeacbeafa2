/*
 * test_smtpd_policy - smtpd's recipient decision around the lookup
 * service's answer (smtpd/smtpd_policy.c): relayed and refused
 * recipients are never asked about; local ones are, unless the cache of
 * recent answers has them; the answer gives 250 with the mailbox key, 550
 * 5.1.1 for an unknown recipient and 451 4.3.0 for a failure (never a
 * 550); postmaster is always accepted; with local_recipient_check off only
 * postmaster is asked about.  With virtual domains configured, a
 * recipient relay control would refuse or relay is asked about first:
 * virtual accepts it, unknown is 550, foreign leaves relay control's
 * verdict (554, or relayed from mynetworks); smtpd opens no table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "smtpd/smtpd_params.h"
#include "smtpd/smtpd_policy.h"
#include "smtpd/smtpd_relay.h"

static struct tern_config	cf;
static struct smtpd_params	par;
static struct smtpd_relay	relay;
static struct smtpd_user_cache	cache;

static int
setup(void **state)
{
	static const char text[] =
	    "myhostname = mail.example.org\n"
	    "mydestination = localhost, $myhostname\n"
	    "mynetworks = 192.0.2.0/24\n"
	    "relay_domains = relay.example\n";

	(void)state;
	memset(&cf, 0, sizeof(cf));
	memset(&par, 0, sizeof(par));
	memset(&cache, 0, sizeof(cache));
	assert_int_equal(config_parse("test", text, sizeof(text) - 1, &cf), 0);
	par.local_recipient_check = 1;
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

static enum smtpd_policy_verdict
rcpt(const char *client, const char *addr, struct smtpd_policy_query *q,
    char *account, struct smtpd_result *res)
{
	struct smtpd_path	 path;

	memset(&path, 0, sizeof(path));
	strlcpy(path.addr, addr, sizeof(path.addr));
	path.addrlen = strlen(addr);
	path.postmaster = strcmp(addr, "postmaster") == 0;
	return smtpd_policy_rcpt(&cf, &par, &relay, client, &cache, &path, q,
	    account, RCPT_LOOKUP_ACCOUNT_MAX + 1, res);
}

static int
answer(const struct smtpd_policy_query *q, enum rcpt_lookup_status st,
    const char *found, char *account, struct smtpd_result *res)
{
	return smtpd_policy_answer(&cache, q, st, found, account,
	    RCPT_LOOKUP_ACCOUNT_MAX + 1, res);
}

static void
test_not_asked(void **state)
{
	struct smtpd_policy_query q;
	struct smtpd_result	 res;
	char			 acct[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	assert_int_equal(rcpt(OUTSIDE, "x@elsewhere.example", &q, acct, &res),
	    SMTPD_POLICY_REFUSE);
	assert_int_equal(res.code, 554);
	assert_int_equal(rcpt(OUTSIDE, "x@relay.example", &q, acct, &res),
	    SMTPD_POLICY_ACCEPT);
	assert_int_equal(rcpt(INSIDE, "x@elsewhere.example", &q, acct, &res),
	    SMTPD_POLICY_ACCEPT);
	assert_string_equal(acct, "");
}

static void
test_asked_and_answered(void **state)
{
	struct smtpd_policy_query q;
	struct smtpd_result	 res;
	char			 acct[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	assert_int_equal(rcpt(OUTSIDE, "Alice@localhost", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_string_equal(q.rcpt, "Alice@localhost");
	assert_string_equal(q.name, "alice");
	assert_int_equal(answer(&q, RCPT_LOOKUP_FOUND, "alice", acct, &res), 0);
	assert_string_equal(acct, "alice");
	/* Remembered: the next question is answered here (any case). */
	assert_int_equal(rcpt(OUTSIDE, "alice@localhost", &q, acct, &res),
	    SMTPD_POLICY_ACCEPT);
	assert_string_equal(acct, "alice");
	/* Unknown: 550; a failure: 451, and neither is remembered. */
	assert_int_equal(rcpt(OUTSIDE, "bob@localhost", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_int_equal(answer(&q, RCPT_LOOKUP_UNKNOWN, NULL, acct, &res), -1);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.enhanced, "5.1.1");
	assert_int_equal(answer(&q, RCPT_LOOKUP_TEMPFAIL, NULL, acct, &res),
	    -1);
	assert_int_equal(res.code, 451);
	assert_string_equal(res.enhanced, "4.3.0");
	assert_int_equal(rcpt(OUTSIDE, "bob@localhost", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	/* "found" without a key is no answer. */
	assert_int_equal(answer(&q, RCPT_LOOKUP_FOUND, "", acct, &res), -1);
	assert_int_equal(res.code, 451);
	/* A local domain reached from mynetworks is still checked. */
	assert_int_equal(rcpt(INSIDE, "carol@mail.example.org", &q, acct, &res),
	    SMTPD_POLICY_ASK);
}

/* The configuration of setup() plus text. */
static void
reconfigure(const char *text)
{
	smtpd_relay_free(&relay);
	config_free(&cf);
	memset(&cf, 0, sizeof(cf));
	assert_int_equal(config_parse("test", text, strlen(text), &cf), 0);
	smtpd_relay_init(&relay, &cf);
}

static void
test_virtual(void **state)
{
	struct smtpd_policy_query q;
	struct smtpd_result	 res;
	char			 acct[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	/* The default domain lists name only the (empty) tables. */
	assert_int_equal(rcpt(OUTSIDE, "x@v.example", &q, acct, &res),
	    SMTPD_POLICY_REFUSE);
	reconfigure("myhostname = mail.example.org\n"
	    "mydestination = localhost, $myhostname\n"
	    "mynetworks = 192.0.2.0/24\n"
	    "relay_domains = relay.example\n"
	    "virtual_alias_maps = hash:/nonexistent/virtual\n");
	assert_int_equal(rcpt(OUTSIDE, "x@v.example", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_string_equal(q.rcpt, "x@v.example");
	assert_int_equal(answer(&q, RCPT_LOOKUP_VIRTUAL, NULL, acct, &res), 0);
	assert_string_equal(acct, "");
	assert_int_equal(answer(&q, RCPT_LOOKUP_UNKNOWN, NULL, acct, &res), -1);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.enhanced, "5.1.1");
	assert_int_equal(answer(&q, RCPT_LOOKUP_FOREIGN, NULL, acct, &res), -1);
	assert_int_equal(res.code, 554);
	assert_int_equal(answer(&q, RCPT_LOOKUP_TEMPFAIL, NULL, acct, &res),
	    -1);
	assert_int_equal(res.code, 451);
	/* From mynetworks a foreign address is relayed, a virtual domain's
	 * unknown one is not. */
	assert_int_equal(rcpt(INSIDE, "x@v.example", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_int_equal(answer(&q, RCPT_LOOKUP_FOREIGN, NULL, acct, &res), 0);
	assert_int_equal(answer(&q, RCPT_LOOKUP_UNKNOWN, NULL, acct, &res), -1);
	assert_int_equal(res.code, 550);
	/* relay_domains is not asked about. */
	assert_int_equal(rcpt(OUTSIDE, "x@relay.example", &q, acct, &res),
	    SMTPD_POLICY_ACCEPT);
	/* A plain domain list counts as configured too. */
	reconfigure("mydestination = localhost\n"
	    "virtual_mailbox_domains = v.example\n");
	assert_int_equal(rcpt(OUTSIDE, "x@v.example", &q, acct, &res),
	    SMTPD_POLICY_ASK);
}

static void
test_postmaster(void **state)
{
	struct smtpd_policy_query q;
	struct smtpd_result	 res;
	char			 acct[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	assert_int_equal(rcpt(OUTSIDE, "postmaster", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_int_equal(answer(&q, RCPT_LOOKUP_TEMPFAIL, NULL, acct, &res), 0);
	assert_string_equal(acct, "postmaster");
	assert_int_equal(answer(&q, RCPT_LOOKUP_UNKNOWN, NULL, acct, &res), 0);
	assert_int_equal(answer(&q, RCPT_LOOKUP_FOUND, "root", acct, &res), 0);
	assert_string_equal(acct, "root");
}

static void
test_unchecked(void **state)
{
	struct smtpd_policy_query q;
	struct smtpd_result	 res;
	char			 acct[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	(void)state;
	par.local_recipient_check = 0;
	assert_int_equal(rcpt(OUTSIDE, "Nobody@localhost", &q, acct, &res),
	    SMTPD_POLICY_ACCEPT);
	assert_string_equal(acct, "nobody");
	/* postmaster still asked, for its mailbox; a failure accepts. */
	assert_int_equal(rcpt(OUTSIDE, "PostMaster@localhost", &q, acct, &res),
	    SMTPD_POLICY_ASK);
	assert_int_equal(answer(&q, RCPT_LOOKUP_TEMPFAIL, NULL, acct, &res), 0);
	assert_string_equal(acct, "postmaster");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_asked_and_answered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_postmaster, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unchecked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_virtual, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
