/*
 * resolver_lookup - one MX request as a small state machine over
 * libunbound's asynchronous interface.  Phase one asks for the domain's MX
 * records (or falls back to the implicit MX, RFC 5321 section 5.1); phase
 * two asks for the AAAA and A records of every host at once.  One timer
 * bounds the whole request: when it fires, whatever is still outstanding is
 * cancelled and counts as a temporary failure.  Queries are separate
 * objects because libunbound owns them until it answers or agrees to a
 * cancel: one it will not cancel is parked on the orphan list rather than
 * left pointing at a freed lookup.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "resolver.h"

#define DSN_TEMP	"4.4.3"	/* directory server failure */
#define DSN_NOTFOUND	"5.1.2"	/* bad destination system address */
#define DSN_NULLMX	"5.1.10" /* RFC 7505: null MX */
#define DSN_NOADDR	"5.4.4"	/* unable to route */

struct resolver_query {
	TAILQ_ENTRY(resolver_query) link;
	struct resolver		*r;
	struct resolver_lookup	*lk;		/* NULL once orphaned */
	int			 async_id;
	int			 rrtype;
	int			 host;		/* index in lk->mx, -1: MX */
};

enum lookup_phase { LOOKUP_MX, LOOKUP_ADDR };

enum lookup_answer { ANSWER_DATA, ANSWER_NODATA, ANSWER_NXDOMAIN, ANSWER_TEMP };

struct resolver_lookup {
	struct resolver		*r;
	unsigned long		 id;
	char			 domain[DNS_NAME_MAX + 1];
	enum lookup_phase	 phase;
	struct event		*timer;	/* the deadline; also fired early */
	TAILQ_HEAD(, resolver_query) queries;	/* outstanding */
	int			 implicit;
	int			 addr_temp;	/* an address query failed (temp) */
	int			 addr_nxdomain;
	int			 timed_out;
	char			 why[RESOLVER_TEXT_MAX];	/* first temp cause */
	/* An outcome decided before the address phase ends. */
	int			 decided;
	enum resolver_status	 status;
	const char		*dsn;
	char			 text[RESOLVER_TEXT_MAX];
	struct mx_set		 mx;
	resolver_lookup_cb	 cb;
	void			*arg;
};

static void	lookup_query_cb(void *, int, struct ub_result *);

