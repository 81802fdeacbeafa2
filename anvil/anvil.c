/*
 * anvil - the connection-counting daemon, as Postfix's anvil(8): every
 * smtpd process tells it when a session from a client address begins and
 * ends (proto_anvil.h), and learns how many sessions that address has now
 * and how many it began in the current time unit (anvil_rate_time_unit),
 * across all smtpd processes; smtpd applies the limits.  One instance,
 * unprivileged, event-driven, holding only counts in memory: a restart
 * forgets them, which errs towards letting clients in.  This file drops
 * privileges, wires the server and the expiry timer to one event loop and
 * takes them down on SIGTERM.
 */
#include <signal.h>
#include <string.h>

#include <event2/event.h>

#include "anvil.h"
#include "daemon.h"
#include "daemon_event.h"
#include "io.h"
#include "log.h"
#include "proto_anvil.h"
#include "anvil_params.h"

/* Once per time unit: forget the idents that have neither sessions nor a
 * running unit, so the table holds only what is live. */
static void
anvil_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct anvil	*a = arg;
	int		 gone;

	(void)fd;
	(void)what;
	gone = anvil_table_expire(&a->table, io_now_ms());
	log_debug("expired %d ident(s), %d left", gone, a->table.n);
	a->full_logged = 0;
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct anvil_params	 par;
	struct anvil		 a;
	struct daemon_stop	*stop;
	struct timeval		 unit;

	daemon_setup(argc, argv, "anvil", &anvil_params_table, &par, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	daemon_drop_privs(&ctx);

	memset(&a, 0, sizeof(a));
	if ((a.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	anvil_table_init(&a.table, ANVIL_ENTRY_MAX,
	    1000LL * par.anvil_rate_time_unit);
	unit.tv_sec = par.anvil_rate_time_unit;
	unit.tv_usec = 0;
	a.expire_ev = event_new(a.base, -1, EV_PERSIST, anvil_expire_cb, &a);
	if (a.expire_ev == NULL || event_add(a.expire_ev, &unit) < 0)
		log_fatal("cannot set up the expiry timer");
	if (anvil_listen_init(&a, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", ANVIL_SOCKET);
	stop = daemon_event_stop_on_signals(a.base);

	log_info("started, rate time unit %ds", par.anvil_rate_time_unit);
	if (event_base_dispatch(a.base) < 0)
		log_error("event loop failed");

	anvil_listen_free(&a);
	anvil_table_free(&a.table);
	event_free(a.expire_ev);
	daemon_event_stop_free(stop);
	event_base_free(a.base);
	daemon_cleanup(&ctx);
	return 0;
}
