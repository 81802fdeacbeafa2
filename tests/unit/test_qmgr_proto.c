/*
 * test_qmgr_proto - qmgr's side of its protocols: building deliver requests
 * from an envelope (batching by count and by frame size), reading deliver's
 * replies (anything unclear is a defer), checking qmgr-protocol requests,
 * and framing on libevent buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "buf.h"
#include "proto_qmgr.h"
#include "qmgr/qmgr.h"

#define TEST_ID "0ABCDEF123"

/* An envelope of n recipients "user<i>@example.org" (or addresses of
 * addrlen bytes when addrlen > 0), statuses from st (repeated). */
static void
env_make(struct queue_envelope *env, int n, const char *st, size_t addrlen)
{
	int i;

	memset(env, 0, sizeof(*env));
	strcpy(env->id, TEST_ID);
	env->arrival = 1700000000;
	env->sender = xstrdup("sender@example.org");
	env->client = xstrdup("127.0.0.1");
	env->helo = xstrdup("client.example");
	env->data_off = 321;
	env->nrcpt = n;
	env->rcpt = xcalloc((size_t)n, sizeof(*env->rcpt));
	for (i = 0; i < n; i++) {
		if (addrlen > 0) {
			env->rcpt[i].addr = xmalloc(addrlen + 1);
			memset(env->rcpt[i].addr, 'a' + i % 26, addrlen);
			env->rcpt[i].addr[addrlen] = '\0';
		} else {
			char a[64];

			snprintf(a, sizeof(a), "user%d@example.org", i);
			env->rcpt[i].addr = xstrdup(a);
		}
		env->rcpt[i].status = st[i % strlen(st)];
	}
}

static void
test_request_basic(void **state)
{
	struct queue_envelope	 env;
	struct ipc_msg		 req;
	int			 idx[DELIVER_RCPT_MAX], n, cursor = 0;
	long long		 v;

	(void)state;
	env_make(&env, 3, "PDP", 0);
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    "example.org"), 0);
	assert_int_equal(n, 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 2);
	assert_int_equal(cursor, 3);
	assert_int_equal(req.type, DELIVER_T_REQUEST);
	assert_int_equal(ipc_msg_get_int(&req, "v", 0, 9, &v), 0);
	assert_int_equal(v, PROTO_DELIVER_VERSION);
	assert_string_equal(ipc_msg_get(&req, "id"), TEST_ID);
	assert_string_equal(ipc_msg_get(&req, "path"), "active/" TEST_ID);
	assert_string_equal(ipc_msg_get(&req, "offset"), "321");
	assert_string_equal(ipc_msg_get(&req, "sender"), "sender@example.org");
	assert_string_equal(ipc_msg_get(&req, "nexthop"), "example.org");
	assert_string_equal(ipc_msg_get(&req, "nrcpt"), "2");
	assert_string_equal(ipc_msg_get(&req, "rcpt.0"), "user0@example.org");
	assert_string_equal(ipc_msg_get(&req, "rcpt.1"), "user2@example.org");
	assert_null(ipc_msg_get(&req, "rcpt.2"));
	ipc_msg_free(&req);

	/* Nothing pending from the cursor on. */
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    NULL), 0);
	assert_int_equal(n, 0);
	queue_envelope_free(&env);
}

static void
test_request_null_sender(void **state)
{
	struct queue_envelope	 env;
	struct ipc_msg		 req;
	int			 idx[DELIVER_RCPT_MAX], n, cursor = 0;

	(void)state;
	env_make(&env, 1, "P", 0);
	free(env.sender);
	env.sender = xstrdup("");
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ipc_msg_get(&req, "sender"), "");
	ipc_msg_free(&req);
	queue_envelope_free(&env);
}

/* The next hop is routing's (qmgr_route.c): sent as given, "" for none. */
static void
test_request_nexthop(void **state)
{
	struct queue_envelope	 env;
	struct ipc_msg		 req;
	int			 idx[DELIVER_RCPT_MAX], n, cursor;

	(void)state;
	env_make(&env, 3, "P", 0);
	cursor = 0;
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    "example.org"), 0);
	assert_int_equal(n, 3);
	assert_string_equal(ipc_msg_get(&req, "nexthop"), "example.org");
	ipc_msg_free(&req);
	cursor = 0;
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    NULL), 0);
	assert_string_equal(ipc_msg_get(&req, "nexthop"), "");
	ipc_msg_free(&req);
	queue_envelope_free(&env);
}

