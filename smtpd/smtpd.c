/*
 * smtpd - the tern SMTP server.  main() only wires the pieces together:
 * the common daemon start-up, one libevent loop, the server on the socket
 * the master handed us, and a clean exit on SIGTERM/SIGINT (every session
 * told, every pending commit finished, everything freed).
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "smtpd_params.h"
#include "smtpd_server.h"
#include "smtpd_tls.h"

/* Each session is a descriptor: take every one the hard limit allows
 * (the server then caps its sessions to what is there). */
static void
smtpd_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("setrlimit NOFILE: %s", strerror(errno));
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct smtpd_params	 par;
	struct smtpd_server	 srv;
	struct event_base	*base;
	struct daemon_stop	*stop;
	struct smtpd_tls	*tls;

	daemon_setup(argc, argv, "smtpd", &smtpd_params_table, &par, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket: smtpd is started by master (-l)");
	smtpd_raise_nofile();
	/* Received: dates need the time zone, which a chroot would hide. */
	tzset();
	if ((base = event_base_new()) == NULL)
		log_fatal("cannot create the event loop");
	/* As root: the key may be readable by root alone. */
	tls = smtpd_tls_new(&par);
	daemon_drop_privs(&ctx);
	smtpd_server_init(&srv, base, &ctx.cfg, &par, ctx.listen_fd,
	    ctx.service, tls);
	stop = daemon_event_stop_on_signals(base);
	log_debug("accepting connections");
	event_base_dispatch(base);
	smtpd_server_free(&srv);
	daemon_event_stop_free(stop);
	event_base_free(base);
	daemon_cleanup(&ctx);
	return 0;
}
