/*
 * test_qmgr_route - qmgr's routing and scheduling: every recipient gets a
 * transport and next hop (local domains and bare local parts to "local",
 * bad syntax to the internal "error" transport, remote domains through
 * transport_maps - every transport(5) form, ".parent" and "*" keys - then
 * relayhost, then "smtp" to the domain, in that order of precedence); the
 * destination queues keep FIFO order per destination, take turns between
 * destinations and free a destination when it has nothing queued or out;
 * the dispatcher passes over a destination at its limit (fairness: a slow
 * destination's backlog neither blocks the others' entries nor the loading
 * of more mail), and destinations die after repeated connection failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmgr/qmgr.h"

static struct tern_config cf;
static struct qmgr_params cfpar;

/* Parse text as qmgr does: the global keys and qmgr's own. */
static int
parse_qmgr(const char *text, struct tern_config *c, struct qmgr_params *par)
{
	const struct config_part part[] = {
		{ &qmgr_params_table, par },
	};

	memset(c, 0, sizeof(*c));
	memset(par, 0, sizeof(*par));
	return config_parse_parts("test", text, strlen(text), c, part, 1, 0);
}

static int
setup(void **state)
{
	static const char text[] =
	    "myhostname = Mail.Example.ORG\n"
	    "mydestination = localhost, $myhostname, other.example\n";

	(void)state;
	return parse_qmgr(text, &cf, &cfpar);
}

static int
teardown(void **state)
{
	(void)state;
	config_free(&cf);
	config_free_part(&qmgr_params_table, &cfpar);
	return 0;
}

static void
expect_route(const char *rcpt, const char *transport, const char *nexthop)
{
	struct qmgr_route r;

	qmgr_route(&cf, &cfpar, NULL, rcpt, &r);
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
	qmgr_route(&cf, &cfpar, NULL, "a b@localhost", &r);
	assert_string_equal(r.transport, QMGR_TRANSPORT_ERROR);
	assert_string_equal(r.dsn, "5.1.3");
	assert_non_null(strstr(r.text, "bad recipient address: "));

	qmgr_route(&cf, &cfpar, NULL, "user@", &r);
	assert_string_equal(r.transport, QMGR_TRANSPORT_ERROR);
	assert_string_equal(r.dsn, "5.1.3");
	assert_string_equal(r.text, "bad recipient address: bad domain");
}

static void
test_route_remote_default(void **state)
{
	(void)state;
	/* No transport_maps, no relayhost: the SMTP client, MX of the
	 * domain; an address literal is its own next hop. */
	expect_route("someone@Example.NET", QMGR_TRANSPORT_SMTP, "example.net");
	expect_route("someone@[192.0.2.1]", QMGR_TRANSPORT_SMTP,
	    "[192.0.2.1]");
}

static void
route_with(const char *conf, struct map_list *maps, const char *rcpt,
    struct qmgr_route *r)
{
	struct tern_config	 c;
	struct qmgr_params	 par;

	assert_int_equal(parse_qmgr(conf, &c, &par), 0);
	qmgr_route(&c, &par, maps, rcpt, r);
	config_free(&c);
	config_free_part(&qmgr_params_table, &par);
}

static void
test_route_relayhost(void **state)
{
	static const char base[] = "myhostname = mail.example.org\n";
	struct qmgr_route	 r;
	char			 conf[256];
	static const struct {
		const char *relayhost, *nexthop;
	} forms[] = {
		{ "[Relay.Example]:2525", "[relay.example]:2525" },
		{ "[relay.example]", "[relay.example]" },
		{ "relay.example", "relay.example" },
		{ "relay.example:587", "relay.example:587" },
		{ "[192.0.2.7]:25", "[192.0.2.7]:25" },
		{ "[IPv6:2001:db8::1]:25", "[ipv6:2001:db8::1]:25" },
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(conf, sizeof(conf), "%srelayhost = %s\n", base,
		    forms[i].relayhost);
		route_with(conf, NULL, "u@elsewhere.example", &r);
		assert_string_equal(r.transport, QMGR_TRANSPORT_SMTP);
		assert_string_equal(r.nexthop, forms[i].nexthop);
		/* Never for local mail. */
		route_with(conf, NULL, "u@mail.example.org", &r);
		assert_string_equal(r.transport, QMGR_TRANSPORT_LOCAL);
	}
}

