/*
 * qmgr - the queue manager.  It owns the queue: it moves committed mail
 * from incoming/ into active/, hands it to the delivery agents, records
 * each recipient's outcome in the queue file, retries what was deferred and
 * removes what is done.  One instance, unprivileged, working directory the
 * queue.  This file wires the modules to one event loop: it owns the two
 * events through which the others ask for work (the dispatcher, a rescan
 * when the active set has room), so that no module has to call back into
 * the one that called it; and it takes everything down again on SIGTERM.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "buf.h"
#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "proto_qmgr.h"
#include "qmgr.h"
#include "virtual.h"

/* qmgr_active_kick(): hand queued entries to the transports, load ready
 * messages. */
static void
qmgr_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	qmgr_dispatch(arg);
}

/* The loop has run the callbacks that were ready: write their log lines
 * (log_batch(); two or three per message, now one write per turn). */
static void
qmgr_logflush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

/* A first line waits: flush after this pass over the ready callbacks (an
 * activated event runs after those already active). */
static void
qmgr_log_wake(void *arg)
{
	struct qmgr *q = arg;

	event_active(q->logflush_ev, EV_TIMEOUT, 0);
}

/* qmgr_active_kick(): the scans have work and the active set has room.
 * One bounded step per turn of the loop, the next after a poll. */
static void
qmgr_rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct qmgr *q = arg;

	(void)fd;
	(void)what;
	if (qmgr_scan_run(q) && !event_pending(q->rescan_ev, EV_TIMEOUT,
	    NULL))
		(void)event_add(q->rescan_ev, &now);
}

/* A second look at incoming/ this long after start-up: an smtpd that lost
 * the previous qmgr drops its notices for SMTP_NOTIFY_RETRY_MS (1 s)
 * before it connects again, and what it commits in that pause after our
 * first scan would otherwise wait for queue_scan_interval. */
#define QMGR_START_RESCAN_MS	2500

static void
qmgr_start_rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	qmgr_scan_incoming(arg);
}

/* Crash recovery first, then whatever arrived while qmgr was down. */
static void
qmgr_startup_scan(struct qmgr *q)
{
	qmgr_scan_links();
	qmgr_scan_recover(q);
	qmgr_scan_incoming(q);
	qmgr_scan_deferred(q, 0);
	qmgr_scan_tmp(q);
	if (event_base_once(q->base, -1, EV_TIMEOUT, qmgr_start_rescan_cb, q,
	    &(struct timeval){ QMGR_START_RESCAN_MS / 1000,
	    (QMGR_START_RESCAN_MS % 1000) * 1000 }) == -1)
		log_warn("cannot schedule the second scan of incoming/");
}

/* Postfix warns about a domain that is local and virtual both. */
static void
qmgr_virtual_warn(struct virtual_maps *vm)
{
	char	 domain[256];

	if (virtual_mydestination_conflict(vm, domain, sizeof(domain)) > 0)
		log_warn("do not list domain %s in both mydestination and "
		    "virtual_alias_domains or virtual_mailbox_domains "
		    "(mydestination wins)", domain);
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct qmgr_params	 par;
	struct qmgr		 q;
	struct daemon_stop	*stop;
	char			 err[MAP_ERR_MAX];

	daemon_setup(argc, argv, "qmgr", &qmgr_params_table, &par, &ctx);
	daemon_drop_privs(&ctx);
	if (queue_dirs_create() == -1)
		log_fatal("cannot create the queue directories");

	memset(&q, 0, sizeof(q));
	q.cfg = &ctx.cfg;
	q.par = &par;
	if ((q.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	q.kick_ev = event_new(q.base, -1, 0, qmgr_kick_cb, &q);
	q.rescan_ev = event_new(q.base, -1, 0, qmgr_rescan_cb, &q);
	q.logflush_ev = event_new(q.base, -1, 0, qmgr_logflush_cb, &q);
	if (q.kick_ev == NULL || q.rescan_ev == NULL || q.logflush_ev == NULL)
		log_fatal("qmgr: cannot create events");
	qmgr_active_init(&q);
	qmgr_dest_init(&q);
	/* As mail_owner: a table it cannot read now could not be read
	 * again when it changes either. */
	if (map_list_open(&q.transport_maps, q.par->transport_maps.item,
	    q.par->transport_maps.count, err, sizeof(err)) == -1)
		log_fatal("transport_maps: %s", err);
	q.virt = xmalloc(sizeof(*q.virt));
	if (virtual_open(q.virt, q.cfg, err, sizeof(err)) == -1)
		log_fatal("%s", err);
	qmgr_virtual_warn(q.virt);
	qmgr_transport_init(&q);
	qmgr_bounce_init(&q);
	qmgr_scan_init(&q);
	if (ctx.listen_fd == -1)
		log_warn("no listening socket (-l): relying on queue scans");
	else if (qmgr_listen_init(&q, ctx.listen_fd) == -1)
		log_fatal("cannot listen on %s", QMGR_SOCKET);
	stop = daemon_event_stop_on_signals(q.base);

	qmgr_startup_scan(&q);
	log_info("started, deliver_concurrency=%d, qmgr_message_active_limit=%d, "
	    "qmgr_message_recipient_limit=%d", q.par->deliver_concurrency,
	    q.par->qmgr_message_active_limit,
	    q.par->qmgr_message_recipient_limit);
	log_batch(qmgr_log_wake, &q);
	if (event_base_dispatch(q.base) == -1)
		log_error("event loop failed");
	log_batch(NULL, NULL);

	/* Messages still out with deliver stay in active/; the next qmgr
	 * takes them back. */
	if (ctx.listen_fd != -1)
		qmgr_listen_free(&q);
	qmgr_transport_free_all(&q);
	qmgr_bounce_free(&q);
	qmgr_scan_free(&q);
	qmgr_msg_free_all(&q);
	qmgr_active_free(&q);
	qmgr_dest_free_all(&q);
	map_list_close(&q.transport_maps);
	virtual_close(q.virt);
	free(q.virt);
	event_free(q.kick_ev);
	event_free(q.rescan_ev);
	event_free(q.logflush_ev);
	daemon_event_stop_free(stop);
	event_base_free(q.base);
	daemon_cleanup(&ctx);
	return 0;
}
