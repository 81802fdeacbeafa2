/*
 * qmgr_transport - the transport table and, for each transport, the pool
 * of connections to its delivery service.  A transport is one service of
 * master.conf ("local": deliver(8) on private/deliver; an SMTP client on
 * private/smtp is one more row), all speaking the delivery protocol of
 * proto_deliver.h.  At most concurrency connections per transport.  For
 * the local transport a request goes first to a busy connection that
 * just delivered the same one recipient into one Maildir and has only
 * its requests out, until its next batch is full (pool_filling()).  A
 * request goes to an idle connection next (for the SMTP client, the one
 * that last served the same next hop, whose process has that session
 * parked: see pool_idle()), then to a new one, and only
 * when every connection is busy is it pipelined behind the least busy of
 * the others (for deliver, not behind one that has stalled while another
 * has room: a hung mailbox holds it until local_time_limit) (up to
 * DELIVER_PIPELINE_MAX per connection to deliver, QMGR_PIPELINE_REMOTE
 * to the SMTP and LMTP clients): an agent that finds several requests
 * waiting handles them together (deliver shares one fsync of a Maildir's
 * new/ among them, DELIVER_BATCH_MAX at a time, while the next batch
 * waits behind), so the busier the queue, the cheaper each delivery.
 * The sockets never block qmgr: requests and replies go through
 * bufferevents, and a connection that goes local_time_limit plus
 * QMGR_REPLY_GRACE without a reply while requests are out counts as a
 * crash of the agent (deliver itself kills mailbox work at
 * local_time_limit and defers it, so only a broken agent gets there).  After a
 * crash its entries are retried soon (the master restarts the service
 * within seconds), never dropped and never sent to the long deferred
 * back-off for a fault that was not their own - except for a transport
 * that may die (smtp): a service that fails QMGR_DEAD_FAILS times in a row
 * (no smtp row in master.conf, a client that keeps crashing) is dead for
 * minimal_backoff_time, and its mail goes to deferred/ rather than wait in
 * memory, where it would hold up the loading of other mail.  The same
 * holds per destination: a request whose every recipient is deferred with
 * a 4.4.x status (RFC 3463's network and routing class: the SMTP client
 * could not connect to any host) counts as a connection failure of its
 * next hop (qmgr_dest_result()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "qmgr.h"

struct qmgr_conn {
	TAILQ_ENTRY(qmgr_conn)	 link;
	struct qmgr_transport	*t;
	struct bufferevent	*bev;
	/* Requests out, oldest first: out[(head + k) % DELIVER_PIPELINE_MAX]
	 * for k < nout.  Replies come back in this order. */
	struct qmgr_entry	*out[DELIVER_PIPELINE_MAX];
	int			 head;
	int			 nout;
	/* Has answered a request: an agent process has accepted it.  Until
	 * then it may still wait in the listen backlog. */
	int			 proven;
	long long		 sent_ms;	/* when the oldest request went out */
	long long		 reply_ms;	/* when the last reply came; 0: none */
	/* Requests out that deliver took as its batch when it last replied
	 * (it reads what waits right after): those sent since wait for the
	 * batch after. */
	int			 inflight;
	int			 slow;		/* its last batch took
						   QMGR_STALL_MS or more */
	/* The address whose request deliver last answered here with one
	 * Maildir written (mailbox.<i>); "": none.  Only its requests are
	 * filled in (pool_filling). */
	char			 fill_rcpt[QUEUE_ADDR_MAX + 1];
	/* The next hop of the last request sent: the agent process parked
	 * that session, if it could (t->affinity). */
	char			 hop[QMGR_NEXTHOP_MAX];
};

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	pool_waitcheck_cb(evutil_socket_t, short, void *);

static void
pool_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_transport *t = arg;

	(void)fd;
	(void)what;
	t->backing_off = 0;
	qmgr_active_kick(t->q);
}

