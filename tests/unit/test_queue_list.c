/*
 * Unit tests for the queue listing (common/queue_list*.c) and the showq
 * protocol's codec (common/proto_showq.c): Postfix's mailq layout to the
 * byte (header, id marks, columns, delay reasons and their padding, the
 * total line), postqueue -j's JSON, the filters, reading a real queue file
 * with outcome records, and showq pages: a round trip, the cut of a
 * message too big for a frame, the cursor, and hostile pages refused.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto_showq.h"
#include "queue.h"
#include "queue_file.h"
#include "queue_list.h"
#include "queue_outcome.h"

#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
}

static struct queue_list_rcpt rc3[] = {
	{ "a@x.test", "connect to x.test: refused" },
	{ "b@x.test", "connect to x.test: refused" },
	{ "c@y.test", NULL },
};

static struct queue_list_msg
msg(enum queue_list_queue q, const char *id, long long size,
    const char *sender, struct queue_list_rcpt *r, int n)
{
	struct queue_list_msg m;

	memset(&m, 0, sizeof(m));
	m.queue = q;
	snprintf(m.id, sizeof(m.id), "%s", id);
	m.arrival = 1795767209;		/* Fri Nov 27 08:13:29 2026 UTC */
	m.size = size;
	m.sender = (char *)sender;
	m.rcpt = r;
	m.nrcpt = n;
	return m;
}

/* What fn prints, NUL-terminated (malloc'd). */
static char *
render(void (*fn)(FILE *, void *), void *arg)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
print_three(FILE *f, void *arg)
{
	struct queue_list_total tot = { 0, 0 };
	struct queue_list_msg a, b, c;

	(void)arg;
	a = msg(QL_DEFERRED, "1J17MH9LFOP00AHF0000", 1500, "alice@example.org",
	    rc3, 3);
	b = msg(QL_ACTIVE, "ABC", 700, "", rc3 + 2, 1);
	c = msg(QL_MAILDROP, "DEF", 300, NULL, NULL, 0);
	c.uid = 1001;
	queue_list_text_msg(f, &a, &tot);
	b.queue = QL_HOLD;
	queue_list_text_msg(f, &b, &tot);
	queue_list_text_msg(f, &c, &tot);
	queue_list_text_end(f, &tot);
}

static void
test_text_layout(void **state)
{
	char	*out;

	(void)state;
	out = render(print_three, NULL);
	assert_string_equal(out,
	    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
	    "1J17MH9LFOP00AHF0000    1500 Fri Nov 27 08:13:29  alice@example.org\n"
	    "                                                  (connect to x.test: refused)\n"
	    "                                         a@x.test\n"
	    "                                         b@x.test\n"
	    "                                                          (reason unavailable)\n"
	    "                                         c@y.test\n"
	    "\n"
	    "ABC!            700 Fri Nov 27 08:13:29  MAILER-DAEMON\n"
	    "                                         c@y.test\n"
	    "\n"
	    "DEF             300 Fri Nov 27 08:13:29  (maildrop queue, sender UID 1001)\n"
	    "\n"
	    "-- 2 Kbytes in 3 Requests.\n");
	free(out);
}

static void
print_active_long_reason(FILE *f, void *arg)
{
	struct queue_list_total tot = { 0, 0 };
	struct queue_list_rcpt r = { "z@z.test", (char *)arg };
	struct queue_list_msg m = msg(QL_ACTIVE, "0123456789", 10, "s@t", &r, 1);

	queue_list_text_msg(f, &m, &tot);
	queue_list_text_end(f, &tot);
}

static void
print_nothing(FILE *f, void *arg)
{
	struct queue_list_total tot = { 0, 0 };

	(void)arg;
	queue_list_text_end(f, &tot);
}

static void
test_text_edges(void **state)
{
	char	 reason[101], *out;

	(void)state;
	out = render(print_nothing, NULL);
	assert_string_equal(out, "Mail queue is empty\n");
	free(out);
	memset(reason, 'r', 100);
	reason[100] = '\0';
	out = render(print_active_long_reason, reason);
	/* A short id keeps the columns; a long reason starts at column 0. */
	assert_non_null(strstr(out, "\n0123456789*      10 Fri Nov 27 08:13:29  s@t\n("));
	assert_non_null(strstr(out, "r)\n                                         z@z.test\n\n"
	    "-- 0 Kbytes in 1 Request.\n"));
	free(out);
}

/* A delay reason is the next MTA's text and an SMTPUTF8 address any
 * UTF-8: neither may reach the terminal as a C1 control (CSI, raw 0x9b or
 * U+009B) or as bytes that are not UTF-8; other UTF-8 stays. */
