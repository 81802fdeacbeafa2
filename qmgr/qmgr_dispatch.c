/*
 * qmgr_dispatch - the scheduler: it moves work from the destination
 * queues to the transports, and from the ready FIFO of messages into the
 * destination queues.  Sending comes first: a queued entry whose transport
 * can take a request now goes out, one destination after the other in
 * round-robin order (qmgr_dest_take() moves the one served to the end), so
 * a destination with a long queue does not hold up the others, and each
 * destination stays under its transport's per-destination limit.  Only
 * when nothing can be sent is the next message loaded and routed, and only
 * while fewer than QMGR_WAITING_MAX entries wait: a loaded message holds
 * its file open, so this bounds the open files to the requests out plus
 * that many.  Bounded work per call: QMGR_KICK_BATCH steps, then the event
 * loop turns and the dispatcher is asked to run again.
 */
#include <event2/event.h>

#include "qmgr.h"

/* Send one entry.  0 when no destination could send. */
static int
dispatch_one(struct qmgr *q)
{
	struct qmgr_dest	*d;
	struct qmgr_transport	*t;
	struct qmgr_entry	*e;
	struct ipc_msg		 req;

	TAILQ_FOREACH(d, &q->dests, link) {
		t = d->transport;
		if (d->ntodo == 0 ||
		    (t->dest_limit > 0 && d->busy >= t->dest_limit) ||
		    !qmgr_transport_ready(t))
			continue;
		e = qmgr_dest_take(q, d);	/* moves d: stop iterating */
		if (qmgr_entry_request(q, e, &req) == 0)
			return 1;	/* finished without a request */
		if (qmgr_transport_send(t, e, &req) == -1)
			qmgr_entry_retry(q, e, 0);
		ipc_msg_free(&req);
		return 1;
	}
	return 0;
}

void
qmgr_dispatch(struct qmgr *q)
{
	struct qmgr_msg	*m;
	int		 n;

	for (n = 0; n < QMGR_KICK_BATCH; n++) {
		if (dispatch_one(q))
			continue;
		if (q->nwaiting >= QMGR_WAITING_MAX ||
		    (m = qmgr_active_next(q)) == NULL)
			return;		/* a reply or a timer kicks again */
		qmgr_msg_load(q, m);
	}
	/* Bounded work per loop turn: let the clients in, then go on. */
	event_active(q->kick_ev, 0, 0);
}
