/*
 * smtpd_relay - the relay decision (see smtpd_relay.h).  Pure apart from
 * the parsed mynetworks: no lookups, no I/O, so each rule is unit-tested.
 * The order is the safe one: what could route elsewhere is sorted out
 * before a domain is trusted, and only the client's own network lets it
 * through.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "cidr.h"
#include "config.h"
#include "smtpd_relay.h"

void
smtpd_relay_init(struct smtpd_relay *r, const struct tern_config *cfg)
{
	r->cfg = cfg;
	/* config.c has checked every entry. */
	r->nnets = cidr_list_parse(cfg->mynetworks.item, cfg->mynetworks.count,
	    &r->nets);
}

void
smtpd_relay_free(struct smtpd_relay *r)
{
	free(r->nets);
	r->nets = NULL;
	r->nnets = 0;
}

int
smtpd_relay_domain(const struct tern_config *cfg, const char *domain)
{
	const struct config_list *l = &cfg->relay_domains;
	size_t	 dlen = strlen(domain), elen;
	int	 i;

	for (i = 0; i < l->count; i++) {
		const char *e = l->item[i];

		if (e[0] != '.') {
			if (strcasecmp(e, domain) == 0)
				return 1;
			continue;
		}
		/* ".example.org" matches "a.example.org", not itself. */
		elen = strlen(e);
		if (elen > 1 && dlen > elen &&
		    strcasecmp(domain + dlen - elen, e) == 0)
			return 1;
	}
	return 0;
}

/* Does the local part of rcpt still name a route (user%host, host!user,
 * "user@host")?  Postfix calls such an address routed; a mail server that
 * honoured the route would relay it. */
static int
smtpd_relay_routed(const char *rcpt)
{
	char	 local[ADDR_LOCAL_MAX + 1];

	if (addr_local_part(rcpt, local, sizeof(local)) < 0)
		return 1;
	return strpbrk(local, "@%!") != NULL;
}

enum smtpd_relay_verdict
smtpd_relay_check(const struct smtpd_relay *r, const char *client,
    const char *rcpt, int bare)
{
	const char	*domain;
	int		 routed;

	if (bare)
		return SMTPD_RELAY_LOCAL;
	if ((domain = addr_domain(rcpt)) != NULL && domain[0] != '[') {
		routed = smtpd_relay_routed(rcpt);
		if (!routed && config_is_local_domain(r->cfg, domain))
			return SMTPD_RELAY_LOCAL;
		if (!routed && smtpd_relay_domain(r->cfg, domain))
			return SMTPD_RELAY_DOMAIN;
	}
	if (client != NULL && cidr_list_match(r->nets, r->nnets, client))
		return SMTPD_RELAY_CLIENT;
	return SMTPD_RELAY_DENIED;
}
