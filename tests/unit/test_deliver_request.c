/*
 * Unit tests for deliver's side of the delivery protocol (the request
 * checks of common/proto_deliver.c, deliver/deliver_request.c): a
 * well-formed request is
 * accepted with every field, each kind of malformed request is refused with
 * a reason (missing or bad attributes, a path that is not active/<id>,
 * addresses with control characters, recipient counts out of range), and
 * the reply carries one outcome per recipient in request order, even when
 * a thousand long texts would not fit in one frame.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ipc.h"
#include "proto_deliver.h"
#include "deliver/deliver.h"

#define ID	"0ABCDEFGHIJ12345"

/* A valid request with nrcpt recipients r<i>@localhost. */
static void
make_request(struct ipc_msg *m, int nrcpt)
{
	char	 name[32];
	int	 i;

	ipc_msg_init(m, DELIVER_T_REQUEST);
	assert_int_equal(ipc_msg_add(m, "v", "3"), 0);
	assert_int_equal(ipc_msg_add(m, "id", ID), 0);
	assert_int_equal(ipc_msg_add(m, "path", "active/" ID), 0);
	assert_int_equal(ipc_msg_add(m, "offset", "123"), 0);
	assert_int_equal(ipc_msg_add(m, "sender", "someone@example.org"), 0);
	assert_int_equal(ipc_msg_add(m, "nexthop", "localhost"), 0);
	assert_int_equal(ipc_msg_add_int(m, "nrcpt", nrcpt), 0);
	for (i = 0; i < nrcpt; i++) {
		snprintf(name, sizeof(name), "rcpt.%d", i);
		assert_int_equal(ipc_msg_addf(m, name, "r%d@localhost", i), 0);
	}
}

/* The same request with attribute skip left out and, if name is not NULL,
 * name=value added (an earlier attribute of that name is left out too). */
static void
make_variant(struct ipc_msg *m, const char *skip, const char *name,
    const char *value)
{
	struct ipc_msg	 base;
	int		 i;

	make_request(&base, 2);
	ipc_msg_init(m, DELIVER_T_REQUEST);
	for (i = 0; i < base.nattr; i++) {
		if ((skip != NULL && strcmp(base.attr[i].name, skip) == 0) ||
		    (name != NULL && strcmp(base.attr[i].name, name) == 0))
			continue;
		assert_int_equal(ipc_msg_add(m, base.attr[i].name,
		    base.attr[i].value), 0);
	}
	if (name != NULL)
		assert_int_equal(ipc_msg_add(m, name, value), 0);
	ipc_msg_free(&base);
}

static void
test_valid_request(void **state)
{
	struct deliver_request	 req;
	struct ipc_msg		 m;
	const char		*err = NULL;

	(void)state;
	make_request(&m, 3);
	assert_int_equal(proto_deliver_request_decode(&m, &req, &err), 0);
	assert_string_equal(req.id, ID);
	assert_string_equal(req.path, "active/" ID);
	assert_int_equal(req.offset, 123);
	assert_string_equal(req.sender, "someone@example.org");
	assert_string_equal(req.nexthop, "localhost");
	assert_int_equal(req.nrcpt, 3);
	assert_string_equal(req.rcpt[0], "r0@localhost");
	assert_string_equal(req.rcpt[2], "r2@localhost");
	proto_deliver_request_free(&req);
	ipc_msg_free(&m);
}

static void
test_null_sender_and_unknown_attributes(void **state)
{
	struct deliver_request	 req;
	struct ipc_msg		 m;
	const char		*err = NULL;

	(void)state;
	make_variant(&m, NULL, "sender", "");
	assert_int_equal(ipc_msg_add(&m, "future_attr", "x"), 0);
	assert_int_equal(proto_deliver_request_decode(&m, &req, &err), 0);
	assert_string_equal(req.sender, "");
	proto_deliver_request_free(&req);
	ipc_msg_free(&m);
}

/* Expect refusal of the variant with the given reason. */
static void
expect_bad(const char *skip, const char *name, const char *value,
    const char *reason)
{
	struct deliver_request	 req;
	struct ipc_msg		 m;
	const char		*err = NULL;

	make_variant(&m, skip, name, value);
	if (proto_deliver_request_decode(&m, &req, &err) != -1)
		fail_msg("accepted %s=%s", name ? name : skip, value ? value : "");
	assert_non_null(err);
	assert_string_equal(err, reason);
	proto_deliver_request_free(&req);
	ipc_msg_free(&m);
}