static struct qmgr_transport *
transport_add(struct qmgr *q, const char *name, const char *socket,
    int concurrency, int dest_limit)
{
	struct qmgr_transport *t;

	t = xcalloc(1, sizeof(*t));
	t->q = q;
	strlcpy(t->name, name, sizeof(t->name));
	strlcpy(t->socket, socket, sizeof(t->socket));
	t->concurrency = concurrency > 0 ? concurrency : 1;
	t->dest_limit = dest_limit;
	t->pipeline = QMGR_PIPELINE_REMOTE;
	TAILQ_INIT(&t->conns);
	t->backoff_ev = evtimer_new(q->base, pool_backoff_cb, t);
	t->waitcheck_ev = evtimer_new(q->base, pool_waitcheck_cb, t);
	if (t->backoff_ev == NULL || t->waitcheck_ev == NULL)
		log_fatal("qmgr: cannot create events");
	TAILQ_INSERT_TAIL(&q->transports, t, link);
	return t;
}

/*
 * One row per delivery service in master.conf, each at its own socket
 * with its own concurrency.  The local transport has no limit per
 * destination beyond its pool: every local domain is one machine.  The
 * SMTP client has default_process_limit connections in all,
 * smtp_destination_concurrency_limit per next hop and
 * smtp_destination_recipient_limit recipients per request; the LMTP
 * client (the same program as service "lmtp") the same with its lmtp_*
 * limits; pickup and notifications are not transports (they feed the
 * queue or read it).
 */
void
qmgr_transport_init(struct qmgr *q)
{
	struct qmgr_transport *t;

	TAILQ_INIT(&q->transports);
	t = transport_add(q, QMGR_TRANSPORT_LOCAL, DELIVER_SOCKET,
	    q->par->deliver_concurrency, 0);
	/* deliver batches what it finds waiting (DELIVER_BATCH_MAX at a
	 * time): a pipeline twice that deep keeps the next batch waiting
	 * while one is made, so under a backlog an agent never idles for
	 * our replies and every batch is full.  Each request out holds its
	 * queue file open here: QMGR_LOCAL_OUT_MAX in all, however many
	 * connections deliver_concurrency allows. */
	t->pipeline = QMGR_LOCAL_OUT_MAX / t->concurrency;
	if (t->pipeline > DELIVER_PIPELINE_MAX)
		t->pipeline = DELIVER_PIPELINE_MAX;
	if (t->pipeline < QMGR_PIPELINE_REMOTE)
		t->pipeline = QMGR_PIPELINE_REMOTE;
	t->fill = QMGR_LOCAL_FILL < t->pipeline ? QMGR_LOCAL_FILL : t->pipeline;
	t = transport_add(q, QMGR_TRANSPORT_SMTP, QMGR_SMTP_SOCKET,
	    q->par->default_process_limit,
	    q->par->smtp_destination_concurrency_limit);
	t->rcpt_limit = q->par->smtp_destination_recipient_limit;
	t->may_die = 1;
	t->affinity = 1;
	t = transport_add(q, QMGR_TRANSPORT_LMTP, QMGR_LMTP_SOCKET,
	    q->par->default_process_limit,
	    q->par->lmtp_destination_concurrency_limit);
	t->rcpt_limit = q->par->lmtp_destination_recipient_limit;
	t->may_die = 1;
}

