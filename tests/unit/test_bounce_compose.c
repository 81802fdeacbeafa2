/*
 * Unit tests for bounce/bounce_compose.c and common/proto_bounce.c: the
 * header end, the SMTP client's diagnostic split into Remote-MTA and
 * Diagnostic-Code, RFC 3464 actions and status codes, the report's
 * fields for a failure (with ORCPT, ENVID, a remote and a local reason),
 * a delay warning (Will-Retry-Until) and a success, the returned part per
 * RET and bounce_size_limit, the notice's own header, the recipient list
 * of the protocol and who a notice goes to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bounce/bounce.h"

#define MSG "From: a@example.org\nSubject: hi\n\nbody line\n"

static struct queue_rcpt rcpts[3] = {
	{ "bob@remote.test", RCPT_BOUNCED, 0, "rfc822;Bob@Remote.Test",
	    QUEUE_NOTIFY_FAILURE },
	{ "carol@example.com", RCPT_DELIVERED, 0, NULL, QUEUE_NOTIFY_SUCCESS },
	{ "dave@gone.test", RCPT_BOUNCED, 0, NULL, 0 },
};

static struct queue_outcome rec_bob = { 0, OUTCOME_BOUNCED, 1700000100,
    "5.1.1", "", "host mx.remote.test[192.0.2.7] said: 550 5.1.1 <bob@remote"
    ".test>: no (in reply to RCPT TO command)" };
static struct queue_outcome rec_dave = { 2, OUTCOME_BOUNCED, 1700000200,
    "4.4.7", "", "message expired in the queue" };

static void
notice_init(struct bounce_notice *b, struct queue_envelope *env,
    const struct queue_outcome **last, int *idx)
{
	memset(env, 0, sizeof(*env));
	env->version = 2;
	strcpy(env->id, "0ABCDEF1234567890ABCDE");
	env->arrival = 1700000000;
	env->sender = "alice@example.org";
	env->client = "192.0.2.1";
	env->helo = "mail.example.org";
	env->envid = "QQ314159";
	env->nrcpt = 3;
	env->rcpt = rcpts;
	env->data_len = (off_t)strlen(MSG);
	last[0] = &rec_bob;
	last[1] = NULL;
	last[2] = &rec_dave;
	idx[0] = 0;
	idx[1] = 2;
	memset(b, 0, sizeof(*b));
	b->myhostname = "mx.tern.test";
	b->notice_id = "1NOTICE";
	b->now = 1700000300;
	b->event = BOUNCE_FAILED;
	b->kind = BOUNCE_KIND_SENDER;
	b->to = "alice@example.org";
	b->env = env;
	b->idx = idx;
	b->n = 2;
	b->last = last;
	b->until = 1700432000;
	b->msg = MSG;
	b->msglen = strlen(MSG);
	b->msgsize = (long long)strlen(MSG);
	b->size_limit = 50000;
}

static char *
compose(const struct bounce_notice *b)
{
	struct buf	 out;

	buf_init(&out, 1024 * 1024);
	assert_int_equal(bounce_compose(b, &out), 0);
	return out.data;
}

static void
test_helpers(void **state)
{
	char	 host[256], reply[1001];

	(void)state;
	assert_int_equal(bounce_header_end(MSG, strlen(MSG)), 33);
	assert_int_equal(bounce_header_end("\nbody", 5), 1);
	assert_int_equal(bounce_header_end("A: b\n", 5), 5);
	assert_int_equal(bounce_header_end("", 0), 0);
	assert_int_equal(bounce_diag_split(rec_bob.text, host, sizeof(host),
	    reply, sizeof(reply)), 1);
	assert_string_equal(host, "mx.remote.test");
	assert_string_equal(reply, "550 5.1.1 <bob@remote.test>: no");
	assert_int_equal(bounce_diag_split("host [192.0.2.1] said: 421 x",
	    host, sizeof(host), reply, sizeof(reply)), 1);
	assert_string_equal(host, "[192.0.2.1]");
	assert_string_equal(reply, "421 x");
	assert_int_equal(bounce_diag_split("user unknown", host, sizeof(host),
	    reply, sizeof(reply)), 0);
	assert_int_equal(bounce_diag_split("host  said: x", host,
	    sizeof(host), reply, sizeof(reply)), 0);
	assert_string_equal(bounce_action(BOUNCE_FAILED, NULL), "failed");
	assert_string_equal(bounce_action(BOUNCE_DELAYED, &rec_bob), "delayed");
	assert_string_equal(bounce_action(BOUNCE_DELIVERED, NULL), "delivered");
}

static void
test_failure(void **state)
{
	struct bounce_notice		 b;
	struct queue_envelope		 env;
	const struct queue_outcome	*last[3];
	int				 idx[3];
	char				*n;

	(void)state;
	notice_init(&b, &env, last, idx);
	n = compose(&b);
	assert_non_null(strstr(n, "From: MAILER-DAEMON@mx.tern.test "));
	assert_non_null(strstr(n, "\nTo: alice@example.org\n"));
	assert_non_null(strstr(n, "\nMessage-ID: <1NOTICE.1700000300@mx.tern"
	    ".test>\n"));
	assert_non_null(strstr(n, "\nAuto-Submitted: auto-replied\n"));
	assert_non_null(strstr(n, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"1NOTICE.1700000300/"
	    "tern-report\"\n"));
	assert_non_null(strstr(n, "\nReporting-MTA: dns; mx.tern.test\n"
	    "X-Tern-Queue-ID: 0ABCDEF1234567890ABCDE\n"
	    "X-Tern-Sender: rfc822; alice@example.org\n"
	    "Original-Envelope-Id: QQ314159\nArrival-Date: "));
	assert_non_null(strstr(n, "\n\nFinal-Recipient: rfc822; "
	    "bob@remote.test\nOriginal-Recipient: rfc822; Bob@Remote.Test\n"
	    "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.remote.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: no\n"
	    "Last-Attempt-Date: "));
	assert_non_null(strstr(n, "\n\nFinal-Recipient: rfc822; "
	    "dave@gone.test\nAction: failed\nStatus: 4.4.7\n"
	    "Diagnostic-Code: X-Tern; message expired in the queue\n"));
	assert_null(strstr(n, "carol"));
	assert_null(strstr(n, "Will-Retry-Until"));
	assert_non_null(strstr(n, "Content-Type: message/rfc822\n\n" MSG
	    "\n--1NOTICE.1700000300/tern-report--\n"));
	free(n);

	/* RET=HDRS: the header only. */
	env.ret = QUEUE_RET_HDRS;
	n = compose(&b);
	assert_non_null(strstr(n, "Content-Type: text/rfc822-headers\n\n"
	    "From: a@example.org\nSubject: hi\n\n\n--1NOTICE"));
	assert_null(strstr(n, "body line"));
	free(n);

	/* Over bounce_size_limit: the header only, cut after a line. */
	env.ret = QUEUE_RET_FULL;
	b.size_limit = 25;
	n = compose(&b);
	assert_non_null(strstr(n, "Content-Type: text/rfc822-headers\n\n"
	    "From: a@example.org\n\n--1NOTICE"));
	free(n);
}

