/*
 * smtp_mx - the MX set of a domain, from the resolver daemon
 * (proto_resolver.h) over a connection of its own, without blocking: the
 * resolver answers one request per connection at a time, and a session
 * needs one answer.  The answer is checked like any input: hosts come in
 * the resolver's order (preference, ties shuffled), each with all its
 * addresses, IPv6 first as listed.  A list that names this machine is
 * cut before it (RFC 5321 section 5.1); when the best host is this
 * machine, the mail would loop: 5.4.6.  A resolver that fails, or does
 * not answer within smtp_connect_timeout, defers the delivery.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "buf.h"
#include "ipc_event.h"
#include "log.h"
#include "proto_resolver.h"
#include "smtp.h"

#define SMTP_MX_REPLY_MAX	(64 * 1024)

struct smtp_mx {
	struct smtp		*s;
	struct bufferevent	*bev;
	struct event		*ev;	/* reports a failure to connect, later */
	char			 domain[DELIVER_NEXTHOP_MAX + 1];
	int			 port;
	struct smtp_addr	*a;
	int			 max;
	smtp_mx_cb		 cb;
	void			*arg;
};

static void
mx_free(struct smtp_mx *m)
{
	if (m->bev != NULL)
		bufferevent_free(m->bev);
	if (m->ev != NULL)
		event_free(m->ev);
	free(m);
}

static void
mx_fail(struct smtp_mx *m, const char *text)
{
	smtp_mx_cb	 cb = m->cb;
	void		*arg = m->arg;

	mx_free(m);
	cb(arg, 4, "4.4.3", text, 0);
}

/* Is host (name and addresses) this machine?  Loopback addresses are not
 * counted: tests and local content filters listen there. */
static int
mx_is_self(const struct smtp_mx *m, const char *host, int first, int n)
{
	int	 i;

	if (strcasecmp(host, m->s->cfg->myhostname) == 0)
		return 1;
	for (i = first; i < n; i++) {
		if (strncmp(m->a[i].ip, "127.", 4) == 0 ||
		    strcmp(m->a[i].ip, "::1") == 0)
			continue;
		if (smtp_addr_is_local(&m->a[i]))
			return 1;
	}
	return 0;
}

/* Fill the address list from an "ok" reply.  The count, or -1 for a loop
 * (the best host is this machine). */
static int
mx_take(struct smtp_mx *m, const struct ipc_msg *r)
{
	char		 name[16], host[256];
	const char	*mx, *addrs, *sp;
	long long	 nmx;
	int		 i, n = 0, first;

	if (ipc_msg_get_int(r, "nmx", 0, RESOLVER_MX_MAX, &nmx) < 0)
		return 0;
	for (i = 0; i < nmx && n < m->max; i++) {
		snprintf(name, sizeof(name), "mx.%d", i);
		if ((mx = ipc_msg_get(r, name)) == NULL ||
		    (sp = strchr(mx, ' ')) == NULL)
			continue;
		snprintf(host, sizeof(host), "%s", sp + 1);
		snprintf(name, sizeof(name), "addr.%d", i);
		if ((addrs = ipc_msg_get(r, name)) == NULL)
			addrs = "";
		first = n;
		(void)smtp_addr_add_list(m->a, &n, m->max, host, addrs,
		    m->port);
		if (mx_is_self(m, host, first, n)) {
			if (i == 0)
				return -1;
			n = first;
			break;
		}
	}
	return n;
}

static void
mx_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_mx	*m = arg;
	struct ipc_msg	 r;
	const char	*st, *dsn, *text;
	char		 buf[512];
	smtp_mx_cb	 cb = m->cb;
	void		*cbarg = m->arg;
	int		 rc, n;

	rc = ipc_evbuffer_take(bufferevent_get_input(bev), SMTP_MX_REPLY_MAX,
	    &r);
	if (rc == 0)
		return;
	if (rc < 0 || r.type != RESOLVER_T_REPLY ||
	    (st = ipc_msg_get(&r, "status")) == NULL) {
		if (rc > 0)
			ipc_msg_free(&r);
		mx_fail(m, "bad reply from the resolver");
		return;
	}
	text = ipc_msg_get(&r, "text");
	dsn = ipc_msg_get(&r, "dsn");
	snprintf(buf, sizeof(buf), "%s: %s", m->domain, text ? text : st);
	if (strcmp(st, "ok") == 0) {
		n = mx_take(m, &r);
		if (n < 0) {
			snprintf(buf, sizeof(buf),
			    "mail for %s loops back to myself", m->domain);
			mx_free(m);
			cb(cbarg, 5, "5.4.6", buf, 0);
		} else if (n == 0) {
			snprintf(buf, sizeof(buf), "%s: no usable address for "
			    "its mail exchangers", m->domain);
			mx_free(m);
			cb(cbarg, 4, "4.4.4", buf, 0);
		} else {
			mx_free(m);
			cb(cbarg, 0, "", "", n);
		}
	} else if (strcmp(st, "perm") == 0) {
		mx_free(m);
		cb(cbarg, 5, dsn != NULL && dsn[0] == '5' ? dsn : "5.1.2", buf,
		    0);
	} else {
		mx_free(m);
		cb(cbarg, 4, dsn != NULL && dsn[0] == '4' ? dsn : "4.4.3", buf,
		    0);
	}
	ipc_msg_free(&r);
}

static void
mx_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	mx_fail(arg, (what & BEV_EVENT_TIMEOUT) ?
	    "time-out waiting for the resolver" :
	    "cannot talk to the resolver");
}

static void
mx_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mx_fail(arg, "cannot reach the resolver");
}

struct smtp_mx *
smtp_mx_start(struct smtp *s, const char *domain, int port,
    struct smtp_addr *a, int max, smtp_mx_cb cb, void *arg)
{
	struct smtp_mx		*m = xcalloc(1, sizeof(*m));
	struct sockaddr_un	 sun;
	struct ipc_msg		 req;
	struct timeval		 tv;

	m->s = s;
	snprintf(m->domain, sizeof(m->domain), "%s", domain);
	m->port = port;
	m->a = a;
	m->max = max;
	m->cb = cb;
	m->arg = arg;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", RESOLVER_SOCKET);
	ipc_msg_init(&req, RESOLVER_T_MX);
	m->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (m->bev == NULL || ipc_msg_add(&req, "v", "1") < 0 ||
	    ipc_msg_add(&req, "domain", domain) < 0 ||
	    ipc_evbuffer_put(bufferevent_get_output(m->bev), &req) < 0 ||
	    bufferevent_socket_connect(m->bev, (struct sockaddr *)&sun,
	    sizeof(sun)) < 0) {
		log_warn("cannot ask the resolver about %s", domain);
		if (m->bev != NULL)
			bufferevent_free(m->bev);
		m->bev = NULL;
		m->ev = event_new(s->base, -1, 0, mx_later_cb, m);
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		if (m->ev == NULL || event_add(m->ev, &tv) < 0)
			log_fatal("event_add failed");
		ipc_msg_free(&req);
		return m;
	}
	ipc_msg_free(&req);
	tv.tv_sec = s->par->smtp_connect_timeout + s->cfg->resolver_timeout;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(m->bev, &tv, &tv);
	bufferevent_setcb(m->bev, mx_read_cb, NULL, mx_event_cb, m);
	bufferevent_enable(m->bev, EV_READ);
	return m;
}

void
smtp_mx_cancel(struct smtp_mx *m)
{
	if (m != NULL)
		mx_free(m);
}