static void
print_hostile_text(FILE *f, void *arg)
{
	struct queue_list_total tot = { 0, 0 };
	struct queue_list_rcpt r = { "\xc2\x9b" "2J@x.test",
	    "450 \x9b" "31m raw CSI, \xc2\x9b" "1m UTF-8 CSI, \xff, caf\xc3\xa9" };
	struct queue_list_msg m = msg(QL_DEFERRED, "0123456789", 10,
	    "\xc2\x85\x1b]0;t\x07@y.test", &r, 1);

	(void)arg;
	queue_list_text_msg(f, &m, &tot);
}

static void
test_text_terminal_safe(void **state)
{
	char	*out;

	(void)state;
	out = render(print_hostile_text, NULL);
	assert_null(strchr(out, '\x9b'));
	assert_null(strchr(out, '\x85'));
	assert_null(strchr(out, '\x1b'));
	assert_null(strchr(out, '\x07'));
	assert_null(strchr(out, '\xff'));
	assert_non_null(strstr(out, "  ??]0;t?@y.test\n"));
	assert_non_null(strstr(out, "(450 ?31m raw CSI, ?1m UTF-8 CSI, ?, "
	    "caf\xc3\xa9)\n"));
	assert_non_null(strstr(out, "  ?2J@x.test\n"));
	free(out);
}

static void
print_json(FILE *f, void *arg)
{
	struct queue_list_rcpt r[2] = {
		{ "a@x.test", "said: \"no\"\\ \x01" }, { "b@x.test", NULL }
	};
	struct queue_list_msg m = msg(QL_DEFERRED, "ABC", 42, "q\"s@x", r, 2);

	(void)arg;
	queue_list_json_msg(f, &m);
	m = msg(QL_MAILDROP, "DEF", 7, NULL, NULL, 0);
	queue_list_json_msg(f, &m);
}

static void
test_json(void **state)
{
	char	*out;

	(void)state;
	out = render(print_json, NULL);
	assert_string_equal(out,
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"ABC\", "
	    "\"arrival_time\": 1795767209, \"message_size\": 42, "
	    "\"forced_expire\": false, \"sender\": \"q\\\"s@x\", "
	    "\"recipients\": [{\"address\": \"a@x.test\", \"delay_reason\": "
	    "\"said: \\\"no\\\"\\\\ \\u0001\"}, {\"address\": \"b@x.test\"}]}\n"
	    "{\"queue_name\": \"maildrop\", \"queue_id\": \"DEF\", "
	    "\"arrival_time\": 1795767209, \"message_size\": 7, "
	    "\"forced_expire\": false, \"sender\": \"\", \"recipients\": []}\n");
	free(out);
}

static void
print_utf8(FILE *f, void *arg)
{
	queue_list_json_string(f, arg);
}

static void
test_json_utf8(void **state)
{
	static const char *const cases[][2] = {
		{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "\"j\xc3\xb6rg@b\xc3\xbc" "cher.example\"" },
		{ "\xe2\x82\xac \xf0\x9f\x93\xa7", "\"\xe2\x82\xac \xf0\x9f\x93\xa7\"" },
		{ "a\xff" "b", "\"a\\ufffdb\"" },		/* not UTF-8 */
		{ "\xc3", "\"\\ufffd\"" },			/* cut short */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },	/* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* surrogate */
	};
	char	*out;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = render(print_utf8, (void *)cases[i][0]);
		assert_string_equal(out, cases[i][1]);
		free(out);
	}
}

static void
test_filters(void **state)
{
	struct queue_list_filter f;
	struct queue_list_msg m;

	(void)state;
	m = msg(QL_DEFERRED, "ABC", 1, "Alice@Example.org", rc3, 3);
	memset(&f, 0, sizeof(f));
	assert_true(queue_list_match(&f, &m));
	f.sender = "alice@example";
	assert_true(queue_list_match(&f, &m));
	f.rcpt = "@Y.test";
	assert_true(queue_list_match(&f, &m));
	f.rcpt = "@z.test";
	assert_false(queue_list_match(&f, &m));
	f.rcpt = NULL;
	f.queues = 1u << QL_HOLD;
	assert_false(queue_list_match(&f, &m));
	f.queues |= 1u << QL_DEFERRED;
	assert_true(queue_list_match(&f, &m));
	f.now = m.arrival + 3600;
	f.min_age = 3600;
	assert_true(queue_list_match(&f, &m));
	f.min_age = 3601;
	assert_false(queue_list_match(&f, &m));
	f.min_age = 0;
	f.sender = "bob";
	assert_false(queue_list_match(&f, &m));
	m.sender = NULL;	/* maildrop: no sender to match */
	f.sender = "a";
	assert_false(queue_list_match(&f, &m));
	assert_int_equal(queue_list_queue_parse("hold"), QL_HOLD);
	assert_int_equal(queue_list_queue_parse("corrupt"), -1);
}

