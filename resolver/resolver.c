/*
 * resolver - the DNS resolver daemon.  It answers MX requests from the
 * delivery agents (proto_resolver.h) with libunbound, so nothing that
 * parses DNS answers runs with privileges or inside a delivery agent.  One
 * instance, unprivileged, event-driven.  This file sets up the libunbound
 * context (while /etc/resolv.conf is still readable), drops privileges,
 * wires the modules to one event loop and takes them down on SIGTERM.
 */
#include <signal.h>
#include <string.h>

#include <event2/event.h>
#include <unbound.h>

#include "daemon.h"
#include "daemon_event.h"
#include "log.h"
#include "resolver.h"
#include "resolver_params.h"

static void
resolver_ub_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	resolver_lookup_process(arg);
}

static void
resolver_ub_option(struct ub_ctx *ub, const char *opt, const char *val)
{
	int	 err;

	if ((err = ub_ctx_set_option(ub, opt, val)) != 0)
		log_fatal("libunbound option %s %s: %s", opt, val,
		    ub_strerror(err));
}

/*
 * Forward to resolver_nameservers, else to the servers of resolv.conf.
 * No trust anchor is configured yet, so answers are not validated; DANE
 * for the SMTP client will need one (ub_ctx_add_ta_autr() with the root
 * key file, read here before the privileges go).
 */
static struct ub_ctx *
resolver_ub_new(const struct resolver_params *cfg)
{
	struct ub_ctx	*ub;
	int		 i, err;

	if ((ub = ub_ctx_create()) == NULL)
		log_fatal("cannot create the libunbound context");
	/* A thread, not a forked process: a child would inherit and keep
	 * open every client connection of the moment. */
	if ((err = ub_ctx_async(ub, 1)) != 0)
		log_fatal("libunbound: threads: %s", ub_strerror(err));
	/* The forwarders are chosen by the administrator, and a local
	 * caching server on 127.0.0.1 is the common case. */
	resolver_ub_option(ub, "do-not-query-localhost:", "no");
	for (i = 0; i < cfg->resolver_nameservers.count; i++) {
		const char *ns = cfg->resolver_nameservers.item[i];

		if ((err = ub_ctx_set_fwd(ub, ns)) != 0)
			log_fatal("resolver_nameservers: %s: %s", ns,
			    ub_strerror(err));
	}
	if (cfg->resolver_nameservers.count == 0 &&
	    (err = ub_ctx_resolvconf(ub, NULL)) != 0)
		log_warn("cannot use /etc/resolv.conf (%s): resolving from "
		    "the root servers", ub_strerror(err));
	return ub;
}

static void
resolver_init(struct resolver *r, struct event_base *base, struct ub_ctx *ub,
    int timeout)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	r->ub = ub;
	r->timeout = timeout > 0 ? timeout : 1;
	TAILQ_INIT(&r->orphans);
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct resolver_params	 par;
	struct resolver		 r;
	struct event_base	*base;
	struct event		*ub_ev;
	struct daemon_stop	*stop;
	struct ub_ctx		*ub;

	daemon_setup(argc, argv, "resolver", &resolver_params_table, &par,
	    &ctx);
	if (ctx.listen_fd < 0)
		log_fatal("no listening socket (-l): nothing to serve");
	ub = resolver_ub_new(&par);
	daemon_drop_privs(&ctx);

	if ((base = event_base_new()) == NULL)
		log_fatal("event_base_new failed");
	resolver_init(&r, base, ub, ctx.cfg.resolver_timeout);
	ub_ev = event_new(base, ub_fd(ub), EV_READ | EV_PERSIST,
	    resolver_ub_cb, &r);
	if (ub_fd(ub) < 0 || ub_ev == NULL || event_add(ub_ev, NULL) < 0)
		log_fatal("cannot watch the libunbound descriptor");
	if (resolver_listen_init(&r, ctx.listen_fd) < 0)
		log_fatal("cannot listen on %s", RESOLVER_SOCKET);
	stop = daemon_event_stop_on_signals(base);

	log_info("started, timeout=%ds, nameservers=%s", r.timeout,
	    par.resolver_nameservers.count > 0 ? "configured" :
	    "resolv.conf");
	if (event_base_dispatch(base) < 0)
		log_error("event loop failed");

	/* Clients first (their lookups cancel queries), then libunbound,
	 * then the queries it would not cancel. */
	resolver_listen_free(&r);
	event_free(ub_ev);
	ub_ctx_delete(ub);
	resolver_lookup_shutdown(&r);
	daemon_event_stop_free(stop);
	event_base_free(base);
	daemon_cleanup(&ctx);
	return 0;
}
