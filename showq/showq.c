/*
 * showq - the queue listing service (showq.h, showq(8)): one instance,
 * unprivileged (mail_owner), in the queue directory, serving the showq
 * protocol on the socket the master bound in public/.  This file drops
 * privileges, wires the server to an event loop and takes it down on
 * SIGTERM.
 */
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "proto_showq.h"
#include "showq.h"

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct daemon_stop	*stop;
	struct showq		 s;

	daemon_setup(argc, argv, "showq", NULL, NULL, &ctx); /* global keys */
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	daemon_drop_privs(&ctx);

	memset(&s, 0, sizeof(s));
	if ((s.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	if (showq_listen_init(&s, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", SHOWQ_SOCKET);
	stop = daemon_event_stop_on_signals(s.base);

	log_info("started");
	if (event_base_dispatch(s.base) < 0)
		log_error("event loop failed");

	showq_listen_free(&s);
	daemon_event_stop_free(stop);
	event_base_free(s.base);
	daemon_cleanup(&ctx);
	return 0;
}
