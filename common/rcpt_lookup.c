/*
 * rcpt_lookup - recipient to mailbox for smtpd's RCPT check (see
 * rcpt_lookup.h).  The tables open at the first lookup, not at start-up,
 * so that a table rebuilt between the service's start and the first mail
 * is read as it is then (the map layer notices later changes by a stat at
 * most once a second).  A spec that can never work is remembered and
 * fails every lookup with its reason, as a table that cannot be read
 * does: the administrator fixes tern.conf, the master restarts us.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "rcpt_lookup.h"
#include "virtual.h"
#include "buf.h"

void
rcpt_lookup_init(struct rcpt_lookup *rl, const struct tern_config *cfg)
{
	memset(rl, 0, sizeof(*rl));
	rl->cfg = cfg;
	rl->getpw = local_recipient_getpw;
}

/* alias_maps, opened at the first lookup.  0, or -1 (*why). */
static int
rcpt_lookup_open(struct rcpt_lookup *rl, const char **why)
{
	if (rl->aliases_open == 0) {
		rl->aliases_open = map_list_open(&rl->aliases,
		    rl->cfg->alias_maps.item, rl->cfg->alias_maps.count,
		    rl->aliases_err, sizeof(rl->aliases_err)) == 0 ? 1 : -1;
		if (rl->aliases_open < 0)
			log_warn("alias_maps: %s", rl->aliases_err);
	}
	if (rl->aliases_open > 0)
		return 0;
	*why = rl->aliases_err;
	return -1;
}

/* The virtual tables, opened at the first lookup as alias_maps are; NULL
 * when none is configured.  0, or -1 (*why). */
static int
rcpt_lookup_virtual_open(struct rcpt_lookup *rl, const char **why)
{
	if (rl->virt_open == 0) {
		rl->virt = xmalloc(sizeof(*rl->virt));
		rl->virt_open = virtual_open(rl->virt, rl->cfg, rl->virt_err,
		    sizeof(rl->virt_err)) == 0 ? 1 : -1;
		if (rl->virt_open < 0) {
			log_warn("virtual tables: %s", rl->virt_err);
			free(rl->virt);
			rl->virt = NULL;
		} else if (!virtual_configured(rl->virt)) {
			virtual_close(rl->virt);
			free(rl->virt);
			rl->virt = NULL;
		}
	}
	if (rl->virt_open > 0)
		return 0;
	*why = rl->virt_err;
	return -1;
}

/* The virtual domains' answer, or -1 when it is not theirs to give. */
static int
rcpt_lookup_virtual(struct rcpt_lookup *rl, const char *rcpt,
    const char **why)
{
	const char	*domain;

	if (rcpt_lookup_virtual_open(rl, why) < 0)
		return RCPT_LOOKUP_TEMPFAIL;
	if (rl->virt == NULL)
		return -1;
	switch (virtual_recipient(rl->virt, rcpt, why)) {
	case VIRTUAL_RCPT_FOUND:
		return RCPT_LOOKUP_VIRTUAL;
	case VIRTUAL_RCPT_UNKNOWN:
		return RCPT_LOOKUP_UNKNOWN;
	case VIRTUAL_RCPT_TEMPFAIL:
		if (*why == NULL)
			*why = "virtual table lookup failed";
		return RCPT_LOOKUP_TEMPFAIL;
	case VIRTUAL_RCPT_NONE:
		break;
	}
	if ((domain = addr_domain(rcpt)) != NULL &&
	    (domain[0] == '[' || !config_is_local_domain(rl->cfg, domain)))
		return RCPT_LOOKUP_FOREIGN;
	return -1;
}

enum rcpt_lookup_status
rcpt_lookup_resolve(struct rcpt_lookup *rl, const char *rcpt, char *account,
    size_t len, const char **why)
{
	struct local_user	 u;
	const char		*ignored;
	int			 v;

	if (why == NULL)
		why = &ignored;
	*why = NULL;
	if (len > 0)
		account[0] = '\0';
	if ((v = rcpt_lookup_virtual(rl, rcpt, why)) >= 0)
		return (enum rcpt_lookup_status)v;
	if (rcpt_lookup_open(rl, why) < 0)
		return RCPT_LOOKUP_TEMPFAIL;
	switch (local_recipient_resolve_aliases(rcpt, &rl->aliases,
	    rl->cfg->recipient_delimiter[0], rl->getpw, rl->getpw_arg, &u,
	    why)) {
	case LOCAL_RCPT_FOUND:
		if (strlcpy(account, u.name, len) >= len) {
			if (len > 0)
				account[0] = '\0';
			*why = "account name too long";
			return RCPT_LOOKUP_TEMPFAIL;
		}
		return RCPT_LOOKUP_FOUND;
	case LOCAL_RCPT_UNKNOWN:
		return RCPT_LOOKUP_UNKNOWN;
	default:
		if (*why == NULL)
			*why = "lookup failed";
		return RCPT_LOOKUP_TEMPFAIL;
	}
}

void
rcpt_lookup_free(struct rcpt_lookup *rl)
{
	if (rl->aliases_open > 0)
		map_list_close(&rl->aliases);
	rl->aliases_open = 0;
	if (rl->virt != NULL) {
		virtual_close(rl->virt);
		free(rl->virt);
		rl->virt = NULL;
	}
	rl->virt_open = 0;
}