struct qmgr_transport *
qmgr_transport_find(struct qmgr *q, const char *name)
{
	struct qmgr_transport *t;

	TAILQ_FOREACH(t, &q->transports, link)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* Trouble with the service: no new connection for a while.  Failures
 * during one pause count once, so four agents killed together cost one
 * second, not sixteen. */
static void
pool_failed(struct qmgr_transport *t)
{
	struct timeval tv;

	if (t->backing_off)
		return;
	t->nfail++;
	if (t->may_die && t->nfail >= QMGR_DEAD_FAILS &&
	    t->dead_until <= time(NULL)) {
		t->dead_until = time(NULL) + t->q->par->minimal_backoff_time;
		log_warn("%s: delivery service failed %d times in a row; its "
		    "mail is deferred for %d s", t->name, t->nfail,
		    t->q->par->minimal_backoff_time);
	}
	tv.tv_sec = qmgr_retry_delay(t->nfail);
	tv.tv_usec = 0;
	t->backing_off = 1;
	evtimer_add(t->backoff_ev, &tv);
	log_warn("%s: delivery agent trouble, %d time(s) in a row; new "
	    "connections in %ld s", t->name, t->nfail, (long)tv.tv_sec);
}

static void
conn_close(struct qmgr_conn *c)
{
	struct qmgr_transport *t = c->t;

	TAILQ_REMOVE(&t->conns, c, link);
	t->nconns--;
	bufferevent_free(c->bev);
	free(c);
}

static struct qmgr_entry *
conn_pop(struct qmgr_conn *c)
{
	struct qmgr_entry *e = c->out[c->head];

	c->out[c->head] = NULL;
	c->head = (c->head + 1) % DELIVER_PIPELINE_MAX;
	c->nout--;
	return e;
}

/* The connection is gone with requests on it: as far as qmgr knows their
 * recipients were not delivered, so the entries go back to their queues. */
static void
conn_lost(struct qmgr_conn *c, const char *why)
{
	struct qmgr_transport	*t = c->t;
	struct qmgr_entry	*e;
	int			 lost = c->nout > 0;

	TAILQ_REMOVE(&t->conns, c, link);
	t->nconns--;
	bufferevent_free(c->bev);
	while (c->nout > 0) {
		e = conn_pop(c);
		log_qid(LOG_LEVEL_WARN, e->msg->id, "delivery agent %s; will "
		    "retry", why);
		qmgr_entry_retry(t->q, e, 1);
	}
	free(c);
	if (lost)
		pool_failed(t);
	qmgr_active_kick(t->q);
}

static void
conn_timeouts(struct qmgr_conn *c)
{
	/* deliver answers within local_time_limit (it kills mailbox work
	 * that takes longer); beyond that and a grace it is stuck. */
	struct timeval busy = {
	    (time_t)c->t->q->cfg->local_time_limit + QMGR_REPLY_GRACE, 0 };
	struct timeval idle = { QMGR_IDLE_TIMEOUT, 0 };

	if (c->nout > 0)
		bufferevent_set_timeouts(c->bev, &busy, &busy);
	else
		bufferevent_set_timeouts(c->bev, &idle, NULL);
}

static struct qmgr_conn *
conn_open(struct qmgr_transport *t)
{
	struct sockaddr_un	 sun;
	struct qmgr_conn	*c;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, t->socket, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_error("socket: %s", strerror(errno));
		return NULL;
	}
	/* A local connect completes at once or fails (EAGAIN: backlog
	 * full); it never leaves a half-open socket to wait for. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("connect to %s: %s", t->socket, strerror(errno));
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->t = t;
	c->bev = bufferevent_socket_new(t->q->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_error("bufferevent_socket_new failed");
		close(fd);
		free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IPC_FRAME_MAX + 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&t->conns, c, link);
	t->nconns++;
	return c;
}

/*
 * An idle connection.  Without affinity, the first.  With it (the SMTP
 * client, whose processes each keep their own idle sessions, smtp_cache.c),
 * the first whose last request went to hop: its process parked that
 * session, and the request takes it instead of connecting anew, although
 * other processes may hold none for hop.  Else the one idle longest: a
 * session it parked for its own next hop has most likely expired, so
 * taking it away from that hop costs the least.  hop NULL: any.
 */
static struct qmgr_conn *
pool_idle(struct qmgr_transport *t, const char *hop)
{
	struct qmgr_conn *c, *old = NULL;

	TAILQ_FOREACH(c, &t->conns, link) {
		if (c->nout > 0)
			continue;
		if (!t->affinity || hop == NULL || strcmp(c->hop, hop) == 0)
			return c;
		if (old == NULL || c->sent_ms < old->sent_ms)
			old = c;
	}
	return old;
}

/* Has c had requests out without a reply for QMGR_STALL_MS (a slow or
 * hung mailbox, probably)? */
static int
conn_stalled(const struct qmgr_conn *c, long long now)
{
	return c->nout > 0 && now - c->sent_ms >= QMGR_STALL_MS;
}

/* The proven connection with the fewest requests out that has room for
 * one more; for deliver (t->fill), one that has not stalled before one
 * that has: a request put behind a hung mailbox waits for its deadline.
 * (An SMTP or LMTP client without a reply for a while is normal: a slow
 * server, a large message.)  Not an unproven one: it may still wait in
 * the listen backlog, and a request behind it would wait too. */
static struct qmgr_conn *
pool_least_busy(struct qmgr_transport *t)
{
	struct qmgr_conn	*c, *best = NULL;
	long long		 now = io_now_ms();
	int			 stalled, best_stalled = 0;

	TAILQ_FOREACH(c, &t->conns, link) {
		if (!c->proven || c->nout >= t->pipeline)
			continue;
		stalled = t->fill > 0 && conn_stalled(c, now);
		if (best == NULL || stalled < best_stalled ||
		    (stalled == best_stalled && c->nout < best->nout)) {
			best = c;
			best_stalled = stalled;
		}
	}
	return best;
}

/* The one recipient of e's request, or NULL if it has several. */
static const char *
entry_sole_rcpt(const struct qmgr_entry *e)
{
	if (e->nbatch != 1)
		return NULL;
	return e->msg->env.rcpt[e->batch[0]].addr;
}

/* Is every request out on c for the address rcpt alone, and none for a
 * message an agent died on (a crash follows the message, not the
 * address: nothing new is put behind it)? */
static int
conn_all_for(const struct qmgr_conn *c, const char *rcpt)
{
	const struct qmgr_entry	*e;
	const char		*other;
	int			 k;

	for (k = 0; k < c->nout; k++) {
		e = c->out[(c->head + k) % DELIVER_PIPELINE_MAX];
		other = entry_sole_rcpt(e);
		if (other == NULL || strcmp(other, rcpt) != 0 ||
		    e->msg->conn_fail > 0)
			return 0;
	}
	return 1;
}

/*
 * A busy connection to give e's request to before an idle one gets it.
 * deliver handles what waits for it together, and requests for one
 * Maildir share its opening, the fsync of its new/ and the worker's round
 * trip, so one agent taking a busy mailbox's stream in full batches costs
 * less per message than the same requests spread over idle agents one or
 * two at a time.  Only where nothing else can be held up, so the first
 * connection whose:
 *  - last reply said that e's one recipient went to one Maildir, written
 *    by the agent's worker (mailbox.<i>, proto_deliver.h): no command,
 *    file, forwarding or mailbox_transport, whose time can depend on the
 *    message, and no expansion to many mailboxes.  A hung Maildir then
 *    holds only requests that would hang on any agent (they go to the
 *    same mailbox), and mail for anybody else is never put behind it
 *    while a connection is idle;
 *  - requests out are all for that address, none for a message an agent
 *    died on (conn_all_for);
 *  - agent replied within QMGR_FILL_FRESH_MS, and its last batch took
 *    less than QMGR_STALL_MS: one that stops answering (a hung mailbox)
 *    or answers slowly gets no more, and the stream spreads over the
 *    idle agents as before, which run in parallel;
 *  - next batch is not yet full: fewer than t->fill requests out beyond
 *    the batch it took when it replied, and room in the pipeline.
 * Never for a message an agent died on: its retries are not piled onto
 * one agent.  0 t->fill: never (the SMTP and LMTP clients make one
 * delivery at a time).  Requests that join a batch started by a hang wait
 * for the deadline of that batch, after which deliver defers them at
 * once (local_hung.c): at most t->fill of them.
 */
static struct qmgr_conn *
pool_filling(struct qmgr_transport *t, const struct qmgr_entry *e)
{
	struct qmgr_conn	*c;
	const char		*rcpt;
	long long		 now;

	if (t->fill == 0 || e == NULL || e->msg->conn_fail > 0 ||
	    (rcpt = entry_sole_rcpt(e)) == NULL)
		return NULL;
	now = io_now_ms();
	TAILQ_FOREACH(c, &t->conns, link)
		if (c->proven && c->nout > 0 && c->nout < t->pipeline &&
		    c->nout - c->inflight < t->fill && !c->slow &&
		    now - c->reply_ms < QMGR_FILL_FRESH_MS &&
		    strcmp(c->fill_rcpt, rcpt) == 0 && conn_all_for(c, rcpt))
			return c;
	return NULL;
}

/*
 * An agent process serves one connection at a time, so with fewer
 * processes than the transport's concurrency some of our connections wait
 * in the listen backlog while others hold the processes.  A connection
 * whose first request has gone unanswered for QMGR_BACKLOG_MS probably
 * waits so; then an answered connection is closed instead of kept, freeing
 * its process for the waiting one.  With enough processes nobody waits and
 * connections persist.
 */
static struct qmgr_conn *
pool_oldest_unanswered(struct qmgr_transport *t, const struct qmgr_conn *self)
{
	struct qmgr_conn *c, *old = NULL;

	TAILQ_FOREACH(c, &t->conns, link)
		if (c != self && c->nout > 0 && !c->proven &&
		    (old == NULL || c->sent_ms < old->sent_ms))
			old = c;
	return old;
}

static int
pool_someone_waits(struct qmgr_transport *t, const struct qmgr_conn *self)
{
	struct qmgr_conn *old = pool_oldest_unanswered(t, self);

	return old != NULL && io_now_ms() - old->sent_ms >= QMGR_BACKLOG_MS;
}

/* Check again when the oldest unanswered request will have waited
 * QMGR_BACKLOG_MS. */
static void
pool_waitcheck_arm(struct qmgr_transport *t)
{
	struct qmgr_conn	*old;
	struct timeval		 tv;
	long long		 ms;

	if ((old = pool_oldest_unanswered(t, NULL)) == NULL)
		return;
	ms = old->sent_ms + QMGR_BACKLOG_MS - io_now_ms();
	if (ms < 1)
		ms = 1;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (!evtimer_pending(t->waitcheck_ev, NULL))
		evtimer_add(t->waitcheck_ev, &tv);
}

/* Idle connections hold agent processes too: let them go while a request
 * waits, and look again while one still does. */
static void
pool_waitcheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_transport	*t = arg;
	struct qmgr_conn	*c, *next;

	(void)fd;
	(void)what;
	if (pool_someone_waits(t, NULL))
		for (c = TAILQ_FIRST(&t->conns); c != NULL; c = next) {
			next = TAILQ_NEXT(c, link);
			if (c->nout == 0)
				conn_close(c);
		}
	pool_waitcheck_arm(t);
}