/* Every line of the report part of n at most 998 characters. */
static size_t
longest_line(const char *n)
{
	const char	*end = strstr(n, "Content-Type: message/rfc822");
	size_t		 len, max = 0;

	if (end == NULL)
		end = n + strlen(n);
	while (n < end) {
		len = strcspn(n, "\n");
		if (len > max)
			max = len;
		n += len + 1;
	}
	return max;
}

static void
test_long_reply_folded(void **state)
{
	struct bounce_notice		 b;
	struct queue_envelope		 env;
	const struct queue_outcome	*last[3];
	struct queue_outcome		 words, word;
	int				 idx[3];
	char				*n, *p, *q;
	size_t				 i;

	(void)state;
	notice_init(&b, &env, last, idx);
	/* A reason of 1000 characters (QUEUE_TEXT_MAX), in words. */
	words = rec_bob;
	strcpy(words.host, "mx.remote.test");
	for (i = 0; i < QUEUE_TEXT_MAX; i++)
		words.text[i] = i % 5 == 4 ? ' ' : 'a' + (char)(i % 5);
	words.text[QUEUE_TEXT_MAX] = '\0';
	last[0] = &words;
	n = compose(&b);
	assert_true(longest_line(n) <= 998);	/* RFC 5322 2.1.1 */
	/* Unfolded, the field is the reply. */
	p = strstr(n, "\nDiagnostic-Code: smtp; ");
	assert_non_null(p);
	p += strlen("\nDiagnostic-Code: smtp; ");
	for (i = 0; words.text[i] != '\0'; p++) {
		if (*p == '\n')
			continue;
		assert_int_equal(*p, words.text[i]);
		i++;
	}
	assert_int_equal(*p, '\n');
	free(n);

	/* One word of 1000 characters: broken, still no line too long. */
	word = words;
	memset(word.text, 'x', QUEUE_TEXT_MAX);
	word.host[0] = '\0';
	last[0] = &word;
	last[2] = &word;
	n = compose(&b);
	assert_true(longest_line(n) <= 998);	/* RFC 5322 2.1.1 */
	q = strstr(n, "Diagnostic-Code: X-Tern; ");
	assert_non_null(q);
	free(n);
}

