/*
 * smtpd_policy - which recipients smtpd accepts: what relay control
 * (smtpd_relay.h) allows, and for local domains with local_recipient_check
 * only recipients that reach a mailbox.  Whether one does is the lookup
 * service's answer (lookup(8), rcpt_lookup.h: deliver's own rule), which
 * smtpd asks (smtpd_lookup.h) when its cache of recent answers does not
 * have it; the decision is in two steps around that question:
 * smtpd_policy_rcpt() says accept, refuse or ask, and
 * smtpd_policy_answer() decides on the answer.  Relayed recipients are
 * not looked up.  "postmaster" (RFC 5321 4.5.1) is always accepted.
 */
#ifndef TERN_SMTPD_POLICY_H
#define TERN_SMTPD_POLICY_H

#include "addr.h"
#include "rcpt_lookup.h"
#include "smtpd_command.h"

struct smtpd_relay;
struct virtual_maps;
struct tern_config;
struct smtpd_params;

#define SMTP_USER_CACHE_SIZE	64
#define SMTP_USER_CACHE_MS	(10 * 1000)

/* Recipients the lookup service found recently: the address (lower-cased)
 * to the mailbox's key.  Only recipients that exist are remembered, and
 * only for SMTP_USER_CACHE_MS: a new account must never get a 550 from a
 * stale entry, while a removed one merely bounces later in deliver.  A
 * busy mailbox costs one question per ten seconds, not one per message.
 * Zero it to start. */
struct smtpd_user_cache {
	char		 name[SMTP_USER_CACHE_SIZE][ADDR_PATH_MAX + 1];
	char		 account[SMTP_USER_CACHE_SIZE][RCPT_LOOKUP_ACCOUNT_MAX + 1];
	long long	 until_ms[SMTP_USER_CACHE_SIZE];
	unsigned int	 next;		/* slot to overwrite */
};

/* What smtpd_policy_rcpt() decided. */
enum smtpd_policy_verdict {
	SMTPD_POLICY_ACCEPT,	/* account set */
	SMTPD_POLICY_REFUSE,	/* res set */
	SMTPD_POLICY_ASK	/* ask the lookup service about q->rcpt, then
				   smtpd_policy_answer() */
};

/* A recipient waiting for the lookup service's answer. */
struct smtpd_policy_query {
	char		 rcpt[ADDR_PATH_MAX + 1];	/* as asked: canonical */
	char		 key[ADDR_PATH_MAX + 1];	/* cache key */
	char		 name[ADDR_LOCAL_MAX + 1];	/* the login name it
							   stands for */
	unsigned int	 postmaster:1;	/* RFC 5321 4.5.1: always accepted */
	unsigned int	 checked:1;	/* local_recipient_check: unknown is
					   refused */
	unsigned int	 virt:1;	/* asked for the virtual domains: not
					   a local domain's address */
	unsigned int	 relay_ok:1;	/* virt: relay control allows it */
};

/* Whether the recipient (canonical, addr_canonical) is acceptable from
 * the client at address client (smtpd_relay_check): ACCEPT with
 * account[0..len) set to the mailbox it reaches (the key the lookup
 * service gave, the login name the address stands for when nothing was
 * asked, or "" when it names no login); REFUSE with *res; or ASK with *q
 * set. */
enum smtpd_policy_verdict smtpd_policy_rcpt(const struct tern_config *,
	    const struct smtpd_params *, const struct smtpd_relay *,
	    const char *client, struct smtpd_user_cache *,
	    const struct smtpd_path *, struct smtpd_policy_query *q,
	    char *account, size_t len, struct smtpd_result *res);
/* The lookup service's answer to q (status, and account when FOUND): 0
 * with account[0..len) set (a found recipient is remembered in the
 * cache), or -1 with *res (550 unknown, 451 when the service could not
 * say: never a 550 for a failure). */
int	smtpd_policy_answer(struct smtpd_user_cache *,
	    const struct smtpd_policy_query *q, enum rcpt_lookup_status,
	    const char *found, char *account, size_t len,
	    struct smtpd_result *res);

#endif