static void
conn_send(struct qmgr_conn *c, struct qmgr_entry *e, const struct ipc_msg *req,
    int filling)
{
	if (c->nout == 0) {
		c->sent_ms = io_now_ms();
		c->inflight = 0;	/* it takes this one as it wakes */
	}
	c->out[(c->head + c->nout) % DELIVER_PIPELINE_MAX] = e;
	c->nout++;
	if (ipc_evbuffer_put(bufferevent_get_output(c->bev), req) == -1) {
		conn_lost(c, "request could not be encoded");
		return;
	}
	conn_timeouts(c);
	if (!c->proven)
		pool_waitcheck_arm(c->t);
	log_debug("%s: request for %d recipient(s) sent to %s%s", e->msg->id,
	    e->nbatch, c->t->name, filling ? ", filling a busy agent" : "");
}

/* Where the next request (e's, for hop; NULL: any) goes: 2 and *cp a
 * busy connection to fill (pool_filling); 1 and *cp an idle one; else 1 and
 * *cp NULL while a new one may be opened; else 1 and the least busy proven
 * one with room; else 0.  Not while a connection waits for an agent
 * process: the busy ones must run dry so that one of them can be closed
 * and its process freed. */
static int
pool_pick(struct qmgr_transport *t, const struct qmgr_entry *e,
    const char *hop, struct qmgr_conn **cp)
{
	if (!pool_someone_waits(t, NULL) && (*cp = pool_filling(t, e)) != NULL)
		return 2;
	if ((*cp = pool_idle(t, hop)) != NULL)
		return 1;
	if (!t->backing_off && t->nconns < t->concurrency)
		return 1;
	if (pool_someone_waits(t, NULL))
		return 0;
	return (*cp = pool_least_busy(t)) != NULL;
}

