/*
 * Unit tests for qmgr_notice_due() (qmgr/qmgr_bounce.c): which recipients
 * a failure notice, a delay warning or a success notice is due for, by
 * status, NOTIFY, the markers already on file and the sender (never the
 * null sender; a failed notice goes to the postmaster; a double bounce
 * nowhere; version 1 files never); the requests planned for a message
 * (qmgr_notice_plan()), their encoding and the reading of bounce's reply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qmgr/qmgr.h"

static struct queue_rcpt rcpts[5] = {
	{ "a@x", RCPT_BOUNCED, 0, NULL, 0 },
	{ "b@x", RCPT_BOUNCED, 0, NULL, QUEUE_NOTIFY_NEVER },
	{ "c@x", RCPT_DELIVERED, 0, NULL, QUEUE_NOTIFY_SUCCESS },
	{ "d@x", RCPT_PENDING, 0, NULL, QUEUE_NOTIFY_SUCCESS },
	{ "e@x", RCPT_BOUNCED, 0, NULL, QUEUE_NOTIFY_FAILURE |
	    QUEUE_NOTIFY_DELAY },
};

static void
env_init(struct queue_envelope *env, const char *sender, const char *client,
    const char *helo)
{
	memset(env, 0, sizeof(*env));
	env->version = 2;
	env->sender = (char *)sender;
	env->client = (char *)client;
	env->helo = (char *)helo;
	env->nrcpt = 5;
	env->rcpt = rcpts;
}

static void
test_due(void **state)
{
	struct queue_envelope	 env;
	unsigned char		 noticed[5] = { 0 };
	int			 idx[5];

	(void)state;
	env_init(&env, "s@y", "192.0.2.1", "h");
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_FAILED, idx), 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 4);
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_DELIVERED, idx),
	    1);
	assert_int_equal(idx[0], 2);
	/* d asked for SUCCESS only: no delay warning for it. */
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_DELAYED, idx), 0);
	rcpts[3].notify = 0;
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_DELAYED, idx), 1);
	assert_int_equal(idx[0], 3);
	/* One delay warning per message: any marker ends them. */
	noticed[0] = QMGR_NOTICED_DELAYED;
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_DELAYED, idx), 0);
	noticed[0] = QMGR_NOTICED_FAILED;
	assert_int_equal(qmgr_notice_due(&env, noticed, BOUNCE_FAILED, idx), 1);
	assert_int_equal(idx[0], 4);
	rcpts[3].notify = QUEUE_NOTIFY_SUCCESS;

	/* The null sender gets none; a failed notice goes to the
	 * postmaster; a failed double bounce nowhere. */
	env_init(&env, "", "192.0.2.1", BOUNCE_HELO_NOTICE);
	assert_int_equal(qmgr_notice_due(&env, NULL, BOUNCE_FAILED, idx), 0);
	env_init(&env, "", BOUNCE_CLIENT, BOUNCE_HELO_NOTICE);
	assert_int_equal(qmgr_notice_due(&env, NULL, BOUNCE_FAILED, idx), 2);
	assert_int_equal(qmgr_notice_due(&env, NULL, BOUNCE_DELIVERED, idx), 0);
	env_init(&env, "", BOUNCE_CLIENT, BOUNCE_HELO_2BOUNCE);
	assert_int_equal(qmgr_notice_due(&env, NULL, BOUNCE_FAILED, idx), 0);
	env_init(&env, "s@y", "192.0.2.1", "h");
	env.version = 1;
	assert_int_equal(qmgr_notice_due(&env, NULL, BOUNCE_FAILED, idx), 0);
}

/* More recipients than one bounce request can name are split, every part
 * a list bounce accepts, none left out. */
static void
test_chunk(void **state)
{
	enum { N = 20000 };
	static int	 idx[N], got[N];
	char		*list;
	int		 i, k, done, n, len;

	(void)state;
	for (i = 0; i < N; i++)
		idx[i] = i;
	list = malloc(BOUNCE_RCPTS_MAX + 16);
	assert_non_null(list);
	assert_int_equal(qmgr_notice_chunk(idx, 3), 3);
	for (done = 0, k = 0; done < N; done += k) {
		k = qmgr_notice_chunk(idx + done, N - done);
		assert_true(k > 0);
		for (i = 0, len = 0; i < k; i++)
			len += snprintf(list + len, BOUNCE_RCPTS_MAX + 16 - (size_t)len,
			    i > 0 ? ",%d" : "%d", idx[done + i]);
		assert_true(len <= BOUNCE_RCPTS_MAX);
		assert_int_equal(bounce_rcpts_parse(list, N, got, &n), 0);
		assert_int_equal(n, k);
		/* As full as it can be: one more would not fit. */
		if (done + k < N)
			assert_true(len + 1 + snprintf(NULL, 0, "%d",
			    idx[done + k]) > BOUNCE_RCPTS_MAX);
	}
	assert_int_equal(done, N);
	free(list);
}

/* A loaded message as qmgr_notice_plan() sees it. */
static void
msg_init(struct qmgr_msg *m, struct queue_envelope *env, unsigned char *noticed)
{
	memset(m, 0, sizeof(*m));
	strlcpy(m->id, "1ABCDEFGHIJ00AB0000", sizeof(m->id));
	m->env = *env;
	m->noticed = noticed;
	TAILQ_INIT(&m->notices);
}