static struct map_list	 maps;
static char		 map_path[64];

static void
maps_open(const char *text)
{
	char	 spec[96], err[MAP_ERR_MAX], *specs[1] = { spec };
	FILE	*f;
	int	 fd;

	strcpy(map_path, "/tmp/test_qmgr_route.XXXXXX");
	fd = mkstemp(map_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	snprintf(spec, sizeof(spec), "texthash:%s", map_path);
	assert_int_equal(map_list_open(&maps, specs, 1, err, sizeof(err)), 0);
}

static void
maps_close(void)
{
	map_list_close(&maps);
	unlink(map_path);
}

static void
expect_mapped(const char *conf, const char *rcpt, const char *transport,
    const char *nexthop, const char *dsn, const char *text)
{
	struct qmgr_route r;

	route_with(conf, &maps, rcpt, &r);
	if (strcmp(r.transport, transport) != 0 ||
	    strcmp(r.nexthop, nexthop) != 0 ||
	    (dsn != NULL && strcmp(r.dsn, dsn) != 0) ||
	    (text != NULL && strcmp(r.text, text) != 0))
		fail_msg("%s: got %s:%s (%s %s)", rcpt, r.transport, r.nexthop,
		    r.dsn, r.text);
}

static void
test_route_transport_maps(void **state)
{
	static const char conf[] =
	    "myhostname = mail.example.org\n"
	    "mydestination = localhost, $myhostname\n"
	    "relayhost = [smarthost.example]:25\n";
	static const char nomatch[] = "myhostname = mail.example.org\n";

	(void)state;
	maps_open(
	    "exact.example      smtp:[MX.exact.example]:2525\n"
	    "mx.example         smtp:mx.other.example\n"
	    "keep.example       smtp:\n"
	    "default.example    :[default-hop.example]\n"
	    ".sub.example       smtp:[sub-hop.example]\n"
	    "deep.sub.example   smtp:[deep-hop.example]\n"
	    "local.example      local:\n"
	    "bad.example        error:5.1.1 no such domain here\n"
	    "tmp.example        error:4.7.1 try later\n"
	    "plain.example      error:go away\n"
	    "notstatus.example  error:5.1 is not a status\n"
	    "retry.example      retry:4.3.2 not now\n"
	    "hole.example       discard:into the void\n"
	    "hole2.example      discard:\n"
	    "lmtp.example       lmtp:[lmtp.example]:24\n"
	    "sock.example       lmtp:unix:/run/Dovecot/LMTP\n"
	    "inet.example       lmtp:inet:LocalHost:24\n"
	    "other-t.example    relay:[hop.example]\n"
	    "badname.example    Bad!Name:x\n"
	    "badhop.example     smtp:a\x7f" "b\n"
	    "localhost          smtp:[stolen.example]\n"
	    "[192.0.2.9]        smtp:[literal-hop.example]\n");
	expect_mapped(conf, "u@exact.example", "smtp",
	    "[mx.exact.example]:2525", NULL, NULL);
	expect_mapped(conf, "u@mx.example", "smtp", "mx.other.example", NULL,
	    NULL);
	/* "smtp:" keeps the domain as the next hop (MX lookup), not the
	 * relayhost: transport_maps wins over relayhost. */
	expect_mapped(conf, "u@Keep.Example", "smtp", "keep.example", NULL,
	    NULL);
	expect_mapped(conf, "u@default.example", "smtp",
	    "[default-hop.example]", NULL, NULL);
	/* ".sub.example" covers its subdomains, not itself; the exact key
	 * comes first, then the nearest parent. */
	expect_mapped(conf, "u@a.sub.example", "smtp", "[sub-hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@x.y.sub.example", "smtp", "[sub-hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@deep.sub.example", "smtp", "[deep-hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@a.deep.sub.example", "smtp", "[sub-hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@sub.example", "smtp", "[smarthost.example]:25",
	    NULL, NULL);
	expect_mapped(conf, "u@local.example", "local", "mail.example.org",
	    NULL, NULL);
	expect_mapped(conf, "u@bad.example", "error", "", "5.1.1",
	    "no such domain here");
	expect_mapped(conf, "u@tmp.example", "error", "", "4.7.1", "try later");
	expect_mapped(conf, "u@plain.example", "error", "", "5.0.0", "go away");
	expect_mapped(conf, "u@notstatus.example", "error", "", "5.0.0",
	    "5.1 is not a status");
	expect_mapped(conf, "u@retry.example", "retry", "", "4.3.2", "not now");
	expect_mapped(conf, "u@hole.example", "discard", "", NULL,
	    "into the void");
	expect_mapped(conf, "u@hole2.example", "discard", "", NULL,
	    "discarded");
	expect_mapped(conf, "u@lmtp.example", "lmtp", "[lmtp.example]:24",
	    NULL, NULL);
	/* A socket's path keeps its case; a host name does not. */
	expect_mapped(conf, "u@sock.example", "lmtp",
	    "unix:/run/Dovecot/LMTP", NULL, NULL);
	expect_mapped(conf, "u@inet.example", "lmtp", "inet:localhost:24",
	    NULL, NULL);
	/* A transport qmgr does not know is routed; the message code
	 * defers it. */
	expect_mapped(conf, "u@other-t.example", "relay", "[hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@badname.example", "retry", "", "4.3.5", NULL);
	expect_mapped(conf, "u@badhop.example", "retry", "", "4.3.5", NULL);
	/* Local domains stay local whatever the map says. */
	expect_mapped(conf, "u@localhost", "local", "mail.example.org", NULL,
	    NULL);
	expect_mapped(conf, "postmaster", "local", "mail.example.org", NULL,
	    NULL);
	/* A literal is looked up as itself, never by parents. */
	expect_mapped(conf, "u@[192.0.2.9]", "smtp", "[literal-hop.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@[192.0.2.10]", "smtp", "[smarthost.example]:25",
	    NULL, NULL);
	/* No entry: relayhost, or else the domain. */
	expect_mapped(conf, "u@other.example", "smtp", "[smarthost.example]:25",
	    NULL, NULL);
	expect_mapped(nomatch, "u@other.example", "smtp", "other.example",
	    NULL, NULL);
	maps_close();

	/* "*" matches what nothing else did. */
	maps_open("*  smtp:[catchall.example]\nx.example smtp:\n");
	expect_mapped(conf, "u@other.example", "smtp", "[catchall.example]",
	    NULL, NULL);
	expect_mapped(conf, "u@x.example", "smtp", "x.example", NULL, NULL);
	maps_close();
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
	qmgr_dest_init(&q);
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

static void
fake_transport(struct qmgr *q, struct qmgr_transport *t, const char *name,
    int concurrency, int dest_limit)
{
	memset(t, 0, sizeof(*t));
	t->q = q;
	strcpy(t->name, name);
	t->concurrency = concurrency;
	t->dest_limit = dest_limit;
	t->may_die = 1;
	TAILQ_INIT(&t->conns);
}

/* Two destinations, one slow (all its slots busy, a long backlog): the
 * other's entries still go out, and more mail may be loaded. */
static void
test_dispatch_fairness(void **state)
{
	struct qmgr		 q;
	struct qmgr_transport	 t;
	struct qmgr_dest	*slow, *fast, *d;
	struct qmgr_entry	*e[QMGR_WAITING_HARD + 2];
	int			 i, dead, n = 0;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.cfg = &cf;
	q.par = &cfpar;
	qmgr_dest_init(&q);
	fake_transport(&q, &t, "smtp", 100, 2);
	slow = qmgr_dest_get(&q, &t, "slow.example");
	fast = qmgr_dest_get(&q, &t, "fast.example");
	for (i = 0; i < QMGR_WAITING_MAX + 10; i++) {
		e[n] = entry(slow);
		qmgr_dest_put(&q, e[n++]);
	}
	/* slow goes first while it has room... */
	assert_ptr_equal(qmgr_dispatch_pick(&q, 0, &dead), slow);
	assert_int_equal(dead, 0);
	assert_non_null(qmgr_dest_take(&q, slow));
	assert_non_null(qmgr_dest_take(&q, slow));
	/* ...then it is at its limit: nothing to send, and its backlog
	 * alone does not stop loading the next message. */
	assert_null(qmgr_dispatch_pick(&q, 0, &dead));
	assert_true(q.nwaiting >= QMGR_WAITING_MAX);
	assert_true(qmgr_dispatch_can_load(&q, 0));
	e[n] = entry(fast);
	qmgr_dest_put(&q, e[n++]);
	assert_ptr_equal(qmgr_dispatch_pick(&q, 0, &dead), fast);
	assert_ptr_equal(qmgr_dest_take(&q, fast), e[n - 1]);
	/* Entries that could go out do bound the loading. */
	slow->busy = 0;
	assert_false(qmgr_dispatch_can_load(&q, 0));
	slow->busy = 2;
	assert_true(qmgr_dispatch_can_load(&q, 0));
	/* ... and so do all waiting entries, at the hard limit. */
	q.nwaiting = QMGR_WAITING_HARD;
	assert_false(qmgr_dispatch_can_load(&q, 0));
	q.nwaiting = slow->ntodo;

	while ((d = TAILQ_FIRST(&q.dests)) != NULL) {
		while (!TAILQ_EMPTY(&d->todo))
			qmgr_dest_drop(&q, TAILQ_FIRST(&d->todo));
		TAILQ_REMOVE(&q.dests, d, link);
		free(d);
	}
	for (i = 0; i < n; i++)
		free(e[i]);
	qmgr_dest_free_all(&q);
}

static void
test_dead_destinations(void **state)
{
	struct qmgr		 q;
	struct qmgr_transport	 t, local;
	struct qmgr_dest	*a, *b, *l;
	struct qmgr_entry	*ea, *eb;
	int			 i, dead;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.cfg = &cf;
	q.par = &cfpar;
	qmgr_dest_init(&q);
	fake_transport(&q, &t, "smtp", 100, 20);
	fake_transport(&q, &local, "local", 4, 0);
	local.may_die = 0;
	a = qmgr_dest_get(&q, &t, "down.example");
	b = qmgr_dest_get(&q, &t, "up.example");
	l = qmgr_dest_get(&q, &local, "mail.example.org");
	/* Failures must come in a row. */
	for (i = 0; i < QMGR_DEAD_FAILS - 1; i++)
		assert_int_equal(qmgr_dest_result(&q, a, 1, 1000), 0);
	assert_int_equal(qmgr_dest_result(&q, a, 0, 1000), 0);
	for (i = 0; i < QMGR_DEAD_FAILS - 1; i++)
		assert_int_equal(qmgr_dest_result(&q, a, 1, 1000), 0);
	assert_false(qmgr_dest_dead(&q, a, 1000));
	assert_int_equal(qmgr_dest_result(&q, a, 1, 1000), 1);
	assert_true(qmgr_dest_dead(&q, a, 1000));
	assert_false(qmgr_dest_dead(&q, b, 1000));
	/* A transport that may not die (local) never does. */
	for (i = 0; i < QMGR_DEAD_FAILS; i++)
		assert_int_equal(qmgr_dest_result(&q, l, 1, 1000), 0);
	assert_false(qmgr_dest_dead(&q, l, 1000));

	/* The dead one's entries are picked to be deferred; the live one's
	 * to be sent. */
	ea = entry(a);
	eb = entry(b);
	qmgr_dest_put(&q, ea);
	qmgr_dest_put(&q, eb);
	assert_ptr_equal(qmgr_dispatch_pick(&q, 1000, &dead), a);
	assert_int_equal(dead, 1);
	qmgr_dest_drop(&q, ea);
	assert_ptr_equal(qmgr_dispatch_pick(&q, 1000, &dead), b);
	assert_int_equal(dead, 0);
	/* a went with its last entry; the next hop stays dead. */
	a = qmgr_dest_get(&q, &t, "down.example");
	/* Dead for minimal_backoff_time, then tried again. */
	assert_true(qmgr_dest_dead(&q, a, 1000 + cfpar.minimal_backoff_time - 1));
	assert_false(qmgr_dest_dead(&q, a, 1000 + cfpar.minimal_backoff_time));
	assert_int_equal(q.ndead, 0);
	/* The whole service, dead. */
	t.dead_until = 2000;
	assert_true(qmgr_dest_dead(&q, b, 1999));
	assert_false(qmgr_dest_dead(&q, b, 2000));
	qmgr_dest_drop(&q, eb);
	free(ea);
	free(eb);
	qmgr_dest_free_all(&q);	/* a, still made, and l */
}

/* qmgr_message_recipient_limit: no more loading while the loaded
 * messages hold that many recipients, unless none is loaded. */
static void
test_recipient_limit(void **state)
{
	struct qmgr		 q;
	struct qmgr_params	 small = cfpar;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.cfg = &cf;
	small.qmgr_message_recipient_limit = 100;
	q.par = &small;
	qmgr_dest_init(&q);
	assert_true(qmgr_dispatch_can_load(&q, 0));
	q.rcpt_loaded = 99;
	assert_true(qmgr_dispatch_can_load(&q, 0));
	q.rcpt_loaded = 100;
	assert_false(qmgr_dispatch_can_load(&q, 0));
	small.qmgr_message_recipient_limit = 1;	/* one message always */
	q.rcpt_loaded = 0;
	assert_true(qmgr_dispatch_can_load(&q, 0));
}

/* Many next hops: each is found again by name (per transport), and the
 * dead ones remembered are bounded by qmgr_message_recipient_limit, the
 * oldest forgotten first. */
static void
test_many_destinations(void **state)
{
	struct qmgr		 q;
	struct qmgr_params	 small = cfpar;
	struct qmgr_transport	 t, u;
	struct qmgr_dest	*d[2000], *x;
	char			 name[32];
	int			 i, k;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.cfg = &cf;
	small.qmgr_message_recipient_limit = 3;
	q.par = &small;
	qmgr_dest_init(&q);
	fake_transport(&q, &t, "smtp", 100, 20);
	fake_transport(&q, &u, "relay", 100, 20);
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		d[i] = qmgr_dest_get(&q, i % 2 ? &t : &u, name);
	}
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		assert_ptr_equal(qmgr_dest_get(&q, i % 2 ? &t : &u, name),
		    d[i]);
	}
	/* Same next hop, other transport: another destination. */
	x = qmgr_dest_get(&q, &t, "h0.example");
	assert_ptr_not_equal(x, d[0]);

	/* Five next hops die; three are remembered, the last three. */
	for (i = 1; i <= 9; i += 2)
		for (k = 0; k < QMGR_DEAD_FAILS; k++)
			(void)qmgr_dest_result(&q, d[i], 1, 1000);
	assert_int_equal(q.ndead, 3);
	assert_false(qmgr_dest_dead(&q, d[1], 1000));
	assert_false(qmgr_dest_dead(&q, d[3], 1000));
	assert_true(qmgr_dest_dead(&q, d[5], 1000));
	assert_true(qmgr_dest_dead(&q, d[7], 1000));
	assert_true(qmgr_dest_dead(&q, d[9], 1000));
	/* A success forgets a destination on its way to dying. */
	assert_int_equal(qmgr_dest_result(&q, d[11], 1, 1000), 0);
	assert_int_equal(q.ndead, 3);
	assert_int_equal(qmgr_dest_result(&q, d[11], 0, 1000), 0);
	assert_int_equal(q.ndead, 2);
	qmgr_dest_free_all(&q);
	assert_int_equal(q.ndead, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_local),
		cmocka_unit_test(test_route_error),
		cmocka_unit_test(test_route_remote_default),
		cmocka_unit_test(test_route_relayhost),
		cmocka_unit_test(test_route_transport_maps),
		cmocka_unit_test(test_dispatch_fairness),
		cmocka_unit_test(test_dead_destinations),
		cmocka_unit_test(test_dest_queues),
		cmocka_unit_test(test_many_destinations),
		cmocka_unit_test(test_recipient_limit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