/* Every pending recipient exactly once, in order, over several requests,
 * each of which encodes into a legal frame. */
static void
check_batches(struct queue_envelope *env, int max_per_request)
{
	struct ipc_msg	 req, dec;
	int		 idx[DELIVER_RCPT_MAX], n, cursor = 0, next = 0, k;
	int		 requests = 0;
	char		*frame, name[32];
	size_t		 len;

	for (;;) {
		assert_int_equal(qmgr_request_build(env, &cursor, &req, idx,
		    &n, NULL), 0);
		if (n == 0)
			break;
		requests++;
		assert_true(n <= max_per_request);
		assert_int_equal(ipc_encode(&req, &frame, &len), 0);
		assert_true(len <= IPC_FRAME_MAX + 4);
		assert_int_equal(ipc_decode(frame, len, &dec), 0);
		for (k = 0; k < n; k++) {
			while (env->rcpt[next].status != RCPT_PENDING)
				next++;
			assert_int_equal(idx[k], next);
			snprintf(name, sizeof(name), "rcpt.%d", k);
			assert_string_equal(ipc_msg_get(&dec, name),
			    env->rcpt[next].addr);
			next++;
		}
		free(frame);
		ipc_msg_free(&dec);
		ipc_msg_free(&req);
	}
	while (next < env->nrcpt && env->rcpt[next].status != RCPT_PENDING)
		next++;
	assert_int_equal(next, env->nrcpt);
	assert_true(requests > 1);
}

static void
test_request_batches_by_count(void **state)
{
	struct queue_envelope env;

	(void)state;
	env_make(&env, 2500, "PPPPD", 0);	/* 2000 pending */
	check_batches(&env, DELIVER_RCPT_MAX);
	queue_envelope_free(&env);
}

static void
test_request_batches_by_size(void **state)
{
	struct queue_envelope env;

	(void)state;
	env_make(&env, 40, "P", 30000);		/* 1.2 MB of addresses */
	check_batches(&env, 8);
	queue_envelope_free(&env);
}

static void
test_request_unsendable(void **state)
{
	struct queue_envelope	 env;
	struct ipc_msg		 req;
	int			 idx[DELIVER_RCPT_MAX], n, cursor = 0;

	(void)state;
	env_make(&env, 2, "P", IPC_VALUE_MAX + 10);
	assert_int_equal(qmgr_request_build(&env, &cursor, &req, idx, &n,
	    NULL), -1);
	assert_int_equal(n, 0);
	queue_envelope_free(&env);
}

static void
reply_make(struct ipc_msg *r, int n)
{
	ipc_msg_init(r, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_add_int(r, "nrcpt", n), 0);
}

static void
test_reply_good(void **state)
{
	struct qmgr_outcome	 out[3];
	struct ipc_msg		 r;
	const char		*err = NULL;

	(void)state;
	reply_make(&r, 3);
	ipc_msg_add(&r, "status.0", "ok");
	ipc_msg_add(&r, "dsn.0", "2.0.0");
	ipc_msg_add(&r, "text.0", "delivered to maildir");
	ipc_msg_add(&r, "status.1", "bounce");
	ipc_msg_add(&r, "dsn.1", "5.1.1");
	ipc_msg_add(&r, "text.1", "no such user");
	ipc_msg_add(&r, "status.2", "defer");	/* no dsn, no text */
	assert_int_equal(qmgr_reply_parse(&r, 3, out, &err), 0);
	assert_int_equal(out[0].status, QMGR_RCPT_OK);
	assert_string_equal(out[0].dsn, "2.0.0");
	assert_string_equal(out[0].text, "delivered to maildir");
	assert_int_equal(out[1].status, QMGR_RCPT_BOUNCE);
	assert_string_equal(out[1].dsn, "5.1.1");
	assert_string_equal(out[1].text, "no such user");
	assert_int_equal(out[2].status, QMGR_RCPT_DEFER);
	assert_string_equal(out[2].dsn, "4.0.0");
	assert_string_equal(out[2].text, "");
	ipc_msg_free(&r);
}

