/*
 * lookup - the lookup service, as Postfix's proxymap(8) and
 * trivial-rewrite(8) are for its smtpd: smtpd asks it whether a recipient
 * exists and which mailbox gets it (proto_lookup.h), so that smtpd reads no
 * password database and no table, holds no database connection and runs
 * chrooted into the queue directory.  Unprivileged (mail_owner), not
 * chrooted (it reads /etc/passwd through NSS and the tables of
 * alias_maps), one event loop; each lookup is answered at once, in
 * request order.  It keeps its tables open between requests (the map
 * layer reopens one whose file changed) and nothing else: a restart costs
 * only the tables' reopening.  This file drops privileges, wires the
 * server to the loop and takes it down on SIGTERM.
 */
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "lookup.h"

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct lookup		 l;
	struct daemon_stop	*stop;

	daemon_setup(argc, argv, "lookup", NULL, NULL, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	if (ctx.chroot)
		log_warn("chrooted: the password database and the tables "
		    "must then be inside the queue directory");
	daemon_drop_privs(&ctx);

	memset(&l, 0, sizeof(l));
	rcpt_lookup_init(&l.rcpt, &ctx.cfg);
	if ((l.base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	if (lookup_listen_init(&l, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", LOOKUP_SOCKET);
	stop = daemon_event_stop_on_signals(l.base);

	log_info("started");
	if (event_base_dispatch(l.base) < 0)
		log_error("event loop failed");

	lookup_listen_free(&l);
	rcpt_lookup_free(&l.rcpt);
	daemon_event_stop_free(stop);
	event_base_free(l.base);
	daemon_cleanup(&ctx);
	return 0;
}
