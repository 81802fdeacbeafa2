/*
 * smtpd_policy - which recipients smtpd accepts: what relay control
 * (smtpd_relay.h) allows, and for local domains with local_recipient_check
 * only recipients that resolve to an account (common/local_recipient.c,
 * deliver's own answer).  Virtual aliases and virtual domains are
 * answered first, by common/virtual.c's virtual_recipient().  Relayed
 * recipients are not looked up.
 * "postmaster" (RFC 5321 4.5.1) is always accepted.
 */
#ifndef TERN_SMTPD_POLICY_H
#define TERN_SMTPD_POLICY_H

#include "addr.h"
#include "local_recipient.h"
#include "map.h"
#include "smtpd_command.h"

struct smtpd_relay;
struct virtual_maps;
struct tern_config;
struct smtpd_params;

#define SMTP_USER_CACHE_SIZE	64
#define SMTP_USER_CACHE_MS	(10 * 1000)

/* Local recipients resolved recently: login name (addr_local_user) to the
 * account that gets the mail.  Only recipients that exist are remembered,
 * and only for SMTP_USER_CACHE_MS: a new account must never get a 550
 * from a stale entry, while a removed one merely bounces later in deliver.
 * A busy mailbox costs one password database lookup per ten seconds, not
 * one per message (with NSS modules such as LDAP, a network round trip).
 * Zero it to start. */
struct smtpd_user_cache {
	char		 name[SMTP_USER_CACHE_SIZE][ADDR_LOCAL_MAX + 1];
	char		 account[SMTP_USER_CACHE_SIZE][LOCAL_USER_NAME_SIZE];
	long long	 until_ms[SMTP_USER_CACHE_SIZE];
	unsigned int	 next;		/* slot to overwrite */
	struct map_list	 aliases;	/* alias_maps, opened at first use */
	int		 aliases_open;	/* 1 opened, -1 a bad spec */
	struct virtual_maps *virt;	/* virtual tables, at first use */
	int		 virt_open;	/* 1 opened, -1 a bad spec */
};

/* 0 if the recipient (canonical, addr_canonical) is acceptable from the
 * client at address client (smtpd_relay_check), with
 * account[0..len) set to the mailbox it reaches: the account's login, or
 * the login name the address stands for when nothing was looked up, or ""
 * when it names no login.  Else -1 with *res set. */
int	smtpd_policy_rcpt(const struct tern_config *,
	    const struct smtpd_params *, const struct smtpd_relay *,
	    const char *client, struct smtpd_user_cache *,
	    const struct smtpd_path *, char *account, size_t len,
	    struct smtpd_result *res);

#endif
