/*
 * qmgr_dest - the queue of each destination, a transport and a next hop
 * ("local:example.org"): a FIFO of entries (the recipients of one message
 * for that destination) and the number of its requests out, which the
 * dispatcher holds under the transport's per-destination limit.  The
 * destinations themselves form a round-robin list, so that a destination
 * with a long queue takes turns with the others instead of going first.
 * A destination is made on first use and freed when nothing is queued or
 * out, so memory follows the work, not the history.  Destinations found
 * dead (QMGR_DEAD_FAILS requests in a row that could not connect, as the
 * SMTP client reports them) are remembered apart, for minimal_backoff_time,
 * as many as qmgr_message_recipient_limit (Postfix's bound on its dead
 * destination cache; the oldest forgotten first).  Both kinds are found by
 * name in a red-black tree, since the dispatcher asks about a destination
 * at every step and the router at every recipient: with many next hops, a
 * walk of the lists would make a backlog cost the square of its size.
 * Nothing here fails.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "qmgr.h"

/* libbsd's tree.h marks the generated functions __unused, which only BSD's
 * cdefs.h defines. */
#ifndef __unused
#define __unused	__attribute__((unused))
#endif

/* One order for both trees: the transport (by address: each is one row of
 * the table for the daemon's life), then the next hop. */
static int
dest_name_cmp(const struct qmgr_transport *ta, const char *na,
    const struct qmgr_transport *tb, const char *nb)
{
	if (ta != tb)
		return (uintptr_t)ta < (uintptr_t)tb ? -1 : 1;
	return strcmp(na, nb);
}

static int
dest_cmp(const struct qmgr_dest *a, const struct qmgr_dest *b)
{
	return dest_name_cmp(a->transport, a->nexthop, b->transport,
	    b->nexthop);
}

static int
dead_cmp(const struct qmgr_dead *a, const struct qmgr_dead *b)
{
	return dest_name_cmp(a->transport, a->nexthop, b->transport,
	    b->nexthop);
}

RB_GENERATE_STATIC(qmgr_dest_tree, qmgr_dest, node, dest_cmp)
RB_GENERATE_STATIC(qmgr_dead_tree, qmgr_dead, node, dead_cmp)

void
qmgr_dest_init(struct qmgr *q)
{
	TAILQ_INIT(&q->dests);
	RB_INIT(&q->dest_tree);
	TAILQ_INIT(&q->dead);
	RB_INIT(&q->dead_tree);
	q->ndead = 0;
	q->nwaiting = 0;
}

struct qmgr_dest *
qmgr_dest_get(struct qmgr *q, struct qmgr_transport *t, const char *nexthop)
{
	struct qmgr_dest key, *d;

	key.transport = t;
	strlcpy(key.nexthop, nexthop, sizeof(key.nexthop));
	if ((d = RB_FIND(qmgr_dest_tree, &q->dest_tree, &key)) != NULL)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->transport = t;
	strlcpy(d->nexthop, nexthop, sizeof(d->nexthop));
	TAILQ_INIT(&d->todo);
	TAILQ_INSERT_TAIL(&q->dests, d, link);
	(void)RB_INSERT(qmgr_dest_tree, &q->dest_tree, d);	/* not found */
	return d;
}

static void
dest_release(struct qmgr *q, struct qmgr_dest *d)
{
	if (d->ntodo > 0 || d->busy > 0)
		return;
	TAILQ_REMOVE(&q->dests, d, link);
	RB_REMOVE(qmgr_dest_tree, &q->dest_tree, d);
	free(d);
}

void
qmgr_dest_put(struct qmgr *q, struct qmgr_entry *e)
{
	TAILQ_INSERT_TAIL(&e->dest->todo, e, link);
	e->waiting = 1;
	e->dest->ntodo++;
	q->nwaiting++;
}

struct qmgr_entry *
qmgr_dest_take(struct qmgr *q, struct qmgr_dest *d)
{
	struct qmgr_entry *e = TAILQ_FIRST(&d->todo);

	TAILQ_REMOVE(&d->todo, e, link);
	e->waiting = 0;
	d->ntodo--;
	q->nwaiting--;
	d->busy++;
	TAILQ_REMOVE(&q->dests, d, link);
	TAILQ_INSERT_TAIL(&q->dests, d, link);
	return e;
}

