/*
 * smtpd_params - the tern.conf keys smtpd reads (besides the global ones
 * in struct tern_config), parsed by common/config.c from smtpd_params_table.
 * Defaults and meanings: etc/tern.conf and tern.conf(5).
 */
#ifndef SMTPD_PARAMS_H
#define SMTPD_PARAMS_H

#include <stddef.h>

#include "config.h"

/* smtpd_forbid_bare_newline: what a bare CR or LF from a client gets. */
enum {
	CONFIG_BARE_NL_NO = 0,		/* "no": kept as content, never a line end */
	CONFIG_BARE_NL_REJECT = 1	/* "reject": 5xx, message discarded */
};

/* smtpd_tls_security_level: whether STARTTLS is offered, and required. */
enum {
	SMTPD_TLS_NONE = 0,		/* "none": not offered */
	SMTPD_TLS_MAY = 1,		/* "may": offered */
	SMTPD_TLS_ENCRYPT = 2		/* "encrypt": MAIL only after it */
};

struct smtpd_params {
	char	*smtpd_banner;		/* default: "$myhostname ESMTP tern" */
	int	 smtpd_recipient_limit;	/* default: 1000 */
	int	 smtpd_timeout;		/* seconds, default 300 */
	int	 smtpd_client_limit;	/* sessions per smtpd process, default 20000 */
	int	 local_recipient_check;	/* bool, default yes: 550 unknown users */
	int	 smtpd_lookup_timeout;	/* s for lookup(8)'s answer, default 10 */
	int	 smtpd_forbid_bare_newline; /* CONFIG_BARE_NL_*, default reject */
	int	 smtpd_junk_command_limit; /* NOOP, RSET, VRFY, HELP, a second
					   HELO/EHLO, unknown; 100 */
	int	 smtpd_min_data_rate;	/* bytes/s that extend the DATA deadline, 500 */
	int	 smtpd_session_time_limit; /* seconds per session, 1h; 0 = none */
	size_t	 queue_minfree;		/* bytes free to accept mail, default 0 */
	/* limits per client address, counted by anvil */
	int	 smtpd_client_connection_count_limit; /* default 50; 0 = none */
	int	 smtpd_client_connection_rate_limit; /* per time unit, 0 = none */
	struct config_list smtpd_client_event_limit_exceptions; /* networks,
					   default "127.0.0.0/8, ::1" */
	int	 smtpd_client_ipv6_prefix_length; /* IPv6 clients counted per
					   network of this size; default 84 */
	/* STARTTLS (RFC 3207), smtpd_tls.c */
	int	 smtpd_tls_security_level; /* SMTPD_TLS_*, default none */
	char	*smtpd_tls_cert_file;	/* PEM certificate and chain */
	char	*smtpd_tls_key_file;	/* PEM key; empty: in the cert file */
	int	 smtpd_starttls_timeout; /* seconds for the handshake, 300 */
};

extern const struct config_table smtpd_params_table;

#endif