static void
lookup_decide(struct resolver_lookup *lk, enum resolver_status st,
    const char *dsn, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
lookup_decide(struct resolver_lookup *lk, enum resolver_status st,
    const char *dsn, const char *fmt, ...)
{
	va_list	 ap;

	if (lk->decided)
		return;
	lk->decided = 1;
	lk->status = st;
	lk->dsn = dsn;
	va_start(ap, fmt);
	vsnprintf(lk->text, sizeof(lk->text), fmt, ap);
	va_end(ap);
}

static void
lookup_note_temp(struct resolver_lookup *lk, const char *why)
{
	if (lk->why[0] == '\0')
		snprintf(lk->why, sizeof(lk->why), "%s", why);
}

static enum lookup_answer
lookup_classify(int err, const struct ub_result *res, char *why, size_t len)
{
	char	 tmp[16];

	if (err != 0) {
		snprintf(why, len, "%s", ub_strerror(err));
		return ANSWER_TEMP;
	}
	if (res == NULL) {
		snprintf(why, len, "no result");
		return ANSWER_TEMP;
	}
	/* Without a trust anchor nothing is bogus yet; with DANE it will be,
	 * and a forged answer must never look like a real one. */
	if (res->bogus) {
		snprintf(why, len, "DNSSEC validation failure");
		return ANSWER_TEMP;
	}
	switch (res->rcode) {
	case DNS_RCODE_NOERROR:
		return res->havedata ? ANSWER_DATA : ANSWER_NODATA;
	case DNS_RCODE_NXDOMAIN:
		return ANSWER_NXDOMAIN;
	default:
		snprintf(why, len, "%s", dns_rcode_name(res->rcode, tmp,
		    sizeof(tmp)));
		return ANSWER_TEMP;
	}
}

static int
lookup_query(struct resolver_lookup *lk, int rrtype, int host,
    const char *name)
{
	struct resolver_query	*q;
	int			 err;

	q = xcalloc(1, sizeof(*q));
	q->r = lk->r;
	q->lk = lk;
	q->rrtype = rrtype;
	q->host = host;
	err = ub_resolve_async(lk->r->ub, name, rrtype, DNS_CLASS_IN, q,
	    lookup_query_cb, &q->async_id);
	if (err != 0) {
		log_warn("%s: cannot start DNS query: %s", name,
		    ub_strerror(err));
		lookup_note_temp(lk, ub_strerror(err));
		free(q);
		return -1;
	}
	TAILQ_INSERT_TAIL(&lk->queries, q, link);
	return 0;
}

static void
lookup_cancel_queries(struct resolver_lookup *lk)
{
	struct resolver_query	*q;

	while ((q = TAILQ_FIRST(&lk->queries)) != NULL) {
		TAILQ_REMOVE(&lk->queries, q, link);
		if (ub_cancel(lk->r->ub, q->async_id) == 0) {
			free(q);
			continue;
		}
		q->lk = NULL;
		TAILQ_INSERT_TAIL(&lk->r->orphans, q, link);
	}
}

static void
lookup_free(struct resolver_lookup *lk)
{
	lookup_cancel_queries(lk);
	event_free(lk->timer);
	free(lk);
}

/* The outcome once the address phase is over (or timed out). */
static void
lookup_conclude(struct resolver_lookup *lk)
{
	if (mx_set_count_reachable(&lk->mx) > 0)
		return;
	if (lk->addr_temp && lk->timed_out)
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
		    "DNS lookup timed out");
	else if (lk->addr_temp)
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
		    "DNS lookup of mail exchanger addresses failed: %s",
		    lk->why[0] != '\0' ? lk->why : "unknown error");
	else if (lk->implicit && lk->addr_nxdomain)
		lookup_decide(lk, RESOLVER_PERM, DSN_NOTFOUND,
		    "domain not found");
	else if (lk->implicit)
		lookup_decide(lk, RESOLVER_PERM, DSN_NOTFOUND,
		    "domain has no MX or address records");
	else
		lookup_decide(lk, RESOLVER_PERM, DSN_NOADDR,
		    "no address for mail exchanger");
}

static void
lookup_reply(struct resolver_lookup *lk, struct ipc_msg *reply)
{
	const char	*text;
	int		 r;

	if (lk->decided)
		r = resolver_reply_fail(reply, lk->status, lk->dsn, lk->text);
	else {
		text = lk->implicit ? "no MX records, implicit MX" :
		    "MX hosts found";
		r = resolver_reply_ok(reply, &lk->mx, lk->implicit, text);
	}
	if (r < 0) {
		/* Every part is bounded well below IPC_FRAME_MAX; still, a
		 * client must get an answer. */
		ipc_msg_free(reply);
		(void)resolver_reply_fail(reply, RESOLVER_TEMP, DSN_TEMP,
		    "resolver reply too large");
	}
}

static void
lookup_log(const struct resolver_lookup *lk)
{
	if (!lk->decided)
		log_debug("lookup %lu: %s: status=ok implicit=%d nmx=%d",
		    lk->id, lk->domain, lk->implicit, lk->mx.nhost);
	else
		log_info("lookup %lu: %s: status=%s dsn=%s (%s)", lk->id,
		    lk->domain, resolver_status_name(lk->status), lk->dsn,
		    lk->text);
}

