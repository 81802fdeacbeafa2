/*
 * bounce - the notifications service, as Postfix's bounce(8): qmgr asks it
 * (proto_bounce.h) to write the delivery status notification about some
 * recipients of a message, and it composes the RFC 3464 report from the
 * message's queue file and commits it into the queue as a new message
 * from <>, which qmgr then delivers like any other.  qmgr thus never parses
 * message content.  One instance, unprivileged (mail_owner), event-driven;
 * it keeps nothing between requests, so a crash loses at most the request
 * in progress, which qmgr asks again.  This file drops privileges, wires
 * the server to one event loop and takes it down on SIGTERM.
 */
#include <string.h>

#include <event2/event.h>

#include "bounce.h"
#include "bounce_params.h"
#include "daemon.h"
#include "daemon_event.h"
#include "log.h"

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct bounce_params	 par;
	struct bounce		 b;
	struct daemon_stop	*stop;

	daemon_setup(argc, argv, "bounce", &bounce_params_table, &par, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	daemon_drop_privs(&ctx);

	memset(&b, 0, sizeof(b));
	b.cfg = &ctx.cfg;
	b.par = &par;
	if ((b.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	if (bounce_listen_init(&b, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", BOUNCE_SOCKET);
	stop = daemon_event_stop_on_signals(b.base);

	log_info("started, 2bounce_notice_recipient %s, bounce_size_limit %zu",
	    par.double_bounce_recipient, par.bounce_size_limit);
	if (event_base_dispatch(b.base) < 0)
		log_error("event loop failed");

	bounce_listen_free(&b);
	daemon_event_stop_free(stop);
	event_base_free(b.base);
	daemon_cleanup(&ctx);
	return 0;
}
