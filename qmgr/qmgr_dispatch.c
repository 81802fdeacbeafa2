/*
 * qmgr_dispatch - the scheduler: it moves work from the destination
 * queues to the transports, and from the ready FIFO of messages into the
 * destination queues.  Sending comes first: a queued entry whose transport
 * can take a request now goes out, one destination after the other in
 * round-robin order (qmgr_dest_take() moves the one served to the end), so
 * a destination with a long queue does not hold up the others, and each
 * destination stays under its transport's per-destination limit.  Only
 * when nothing can be sent is the next message loaded and routed, and only
 * while fewer than QMGR_WAITING_MAX entries wait on destinations that
 * could send, and fewer than QMGR_WAITING_HARD on any: entries stuck
 * behind a slow destination (at its concurrency limit) do not stop the
 * next message, whose recipients may go elsewhere, while a loaded message
 * holds its file open, so the open files stay bounded; nor while the
 * loaded messages hold qmgr_message_recipient_limit recipients (one
 * message is always let in), nor while QMGR_NOTICE_WAIT_MAX messages wait
 * for their notices (qmgr_bounce_client.c).  A dead destination
 * (qmgr_dest.c) is not sent to: its entries are deferred, one per step, so
 * its mail waits in deferred/ instead of in memory.  Bounded work per call: QMGR_KICK_BATCH steps or QMGR_KICK_MS, then the event
 * loop polls (a zero timer, not event_active(): see qmgr_dispatch()) and
 * the dispatcher runs again.
 */
#include <time.h>

#include <event2/event.h>

#include "qmgr.h"

/* Under its per-destination limit, with a transport that can send now. */
static int
dispatch_open(const struct qmgr_dest *d)
{
	const struct qmgr_transport *t = d->transport;

	return (t->dest_limit == 0 || d->busy < t->dest_limit) &&
	    qmgr_transport_ready(d->transport);
}

struct qmgr_dest *
qmgr_dispatch_pick(struct qmgr *q, time_t now, int *dead)
{
	struct qmgr_dest *d;

	*dead = 0;
	TAILQ_FOREACH(d, &q->dests, link) {
		if (d->ntodo == 0)
			continue;
		if (qmgr_dest_dead(q, d, now)) {
			*dead = 1;
			return d;
		}
		if (dispatch_open(d))
			return d;
	}
	return NULL;
}

int
qmgr_dispatch_can_load(struct qmgr *q, time_t now)
{
	struct qmgr_dest	*d;
	int			 n = 0;

	/* qmgr_message_recipient_limit: the recipients in memory, but
	 * never fewer than one message's. */
	if (q->rcpt_loaded > 0 &&
	    q->rcpt_loaded >= q->par->qmgr_message_recipient_limit)
		return 0;
	/* Messages waiting for bounce(8) hold their files open. */
	if (q->notice_msgs >= QMGR_NOTICE_WAIT_MAX)
		return 0;
	if (q->nwaiting < QMGR_WAITING_MAX)
		return 1;
	if (q->nwaiting >= QMGR_WAITING_HARD)
		return 0;
	TAILQ_FOREACH(d, &q->dests, link)
		if (d->ntodo > 0 && !qmgr_dest_dead(q, d, now) &&
		    dispatch_open(d))
			n += d->ntodo;
	return n < QMGR_WAITING_MAX;
}

/* Send one entry (or defer one of a dead destination).  0 when no
 * destination could send. */
static int
dispatch_one(struct qmgr *q)
{
	struct qmgr_dest	*d;
	struct qmgr_entry	*e;
	struct ipc_msg		 req;
	int			 dead;

	if ((d = qmgr_dispatch_pick(q, time(NULL), &dead)) == NULL)
		return 0;
	e = qmgr_dest_take(q, d);	/* may free d once e is done */
	if (dead) {
		qmgr_entry_defer(q, e, "4.4.1", "destination is marked dead "
		    "after repeated connection failures");
		return 1;
	}
	if (qmgr_entry_request(q, e, &req) == 0)
		return 1;	/* finished without a request */
	if (qmgr_transport_send(d->transport, e, &req) == -1)
		qmgr_entry_retry(q, e, 0);
	ipc_msg_free(&req);
	return 1;
}

/* The steps' own kicks are not needed while it runs (qmgr_active_kick()):
 * the loop sees what they announce.  Re-activating the event from here
 * would run it again before libevent polls (2.1 runs events activated by
 * a callback in the same pass), so a batch with more work after it goes
 * on from a zero timer, which runs after the next poll. */
void
qmgr_dispatch(struct qmgr *q)
{
	static const struct timeval now = { 0, 0 };
	struct timespec	 start, t;
	struct qmgr_msg	*m;
	int		 n, more = 1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	q->dispatching = 1;
	for (n = 0; n < QMGR_KICK_BATCH; n++) {
		/* A step that loads a message whose outcome is known at once
		 * (discard, error) finishes it too: bound the time as well. */
		if (n % 16 == 15) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - start.tv_sec) * 1000 +
			    (t.tv_nsec - start.tv_nsec) / 1000000 >=
			    QMGR_KICK_MS)
				break;
		}
		if (dispatch_one(q))
			continue;
		if (!qmgr_dispatch_can_load(q, time(NULL)) ||
		    (m = qmgr_active_next(q)) == NULL) {
			more = 0;	/* a reply or a timer kicks again */
			break;
		}
		qmgr_msg_load(q, m);
	}
	q->dispatching = 0;
	/* Bounded work per loop turn: let the clients in, then go on. */
	if (more)
		(void)event_add(q->kick_ev, &now);
}