static void
test_reply_partial(void **state)
{
	struct qmgr_outcome	 out[3];
	struct ipc_msg		 r;
	const char		*err = NULL;

	(void)state;
	reply_make(&r, 3);
	ipc_msg_add(&r, "status.0", "OK");	/* case matters */
	ipc_msg_add(&r, "status.2", "bounce");
	assert_int_equal(qmgr_reply_parse(&r, 3, out, &err), 0);
	assert_int_equal(out[0].status, QMGR_RCPT_DEFER);
	assert_int_equal(out[1].status, QMGR_RCPT_DEFER);
	assert_int_equal(out[2].status, QMGR_RCPT_BOUNCE);
	assert_string_equal(out[2].dsn, "5.0.0");
	ipc_msg_free(&r);
}

static void
test_reply_unusable(void **state)
{
	struct qmgr_outcome	 out[2];
	struct ipc_msg		 r;
	const char		*err;

	(void)state;
	/* Wrong count: nothing in it is trusted, not even "ok". */
	reply_make(&r, 1);
	ipc_msg_add(&r, "status.0", "ok");
	ipc_msg_add(&r, "status.1", "ok");
	err = NULL;
	assert_int_equal(qmgr_reply_parse(&r, 2, out, &err), -1);
	assert_non_null(err);
	assert_int_equal(out[0].status, QMGR_RCPT_DEFER);
	assert_int_equal(out[1].status, QMGR_RCPT_DEFER);
	ipc_msg_free(&r);

	ipc_msg_init(&r, DELIVER_T_REPLY);	/* no count */
	assert_int_equal(qmgr_reply_parse(&r, 2, out, &err), -1);
	ipc_msg_free(&r);

	ipc_msg_init(&r, IPC_T_ERROR);
	ipc_msg_add(&r, "text", "missing attribute path");
	assert_int_equal(qmgr_reply_parse(&r, 2, out, &err), -1);
	assert_string_equal(err, "missing attribute path");
	assert_int_equal(out[1].status, QMGR_RCPT_DEFER);
	ipc_msg_free(&r);

	ipc_msg_init(&r, IPC_T_OK);
	assert_int_equal(qmgr_reply_parse(&r, 2, out, &err), -1);
	ipc_msg_free(&r);
}

static enum qmgr_req_kind
check(uint8_t type, const char *v, const char *id, struct ipc_msg *reply,
    const char **idp)
{
	struct ipc_msg		req;
	enum qmgr_req_kind	k;

	ipc_msg_init(&req, type);
	if (v != NULL)
		ipc_msg_add(&req, "v", v);
	if (id != NULL)
		ipc_msg_add(&req, "id", id);
	k = qmgr_listen_check(&req, reply, idp);
	/* *idp points into req: compare before it goes. */
	if (k == QMGR_REQ_NOTIFY || k == QMGR_REQ_COMMITTED)
		assert_string_equal(*idp, id);
	ipc_msg_free(&req);
	return k;
}

static void
test_listen_check(void **state)
{
	struct ipc_msg	 reply;
	const char	*id;

	(void)state;
	assert_int_equal(check(QMGR_T_NOTIFY, "2", TEST_ID, &reply, &id),
	    QMGR_REQ_NOTIFY);
	assert_int_equal(reply.type, IPC_T_OK);
	ipc_msg_free(&reply);

	assert_int_equal(check(QMGR_T_COMMITTED, "2", TEST_ID, &reply, &id),
	    QMGR_REQ_COMMITTED);
	assert_int_equal(reply.type, IPC_T_OK);
	ipc_msg_free(&reply);
	assert_int_equal(check(QMGR_T_COMMITTED, "2", "../x", &reply, &id),
	    QMGR_REQ_BAD);
	assert_null(id);
	ipc_msg_free(&reply);

	assert_int_equal(check(QMGR_T_FLUSH, "2", NULL, &reply, &id),
	    QMGR_REQ_FLUSH);
	assert_int_equal(reply.type, IPC_T_OK);
	ipc_msg_free(&reply);

	/* Version 1's requests are still taken (a client not yet restarted
	 * after an upgrade); COMMITTED is version 2's, and 3 is unknown. */
	assert_int_equal(check(QMGR_T_NOTIFY, "1", TEST_ID, &reply, &id),
	    QMGR_REQ_NOTIFY);
	ipc_msg_free(&reply);
	assert_int_equal(check(QMGR_T_FLUSH, "1", NULL, &reply, &id),
	    QMGR_REQ_FLUSH);
	ipc_msg_free(&reply);
	assert_int_equal(check(QMGR_T_NOTIFY, "3", TEST_ID, &reply, &id),
	    QMGR_REQ_BAD);
	ipc_msg_free(&reply);
	assert_int_equal(check(QMGR_T_COMMITTED, "1", TEST_ID, &reply, &id),
	    QMGR_REQ_BAD);
	assert_int_equal(reply.type, IPC_T_ERROR);
	assert_non_null(ipc_msg_get(&reply, "text"));
	ipc_msg_free(&reply);

	assert_int_equal(check(QMGR_T_FLUSH, NULL, NULL, &reply, &id),
	    QMGR_REQ_BAD);
	assert_int_equal(reply.type, IPC_T_ERROR);
	ipc_msg_free(&reply);

	assert_int_equal(check(QMGR_T_NOTIFY, "2", "../../etc/passwd", &reply,
	    &id), QMGR_REQ_BAD);
	assert_null(id);
	assert_int_equal(reply.type, IPC_T_ERROR);
	ipc_msg_free(&reply);

	assert_int_equal(check(QMGR_T_NOTIFY, "2", NULL, &reply, &id),
	    QMGR_REQ_BAD);
	ipc_msg_free(&reply);

	assert_int_equal(check(DELIVER_T_REQUEST, "2", NULL, &reply, &id),
	    QMGR_REQ_BAD);
	assert_int_equal(reply.type, IPC_T_ERROR);
	ipc_msg_free(&reply);
}

