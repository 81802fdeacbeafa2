/*
 * Unit tests for the lookup protocol's codec (common/proto_lookup.c):
 * requests and replies built by one side decode on the other; a request
 * needs v=2, an id in range and a valid recipient; a reply is refused
 * (and is then a temporary failure) when its type, version, id, status or
 * account is wrong, so that a broken lookup service never turns into a
 * 550 or a strange mailbox key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto_lookup.h"

/* A message of type t with the attributes given as name, value, ...,
 * NULL, after a trip through the wire format. */
static void
vmsg(struct ipc_msg *m, int t, va_list ap)
{
	struct ipc_msg	 out;
	const char	*name, *value;
	char		*frame;
	size_t		 len;

	ipc_msg_init(&out, (uint8_t)t);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		assert_int_equal(ipc_msg_add(&out, name, value), 0);
	}
	assert_int_equal(ipc_encode(&out, &frame, &len), 0);
	assert_int_equal(ipc_decode(frame, len, m), 0);
	free(frame);
	ipc_msg_free(&out);
}

static void
msg(struct ipc_msg *m, int t, ...)
{
	va_list	 ap;

	va_start(ap, t);
	vmsg(m, t, ap);
	va_end(ap);
}

/* Such a message decoded as a reply: 0, or -1 (and then a tempfail
 * without account). */
static int
reply(struct lookup_reply *r, int t, ...)
{
	struct ipc_msg	 m;
	const char	*err = NULL;
	va_list		 ap;
	int		 ret;

	va_start(ap, t);
	vmsg(&m, t, ap);
	va_end(ap);
	ret = lookup_reply_decode(&m, r, &err);
	if (ret < 0) {
		assert_non_null(err);
		assert_int_equal(r->status, RCPT_LOOKUP_TEMPFAIL);
		assert_string_equal(r->account, "");
	}
	ipc_msg_free(&m);
	return ret;
}

static void
test_request_round_trip(void **state)
{
	struct ipc_msg	 m;
	const char	*rcpt, *err;
	long long	 id;

	(void)state;
	assert_int_equal(lookup_request_build(&m, 42, "alice@example.org"), 0);
	assert_int_equal(m.type, LOOKUP_T_RCPT);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), 0);
	assert_int_equal(id, 42);
	assert_string_equal(rcpt, "alice@example.org");
	ipc_msg_free(&m);
	assert_int_equal(lookup_request_build(&m, 1, "Postmaster"), 0);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), 0);
	assert_string_equal(rcpt, "Postmaster");
	ipc_msg_free(&m);
	/* Nothing that is not an address is sent. */
	assert_int_equal(lookup_request_build(&m, 1, "no address"), -1);
	ipc_msg_free(&m);
	assert_int_equal(lookup_request_build(&m, 1, ""), -1);
	ipc_msg_free(&m);
}

