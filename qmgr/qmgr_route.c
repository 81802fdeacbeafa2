/*
 * qmgr_route - which transport delivers to a recipient, and to which next
 * hop.  A function of the address, the configuration and transport_maps
 * (read through common/map.h), with no other state and no I/O of its own,
 * so every rule is unit-tested.  The order, for a recipient's domain:
 *
 *   1. no domain, or a domain of mydestination: "local", next hop
 *      myhostname (transport_maps cannot take local mail elsewhere: unlike
 *      Postfix, where transport_maps comes first);
 *   2. transport_maps: the domain, then each parent as ".parent", then
 *      "*" (transport(5)); an address literal is looked up as itself only;
 *   3. relayhost, if set: "smtp" to it ("[host]:port": no MX lookup);
 *   4. "smtp", next hop the domain (the SMTP client looks up its MX).
 *
 * Before all of these (qmgr_route_virtual), a recipient that has a
 * virtual alias, or is in a virtual alias or mailbox domain
 * (common/virtual.h), goes to "local" as in 1: deliver expands virtual
 * aliases and delivers to virtual mailboxes, so one request carries a
 * message's local and virtual recipients.
 *
 * A transport_maps value is "transport:nexthop" as in transport(5):
 * "smtp:[host]:port", "smtp:host", "smtp:" (next hop: the domain), ":host"
 * (the default transport, smtp), "lmtp:unix:/path" and "lmtp:host:port"
 * (checked by the LMTP client), "local:", "error:5.x.y text" (bounce,
 * or defer with a 4.x.y status), "retry:4.x.y text" (defer) and
 * "discard:text" (delivered to nowhere).  Every address gets an answer:
 * one that cannot be routed goes to the internal "error" transport with
 * the status and text its bounce will carry; a failed map lookup or a
 * malformed entry defers ("retry"), never bounces.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "map.h"
#include "qmgr.h"
#include "virtual.h"

static void
route_set(struct qmgr_route *r, const char *transport, const char *nexthop)
{
	memset(r, 0, sizeof(*r));
	strlcpy(r->transport, transport, sizeof(r->transport));
	strlcpy(r->nexthop, nexthop, sizeof(r->nexthop));
}

static void
route_error(struct qmgr_route *r, const char *transport, const char *dsn,
    const char *fmt, const char *arg)
{
	route_set(r, transport, "");
	strlcpy(r->dsn, dsn, sizeof(r->dsn));
	snprintf(r->text, sizeof(r->text), fmt, arg);
}

/* The next hop names a destination queue: one spelling per domain.  Not
 * an LMTP socket's path ("unix:/path"), which is case-sensitive. */
static void
route_lower(char *s)
{
	if (strncasecmp(s, "unix:", 5) == 0)
		return;
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

/* A 4.x.y or 5.x.y status (RFC 3463, as proto_deliver.c checks it)
 * followed by white space or the end: its length, else 0. */
static size_t
route_status_len(const char *s)
{
	char	 tok[QMGR_DSN_MAX];
	size_t	 n = strcspn(s, " \t");

	if (n == 0 || n >= sizeof(tok))
		return 0;
	memcpy(tok, s, n);
	tok[n] = '\0';
	return proto_deliver_dsn_valid(tok, DELIVER_DEFER) ||
	    proto_deliver_dsn_valid(tok, DELIVER_BOUNCE) ? n : 0;
}

/* "error:" and "retry:": an optional status, then the text. */
static void
route_reason(struct qmgr_route *r, const char *transport, const char *def_dsn,
    const char *def_text, const char *s)
{
	size_t	 n = route_status_len(s);
	char	 dsn[QMGR_DSN_MAX];

	strlcpy(dsn, def_dsn, sizeof(dsn));
	if (n > 0 && n < sizeof(dsn)) {
		memcpy(dsn, s, n);
		dsn[n] = '\0';
		for (s += n; isspace((unsigned char)*s); s++)
			;
	}
	route_error(r, transport, dsn, "%s", *s != '\0' ? s : def_text);
}

static int
route_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len >= QMGR_TRANSPORT_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

static int
route_nexthop_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return i < QMGR_NEXTHOP_MAX;
}