static void
test_frame_roundtrip(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	struct ipc_msg	 m, got;
	unsigned char	*flat;
	size_t		 len;

	(void)state;
	ipc_msg_init(&m, QMGR_T_NOTIFY);
	ipc_msg_add(&m, "v", "1");
	ipc_msg_add(&m, "id", TEST_ID);
	assert_int_equal(ipc_evbuffer_put(b, &m), 0);
	assert_int_equal(ipc_evbuffer_put(b, &m), 0);
	len = evbuffer_get_length(b);
	flat = xmalloc(len);
	evbuffer_remove(b, flat, len);

	/* Byte by byte: incomplete until the last byte of each frame. */
	evbuffer_add(b, flat, 3);
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), 0);
	evbuffer_add(b, flat + 3, len / 2 - 4);
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), 0);
	evbuffer_add(b, flat + len / 2 - 1, len / 2 + 1);
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), 1);
	assert_int_equal(got.type, QMGR_T_NOTIFY);
	assert_string_equal(ipc_msg_get(&got, "id"), TEST_ID);
	ipc_msg_free(&got);
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), 1);
	ipc_msg_free(&got);
	assert_int_equal(evbuffer_get_length(b), 0);
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), 0);

	/* Over the caller's limit: refused before it is all there. */
	evbuffer_add(b, flat, 4);
	assert_int_equal(ipc_evbuffer_take(b, 8, &got), -1);
	evbuffer_drain(b, evbuffer_get_length(b));
	free(flat);
	ipc_msg_free(&m);
	evbuffer_free(b);
}

static void
test_frame_garbage(void **state)
{
	static const unsigned char huge[] = { 0x7f, 0xff, 0xff, 0xff };
	static const unsigned char tiny[] = { 0, 0, 0, 1, 1 };
	static const unsigned char badver[] = { 0, 0, 0, 2, 9, 0x10 };
	static const unsigned char noterm[] = { 0, 0, 0, 5, 1, 0x10, 'v', 0,
	    '1' };
	struct evbuffer	*b = evbuffer_new();
	struct ipc_msg	 got;

	(void)state;
	evbuffer_add(b, huge, sizeof(huge));
	assert_int_equal(ipc_evbuffer_take(b, IPC_FRAME_MAX + 4, &got), -1);
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_add(b, tiny, sizeof(tiny));
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), -1);
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_add(b, badver, sizeof(badver));
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), -1);
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_add(b, noterm, sizeof(noterm));
	assert_int_equal(ipc_evbuffer_take(b, 4096, &got), -1);
	evbuffer_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_basic),
		cmocka_unit_test(test_request_null_sender),
		cmocka_unit_test(test_request_nexthop),
		cmocka_unit_test(test_request_batches_by_count),
		cmocka_unit_test(test_request_batches_by_size),
		cmocka_unit_test(test_request_unsendable),
		cmocka_unit_test(test_reply_good),
		cmocka_unit_test(test_reply_partial),
		cmocka_unit_test(test_reply_unusable),
		cmocka_unit_test(test_listen_check),
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
