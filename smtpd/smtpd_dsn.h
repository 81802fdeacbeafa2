/*
 * smtpd_dsn - the parameters of the SMTP extension for delivery status
 * notifications (RFC 3461): RET= and ENVID= on MAIL, NOTIFY= and ORCPT= on
 * RCPT, and the xtext encoding ENVID and ORCPT use.  Pure functions on
 * (pointer, length) pairs that need not be NUL-terminated, for the
 * command parser (smtpd_command.c), unit tests and the fuzz harness.  A
 * value is accepted only if the queue file can store it as it is:
 * decoded, printable ASCII, bounded.
 */
#ifndef TERN_SMTPD_DSN_H
#define TERN_SMTPD_DSN_H

#include <stddef.h>

#define SMTP_ENVID_MAX	100	/* RFC 3461 4.4: decoded characters */
#define SMTP_ORCPT_MAX	500	/* RFC 3461 4.2: decoded address */
#define SMTP_ADDRTYPE_MAX 32

/* Decode xtext s[0..len) into out (outlen >= the decoded length + 1,
 * terminated).  Every decoded byte must be printable ASCII (0x20..0x7e).
 * The decoded length, or -1 (bad xtext, a byte outside that range, or
 * more than outlen - 1 bytes). */
int	smtpd_xtext_decode(const char *s, size_t len, char *out, size_t outlen);
/* RET=FULL|HDRS (any case): QUEUE_RET_FULL or QUEUE_RET_HDRS, or -1. */
int	smtpd_dsn_ret(const char *v, size_t len);
/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (any case, each at
 * most once): QUEUE_NOTIFY_* bits, or -1. */
int	smtpd_dsn_notify(const char *v, size_t len);
/* ORCPT=addr-type;xtext into out as "type;decoded address" (outlen >=
 * SMTP_ADDRTYPE_MAX + SMTP_ORCPT_MAX + 2).  0 or -1. */
int	smtpd_dsn_orcpt(const char *v, size_t len, char *out, size_t outlen);
/* ENVID=xtext, decoded into out (outlen >= SMTP_ENVID_MAX + 1).  0 or -1. */
int	smtpd_dsn_envid(const char *v, size_t len, char *out, size_t outlen);

#endif
