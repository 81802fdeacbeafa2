/*
 * smtp_params - the tern.conf keys the SMTP client reads (besides the
 * global ones in struct tern_config), parsed by common/config.c from
 * smtp_params_table.  Defaults and meanings: etc/tern.conf and
 * tern.conf(5); the names and defaults are Postfix's smtp(8) ones.
 */
#ifndef SMTP_PARAMS_H
#define SMTP_PARAMS_H

#include <stddef.h>

#include "config.h"

/* smtp_tls_security_level */
enum {
	CONFIG_TLS_NONE = 0,		/* "none": never */
	CONFIG_TLS_MAY = 1,		/* "may": when offered, unauthenticated */
	CONFIG_TLS_ENCRYPT = 2,		/* "encrypt": required, unauthenticated */
	CONFIG_TLS_VERIFY = 3		/* "verify": required, CA and name checked */
};

struct smtp_params {
	int	 smtp_connect_timeout;	/* seconds, default 30 */
	int	 smtp_helo_timeout;	/* greeting and EHLO/HELO, default 300 */
	int	 smtp_starttls_timeout;	/* STARTTLS and handshake, default 300 */
	int	 smtp_mail_timeout;	/* default 300 */
	int	 smtp_rcpt_timeout;	/* default 300 */
	int	 smtp_data_init_timeout; /* reply to DATA, default 120 */
	int	 smtp_data_xfer_timeout; /* each write of the message, 180 */
	int	 smtp_data_done_timeout; /* reply to the final dot, 600 */
	int	 smtp_quit_timeout;	/* default 300 */
	char	*smtp_helo_name;	/* default: $myhostname */
	char	*smtp_bind_address;	/* IPv4 source address, default "" */
	char	*smtp_bind_address6;	/* IPv6 source address, default "" */
	int	 smtp_tls_security_level; /* CONFIG_TLS_*, default may */
	char	*smtp_tls_CAfile;	/* default "": the system store */
	struct config_list smtp_tls_policy_maps; /* per next hop, default "" */
	int	 smtp_rset_timeout;	/* RSET before a reused session, 20 */
	int	 smtp_connection_cache_time_limit; /* idle session kept, 2s;
					   0: no reuse */
	int	 smtp_connection_reuse_count_limit; /* transactions per
					   session, default 0: no limit */
	int	 smtp_connection_reuse_time_limit; /* session age after which
					   it is not reused, 300s */
	int	 smtp_mx_address_limit;	/* addresses tried per delivery, 5;
					   0: no limit */
	int	 smtp_mx_session_limit;	/* sessions past the handshake per
					   delivery, 2; 0: no limit */
	int	 smtp_skip_5xx_greeting; /* a 5xx greeting as a 4xx: the next
					   host, default yes */
	/* The LMTP client's keys (the same program as service "lmtp"): they
	 * stand in for the smtp_* ones above (smtp.c). */
	int	 lmtp_connect_timeout;	/* default 0: the system's */
	int	 lmtp_lhlo_timeout;	/* greeting and LHLO, default 300 */
	int	 lmtp_mail_timeout;	/* default 300 */
	int	 lmtp_rcpt_timeout;	/* default 300 */
	int	 lmtp_data_init_timeout; /* reply to DATA, default 120 */
	int	 lmtp_data_xfer_timeout; /* each write of the message, 180 */
	int	 lmtp_data_done_timeout; /* each reply to the final dot, 600 */
	int	 lmtp_quit_timeout;	/* default 300 */
	int	 lmtp_rset_timeout;	/* default 20 */
	char	*lmtp_lhlo_name;	/* default: $myhostname */
	char	*lmtp_bind_address;	/* IPv4 source address, default "" */
	char	*lmtp_bind_address6;	/* IPv6 source address, default "" */
	int	 lmtp_mx_address_limit;	/* default 5 */
	int	 lmtp_mx_session_limit;	/* default 2 */
	int	 lmtp_skip_5xx_greeting; /* default yes */
};

extern const struct config_table smtp_params_table;

#endif
