/*
 * smtpd_policy - recipient acceptance.  smtpd_relay decides whether the
 * client may send to the recipient at all (a local domain, relay_domains,
 * or a client in mynetworks); for mail to a local domain the lookup
 * service decides which local recipients exist, by the rule deliver uses
 * to place their mail.  This file holds only the decisions, around that
 * question: no I/O, so they are unit-tested as they are.  A failed lookup
 * is a temporary error, never a 550, so a broken name service or lookup
 * service does not bounce real mail.  The account found is also what the
 * caller uses to keep one recipient per mailbox.  Virtual domains are the
 * lookup service's too (virtual_recipient, common/virtual.c): with any
 * virtual table or domain configured, a recipient relay control would
 * refuse or relay is asked about before that verdict stands, since a
 * virtual domain is ours whoever the client is.  Whether virtual domains
 * are configured is read from the configuration alone: smtpd opens no
 * table.
 */
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "smtpd_params.h"
#include "io.h"
#include "smtpd_policy.h"
#include "smtpd_relay.h"

/* The account cached for key, or NULL. */
static const char *
smtpd_user_cached(const struct smtpd_user_cache *c, const char *key)
{
	long long	 now = io_now_ms();
	int		 i;

	for (i = 0; i < SMTP_USER_CACHE_SIZE; i++)
		if (c->until_ms[i] > now && strcmp(c->name[i], key) == 0)
			return c->account[i];
	return NULL;
}

static void
smtpd_user_remember(struct smtpd_user_cache *c, const char *key,
    const char *account)
{
	unsigned int	 i = c->next++ % SMTP_USER_CACHE_SIZE;

	strlcpy(c->name[i], key, sizeof(c->name[i]));
	strlcpy(c->account[i], account, sizeof(c->account[i]));
	c->until_ms[i] = io_now_ms() + SMTP_USER_CACHE_MS;
}

/* The question about path->addr for the lookup service, answered from
 * the cache if it can be: SMTPD_POLICY_ACCEPT (account set) or ASK. */
static enum smtpd_policy_verdict
smtpd_policy_ask(struct smtpd_user_cache *cache, const struct smtpd_path *path,
    struct smtpd_policy_query *q, char *account, size_t len)
{
	const char	*hit;

	strlcpy(q->rcpt, path->addr, sizeof(q->rcpt));
	addr_lower(path->addr, q->key, sizeof(q->key));
	if ((hit = smtpd_user_cached(cache, q->key)) == NULL)
		return SMTPD_POLICY_ASK;
	strlcpy(account, hit, len);
	return SMTPD_POLICY_ACCEPT;
}

/* Is addr's domain one of mydestination (not a literal)? */
static int
smtpd_policy_local(const struct tern_config *cfg, const char *addr)
{
	const char	*domain = addr_domain(addr);

	return domain != NULL && domain[0] != '[' &&
	    config_is_local_domain(cfg, domain);
}

/* Is a domain list more than a reference to a table list ("$name")? */
static int
smtpd_policy_literals(const struct config_list *l)
{
	int	 i;

	for (i = 0; i < l->count; i++)
		if (l->item[i][0] != '$')
			return 1;
	return 0;
}

/* Any virtual table or domain configured (virtual_configured()'s rule,
 * read from the configuration: a "$virtual_*_maps" reference counts
 * through the tables it names). */
static int
smtpd_policy_virtual_configured(const struct tern_config *cfg)
{
	return cfg->virtual_alias_maps.count > 0 ||
	    cfg->virtual_mailbox_maps.count > 0 ||
	    smtpd_policy_literals(&cfg->virtual_alias_domains) ||
	    smtpd_policy_literals(&cfg->virtual_mailbox_domains);
}