/* A transport_maps value (or "smtp:" + relayhost) for domain. */
static void
route_value(const struct tern_config *cfg, const char *domain,
    const char *value, struct qmgr_route *r)
{
	const char	*colon = strchr(value, ':');
	const char	*hop = colon != NULL ? colon + 1 : "";
	size_t		 tlen = colon != NULL ? (size_t)(colon - value) :
			    strlen(value);
	char		 name[QMGR_TRANSPORT_NAME_MAX];

	if (!route_name_ok(value, tlen)) {
		route_error(r, QMGR_TRANSPORT_RETRY, "4.3.5", "bad transport "
		    "name in transport_maps: %.64s", value);
		return;
	}
	if (tlen == 0)
		strlcpy(name, QMGR_TRANSPORT_SMTP, sizeof(name));
	else {
		memcpy(name, value, tlen);
		name[tlen] = '\0';
	}
	if (strcmp(name, QMGR_TRANSPORT_ERROR) == 0) {
		route_reason(r, QMGR_TRANSPORT_ERROR, "5.0.0",
		    "mail for this destination is not deliverable", hop);
		return;
	}
	if (strcmp(name, QMGR_TRANSPORT_RETRY) == 0) {
		route_reason(r, QMGR_TRANSPORT_RETRY, "4.0.0",
		    "mail for this destination is deferred", hop);
		return;
	}
	if (strcmp(name, QMGR_TRANSPORT_DISCARD) == 0) {
		route_reason(r, QMGR_TRANSPORT_DISCARD, "2.0.0", "discarded",
		    "");
		snprintf(r->text, sizeof(r->text), "%s", *hop != '\0' ? hop :
		    "discarded");
		return;
	}
	if (strcmp(name, QMGR_TRANSPORT_LOCAL) == 0) {
		route_local(cfg, r);
		return;
	}
	if (*hop == '\0')
		hop = domain;
	if (!route_nexthop_ok(hop)) {
		route_error(r, QMGR_TRANSPORT_RETRY, "4.3.5", "bad next hop "
		    "in transport_maps: %.64s", value);
		return;
	}
	route_set(r, name, hop);
	route_lower(r->nexthop);
}

/* transport_maps for domain: 1 (r filled), 0 no entry. */
static int
route_maps(const struct tern_config *cfg, struct map_list *maps,
    const char *domain, struct qmgr_route *r)
{
	const char	*value, *p;
	char		 key[QMGR_NEXTHOP_MAX], err[MAP_ERR_MAX];
	int		 found;

	if (maps == NULL || maps->count == 0)
		return 0;
	err[0] = '\0';
	found = map_list_lookup(maps, domain, &value, err, sizeof(err));
	/* ".parent" for every parent, then "*"; not for a literal. */
	for (p = domain; found == 0 && domain[0] != '[' &&
	    (p = strchr(p, '.')) != NULL; p++) {
		strlcpy(key, p, sizeof(key));
		found = map_list_lookup(maps, key, &value, err, sizeof(err));
	}
	if (found == 0)
		found = map_list_lookup(maps, "*", &value, err, sizeof(err));
	if (found == -1) {
		route_error(r, QMGR_TRANSPORT_RETRY, "4.3.0", "transport_maps "
		    "lookup failure: %.200s", err);
		return 1;
	}
	if (found == 0)
		return 0;
	route_value(cfg, domain, value, r);
	return 1;
}

void
qmgr_route(const struct tern_config *cfg, const struct qmgr_params *par,
    struct map_list *maps, const char *rcpt, struct qmgr_route *r)
{
	const char	*domain, *why = "bad syntax";

	if (strchr(rcpt, '@') == NULL) {
		route_local(cfg, r);
		return;
	}
	if (!addr_valid_mailbox(rcpt, strlen(rcpt), &why) ||
	    (domain = addr_domain(rcpt)) == NULL) {
		route_error(r, QMGR_TRANSPORT_ERROR, "5.1.3", "bad recipient "
		    "address: %s", why);
		return;
	}
	if (strlen(domain) >= sizeof(r->nexthop)) {
		route_error(r, QMGR_TRANSPORT_ERROR, "5.1.3", "bad recipient "
		    "address: %s", "domain too long");
		return;
	}
	if (domain[0] != '[' && config_is_local_domain(cfg, domain)) {
		route_local(cfg, r);
		return;
	}
	if (route_maps(cfg, maps, domain, r))
		return;
	if (par->relayhost != NULL && par->relayhost[0] != '\0') {
		if (!route_nexthop_ok(par->relayhost)) {
			route_error(r, QMGR_TRANSPORT_RETRY, "4.3.5", "bad "
			    "relayhost: %.64s", par->relayhost);
			return;
		}
		route_set(r, QMGR_TRANSPORT_SMTP, par->relayhost);
		route_lower(r->nexthop);
		return;
	}
	route_set(r, QMGR_TRANSPORT_SMTP, domain);
	route_lower(r->nexthop);
}

int
qmgr_route_virtual(const struct tern_config *cfg, struct virtual_maps *vm,
    const char *rcpt, struct qmgr_route *r)
{
	const char	*domain, *value;
	int		 found, kind;

	if (vm == NULL || !virtual_configured(vm) ||
	    strchr(rcpt, '@') == NULL ||
	    !addr_valid_mailbox(rcpt, strlen(rcpt), NULL) ||
	    (domain = addr_domain(rcpt)) == NULL)
		return 0;
	found = virtual_alias_find(vm, rcpt, &value);
	kind = found == MAP_NOTFOUND ? virtual_domain(vm, domain) :
	    VIRTUAL_DOMAIN_NONE;
	if (found == MAP_TEMPFAIL || kind < 0) {
		route_error(r, QMGR_TRANSPORT_RETRY, "4.3.0", "virtual table "
		    "lookup failure: %.200s", vm->err);
		return 1;
	}
	if (found == MAP_NOTFOUND && kind == VIRTUAL_DOMAIN_NONE)
		return 0;
	route_local(cfg, r);
	return 1;
}