/* A version 2 queue file in deferred/: three recipients, the second
 * delivered, the first with two outcome records (the latest counts). */
static void
write_deferred(const char *id)
{
	struct queue_envelope env;
	struct queue_rcpt r[3];
	struct queue_outcome o;
	char	*head, line[QUEUE_OUTCOME_MAX];
	size_t	 hlen;
	int	 fd, n;
	const char body[] = "Subject: x\n\nhi\n";

	memset(&env, 0, sizeof(env));
	memset(r, 0, sizeof(r));
	env.version = 2;
	snprintf(env.id, sizeof(env.id), "%s", id);
	env.arrival = 1795767209;
	env.sender = "s@x.test";
	env.client = "local";
	env.helo = "-";
	env.nrcpt = 3;
	env.rcpt = r;
	r[0].addr = "a@x.test";
	r[0].status = RCPT_PENDING;
	r[1].addr = "b@x.test";
	r[1].status = RCPT_DELIVERED;
	r[2].addr = "c@x.test";
	r[2].status = RCPT_PENDING;
	env.data_len = sizeof(body) - 1;
	assert_non_null(head = queue_envelope_format(&env, &hlen));
	fd = put_file(QDIR_DEFERRED, id, head, hlen);
	assert_int_equal(write(fd, body, sizeof(body) - 1), sizeof(body) - 1);
	memset(&o, 0, sizeof(o));
	o.rcpt = 0;
	o.action = OUTCOME_DELAYED;
	o.time = 1795767300;
	snprintf(o.code, sizeof(o.code), "4.4.1");
	snprintf(o.text, sizeof(o.text), "first try");
	assert_true((n = queue_outcome_format(&o, line, sizeof(line))) > 0);
	assert_int_equal(write(fd, line, n), n);
	snprintf(o.text, sizeof(o.text), "second try");
	assert_true((n = queue_outcome_format(&o, line, sizeof(line))) > 0);
	assert_int_equal(write(fd, line, n), n);
	close(fd);
	free(head);
}

struct seen {
	int	 n;
	char	 ids[8][QUEUE_ID_SIZE];
};

static int
see(const struct queue_list_msg *m, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->ids[s->n], QUEUE_ID_SIZE, "%s", m->id);
	s->n++;
	return 0;
}

