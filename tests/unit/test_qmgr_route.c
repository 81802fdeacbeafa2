/*
 * test_qmgr_route - qmgr's routing and destination queues: every recipient
 * gets a transport and next hop (local domains and bare local parts to
 * "local", bad syntax and remote domains to the internal "error" transport
 * with today's status and text), and the destination queues keep FIFO
 * order per destination, take turns between destinations and free a
 * destination when it has nothing queued or out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qmgr/qmgr.h"

static struct tern_config cf;

static int
setup(void **state)
{
	static const char text[] =
	    "myhostname = Mail.Example.ORG\n"
	    "mydestination = localhost, $myhostname, other.example\n";

	(void)state;
	memset(&cf, 0, sizeof(cf));
	return config_parse("test", text, strlen(text), &cf);
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&cf);
	return 0;
}

static void
expect_route(const char *rcpt, const char *transport, const char *nexthop)
{
	struct qmgr_route r;

	qmgr_route(&cf, rcpt, &r);
	assert_string_equal(r.transport, transport);
	assert_string_equal(r.nexthop, nexthop);
}

static void
test_route_local(void **state)
{
	(void)state;
	/* Every local domain has one next hop, this host: one request carries
	 * all of a message's local recipients. */
	expect_route("alice@localhost", QMGR_TRANSPORT_LOCAL,
	    "mail.example.org");
	expect_route("alice@LocalHost", QMGR_TRANSPORT_LOCAL,
	    "mail.example.org");
	expect_route("bob@mail.example.org", QMGR_TRANSPORT_LOCAL,
	    "mail.example.org");
	expect_route("bob@other.example", QMGR_TRANSPORT_LOCAL,
	    "mail.example.org");
	/* RFC 5321: "postmaster" may stand alone; it is this host. */
	expect_route("postmaster", QMGR_TRANSPORT_LOCAL, "mail.example.org");
}

static void
test_route_error(void **state)
{
	struct qmgr_route r;

	(void)state;
	qmgr_route(&cf, "someone@example.net", &r);
	assert_string_equal(r.transport, QMGR_TRANSPORT_ERROR);
	assert_string_equal(r.nexthop, "");
	assert_string_equal(r.dsn, "5.1.2");
	assert_string_equal(r.text, "remote delivery not available yet");

	qmgr_route(&cf, "a b@localhost", &r);
	assert_string_equal(r.transport, QMGR_TRANSPORT_ERROR);
	assert_string_equal(r.dsn, "5.1.3");
	assert_non_null(strstr(r.text, "bad recipient address: "));

	qmgr_route(&cf, "user@", &r);
	assert_string_equal(r.transport, QMGR_TRANSPORT_ERROR);
	assert_string_equal(r.dsn, "5.1.3");
	assert_string_equal(r.text, "bad recipient address: bad domain");
}

static struct qmgr_entry *
entry(struct qmgr_dest *d)
{
	struct qmgr_entry *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->dest = d;
	return e;
}

static void
test_dest_queues(void **state)
{
	struct qmgr		 q;
	struct qmgr_transport	 t;
	struct qmgr_dest	*a, *b;
	struct qmgr_entry	*a1, *a2, *b1, *e;

	(void)state;
	memset(&q, 0, sizeof(q));
	memset(&t, 0, sizeof(t));
	TAILQ_INIT(&q.dests);
	a = qmgr_dest_get(&q, &t, "a.example");
	b = qmgr_dest_get(&q, &t, "b.example");
	assert_ptr_equal(qmgr_dest_get(&q, &t, "a.example"), a);
	assert_ptr_not_equal(a, b);
	a1 = entry(a);
	a2 = entry(a);
	b1 = entry(b);
	qmgr_dest_put(&q, a1);
	qmgr_dest_put(&q, a2);
	qmgr_dest_put(&q, b1);
	assert_int_equal(q.nwaiting, 3);

	/* Served a, then a goes behind b: destinations take turns. */
	assert_ptr_equal(TAILQ_FIRST(&q.dests), a);
	assert_ptr_equal(qmgr_dest_take(&q, a), a1);
	assert_ptr_equal(TAILQ_FIRST(&q.dests), b);
	assert_int_equal(a->busy, 1);
	assert_int_equal(q.nwaiting, 2);

	/* More of a1 to send: it keeps its place before a2. */
	qmgr_dest_back(&q, a1, 1);
	assert_int_equal(a->busy, 0);
	assert_ptr_equal(TAILQ_FIRST(&a->todo), a1);
	assert_ptr_equal(qmgr_dest_take(&q, a), a1);
	qmgr_dest_back(&q, a1, 0);
	assert_null(a1->dest);
	assert_ptr_equal(qmgr_dest_take(&q, a), a2);
	qmgr_dest_back(&q, a2, 0);

	/* a has nothing queued or out: gone.  b still waits. */
	TAILQ_FOREACH(e, &b->todo, link)
		assert_ptr_equal(e, b1);
	assert_ptr_equal(TAILQ_FIRST(&q.dests), b);
	assert_null(TAILQ_NEXT(b, link));

	/* A message freed while its entry waits takes it off the queue. */
	qmgr_dest_drop(&q, b1);
	assert_int_equal(q.nwaiting, 0);
	assert_true(TAILQ_EMPTY(&q.dests));
	free(a1);
	free(a2);
	free(b1);
	qmgr_dest_free_all(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_local),
		cmocka_unit_test(test_route_error),
		cmocka_unit_test(test_dest_queues),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
