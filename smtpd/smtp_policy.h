/*
 * smtp_policy - which recipients smtpd accepts: local domains only (no
 * relaying), and with local_recipient_check only users that exist.
 * "postmaster" (RFC 5321 4.5.1) is always accepted.
 */
#ifndef TERN_SMTP_POLICY_H
#define TERN_SMTP_POLICY_H

#include "smtp_command.h"

struct tern_config;

/* 0 if the recipient is acceptable, else -1 with *res set. */
int	smtp_policy_rcpt(const struct tern_config *, const struct smtp_path *,
	    struct smtp_result *res);

#endif
