/*
 * smtp - the SMTP client daemon: the transport that delivers mail to other
 * MTAs.  qmgr sends it delivery requests (proto_deliver.h) on
 * private/smtp; each becomes one SMTP session (smtp_session.c), and one
 * event loop runs them all, so a single unprivileged process makes many
 * deliveries at once.  This file makes the TLS context (reading CA files
 * while it still may), drops to mail_owner, opens smtp_tls_policy_maps, wires the modules to the
 * event loop and takes them down on SIGTERM.
 *
 * Run as the service "lmtp" (master.conf; private/lmtp, qmgr's "lmtp"
 * transport), the same program is the LMTP client (RFC 2033), as
 * Postfix's smtp(8) is its lmtp(8): the lmtp_* keys stand in for the
 * smtp_* ones, and there is no TLS and no connection reuse.
 */
#include <signal.h>
#include <string.h>

#include <event2/event.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "smtp.h"

/* The LMTP client's keys in place of the SMTP client's, so the session
 * code reads one set; what LMTP does without is turned off.  p is a
 * shallow copy of the parsed keys: nothing here is freed through it. */
static void
lmtp_params(struct smtp_params *p)
{
	p->smtp_connect_timeout = p->lmtp_connect_timeout;
	p->smtp_helo_timeout = p->lmtp_lhlo_timeout;
	p->smtp_mail_timeout = p->lmtp_mail_timeout;
	p->smtp_rcpt_timeout = p->lmtp_rcpt_timeout;
	p->smtp_data_init_timeout = p->lmtp_data_init_timeout;
	p->smtp_data_xfer_timeout = p->lmtp_data_xfer_timeout;
	p->smtp_data_done_timeout = p->lmtp_data_done_timeout;
	p->smtp_quit_timeout = p->lmtp_quit_timeout;
	p->smtp_rset_timeout = p->lmtp_rset_timeout;
	p->smtp_helo_name = p->lmtp_lhlo_name;
	p->smtp_bind_address = p->lmtp_bind_address;
	p->smtp_bind_address6 = p->lmtp_bind_address6;
	p->smtp_mx_address_limit = p->lmtp_mx_address_limit;
	p->smtp_mx_session_limit = p->lmtp_mx_session_limit;
	p->smtp_skip_5xx_greeting = p->lmtp_skip_5xx_greeting;
	p->smtp_tls_security_level = CONFIG_TLS_NONE;
	p->smtp_tls_policy_maps.count = 0;
	p->smtp_connection_cache_time_limit = 0;
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct smtp_params	 parsed, par;
	struct smtp		 s;
	struct event_base	*base;
	struct daemon_stop	*stop;
	struct map_list		 policy;
	char			 err[MAP_ERR_MAX];

	daemon_setup(argc, argv, "smtp", &smtp_params_table, &parsed, &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	memset(&s, 0, sizeof(s));
	s.cfg = &ctx.cfg;
	/* A shallow copy: its strings are parsed's, freed once at the end. */
	par = parsed;
	s.par = &par;
	if (strcmp(ctx.service, "lmtp") == 0) {
		s.lmtp = 1;
		lmtp_params(&par);
	}
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
		log_fatal("cannot listen on private/%s", ctx.service);
	stop = daemon_event_stop_on_signals(base);

	log_info("started%s, helo_name=%s, tls_security_level=%d",
	    s.lmtp ? " as the LMTP client" : "", par.smtp_helo_name,
	    par.smtp_tls_security_level);
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
