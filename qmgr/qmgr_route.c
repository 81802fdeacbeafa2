/*
 * qmgr_route - which transport delivers to a recipient, and to which next
 * hop.  Pure: a function of the address and the configuration, no state and
 * no I/O, so it can be tested alone and later consult transport_maps and
 * relayhost in front of the default rule (issue 9).  Every address gets an
 * answer: one that cannot be delivered goes to the internal "error"
 * transport with the status and text its bounce will carry.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "qmgr.h"

static void
route_set(struct qmgr_route *r, const char *transport, const char *nexthop)
{
	memset(r, 0, sizeof(*r));
	strlcpy(r->transport, transport, sizeof(r->transport));
	strlcpy(r->nexthop, nexthop, sizeof(r->nexthop));
}

static void
route_error(struct qmgr_route *r, const char *dsn, const char *fmt,
    const char *arg)
{
	route_set(r, QMGR_TRANSPORT_ERROR, "");
	r->dsn = dsn;
	snprintf(r->text, sizeof(r->text), fmt, arg);
}

/* The next hop names a destination queue: one spelling per domain. */
static void
route_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void
route_local(const struct tern_config *cfg, struct qmgr_route *r)
{
	route_set(r, QMGR_TRANSPORT_LOCAL,
	    cfg->myhostname != NULL ? cfg->myhostname : "");
	route_lower(r->nexthop);
}

/* An address without a domain is local (RFC 5321 lets "postmaster" stand
 * alone).  Every local recipient has one next hop, this host, whatever
 * local domain it names (Postfix: local_transport = local:$myhostname): a
 * message's local recipients then travel in one request, so deliver sees
 * every spelling of one mailbox together and writes the message once.  One that fails RFC 5321 syntax never
 * gets better: 5.1.3.  Remote domains bounce 5.1.2 until the SMTP client
 * exists; then they route to "smtp:<domain>". */
void
qmgr_route(const struct tern_config *cfg, const char *rcpt,
    struct qmgr_route *r)
{
	const char	*domain, *why = "bad syntax";

	if (strchr(rcpt, '@') == NULL) {
		route_local(cfg, r);
		return;
	}
	if (!addr_valid_mailbox(rcpt, strlen(rcpt), &why) ||
	    (domain = addr_domain(rcpt)) == NULL) {
		route_error(r, "5.1.3", "bad recipient address: %s", why);
		return;
	}
	if (strlen(domain) >= sizeof(r->nexthop)) {
		route_error(r, "5.1.3", "bad recipient address: %s",
		    "domain too long");
		return;
	}
	if (!config_is_local_domain(cfg, domain)) {
		route_error(r, "5.1.2", "%s", "remote delivery not available "
		    "yet");
		return;
	}
	route_local(cfg, r);
}
