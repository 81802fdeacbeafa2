/*
 * smtp - the SMTP client daemon: the transport that delivers mail to other
 * MTAs.  qmgr sends it delivery requests (proto_deliver.h) on
 * private/smtp; each becomes one SMTP session (smtp_session.c), and one
 * event loop runs them all, so a single unprivileged process makes many
 * deliveries at once.  This file makes the TLS context (reading CA files
 * while it still may), drops to mail_owner, opens smtp_tls_policy_maps, wires the modules to the
 * event loop and takes them down on SIGTERM.
 */
#include <signal.h>
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "smtp.h"

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct smtp_params	 par;
	struct smtp		 s;
	struct event_base	*base;
	struct daemon_stop	*stop;
	struct map_list		 policy;
	char			 err[MAP_ERR_MAX];

	daemon_setup(argc, argv, "smtp", &smtp_params_table, &par, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	memset(&s, 0, sizeof(s));
	s.cfg = &ctx.cfg;
	s.par = &par;
	/* A policy map may ask for TLS where the default level does not. */
	if ((par.smtp_tls_security_level != CONFIG_TLS_NONE ||
	    par.smtp_tls_policy_maps.count > 0) &&
	    (s.ssl_ctx = smtp_tls_ctx_new(&par)) == NULL)
		log_warn("TLS is unavailable");
	daemon_drop_privs(&ctx);
	/* Opened as mail_owner, as qmgr opens transport_maps. */
	if (map_list_open(&policy, par.smtp_tls_policy_maps.item,
	    par.smtp_tls_policy_maps.count, err, sizeof(err)) == -1)
		log_fatal("smtp_tls_policy_maps: %s", err);
	s.tls_policy = &policy;

	if ((base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	s.base = base;
	if (smtp_listen_init(&s, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", "private/smtp");
	stop = daemon_event_stop_on_signals(base);

	log_info("started, helo_name=%s, tls_security_level=%d",
	    par.smtp_helo_name, par.smtp_tls_security_level);
	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");

	s.stopping = 1;
	smtp_listen_free(&s);
	smtp_session_free_all(&s);
	smtp_cache_close_all(&s);
	map_list_close(&policy);
	daemon_event_stop_free(stop);
	event_base_free(base);
	smtp_tls_ctx_free(s.ssl_ctx);
	daemon_cleanup(&ctx);
	return 0;
}
