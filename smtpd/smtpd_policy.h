/*
 * smtpd_policy - which recipients smtpd accepts: local domains only (no
 * relaying), and with local_recipient_check only users that exist.
 * "postmaster" (RFC 5321 4.5.1) is always accepted.
 */
#ifndef TERN_SMTPD_POLICY_H
#define TERN_SMTPD_POLICY_H

#include "addr.h"
#include "smtpd_command.h"

struct tern_config;

#define SMTP_USER_CACHE_SIZE	64
#define SMTP_USER_CACHE_MS	(10 * 1000)

/* Local users found recently.  Only users that exist are remembered, and
 * only for SMTP_USER_CACHE_MS: a new account must never get a 550 from a
 * stale entry, while a removed one merely bounces later in deliver.  A
 * busy mailbox costs one password database lookup per ten seconds, not
 * one per message (with NSS modules such as LDAP, a network round trip).
 * Zero it to start. */
struct smtpd_user_cache {
	char		 name[SMTP_USER_CACHE_SIZE][ADDR_LOCAL_MAX + 1];
	long long	 until_ms[SMTP_USER_CACHE_SIZE];
	unsigned int	 next;		/* slot to overwrite */
};

/* 0 if the recipient is acceptable, else -1 with *res set. */
int	smtpd_policy_rcpt(const struct tern_config *, struct smtpd_user_cache *,
	    const struct smtpd_path *, struct smtpd_result *res);

#endif