/* Reply, then free the lookup: the callback may start the next one. */
static void
lookup_finish(struct resolver_lookup *lk)
{
	struct ipc_msg	 reply;

	lookup_cancel_queries(lk);
	if (lk->phase == LOOKUP_ADDR)
		lookup_conclude(lk);
	else if (!lk->decided)
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP, "DNS lookup failed");
	lookup_log(lk);
	lookup_reply(lk, &reply);
	lk->cb(&reply, lk->arg);
	ipc_msg_free(&reply);
	lookup_free(lk);
}

static uint32_t
lookup_random(uint32_t bound, void *arg)
{
	(void)arg;
	return arc4random_uniform(bound);
}

static void
lookup_addr_start(struct resolver_lookup *lk)
{
	int	 i;

	mx_set_sort(&lk->mx, lookup_random, NULL);
	lk->phase = LOOKUP_ADDR;
	for (i = 0; i < lk->mx.nhost; i++) {
		if (lookup_query(lk, DNS_TYPE_AAAA, i, lk->mx.host[i].name) < 0)
			lk->addr_temp = 1;
		if (lookup_query(lk, DNS_TYPE_A, i, lk->mx.host[i].name) < 0)
			lk->addr_temp = 1;
	}
}

/* Collect the MX records.  -1 when they decide the outcome by themselves
 * (null MX, nothing usable). */
static int
lookup_mx_records(struct resolver_lookup *lk, const struct ub_result *res)
{
	struct dns_mx		 mx;
	enum dns_wire_err	 e;
	int			 i, ngood = 0, nnull = 0, nbad = 0;

	for (i = 0; res->data[i] != NULL; i++) {
		e = res->len[i] < 0 ? DNS_WIRE_ETRUNC :
		    dns_wire_mx((const unsigned char *)res->data[i],
		    (size_t)res->len[i], &mx);
		if (e == DNS_WIRE_OK && strcmp(mx.host, ".") == 0) {
			nnull++;
			continue;
		}
		if (e == DNS_WIRE_OK && !addr_valid_domain(mx.host,
		    strlen(mx.host)))
			e = DNS_WIRE_ECHAR;
		if (e != DNS_WIRE_OK) {
			if (nbad++ == 0)
				log_warn("%s: bad MX record: %s", lk->domain,
				    dns_wire_strerror(e));
			continue;
		}
		ngood++;
		(void)mx_set_add(&lk->mx, mx.pref, mx.host);
	}
	if (ngood > 0)
		return 0;
	if (nnull > 0 && nbad == 0)
		lookup_decide(lk, RESOLVER_PERM, DSN_NULLMX,
		    "domain does not accept mail");
	else
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
		    "malformed MX records");
	return -1;
}

static void
lookup_mx_answer(struct resolver_lookup *lk, int err,
    const struct ub_result *res)
{
	char	 why[RESOLVER_TEXT_MAX / 2];

	switch (lookup_classify(err, res, why, sizeof(why))) {
	case ANSWER_TEMP:
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
		    "DNS lookup of MX failed: %s", why);
		return;
	case ANSWER_NXDOMAIN:
		lookup_decide(lk, RESOLVER_PERM, DSN_NOTFOUND,
		    "domain not found");
		return;
	case ANSWER_NODATA:
		lk->implicit = 1;
		(void)mx_set_add(&lk->mx, 0, lk->domain);
		break;
	case ANSWER_DATA:
		if (lookup_mx_records(lk, res) < 0)
			return;
		break;
	}
	lookup_addr_start(lk);
}