enum smtpd_policy_verdict
smtpd_policy_rcpt(const struct tern_config *cfg,
    const struct smtpd_params *par, const struct smtpd_relay *relay,
    const char *client, struct smtpd_user_cache *cache,
    const struct smtpd_path *path, struct smtpd_policy_query *q,
    char *account, size_t len, struct smtpd_result *res)
{
	enum smtpd_relay_verdict	 verdict;

	memset(res, 0, sizeof(*res));
	memset(q, 0, sizeof(*q));
	account[0] = '\0';
	verdict = smtpd_relay_check(relay, client, path->addr,
	    path->postmaster);
	if ((verdict == SMTPD_RELAY_DENIED || (verdict == SMTPD_RELAY_CLIENT &&
	    !smtpd_policy_local(cfg, path->addr))) &&
	    smtpd_policy_virtual_configured(cfg)) {
		/* Perhaps a virtual domain's: the lookup service says. */
		q->virt = 1;
		q->relay_ok = verdict == SMTPD_RELAY_CLIENT;
		strlcpy(q->rcpt, path->addr, sizeof(q->rcpt));
		addr_lower(path->addr, q->key, sizeof(q->key));
		return SMTPD_POLICY_ASK;
	}
	switch (verdict) {
	case SMTPD_RELAY_DENIED:
		(void)smtpd_fail(res, 554, "5.7.1", "Relay access denied");
		return SMTPD_POLICY_REFUSE;
	case SMTPD_RELAY_DOMAIN:
		return SMTPD_POLICY_ACCEPT;
	case SMTPD_RELAY_CLIENT:
		/* Relayed unless the domain is ours after all (a routed
		 * local part from mynetworks): then it is checked as local
		 * mail, and "user%host" is no user. */
		if (!smtpd_policy_local(cfg, path->addr))
			return SMTPD_POLICY_ACCEPT;
		break;
	case SMTPD_RELAY_LOCAL:
		break;
	}
	/* local_recipient_name()'s rule, without linking the password
	 * database's side of that file into smtpd. */
	if (addr_local_name(path->addr, q->name, sizeof(q->name)) < 0)
		q->name[0] = '\0';
	/* RFC 5321 4.5.1: postmaster at every local domain, in any case. */
	q->postmaster = strcmp(q->name, "postmaster") == 0;
	q->checked = par->local_recipient_check != 0;
	if (!q->checked && !q->postmaster) {
		/* Unchecked, the mailbox is the login name. */
		strlcpy(account, q->name, len);
		return SMTPD_POLICY_ACCEPT;
	}
	if (q->name[0] == '\0') {
		(void)smtpd_policy_answer(cache, q, RCPT_LOOKUP_UNKNOWN, NULL,
		    account, len, res);
		return SMTPD_POLICY_REFUSE;
	}
	/* Unchecked, postmaster is still asked about (cached): its mailbox
	 * is root's unless it has an account, and the two are stored once. */
	return smtpd_policy_ask(cache, path, q, account, len);
}

int
smtpd_policy_answer(struct smtpd_user_cache *cache,
    const struct smtpd_policy_query *q, enum rcpt_lookup_status st,
    const char *found, char *account, size_t len, struct smtpd_result *res)
{
	memset(res, 0, sizeof(*res));
	account[0] = '\0';
	if (st == RCPT_LOOKUP_VIRTUAL)	/* its canonical spelling is its key */
		return 0;
	if (q->virt) {
		if (st == RCPT_LOOKUP_FOREIGN && q->relay_ok)
			return 0;
		if (st == RCPT_LOOKUP_FOREIGN)
			return smtpd_fail(res, 554, "5.7.1",
			    "Relay access denied");
		if (st == RCPT_LOOKUP_UNKNOWN)
			return smtpd_fail(res, 550, "5.1.1", "Recipient "
			    "address rejected: User unknown in virtual "
			    "address table");
		return smtpd_fail(res, 451, "4.3.0",
		    "Error: recipient lookup failed, try again later");
	}
	if (st == RCPT_LOOKUP_FOUND && found != NULL && found[0] != '\0') {
		smtpd_user_remember(cache, q->key, found);
		strlcpy(account, found, len);
		return 0;
	}
	if (q->postmaster || !q->checked) {
		strlcpy(account, q->name, len);
		return 0;
	}
	if (st == RCPT_LOOKUP_UNKNOWN)
		return smtpd_fail(res, 550, "5.1.1", "Recipient address "
		    "rejected: User unknown in local recipient table");
	return smtpd_fail(res, 451, "4.3.0",
	    "Error: recipient lookup failed, try again later");
}