static void
test_missing_attributes(void **state)
{
	(void)state;
	expect_bad("v", NULL, NULL, "missing v");
	expect_bad("id", NULL, NULL, "missing id");
	expect_bad("path", NULL, NULL, "missing path");
	expect_bad("offset", NULL, NULL, "missing offset");
	expect_bad("sender", NULL, NULL, "missing sender");
	expect_bad("nexthop", NULL, NULL, "missing nexthop");
	expect_bad("nrcpt", NULL, NULL, "missing nrcpt");
	expect_bad("rcpt.1", NULL, NULL, "missing rcpt.<i>");
}

static void
test_bad_version_and_id(void **state)
{
	(void)state;
	expect_bad(NULL, "v", "1", "unsupported protocol version");
	expect_bad(NULL, "v", "2", "unsupported protocol version");
	expect_bad(NULL, "v", "5", "unsupported protocol version");
	expect_bad(NULL, "v", "0", "unsupported protocol version");
	expect_bad(NULL, "v", "one", "unsupported protocol version");
	expect_bad(NULL, "id", "", "bad id");
	expect_bad(NULL, "id", "abc", "bad id");
	expect_bad(NULL, "id", "../etc", "bad id");
	expect_bad(NULL, "id", "0123456789ABCDEF0123456789ABCDEF", "bad id");
}