void
qmgr_dest_back(struct qmgr *q, struct qmgr_entry *e, int again)
{
	struct qmgr_dest *d = e->dest;

	d->busy--;
	if (again) {
		/* It keeps its turn: the rest of one message's recipients
		 * follow each other. */
		TAILQ_INSERT_HEAD(&d->todo, e, link);
		e->waiting = 1;
		d->ntodo++;
		q->nwaiting++;
		return;
	}
	e->dest = NULL;
	dest_release(q, d);
}

void
qmgr_dest_drop(struct qmgr *q, struct qmgr_entry *e)
{
	struct qmgr_dest *d = e->dest;

	if (!e->waiting)
		return;
	TAILQ_REMOVE(&d->todo, e, link);
	e->waiting = 0;
	d->ntodo--;
	q->nwaiting--;
	e->dest = NULL;
	dest_release(q, d);
}

static void
dead_remove(struct qmgr *q, struct qmgr_dead *x)
{
	TAILQ_REMOVE(&q->dead, x, link);
	RB_REMOVE(qmgr_dead_tree, &q->dead_tree, x);
	q->ndead--;
	free(x);
}

/* d's record, if any; one that has served its time is forgotten here.
 * (Others that did are forgotten when looked up, or as the oldest.) */
static struct qmgr_dead *
dead_find(struct qmgr *q, const struct qmgr_dest *d, time_t now)
{
	struct qmgr_dead key, *x;

	key.transport = d->transport;
	memcpy(key.nexthop, d->nexthop, sizeof(key.nexthop));
	if ((x = RB_FIND(qmgr_dead_tree, &q->dead_tree, &key)) == NULL)
		return NULL;
	if (x->until != 0 && x->until <= now) {
		dead_remove(q, x);
		return NULL;
	}
	return x;
}

int
qmgr_dest_dead(struct qmgr *q, const struct qmgr_dest *d, time_t now)
{
	struct qmgr_dead *x;

	if (d->transport->dead_until > now)
		return 1;
	return (x = dead_find(q, d, now)) != NULL && x->until != 0;
}

int
qmgr_dest_result(struct qmgr *q, struct qmgr_dest *d, int connect_failed,
    time_t now)
{
	struct qmgr_dead *x = dead_find(q, d, now);

	if (!connect_failed || !d->transport->may_die) {
		if (x != NULL && x->until == 0)
			dead_remove(q, x);
		return 0;
	}
	if (x == NULL) {
		while (q->ndead > 0 &&
		    q->ndead >= q->par->qmgr_message_recipient_limit)
			dead_remove(q, TAILQ_FIRST(&q->dead));
		x = xcalloc(1, sizeof(*x));
		x->transport = d->transport;
		strlcpy(x->nexthop, d->nexthop, sizeof(x->nexthop));
		TAILQ_INSERT_TAIL(&q->dead, x, link);
		(void)RB_INSERT(qmgr_dead_tree, &q->dead_tree, x);
		q->ndead++;
	}
	if (x->until != 0 || ++x->fails < QMGR_DEAD_FAILS)
		return 0;
	x->until = now + q->par->minimal_backoff_time;
	log_warn("%s:%s: %d connection failures in a row; destination marked "
	    "dead for %d s, its mail deferred", d->transport->name, d->nexthop,
	    x->fails, q->par->minimal_backoff_time);
	return 1;
}

/* Shutdown: the entries belong to their messages, which free them. */
void
qmgr_dest_free_all(struct qmgr *q)
{
	struct qmgr_dest *d;
	struct qmgr_dead *x;

	while ((d = TAILQ_FIRST(&q->dests)) != NULL) {
		TAILQ_REMOVE(&q->dests, d, link);
		RB_REMOVE(qmgr_dest_tree, &q->dest_tree, d);
		free(d);
	}
	q->nwaiting = 0;
	while ((x = TAILQ_FIRST(&q->dead)) != NULL)
		dead_remove(q, x);
}
