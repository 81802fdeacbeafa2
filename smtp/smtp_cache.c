/*
 * smtp_cache - idle SMTP sessions kept open for the next message to the
 * same next hop, as Postfix's connection cache: a session whose mail
 * transaction ended cleanly is parked here under its next hop (the
 * request's nexthop, so the same TLS policy applies), and the next request
 * for that next hop takes it instead of a new connection (the session
 * then sends RSET first, smtp_session.c), if the session was made for a
 * TLS level no lower than the one the request now needs.  Bounded: at most
 * SMTP_CACHE_MAX sessions per process (the oldest goes first), each at
 * most smtp_connection_cache_time_limit idle.  A parked session that the
 * server closes, or that says anything, is closed; one that expires or is
 * evicted gets a QUIT and is closed when the server answers it or within
 * SMTP_CACHE_QUIT_WAIT seconds (so does a session the client gives up
 * on for the next MX host, smtp_cache_quit()).  The list lives in struct smtp: no
 * global state.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "log.h"
#include "smtp.h"

static void	cache_read_cb(struct bufferevent *, void *);
static void	cache_event_cb(struct bufferevent *, short, void *);

static void
cache_unlink(struct smtp *s, struct smtp_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->cache = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (!c->closing)
		s->ncache--;
}

/* c (in no list) goes first (newest) in the list, idle or closing. */
static void
cache_link(struct smtp *s, struct smtp_conn *c, int closing)
{
	c->s = s;
	c->closing = closing;
	c->prev = NULL;
	c->next = s->cache;
	if (c->next != NULL)
		c->next->prev = c;
	s->cache = c;
	if (!closing)
		s->ncache++;
	bufferevent_setcb(c->bev, cache_read_cb, NULL, cache_event_cb, c);
}

static void
cache_free(struct smtp_conn *c)
{
	cache_unlink(c->s, c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
}

static void
cache_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_conn	*c = arg;

	(void)bev;
	/* A parked session has nothing to hear but the answer to QUIT, or
	 * a server that gives up on it (421): either way it ends. */
	log_debug("cached session to %s[%s] %s", c->addr.host, c->addr.ip,
	    c->closing ? "closed" : "spoke while idle: closed");
	cache_free(c);
}

/* c (in no list) goes to the list as closing: QUIT, then a short wait
 * for the answer. */
static void
cache_say_quit(struct smtp *s, struct smtp_conn *c)
{
	struct timeval	 wait = { SMTP_CACHE_QUIT_WAIT, 0 };

	cache_link(s, c, 1);
	bufferevent_write(c->bev, "QUIT\r\n", 6);
	bufferevent_set_timeouts(c->bev, &wait, &wait);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
cache_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_conn	*c = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing) {
		/* Idle too long: say goodbye, and wait a little for it. */
		cache_unlink(c->s, c);
		cache_say_quit(c->s, c);
		return;
	}
	cache_free(c);
}

static void
cache_evict_oldest(struct smtp *s)
{
	struct smtp_conn	*c, *old = NULL;

	for (c = s->cache; c != NULL; c = c->next)
		if (!c->closing)
			old = c;	/* the list is newest first */
	if (old != NULL)
		cache_event_cb(old->bev, BEV_EVENT_TIMEOUT, old);
}

void
smtp_cache_put(struct smtp *s, struct smtp_conn *c)
{
	struct timeval	 idle = { s->par->smtp_connection_cache_time_limit, 0 };

	if (s->ncache >= SMTP_CACHE_MAX)
		cache_evict_oldest(s);
	cache_link(s, c, 0);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_enable(c->bev, EV_READ);
	log_debug("session to %s[%s] cached for %s (%d transactions)",
	    c->addr.host, c->addr.ip, c->key, c->uses);
}

struct smtp_conn *
smtp_cache_get(struct smtp *s, const char *key, int level)
{
	struct smtp_conn	*c;

	for (c = s->cache; c != NULL; c = c->next) {
		if (c->closing || strcmp(c->key, key) != 0 || c->level < level)
			continue;
		/* Anything the server said meanwhile was read already. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			continue;
		cache_unlink(s, c);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		return c;
	}
	return NULL;
}

void
smtp_cache_quit(struct smtp *s, struct bufferevent *bev,
    const struct smtp_addr *a)
{
	struct smtp_conn	*c = xcalloc(1, sizeof(*c));

	c->bev = bev;
	c->addr = *a;
	cache_say_quit(s, c);
}

void
smtp_cache_close_all(struct smtp *s)
{
	while (s->cache != NULL)
		cache_free(s->cache);
}