/* qmgr may name only active/<the request's id>. */
static void
test_path_confined_to_active(void **state)
{
	static const char *const bad[] = {
		"/etc/shadow", "active/../../etc/shadow", "deferred/" ID,
		"incoming/" ID, "active/0OTHERID", "active/" ID "/x",
		"./active/" ID, "active//" ID, "active/" ID " ", "", ID,
		"/var/spool/tern/active/" ID,
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad(NULL, "path", bad[i], "path is not active/<id>");
}

static void
test_bad_offset(void **state)
{
	(void)state;
	expect_bad(NULL, "offset", "-1", "bad offset");
	expect_bad(NULL, "offset", "0", "bad offset");
	expect_bad(NULL, "offset", "5", "bad offset");
	expect_bad(NULL, "offset", "12x", "bad offset");
	expect_bad(NULL, "offset", "", "bad offset");
	expect_bad(NULL, "offset", "99999999999999999999", "bad offset");
	expect_bad(NULL, "offset", "4194305", "bad offset");
}

static void
test_bad_nrcpt(void **state)
{
	char	 big[16];

	(void)state;
	snprintf(big, sizeof(big), "%d", DELIVER_RCPT_MAX + 1);
	expect_bad(NULL, "nrcpt", "0", "bad nrcpt");
	expect_bad(NULL, "nrcpt", "-2", "bad nrcpt");
	expect_bad(NULL, "nrcpt", big, "bad nrcpt");
	expect_bad(NULL, "nrcpt", "x", "bad nrcpt");
	/* More announced than present. */
	expect_bad(NULL, "nrcpt", "3", "missing rcpt.<i>");
}

/* A newline in an address would forge headers in the delivered file. */
static void
test_addresses_without_control_characters(void **state)
{
	char	 longaddr[QUEUE_ADDR_MAX + 16];

	(void)state;
	expect_bad(NULL, "sender", "a@b\nX-Forged: yes", "bad sender");
	expect_bad(NULL, "sender", "a\r@b", "bad sender");
	expect_bad(NULL, "rcpt.0", "u@localhost\nX-Forged: yes", "bad rcpt.<i>");
	expect_bad(NULL, "rcpt.1", "u\t@localhost", "bad rcpt.<i>");
	expect_bad(NULL, "rcpt.1", "u\x7f@localhost", "bad rcpt.<i>");
	expect_bad(NULL, "rcpt.0", "", "bad rcpt.<i>");
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	expect_bad(NULL, "rcpt.0", longaddr, "bad rcpt.<i>");
	assert_int_equal(proto_deliver_addr_clean("plain@example.org"), 1);
	assert_int_equal(proto_deliver_addr_clean(""), 1);
	assert_int_equal(proto_deliver_addr_clean("\"\xc3\xa9\"@x"), 1);
}

static void
test_wrong_type(void **state)
{
	struct deliver_request	 req;
	struct ipc_msg		 m;
	const char		*err = NULL;

	(void)state;
	make_request(&m, 1);
	m.type = DELIVER_T_REPLY;
	assert_int_equal(proto_deliver_request_decode(&m, &req, &err), -1);
	assert_string_equal(err, "not a delivery request");
	proto_deliver_request_free(&req);
	ipc_msg_free(&m);
}

/* A request that went through the wire (encode/decode) parses the same. */
static void
test_roundtrip_through_frame(void **state)
{
	struct deliver_request	 req;
	struct ipc_msg		 m, d;
	const char		*err;
	char			*frame;
	size_t			 len;

	(void)state;
	make_request(&m, DELIVER_RCPT_MAX);
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(ipc_decode(frame, len, &d), 0);
	assert_int_equal(proto_deliver_request_decode(&d, &req, &err), 0);
	assert_int_equal(req.nrcpt, DELIVER_RCPT_MAX);
	assert_string_equal(req.rcpt[DELIVER_RCPT_MAX - 1], "r999@localhost");
	proto_deliver_request_free(&req);
	ipc_msg_free(&d);
	ipc_msg_free(&m);
	free(frame);
}

static void
test_reply_in_request_order(void **state)
{
	struct deliver_result	 res[3];
	struct ipc_msg		 r;
	long long		 n;

	(void)state;
	deliver_result_set(&res[0], DELIVER_OK, "2.0.0", "delivered to maildir");
	deliver_result_set(&res[1], DELIVER_BOUNCE, "5.1.1", "user unknown");
	deliver_result_set(&res[2], DELIVER_DEFER, "4.2.2", "mailbox %s", "full");
	assert_int_equal(deliver_reply_build(&r, res, 3), 0);
	assert_int_equal(r.type, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_get_int(&r, "nrcpt", 0, 10, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ipc_msg_get(&r, "status.0"), "ok");
	assert_string_equal(ipc_msg_get(&r, "dsn.0"), "2.0.0");
	assert_string_equal(ipc_msg_get(&r, "text.0"), "delivered to maildir");
	assert_string_equal(ipc_msg_get(&r, "status.1"), "bounce");
	assert_string_equal(ipc_msg_get(&r, "dsn.1"), "5.1.1");
	assert_string_equal(ipc_msg_get(&r, "status.2"), "defer");
	assert_string_equal(ipc_msg_get(&r, "text.2"), "mailbox full");
	ipc_msg_free(&r);
}

/* 1000 maximal texts pass IPC_FRAME_MAX; the outcomes must survive. */
static void
test_reply_too_big_keeps_outcomes(void **state)
{
	struct deliver_result	*res;
	struct ipc_msg		 r;
	char			*frame;
	size_t			 len;
	int			 i;

	(void)state;
	res = calloc(DELIVER_RCPT_MAX, sizeof(*res));
	assert_non_null(res);
	for (i = 0; i < DELIVER_RCPT_MAX; i++) {
		memset(res[i].text, 'x', sizeof(res[i].text) - 1);
		res[i].status = i % 2 ? DELIVER_DEFER : DELIVER_OK;
		strcpy(res[i].dsn, i % 2 ? "4.3.0" : "2.0.0");
	}
	assert_int_equal(deliver_reply_build(&r, res, DELIVER_RCPT_MAX), 0);
	assert_string_equal(ipc_msg_get(&r, "status.999"), "defer");
	assert_string_equal(ipc_msg_get(&r, "status.998"), "ok");
	assert_true(strlen(ipc_msg_get(&r, "text.5")) < DELIVER_TEXT_SIZE - 1);
	assert_int_equal(ipc_encode(&r, &frame, &len), 0);
	assert_true(len <= IPC_FRAME_MAX + 4);
	free(frame);
	ipc_msg_free(&r);
	free(res);
}

static void
test_error_reply(void **state)
{
	struct ipc_msg	 r;

	(void)state;
	assert_int_equal(proto_deliver_error_encode(&r, "bad offset"), 0);
	assert_int_equal(r.type, IPC_T_ERROR);
	assert_string_equal(ipc_msg_get(&r, "text"), "bad offset");
	ipc_msg_free(&r);
}

static void
test_result_text_is_bounded(void **state)
{
	struct deliver_result	 res;
	char			 big[1000];

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	deliver_result_set(&res, DELIVER_DEFER, "4.3.0", "%s", big);
	assert_int_equal(strlen(res.text), DELIVER_TEXT_SIZE - 1);
	assert_string_equal(proto_deliver_status_name(DELIVER_OK), "ok");
	assert_string_equal(proto_deliver_status_name(DELIVER_DEFER), "defer");
	assert_string_equal(proto_deliver_status_name(DELIVER_BOUNCE), "bounce");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_request),
		cmocka_unit_test(test_null_sender_and_unknown_attributes),
		cmocka_unit_test(test_missing_attributes),
		cmocka_unit_test(test_bad_version_and_id),
		cmocka_unit_test(test_path_confined_to_active),
		cmocka_unit_test(test_bad_offset),
		cmocka_unit_test(test_bad_nrcpt),
		cmocka_unit_test(test_addresses_without_control_characters),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_roundtrip_through_frame),
		cmocka_unit_test(test_reply_in_request_order),
		cmocka_unit_test(test_reply_too_big_keeps_outcomes),
		cmocka_unit_test(test_error_reply),
		cmocka_unit_test(test_result_text_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