static void
test_plan(void **state)
{
	enum { N = 15000 };
	static struct queue_rcpt many[N];
	struct queue_envelope	 env;
	struct qmgr_msg		 m;
	struct qmgr_notice	*n;
	static unsigned char	 noticed[N];
	int			 i, total;

	(void)state;
	env_init(&env, "s@y", "192.0.2.1", "h");
	msg_init(&m, &env, noticed);
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_FAILED, 0), 1);
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_DELIVERED, 0), 1);
	n = TAILQ_FIRST(&m.notices);
	assert_int_equal(n->ev, BOUNCE_FAILED);
	assert_int_equal(n->n, 2);
	assert_int_equal(n->idx[0], 0);
	assert_int_equal(n->idx[1], 4);
	n = TAILQ_NEXT(n, link);
	assert_int_equal(n->ev, BOUNCE_DELIVERED);
	assert_int_equal(n->n, 1);
	assert_null(TAILQ_NEXT(n, link));
	qmgr_notice_forget(&m);
	assert_true(TAILQ_EMPTY(&m.notices));
	/* Nothing due: nothing planned, markers or not. */
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_DELAYED, 0), 0);
	/* Markers unreadable: a notice may be due, none may be asked. */
	m.noticed = NULL;
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_FAILED, 0), -1);
	assert_true(TAILQ_EMPTY(&m.notices));
	m.env.sender = "";	/* nobody to tell: not an error */
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_FAILED, 0), 0);

	/* Too many for one request: parts that cover each recipient once. */
	for (i = 0; i < N; i++) {
		many[i].addr = "r@x";
		many[i].status = RCPT_BOUNCED;
	}
	env.nrcpt = N;
	env.rcpt = many;
	msg_init(&m, &env, noticed);
	assert_true(qmgr_notice_plan(&m, BOUNCE_FAILED, 0) > 1);
	total = 0;
	TAILQ_FOREACH(n, &m.notices, link) {
		assert_int_equal(n->idx[0], total);
		total += n->n;
	}
	assert_int_equal(total, N);
	qmgr_notice_forget(&m);
}

static void
test_request(void **state)
{
	struct queue_envelope	 env;
	struct qmgr_msg		 m;
	struct qmgr_notice	*n;
	struct ipc_msg		 req;
	unsigned char		 noticed[5] = { 0 };

	(void)state;
	env_init(&env, "s@y", "192.0.2.1", "h");
	msg_init(&m, &env, noticed);
	rcpts[3].notify = 0;
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_DELAYED, 12345), 1);
	rcpts[3].notify = QUEUE_NOTIFY_SUCCESS;
	n = TAILQ_FIRST(&m.notices);
	assert_int_equal(qmgr_notice_request(&m, n, &req), 0);
	assert_int_equal(req.type, BOUNCE_T_NOTICE);
	assert_string_equal(ipc_msg_get(&req, "v"), "1");
	assert_string_equal(ipc_msg_get(&req, "id"), m.id);
	assert_string_equal(ipc_msg_get(&req, "event"), "delayed");
	assert_string_equal(ipc_msg_get(&req, "rcpts"), "3");
	assert_string_equal(ipc_msg_get(&req, "until"), "12345");
	ipc_msg_free(&req);
	qmgr_notice_forget(&m);
	assert_int_equal(qmgr_notice_plan(&m, BOUNCE_FAILED, 0), 1);
	assert_int_equal(qmgr_notice_request(&m, TAILQ_FIRST(&m.notices), &req),
	    0);
	assert_string_equal(ipc_msg_get(&req, "rcpts"), "0,4");
	assert_null(ipc_msg_get(&req, "until"));
	ipc_msg_free(&req);
	qmgr_notice_forget(&m);
}

static void
test_reply(void **state)
{
	struct ipc_msg	 r;
	char		 nid[QUEUE_ID_SIZE];
	const char	*err;

	(void)state;
	ipc_msg_init(&r, BOUNCE_T_REPLY);
	ipc_msg_add(&r, "status", "sent");
	ipc_msg_add(&r, "id", "1ABCDEFGHIJ00AB0001");
	assert_int_equal(qmgr_notice_reply(&r, nid, &err), 1);
	assert_string_equal(nid, "1ABCDEFGHIJ00AB0001");
	ipc_msg_free(&r);

	ipc_msg_init(&r, BOUNCE_T_REPLY);
	ipc_msg_add(&r, "status", "none");
	assert_int_equal(qmgr_notice_reply(&r, nid, &err), 0);
	ipc_msg_free(&r);

	/* "sent" without a valid id is not believed. */
	ipc_msg_init(&r, BOUNCE_T_REPLY);
	ipc_msg_add(&r, "status", "sent");
	ipc_msg_add(&r, "id", "../etc/passwd");
	assert_int_equal(qmgr_notice_reply(&r, nid, &err), -1);
	assert_string_equal(err, "bad reply");
	ipc_msg_free(&r);

	ipc_msg_init(&r, IPC_T_ERROR);
	ipc_msg_add(&r, IPC_A_TEXT, "no room");
	assert_int_equal(qmgr_notice_reply(&r, nid, &err), -1);
	assert_string_equal(err, "no room");
	ipc_msg_free(&r);

	ipc_msg_init(&r, 0x7f);
	assert_int_equal(qmgr_notice_reply(&r, nid, &err), -1);
	assert_string_equal(err, "bad reply");
	ipc_msg_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_chunk),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