static void
test_request_refused(void **state)
{
	struct ipc_msg	 m;
	const char	*rcpt, *err;
	long long	 id;
	char		 longaddr[400];

	(void)state;
	msg(&m, LOOKUP_T_RCPT, "v", "1", "id", "1", "rcpt", "a@b.example", NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	msg(&m, LOOKUP_T_RCPT, "v", "2", "rcpt", "a@b.example", NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	msg(&m, LOOKUP_T_RCPT, "v", "2", "id", "0", "rcpt", "a@b.example", NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	msg(&m, LOOKUP_T_RCPT, "v", "2", "id", "1", NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	msg(&m, LOOKUP_T_RCPT, "v", "2", "id", "1", "rcpt", "a\x01@b.example",
	    NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	memset(longaddr, 'a', sizeof(longaddr));
	memcpy(longaddr + 300, "@b.example", 11);
	msg(&m, LOOKUP_T_RCPT, "v", "2", "id", "1", "rcpt", longaddr, NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	ipc_msg_free(&m);
	msg(&m, LOOKUP_T_REPLY, "v", "2", "id", "1", "rcpt", "a@b.example",
	    NULL);
	assert_int_equal(lookup_request_decode(&m, &id, &rcpt, &err), -1);
	assert_string_equal(err, "unknown request type");
	ipc_msg_free(&m);
}

static void
test_reply_round_trip(void **state)
{
	struct ipc_msg		 m;
	struct lookup_reply	 r;
	const char		*err;

	(void)state;
	assert_int_equal(lookup_reply_build(&m, 7, RCPT_LOOKUP_FOUND, "alice",
	    NULL), 0);
	assert_int_equal(lookup_reply_decode(&m, &r, &err), 0);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.status, RCPT_LOOKUP_FOUND);
	assert_string_equal(r.account, "alice");
	ipc_msg_free(&m);
	assert_int_equal(lookup_reply_build(&m, 8, RCPT_LOOKUP_UNKNOWN, NULL,
	    NULL), 0);
	assert_int_equal(lookup_reply_decode(&m, &r, &err), 0);
	assert_int_equal(r.status, RCPT_LOOKUP_UNKNOWN);
	assert_string_equal(r.account, "");
	ipc_msg_free(&m);
	/* A tempfail's reason travels, made safe for the log. */
	assert_int_equal(lookup_reply_build(&m, 9, RCPT_LOOKUP_TEMPFAIL, NULL,
	    "alias_maps:\tgone\n"), 0);
	assert_int_equal(lookup_reply_decode(&m, &r, &err), 0);
	assert_int_equal(r.status, RCPT_LOOKUP_TEMPFAIL);
	assert_string_equal(r.text, "alias_maps:?gone?");
	ipc_msg_free(&m);
	/* FOUND needs an account that can be sent. */
	assert_int_equal(lookup_reply_build(&m, 1, RCPT_LOOKUP_FOUND, "",
	    NULL), -1);
	ipc_msg_free(&m);
	assert_int_equal(lookup_reply_build(&m, 1, RCPT_LOOKUP_FOUND, "a\x1b",
	    NULL), -1);
	ipc_msg_free(&m);
	assert_string_equal(lookup_status_name(RCPT_LOOKUP_UNKNOWN), "unknown");
	/* Version 2's statuses carry no account. */
	assert_int_equal(lookup_reply_build(&m, 10, RCPT_LOOKUP_VIRTUAL, NULL,
	    NULL), 0);
	assert_int_equal(lookup_reply_decode(&m, &r, &err), 0);
	assert_int_equal(r.status, RCPT_LOOKUP_VIRTUAL);
	assert_string_equal(r.account, "");
	ipc_msg_free(&m);
	assert_int_equal(lookup_reply_build(&m, 11, RCPT_LOOKUP_FOREIGN, NULL,
	    NULL), 0);
	assert_int_equal(lookup_reply_decode(&m, &r, &err), 0);
	assert_int_equal(r.status, RCPT_LOOKUP_FOREIGN);
	ipc_msg_free(&m);
	assert_string_equal(lookup_status_name(RCPT_LOOKUP_FOREIGN), "foreign");
}

static void
test_reply_refused(void **state)
{
	struct lookup_reply	 r;
	char			 longname[300];

	(void)state;
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "found", "account", "root", NULL), 0);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "1", "id", "3",
	    "status", "found", "account", "root", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2",
	    "status", "found", "account", "root", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "x",
	    "status", "unknown", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "Found", "account", "root", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3", NULL),
	    -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "found", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "found", "account", "", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "found", "account", "ro\not", NULL), -1);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "found", "account", longname, NULL), -1);
	/* An account on anything but found is a confused service. */
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "unknown", "account", "root", NULL), -1);
	assert_int_equal(reply(&r, LOOKUP_T_REPLY, "v", "2", "id", "3",
	    "status", "tempfail", "text", "bad\x01text", NULL), -1);
	/* Another protocol's reply, or a refusal. */
	assert_int_equal(reply(&r, 0x42, "status", "ok", NULL), -1);
	assert_int_equal(reply(&r, IPC_T_ERROR, "text", "malformed", NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_reply_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