static void
lookup_addr_answer(struct resolver_lookup *lk, const struct resolver_query *q,
    int err, const struct ub_result *res)
{
	struct mx_host	*h = &lk->mx.host[q->host];
	char		 why[RESOLVER_TEXT_MAX / 2], text[DNS_ADDR_TEXT_MAX];
	int		 i;

	switch (lookup_classify(err, res, why, sizeof(why))) {
	case ANSWER_TEMP:
		lk->addr_temp = 1;
		lookup_note_temp(lk, why);
		return;
	case ANSWER_NXDOMAIN:
		lk->addr_nxdomain = 1;
		return;
	case ANSWER_NODATA:
		return;
	case ANSWER_DATA:
		break;
	}
	for (i = 0; res->data[i] != NULL; i++) {
		if (res->len[i] < 0 || dns_wire_addr(q->rrtype,
		    (const unsigned char *)res->data[i], (size_t)res->len[i],
		    text, sizeof(text)) != DNS_WIRE_OK) {
			log_warn("%s: malformed address record", h->name);
			continue;
		}
		/* Past MX_ADDR_MAX the rest are dropped: enough to try. */
		if (mx_host_add_addr(h, q->rrtype, text) < 0)
			break;
	}
}

static void
lookup_query_cb(void *arg, int err, struct ub_result *res)
{
	struct resolver_query	*q = arg;
	struct resolver_lookup	*lk = q->lk;

	if (lk == NULL) {
		TAILQ_REMOVE(&q->r->orphans, q, link);
		free(q);
		ub_resolve_free(res);
		return;
	}
	TAILQ_REMOVE(&lk->queries, q, link);
	if (q->host < 0)
		lookup_mx_answer(lk, err, res);
	else
		lookup_addr_answer(lk, q, err, res);
	free(q);
	ub_resolve_free(res);
	if (lk->decided || TAILQ_EMPTY(&lk->queries))
		lookup_finish(lk);
}

/* The deadline, or an early completion requested with event_active(). */
static void
lookup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_lookup	*lk = arg;

	(void)fd;
	(void)what;
	if (!lk->decided && !TAILQ_EMPTY(&lk->queries)) {
		lk->timed_out = 1;
		lk->addr_temp = 1;
		if (lk->phase == LOOKUP_MX)
			lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
			    "DNS lookup timed out");
	}
	lookup_finish(lk);
}

struct resolver_lookup *
resolver_lookup_start(struct resolver *r, const char *domain,
    resolver_lookup_cb cb, void *arg)
{
	struct resolver_lookup	*lk;
	struct timeval		 tv = { r->timeout, 0 };

	lk = xcalloc(1, sizeof(*lk));
	lk->r = r;
	lk->id = ++r->nextid;
	lk->cb = cb;
	lk->arg = arg;
	lk->phase = LOOKUP_MX;
	TAILQ_INIT(&lk->queries);
	mx_set_init(&lk->mx);
	addr_lower(domain, lk->domain, sizeof(lk->domain));
	if ((lk->timer = evtimer_new(r->base, lookup_timer_cb, lk)) == NULL)
		log_fatal("evtimer_new failed");
	evtimer_add(lk->timer, &tv);
	log_debug("lookup %lu: MX %s", lk->id, lk->domain);
	if (lookup_query(lk, DNS_TYPE_MX, -1, lk->domain) < 0) {
		lookup_decide(lk, RESOLVER_TEMP, DSN_TEMP,
		    "DNS lookup failed: %s", lk->why);
		/* Finish from the loop: the caller is not ready for a
		 * callback yet. */
		event_active(lk->timer, EV_TIMEOUT, 1);
	}
	return lk;
}

void
resolver_lookup_cancel(struct resolver_lookup *lk)
{
	log_debug("lookup %lu: %s: abandoned", lk->id, lk->domain);
	lookup_free(lk);
}

void
resolver_lookup_process(struct resolver *r)
{
	int	 err;

	/* An error here means the pipe from libunbound's thread broke; it
	 * would stay readable and spin the loop.  Die, and be restarted. */
	if ((err = ub_process(r->ub)) != 0)
		log_fatal("libunbound: %s", ub_strerror(err));
}

void
resolver_lookup_shutdown(struct resolver *r)
{
	struct resolver_query	*q;

	while ((q = TAILQ_FIRST(&r->orphans)) != NULL) {
		TAILQ_REMOVE(&r->orphans, q, link);
		free(q);
	}
}
