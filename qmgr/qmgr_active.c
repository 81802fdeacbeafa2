/*
 * qmgr_active - the active set: every message whose file is in active/ and
 * that qmgr is working on, the FIFO of those ready for a delivery agent and
 * the list of those parked after a file operation failed.  A message
 * leaves the FIFO when the dispatcher loads it; its recipients then wait in
 * the destination queues (qmgr_dest.c) until the round is over.  Only the set's
 * bookkeeping lives here (which list a message is on, how many there are);
 * what happens to a message is qmgr_message.c's, and who runs the
 * dispatcher when there is work is qmgr.c's.  The set holds at most
 * qmgr_message_active_limit messages (the scans see to it); a message not
 * loaded costs only its struct qmgr_msg.  An index by id tells whether a
 * file in active/ is in memory already: smtpd commits new mail straight
 * into active/, and its notice, a scan for lost notices and the start-up's
 * recovery may each name the same file.  Nothing here fails.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "buf.h"
#include "qmgr.h"
#include "siphash.h"

void
qmgr_active_init(struct qmgr *q)
{
	size_t n;

	TAILQ_INIT(&q->msgs);
	TAILQ_INIT(&q->fifo);
	TAILQ_INIT(&q->parked);
	q->nactive = 0;
	q->active_peak = 0;
	q->active_max = q->par->qmgr_message_active_limit;
	/* About two messages per bucket when the set is full. */
	for (n = 1024; n < (size_t)q->active_max / 2 && n < ((size_t)1 << 24);
	    n <<= 1)
		;
	q->by_id = xcalloc(n, sizeof(*q->by_id));
	q->by_id_mask = n - 1;
}

void
qmgr_active_free(struct qmgr *q)
{
	free(q->by_id);
	q->by_id = NULL;
}

/* Keyed per process: ids in active/ are names anyone with access to the
 * queue can make, and must not be able to chain up one bucket. */
static struct qmgr_msg **
active_bucket(const struct qmgr *q, const char *id)
{
	return &q->by_id[siphash(siphash_process_key(), id, strlen(id)) &
	    q->by_id_mask];
}

struct qmgr_msg *
qmgr_active_find(const struct qmgr *q, const char *id)
{
	struct qmgr_msg *m;

	for (m = *active_bucket(q, id); m != NULL; m = m->id_next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

int
qmgr_active_room(const struct qmgr *q)
{
	return q->nactive < q->active_max;
}

/* Deferred, not immediate: callers may be deep inside a callback that is
 * about to touch the connection or message again. */
void
qmgr_active_kick(struct qmgr *q)
{
	static const struct timeval now = { 0, 0 };

	/* Not from inside the dispatcher: see qmgr_dispatch(). */
	if ((!TAILQ_EMPTY(&q->fifo) || q->nwaiting > 0) && q->kick_ev != NULL &&
	    !q->dispatching)
		event_active(q->kick_ev, 0, 0);
	/* A timer, not event_active(): it runs after the next poll, so the
	 * clients and agents get their turn between scan steps. */
	if (qmgr_scan_wanted(q) && q->rescan_ev != NULL &&
	    !event_pending(q->rescan_ev, EV_TIMEOUT, NULL))
		(void)event_add(q->rescan_ev, &now);
}

int
qmgr_active_add(struct qmgr *q, const char *id)
{
	struct qmgr_msg *m, **b;

	if (qmgr_active_find(q, id) != NULL)
		return -1;
	m = xcalloc(1, sizeof(*m));
	strlcpy(m->id, id, sizeof(m->id));
	b = active_bucket(q, id);
	m->id_next = *b;
	*b = m;
	m->fd = -1;
	TAILQ_INIT(&m->entries);
	TAILQ_INIT(&m->notices);
	m->state = QMGR_MSG_READY;
	TAILQ_INSERT_TAIL(&q->msgs, m, all);
	TAILQ_INSERT_TAIL(&q->fifo, m, ready);
	if (++q->nactive > q->active_peak)
		q->active_peak = q->nactive;
	qmgr_active_kick(q);
	return 0;
}

static void
active_unlink(struct qmgr *q, struct qmgr_msg *m)
{
	if (m->state == QMGR_MSG_READY)
		TAILQ_REMOVE(&q->fifo, m, ready);
	else if (m->state == QMGR_MSG_PARKED)
		TAILQ_REMOVE(&q->parked, m, ready);
	m->state = QMGR_MSG_BUSY;
}

void
qmgr_active_remove(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_msg **p;

	for (p = active_bucket(q, m->id); *p != NULL; p = &(*p)->id_next)
		if (*p == m) {
			*p = m->id_next;
			break;
		}
	active_unlink(q, m);
	TAILQ_REMOVE(&q->msgs, m, all);
	free(m);
	q->nactive--;
	qmgr_active_kick(q);
}

struct qmgr_msg *
qmgr_active_next(struct qmgr *q)
{
	struct qmgr_msg *m;

	if ((m = TAILQ_FIRST(&q->fifo)) == NULL)
		return NULL;
	TAILQ_REMOVE(&q->fifo, m, ready);
	m->state = QMGR_MSG_BUSY;
	return m;
}

void
qmgr_active_park(struct qmgr *q, struct qmgr_msg *m)
{
	active_unlink(q, m);
	m->state = QMGR_MSG_PARKED;
	TAILQ_INSERT_TAIL(&q->parked, m, ready);
}

void
qmgr_active_unpark(struct qmgr *q)
{
	struct qmgr_msg *m;

	while ((m = TAILQ_FIRST(&q->parked)) != NULL) {
		TAILQ_REMOVE(&q->parked, m, ready);
		m->state = QMGR_MSG_READY;
		TAILQ_INSERT_TAIL(&q->fifo, m, ready);
	}
	qmgr_active_kick(q);
}
