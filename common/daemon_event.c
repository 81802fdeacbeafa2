/*
 * daemon_event - SIGTERM and SIGINT end a libevent daemon's loop (see
 * daemon_event.h).  The signals are read by libevent in the loop, not in a
 * handler, so the loop ends between two callbacks, never inside one.
 */
#include <signal.h>
#include <stdlib.h>

#include <event2/event.h>

#include "buf.h"
#include "daemon_event.h"
#include "log.h"

struct daemon_stop {
	struct event	*sigterm;
	struct event	*sigint;
};

static void
daemon_event_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("stopping on signal %d", (int)sig);
	event_base_loopbreak(arg);
}

struct daemon_stop *
daemon_event_stop_on_signals(struct event_base *base)
{
	struct daemon_stop	*st = xcalloc(1, sizeof(*st));

	st->sigterm = evsignal_new(base, SIGTERM, daemon_event_stop_cb, base);
	st->sigint = evsignal_new(base, SIGINT, daemon_event_stop_cb, base);
	if (st->sigterm == NULL || st->sigint == NULL ||
	    evsignal_add(st->sigterm, NULL) < 0 ||
	    evsignal_add(st->sigint, NULL) < 0)
		log_fatal("cannot install signal handlers");
	return st;
}

void
daemon_event_stop_free(struct daemon_stop *st)
{
	if (st == NULL)
		return;
	event_free(st->sigterm);
	event_free(st->sigint);
	free(st);
}
