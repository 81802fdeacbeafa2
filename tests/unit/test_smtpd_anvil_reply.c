/*
 * Unit tests for smtpd_anvil_reply_decode (smtpd/smtpd_anvil.c): what
 * smtpd takes from anvil's reply.  Counts only from status=ok and only
 * within range; full and unknown give no counts; any other type is a
 * refusal with anvil's text (or a stand-in).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/ipc.h"
#include "common/proto_anvil.h"
#include "smtpd/smtpd_anvil.h"

/* Decode a reply built from the arguments; *why is copied into whybuf,
 * since it points into the message. */
static char	 whybuf[256];

static int
decode(uint8_t type, const char *status, const char *count,
    const char *rate, int *c, int *r, const char **why)
{
	struct ipc_msg	 m;
	int		 ret;

	ipc_msg_init(&m, type);
	if (status != NULL)
		assert_int_equal(ipc_msg_add(&m, type == ANVIL_T_REPLY ?
		    "status" : "text", status), 0);
	if (count != NULL)
		assert_int_equal(ipc_msg_add(&m, "count", count), 0);
	if (rate != NULL)
		assert_int_equal(ipc_msg_add(&m, "rate", rate), 0);
	*why = NULL;
	ret = smtpd_anvil_reply_decode(&m, c, r, why);
	if (*why != NULL) {
		strlcpy(whybuf, *why, sizeof(whybuf));
		*why = whybuf;
	}
	ipc_msg_free(&m);
	return ret;
}

static void
test_ok(void **state)
{
	const char	*why;
	int		 c, r;

	(void)state;
	assert_int_equal(decode(ANVIL_T_REPLY, "ok", "3", "7", &c, &r, &why), 0);
	assert_int_equal(c, 3);
	assert_int_equal(r, 7);
	/* A disconnect's reply has no rate. */
	assert_int_equal(decode(ANVIL_T_REPLY, "ok", "0", NULL, &c, &r, &why), 0);
	assert_int_equal(c, 0);
	assert_int_equal(r, 0);
}

static void
test_no_counts(void **state)
{
	const char	*why;
	int		 c, r;

	(void)state;
	assert_int_equal(decode(ANVIL_T_REPLY, "full", "5", "5", &c, &r, &why), 0);
	assert_int_equal(c + r, 0);
	assert_int_equal(decode(ANVIL_T_REPLY, "unknown", NULL, NULL, &c, &r,
	    &why), 0);
	assert_int_equal(c + r, 0);
	assert_int_equal(decode(ANVIL_T_REPLY, NULL, "5", "5", &c, &r, &why), 0);
	assert_int_equal(c + r, 0);
	/* Out of range or malformed: no limit rather than a wrong one. */
	assert_int_equal(decode(ANVIL_T_REPLY, "ok", "-1", "1073741825", &c,
	    &r, &why), 0);
	assert_int_equal(c + r, 0);
	assert_int_equal(decode(ANVIL_T_REPLY, "ok", "1073741824", "x", &c,
	    &r, &why), 0);
	assert_int_equal(c, 1 << 30);
	assert_int_equal(r, 0);
}

static void
test_refused(void **state)
{
	const char	*why;
	int		 c, r;

	(void)state;
	assert_int_equal(decode(IPC_T_ERROR, "unsupported protocol version",
	    "2", "2", &c, &r, &why), -1);
	assert_string_equal(why, "unsupported protocol version");
	assert_int_equal(c + r, 0);
	assert_int_equal(decode(ANVIL_T_CONNECT, NULL, NULL, NULL, &c, &r,
	    &why), -1);
	assert_non_null(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_no_counts),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