static void
test_load_and_scan(void **state)
{
	struct queue_list_msg m;
	struct seen	 s;
	enum queue_list_queue nq;
	char		 nid[QUEUE_ID_SIZE];

	(void)state;
	write_deferred("AAA");
	write_deferred("BBB");
	close(put_file(QDIR_DEFERRED, "CCC", "garbage\n", 8));	/* skipped */
	assert_int_equal(queue_list_load(QL_DEFERRED, "AAA", &m), 0);
	assert_string_equal(m.sender, "s@x.test");
	assert_int_equal(m.size, 15);
	assert_int_equal(m.nrcpt, 2);
	assert_string_equal(m.rcpt[0].addr, "a@x.test");
	assert_string_equal(m.rcpt[0].reason, "second try");
	assert_string_equal(m.rcpt[1].addr, "c@x.test");
	assert_null(m.rcpt[1].reason);
	queue_list_msg_free(&m);
	assert_int_equal(queue_list_load(QL_HOLD, "AAA", &m), -1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(queue_list_scan(see, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[0], "AAA");
	assert_string_equal(s.ids[1], "BBB");
	/* Pages of one: the cursor goes on after the last listed. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(queue_list_scan_from(QL_INCOMING, NULL, 1, see, &s,
	    &nq, nid), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(nq, QL_DEFERRED);
	assert_string_equal(nid, "AAA");
	assert_int_equal(queue_list_scan_from(nq, nid, 1, see, &s, &nq, nid),
	    0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.ids[1], "BBB");
	assert_int_equal(queue_list_scan_from(nq, nid, 1, see, &s, &nq, nid),
	    0);
	assert_int_equal(s.n, 2);
	assert_int_equal(nq, QL_COUNT);
}

/* Decoded messages, copied out. */
struct got {
	int		 n;
	struct queue_list_msg m[4];
	char		*addr[4][4], *why[4][4];
};

static int
got_one(const struct queue_list_msg *m, void *arg)
{
	struct got	*g = arg;
	int		 i;

	assert_true(g->n < 4);
	g->m[g->n] = *m;
	g->m[g->n].sender = m->sender ? strdup(m->sender) : NULL;
	g->m[g->n].rcpt = NULL;
	for (i = 0; i < m->nrcpt && i < 4; i++) {
		g->addr[g->n][i] = strdup(m->rcpt[i].addr);
		g->why[g->n][i] = m->rcpt[i].reason ?
		    strdup(m->rcpt[i].reason) : NULL;
	}
	g->n++;
	return 0;
}

static void
got_free(struct got *g)
{
	int	 i, j;

	for (i = 0; i < g->n; i++) {
		free(g->m[i].sender);
		for (j = 0; j < 4; j++) {
			free(g->addr[i][j]);
			free(g->why[i][j]);
		}
	}
	memset(g, 0, sizeof(*g));
}

/* Encode and decode, as over the socket. */
static void
wire(const struct ipc_msg *in, struct ipc_msg *out)
{
	char	*frame;
	size_t	 len;

	assert_int_equal(ipc_encode(in, &frame, &len), 0);
	assert_int_equal(ipc_decode(frame, len, out), 0);
	free(frame);
}

static void
test_page_round_trip(void **state)
{
	struct showq_page p;
	struct queue_list_msg a, b;
	struct ipc_msg	 w;
	struct got	 g;
	enum queue_list_queue nq;
	const char	*err;
	char		 nid[QUEUE_ID_SIZE];

	(void)state;
	memset(&g, 0, sizeof(g));
	showq_page_init(&p);
	a = msg(QL_DEFERRED, "AAA", 1500, "", rc3, 3);
	b = msg(QL_MAILDROP, "BBB", 30, NULL, NULL, 0);
	b.uid = 1234;
	assert_int_equal(showq_page_add(&p, &a), 0);
	assert_int_equal(showq_page_add(&p, &b), 0);
	assert_int_equal(showq_page_next(&p, QL_MAILDROP, "BBB"), 0);
	wire(&p.msg, &w);
	assert_int_equal(showq_page_decode(&w, got_one, &g, &nq, nid, &err), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.m[0].queue, QL_DEFERRED);
	assert_string_equal(g.m[0].id, "AAA");
	assert_int_equal(g.m[0].arrival, 1795767209);
	assert_int_equal(g.m[0].size, 1500);
	assert_string_equal(g.m[0].sender, "");
	assert_int_equal(g.m[0].nrcpt, 3);
	assert_string_equal(g.addr[0][2], "c@y.test");
	assert_string_equal(g.why[0][1], "connect to x.test: refused");
	assert_null(g.why[0][2]);
	assert_int_equal(g.m[1].queue, QL_MAILDROP);
	assert_null(g.m[1].sender);
	assert_int_equal(g.m[1].uid, 1234);
	assert_int_equal(nq, QL_MAILDROP);
	assert_string_equal(nid, "BBB");
	got_free(&g);
	ipc_msg_free(&w);
	ipc_msg_free(&p.msg);
}

static void
test_page_limits(void **state)
{
	struct showq_page p;
	struct queue_list_rcpt *many;
	struct queue_list_msg a;
	struct ipc_msg	 w;
	struct got	 g;
	enum queue_list_queue nq;
	const char	*err;
	char		 nid[QUEUE_ID_SIZE], reason[QUEUE_TEXT_MAX + 1];
	int		 i, n = 600;

	(void)state;
	memset(&g, 0, sizeof(g));
	memset(reason, 'x', QUEUE_TEXT_MAX);
	reason[QUEUE_TEXT_MAX] = '\0';
	assert_non_null(many = calloc(n, sizeof(*many)));
	for (i = 0; i < n; i++) {
		many[i].addr = "someone@example.test";
		many[i].reason = reason;
	}
	/* Too big for a frame: alone on a page, with recipients cut. */
	a = msg(QL_DEFERRED, "AAA", 1, "s@x", many, n);
	showq_page_init(&p);
	assert_int_equal(showq_page_add(&p, &a), 0);
	assert_int_equal(showq_page_add(&p, &a), 1);	/* page full */
	wire(&p.msg, &w);
	assert_int_equal(showq_page_decode(&w, got_one, &g, &nq, nid, &err), 0);
	assert_int_equal(g.n, 1);
	assert_true(g.m[0].nrcpt > 100 && g.m[0].nrcpt < n);
	assert_int_equal(g.m[0].nrcpt + g.m[0].rcpt_cut, n);
	assert_int_equal(nq, QL_COUNT);
	got_free(&g);
	ipc_msg_free(&w);
	ipc_msg_free(&p.msg);
	free(many);
}

/* A page built by hand from name/value pairs. */
static int
decode_pairs(const char *const *kv, const char **err)
{
	struct ipc_msg	 m;
	struct got	 g;
	enum queue_list_queue nq;
	char		 nid[QUEUE_ID_SIZE];
	int		 rc;

	memset(&g, 0, sizeof(g));
	ipc_msg_init(&m, SHOWQ_T_PAGE);
	for (; kv[0] != NULL; kv += 2)
		assert_int_equal(ipc_msg_add(&m, kv[0], kv[1]), 0);
	rc = showq_page_decode(&m, got_one, &g, &nq, nid, err);
	got_free(&g);
	ipc_msg_free(&m);
	return rc;
}

static void
test_page_hostile(void **state)
{
#define MSG	"queue", "deferred", "id", "AAA", "time", "1", "size", "2"
	static const char *const good[] = { "v", "1", MSG, "sender", "s",
	    "rcpt", "r@x", "reason", "why", NULL };
	static const char *const bad[][24] = {
		{ "v", "2", MSG, "sender", "s", NULL },
		{ "v", "1", "queue", "corrupt", "id", "AAA", NULL },
		{ "v", "1", "queue", "hold", "id", "a-b", NULL },
		{ "v", "1", MSG, NULL },				/* no sender */
		{ "v", "1", MSG, "sender", "s", "time", "3", NULL },	/* twice */
		{ "v", "1", MSG, "sender", "s\x1b[2J", NULL },		/* escape */
		{ "v", "1", MSG, "sender", "s", "reason", "r", NULL },	/* no rcpt */
		{ "v", "1", MSG, "sender", "s", "rcpt", "a", "reason", "r",
		    "reason", "r", NULL },
		{ "v", "1", "queue", "deferred", "id", "AAA", "time", "-1",
		    "size", "2", "sender", "s", NULL },
		{ "v", "1", "queue", "deferred", "id", "AAA", "time", "1x",
		    "size", "2", "sender", "s", NULL },
		{ "v", "1", "queue", "maildrop", "id", "AAA", "time", "1",
		    "size", "2", "uid", "7", "rcpt", "a", NULL },
		{ "v", "1", "queue", "maildrop", "id", "AAA", "time", "1",
		    "size", "2", "sender", "s", NULL },
		{ "v", "1", "next.queue", "hold", NULL },
		{ "v", "1", "next.queue", "hold", "next.id", "../x", NULL },
	};
	const char	*err;
	size_t		 i;

	(void)state;
	assert_int_equal(decode_pairs(good, &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(decode_pairs(bad[i], &err), -1);
		assert_non_null(err);
	}
#undef MSG
}

static void
test_list_check(void **state)
{
	struct ipc_msg	 m;
	enum queue_list_queue q;
	const char	*err;
	char		 after[QUEUE_ID_SIZE];

	(void)state;
	ipc_msg_init(&m, SHOWQ_T_LIST);
	assert_int_equal(showq_list_check(&m, &q, after, &err), -1);
	assert_int_equal(ipc_msg_add_int(&m, "v", PROTO_SHOWQ_VERSION), 0);
	assert_int_equal(showq_list_check(&m, &q, after, &err), 0);
	assert_int_equal(q, QL_INCOMING);
	assert_string_equal(after, "");
	assert_int_equal(ipc_msg_add(&m, "queue", "hold"), 0);
	assert_int_equal(showq_list_check(&m, &q, after, &err), -1);
	assert_int_equal(ipc_msg_add(&m, "after", "XYZ"), 0);
	assert_int_equal(showq_list_check(&m, &q, after, &err), 0);
	assert_int_equal(q, QL_HOLD);
	assert_string_equal(after, "XYZ");
	ipc_msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_layout),
		cmocka_unit_test(test_text_terminal_safe),
		cmocka_unit_test(test_text_edges),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_utf8),
		cmocka_unit_test(test_filters),
		cmocka_unit_test_setup_teardown(test_load_and_scan, setup_dir,
		    teardown_dir),
		cmocka_unit_test(test_page_round_trip),
		cmocka_unit_test(test_page_limits),
		cmocka_unit_test(test_page_hostile),
		cmocka_unit_test(test_list_check),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