static void
test_delay_success(void **state)
{
	struct bounce_notice		 b;
	struct queue_envelope		 env;
	const struct queue_outcome	*last[3];
	int				 idx[3];
	char				*n;

	(void)state;
	notice_init(&b, &env, last, idx);
	b.event = BOUNCE_DELAYED;
	n = compose(&b);
	assert_non_null(strstr(n, "Subject: Delayed Mail"));
	assert_non_null(strstr(n, "Action: delayed\nStatus: 4.4.7\n"));
	/* A 5.x.y code does not fit a delay: a generic one. */
	assert_non_null(strstr(n, "Action: delayed\nStatus: 4.0.0\n"));
	assert_non_null(strstr(n, "\nWill-Retry-Until: "));
	assert_non_null(strstr(n, "text/rfc822-headers"));
	free(n);

	b.event = BOUNCE_DELIVERED;
	idx[0] = 1;
	b.n = 1;
	n = compose(&b);
	assert_non_null(strstr(n, "Subject: Successful Mail Delivery Report"));
	assert_non_null(strstr(n, "Final-Recipient: rfc822; carol@example.com\n"
	    "Action: delivered\nStatus: 2.0.0\n"));
	assert_non_null(strstr(n, "<carol@example.com>: delivery successful"));
	assert_null(strstr(n, "bob@"));
	free(n);
}

static void
test_protocol(void **state)
{
	struct queue_envelope	 env;
	enum bounce_event	 ev;
	int			 idx[8], n;

	(void)state;
	assert_int_equal(bounce_rcpts_parse("0,2,7", 8, idx, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(idx[2], 7);
	assert_int_equal(bounce_rcpts_parse("0,2,8", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("2,1", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("1,1", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("01", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("1,", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse("-1", 8, idx, &n), -1);
	assert_int_equal(bounce_rcpts_parse(NULL, 8, idx, &n), -1);
	assert_int_equal(bounce_event_parse("delayed", &ev), 0);
	assert_int_equal(ev, BOUNCE_DELAYED);
	assert_int_equal(bounce_event_parse("expired", &ev), -1);
	memset(&env, 0, sizeof(env));
	env.sender = "a@b";
	env.client = "192.0.2.1";
	env.helo = BOUNCE_HELO_NOTICE;
	assert_int_equal(bounce_notice_kind(&env, BOUNCE_FAILED),
	    BOUNCE_KIND_SENDER);
	env.sender = "";
	/* <> from the network, even with our helo: nobody. */
	assert_int_equal(bounce_notice_kind(&env, BOUNCE_FAILED),
	    BOUNCE_KIND_NONE);
	env.client = BOUNCE_CLIENT;
	assert_int_equal(bounce_notice_kind(&env, BOUNCE_FAILED),
	    BOUNCE_KIND_2BOUNCE);
	assert_int_equal(bounce_notice_kind(&env, BOUNCE_DELAYED),
	    BOUNCE_KIND_NONE);
	env.helo = BOUNCE_HELO_2BOUNCE;
	assert_int_equal(bounce_notice_kind(&env, BOUNCE_FAILED),
	    BOUNCE_KIND_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_long_reply_folded),
		cmocka_unit_test(test_delay_success),
		cmocka_unit_test(test_protocol),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