int
qmgr_transport_ready(struct qmgr_transport *t)
{
	struct qmgr_conn *c;

	return pool_pick(t, NULL, NULL, &c);
}

int
qmgr_transport_send(struct qmgr_transport *t, struct qmgr_entry *e,
    const struct ipc_msg *req)
{
	struct qmgr_conn *c;
	int		  how;

	if ((how = pool_pick(t, e, e->dest->nexthop, &c)) == 0)
		return -1;
	if (c == NULL && (c = conn_open(t)) == NULL) {
		pool_failed(t);
		return -1;
	}
	strlcpy(c->hop, e->dest->nexthop, sizeof(c->hop));
	conn_send(c, e, req, how == 2);
	return 0;
}

/* Every recipient deferred for a network or routing reason (4.4.x). */
static int
conn_connect_failed(const struct qmgr_outcome *out, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		if (out[k].status != QMGR_RCPT_DEFER || out[k].dsn == NULL ||
		    strncmp(out[k].dsn, "4.4.", 4) != 0)
			return 0;
	return n > 0;
}

static void
conn_reply(struct qmgr_conn *c, struct ipc_msg *reply)
{
	struct qmgr_entry	*e = conn_pop(c);
	struct qmgr_outcome	*out;
	const char		*err = NULL;
	char			 safe[QMGR_TEXT_MAX];

	c->proven = 1;
	c->sent_ms = io_now_ms();
	c->reply_ms = c->sent_ms;
	c->t->nfail = 0;
	c->t->dead_until = 0;
	c->fill_rcpt[0] = '\0';
	out = xreallocarray(NULL, e->nbatch > 0 ? e->nbatch : 1, sizeof(*out));
	if (qmgr_reply_parse(reply, e->nbatch, out, &err) == -1) {
		qmgr_text_safe(safe, sizeof(safe), err);
		log_qid(LOG_LEVEL_ERROR, e->msg->id, "bad reply from delivery "
		    "agent: %s", safe);
	} else {
		(void)qmgr_dest_result(c->t->q, e->dest,
		    conn_connect_failed(out, e->nbatch), time(NULL));
		if (e->nbatch == 1 && out[0].status == QMGR_RCPT_OK &&
		    out[0].mailbox)
			strlcpy(c->fill_rcpt, entry_sole_rcpt(e),
			    sizeof(c->fill_rcpt));
	}
	qmgr_entry_done(c->t->q, e, out);
	free(out);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct qmgr_conn	*c = arg;
	struct qmgr_transport	*t = c->t;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct ipc_msg		 reply;
	long long		 waited = io_now_ms() - c->sent_ms;
	int			 r, replied = 0;

	while ((r = ipc_evbuffer_take(in, IPC_FRAME_MAX + 4, &reply)) != 0) {
		if (r == -1) {
			log_error("malformed frame from delivery agent");
			conn_lost(c, "sent a malformed frame");
			return;
		}
		if (c->nout == 0) {
			ipc_msg_free(&reply);
			log_error("delivery agent sent more replies than "
			    "there were requests");
			conn_lost(c, "protocol error");
			return;
		}
		conn_reply(c, &reply);
		ipc_msg_free(&reply);
		replied = 1;
	}
	/* deliver reads what waits as its next batch right after replying.
	 * A batch that took QMGR_STALL_MS is not filled (pool_filling). */
	if (replied) {
		c->slow = waited >= QMGR_STALL_MS;
		c->inflight = c->nout < DELIVER_BATCH_MAX ? c->nout :
		    DELIVER_BATCH_MAX;
	}
	if (c->nout > 0) {
		conn_timeouts(c);
		qmgr_active_kick(t->q);
		return;
	}
	/* An idle connection that holds up a waiting one is closed by
	 * pool_waitcheck_cb. */
	if (pool_someone_waits(t, c))
		conn_close(c);
	else
		conn_timeouts(c);
	qmgr_active_kick(t->q);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct qmgr_conn *c = arg;

	(void)bev;
	if (c->nout == 0) {
		/* Idle: timed out, or the agent went away; nothing lost. */
		log_debug("idle delivery agent connection closed");
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_lost(c, "did not answer in time");
	else if (what & BEV_EVENT_EOF)
		conn_lost(c, "closed the connection");
	else
		conn_lost(c, "connection failed");
}

void
qmgr_transport_free_all(struct qmgr *q)
{
	struct qmgr_transport	*t;
	struct qmgr_conn	*c;

	/* Outstanding entries belong to their messages, which stay in
	 * active/ and are freed by qmgr_msg_free_all(); a restart delivers
	 * them again. */
	while ((t = TAILQ_FIRST(&q->transports)) != NULL) {
		while ((c = TAILQ_FIRST(&t->conns)) != NULL)
			conn_close(c);
		event_free(t->backoff_ev);
		event_free(t->waitcheck_ev);
		TAILQ_REMOVE(&q->transports, t, link);
		free(t);
	}
}
