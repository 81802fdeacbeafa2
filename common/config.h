/*
 * config - the main configuration file, tern.conf.
 *
 * Format: one "key = value" per line; '#' starts a comment line; blank lines
 * are ignored; a line starting with white space continues the previous value
 * (joined with one space).  Every key has a documented default (see
 * etc/tern.conf and tern.conf(5)), so an empty file is a valid configuration.
 * An unknown key, a repeated key or a bad value is an error reported as
 * "file:line: reason"; config_load() then returns -1 and the caller exits.
 *
 * Value types: string; list (separated by commas and/or white space); bool
 * (yes/no); choice (one of a key's own words, stored as an enum); count (a non-negative integer); size (bytes, suffix k/m/g
 * allowed); time (seconds, suffix s/m/h/d allowed).
 */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stddef.h>

#define CONFIG_LIST_MAX	64

struct config_list {
	int	 count;
	char	*item[CONFIG_LIST_MAX];
};

/* smtpd_forbid_bare_newline: what a bare CR or LF from a client gets. */
enum {
	CONFIG_BARE_NL_NO = 0,		/* "no": kept as content, never a line end */
	CONFIG_BARE_NL_REJECT = 1	/* "reject": 5xx, message discarded */
};

struct tern_config {
	/* identity */
	char	*myhostname;		/* default: the system host name */
	struct config_list mydestination; /* default: "localhost, $myhostname" */
	char	*smtpd_banner;		/* default: "$myhostname ESMTP tern" */
	/* paths and users */
	char	*queue_directory;	/* default: /var/spool/tern */
	char	*daemon_directory;	/* default: compiled-in LIBEXECDIR */
	char	*mail_owner;		/* default: tern */
	char	*setgid_group;		/* group of maildrop/ and ternpostdrop: terndrop */
	char	*master_config;		/* default: master.conf beside tern.conf */
	/* smtpd */
	size_t	 message_size_limit;	/* default: 10240000 */
	int	 smtpd_recipient_limit;	/* default: 1000 */
	int	 smtpd_timeout;		/* seconds, default 300 */
	int	 smtpd_client_limit;	/* sessions per smtpd process, default 20000 */
	int	 local_recipient_check;	/* bool, default yes: 550 unknown users */
	int	 smtpd_forbid_bare_newline; /* CONFIG_BARE_NL_*, default reject */
	int	 smtpd_junk_command_limit; /* NOOP, RSET, VRFY, unknown; 100 */
	int	 smtpd_min_data_rate;	/* bytes/s that extend the DATA deadline, 500 */
	int	 smtpd_session_time_limit; /* seconds per session, 1h; 0 = none */
	size_t	 queue_minfree;		/* bytes free to accept mail, default 0 */
	/* smtpd and anvil: limits per client address */
	int	 smtpd_client_connection_count_limit; /* default 50; 0 = none */
	int	 smtpd_client_connection_rate_limit; /* per time unit, 0 = none */
	struct config_list smtpd_client_event_limit_exceptions; /* networks,
					   default "127.0.0.0/8, ::1" */
	int	 anvil_rate_time_unit;	/* seconds, default 60 */
	/* qmgr */
	int	 queue_scan_interval;	/* seconds, default 60 */
	int	 minimal_backoff_time;	/* seconds, default 300 */
	int	 maximal_backoff_time;	/* seconds, default 4000 */
	int	 maximal_queue_lifetime; /* seconds, default 5d */
	int	 deliver_concurrency;	/* parallel deliveries, default 4 */
	/* deliver */
	char	*home_mailbox;		/* default: "Maildir/" (relative to home) */
	/* resolver */
	struct config_list resolver_nameservers; /* default: empty = resolv.conf */
	int	 resolver_timeout;	/* seconds, default 30 */
	/* logging */
	int	 verbose;		/* bool, default no */
	/* where it came from, for messages */
	char	*path;
};

/* Load path (NULL: TERN_SYSCONFDIR "/tern.conf").  On error prints
 * "file:line: reason" through log_error and returns -1. */
int	config_load(const char *path, struct tern_config *);
/* Parse from memory; name is used in messages.  Same rules as config_load. */
int	config_parse(const char *name, const char *text, size_t len,
	    struct tern_config *);
void	config_free(struct tern_config *);
/* Defaults only (what an empty file gives). */
void	config_defaults(struct tern_config *);

/* Is domain (case-insensitive, no trailing dot) listed in mydestination? */
int	config_is_local_domain(const struct tern_config *, const char *domain);

/* Print every key and its value, as "key = value" lines (tern-config -a). */
void	config_print(const struct tern_config *, int fd);

/* Value parsers, exported for tests: 0 ok, -1 bad. */
int	config_parse_bool(const char *, int *);
int	config_parse_count(const char *, int *);
int	config_parse_size(const char *, size_t *);
int	config_parse_time(const char *, int *);
int	config_parse_list(const char *, struct config_list *);
void	config_list_free(struct config_list *);

#endif
