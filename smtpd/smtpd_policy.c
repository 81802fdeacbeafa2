/*
 * smtpd_policy - recipient acceptance.  The checks are cheap and local:
 * smtpd_relay decides whether the client may send to the recipient at all
 * (a local domain, relay_domains, or a client in mynetworks), and for mail
 * to a local domain local_recipient_resolve
 * decides which local recipients exist, by the rule deliver uses to place
 * their mail.  A failed lookup is a temporary error, never a 550, so a
 * broken name service (or a password database left outside a chroot) does
 * not bounce real mail.  The account found is also what the caller uses to
 * keep one recipient per mailbox.  Virtual aliases and the addresses of
 * virtual domains are answered before any of this, by the one function
 * deliver and qmgr follow too (virtual_recipient, common/virtual.c): a
 * virtual domain is ours whoever the client is.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "smtpd_params.h"
#include "io.h"
#include "log.h"
#include "smtpd_policy.h"
#include "smtpd_relay.h"
#include "virtual.h"

/* The account cached for login name, or NULL. */
static const char *
smtpd_user_cached(const struct smtpd_user_cache *c, const char *name)
{
	long long	 now = io_now_ms();
	int		 i;

	for (i = 0; i < SMTP_USER_CACHE_SIZE; i++)
		if (c->until_ms[i] > now && strcmp(c->name[i], name) == 0)
			return c->account[i];
	return NULL;
}

static void
smtpd_user_remember(struct smtpd_user_cache *c, const char *name,
    const char *account)
{
	unsigned int	 i = c->next++ % SMTP_USER_CACHE_SIZE;

	strlcpy(c->name[i], name, sizeof(c->name[i]));
	strlcpy(c->account[i], account, sizeof(c->account[i]));
	c->until_ms[i] = io_now_ms() + SMTP_USER_CACHE_MS;
}

/* Resolve rcpt (whose login name is name) as deliver will, through the
 * cache: 1 found (account set), 0 unknown, -1 the lookup failed. */
static int
smtpd_policy_resolve(const struct tern_config *cfg,
    struct smtpd_user_cache *cache, const char *rcpt, const char *name,
    char *account, size_t len)
{
	struct local_user	 u;
	const char		*hit, *why;
	char			 err[MAP_ERR_MAX];

	if ((hit = smtpd_user_cached(cache, name)) != NULL) {
		strlcpy(account, hit, len);
		return 1;
	}
	/* The aliases deliver expands are recipients too (issue 12). */
	if (cache->aliases_open == 0) {
		cache->aliases_open = map_list_open(&cache->aliases,
		    cfg->alias_maps.item, cfg->alias_maps.count, err,
		    sizeof(err)) == 0 ? 1 : -1;
		if (cache->aliases_open < 0)
			log_warn("alias_maps: %s", err);
	}
	if (cache->aliases_open < 0)
		return -1;
	switch (local_recipient_resolve_aliases(rcpt, &cache->aliases,
	    cfg->recipient_delimiter[0], local_recipient_getpw, NULL, &u,
	    &why)) {
	case LOCAL_RCPT_FOUND:
		smtpd_user_remember(cache, name, u.name);
		strlcpy(account, u.name, len);
		return 1;
	case LOCAL_RCPT_UNKNOWN:
		return 0;
	default:
		log_warn("recipient lookup failed: %s", why);
		return -1;
	}
}

/* The virtual tables' answer for rcpt, the tables opened at first use;
 * a spec that can never work is a temporary failure, as for alias_maps. */
static enum virtual_rcpt_status
smtpd_policy_virtual(const struct tern_config *cfg,
    struct smtpd_user_cache *cache, const char *rcpt)
{
	enum virtual_rcpt_status	 st;
	const char			*why;
	char				 err[MAP_ERR_MAX];

	if (cache->virt_open == 0) {
		cache->virt = xmalloc(sizeof(*cache->virt));
		cache->virt_open = virtual_open(cache->virt, cfg, err,
		    sizeof(err)) == 0 ? 1 : -1;
		if (cache->virt_open < 0) {
			log_warn("virtual tables: %s", err);
			free(cache->virt);
			cache->virt = NULL;
		}
	}
	if (cache->virt_open < 0)
		return VIRTUAL_RCPT_TEMPFAIL;
	st = virtual_recipient(cache->virt, rcpt, &why);
	if (st == VIRTUAL_RCPT_TEMPFAIL)
		log_warn("virtual table lookup failed: %s", why);
	return st;
}

int
smtpd_policy_rcpt(const struct tern_config *cfg,
    const struct smtpd_params *par, const struct smtpd_relay *relay,
    const char *client, struct smtpd_user_cache *cache,
    const struct smtpd_path *path, char *account, size_t len,
    struct smtpd_result *res)
{
	char		 name[ADDR_LOCAL_MAX + 1];
	const char	*domain;
	int		 r, postmaster;

	memset(res, 0, sizeof(*res));
	account[0] = '\0';
	switch (smtpd_policy_virtual(cfg, cache, path->addr)) {
	case VIRTUAL_RCPT_FOUND:	/* its canonical spelling is its key */
		return 0;
	case VIRTUAL_RCPT_UNKNOWN:
		return smtpd_fail(res, 550, "5.1.1", "Recipient address "
		    "rejected: User unknown in virtual address table");
	case VIRTUAL_RCPT_TEMPFAIL:
		return smtpd_fail(res, 451, "4.3.0",
		    "Error: recipient lookup failed, try again later");
	case VIRTUAL_RCPT_NONE:
		break;
	}
	switch (smtpd_relay_check(relay, client, path->addr, path->postmaster)) {
	case SMTPD_RELAY_DENIED:
		return smtpd_fail(res, 554, "5.7.1", "Relay access denied");
	case SMTPD_RELAY_DOMAIN:
		return 0;
	case SMTPD_RELAY_CLIENT:
		/* Relayed unless the domain is ours after all (a routed
		 * local part from mynetworks): then it is checked as local
		 * mail, and "user%host" is no user. */
		if ((domain = addr_domain(path->addr)) == NULL ||
		    domain[0] == '[' || !config_is_local_domain(cfg, domain))
			return 0;
		break;
	case SMTPD_RELAY_LOCAL:
		break;
	}
	if (local_recipient_name(path->addr, name, sizeof(name)) < 0)
		name[0] = '\0';
	/* RFC 5321 4.5.1: postmaster at every local domain, in any case. */
	postmaster = strcmp(name, "postmaster") == 0;
	if (!par->local_recipient_check) {
		/* Unchecked, the mailbox is the login name; but postmaster's
		 * is root's unless it has an account: ask (cached), so that
		 * the two are stored once. */
		if (!postmaster || smtpd_policy_resolve(cfg, cache, path->addr,
		    name, account, len) <= 0)
			strlcpy(account, name, len);
		return 0;
	}
	r = name[0] != '\0' ?
	    smtpd_policy_resolve(cfg, cache, path->addr, name, account, len) : 0;
	if (r > 0)
		return 0;
	if (postmaster) {
		strlcpy(account, name, len);
		return 0;
	}
	if (r < 0)
		return smtpd_fail(res, 451, "4.3.0",
		    "Error: recipient lookup failed, try again later");
	return smtpd_fail(res, 550, "5.1.1",
	    "Recipient address rejected: User unknown in local recipient table");
}
