/*
 * config - the main configuration file, tern.conf.
 *
 * Format: one "key = value" per line; '#' starts a comment line; blank lines
 * are ignored; a line starting with white space continues the previous value
 * (joined with one space).  Every key has a documented default (see
 * etc/tern.conf and tern.conf(5)), so an empty file is a valid configuration.
 * An unknown key, a repeated key or a bad value is an error reported as
 * "file:line: reason"; the parse then returns -1 and the caller exits.
 *
 * Value types: string; list (separated by commas and/or white space, but
 * not inside braces: "inline:{ a = b, c = d }" is one item); bool
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

/*
 * Key tables.  Each program declares the keys it reads in its own folder
 * (DIR/DIR_params.c: a struct and a table of struct config_key over it);
 * the keys every program needs (identity, paths, verbose) are the global
 * table here, struct tern_config.  A program parses the file with the
 * global table plus its own and ignores keys that neither declares: it does
 * not know the other programs' keys, and linking every table into every
 * daemon would bring back the one struct they all carry.  The whole-file
 * check -- every key is declared by some table, every value is valid -- is
 * the master's: it parses with the global table and every daemon's table
 * (it links their tables, master/master_params.c) at start, on reload and
 * with "master -n", so a typo stops the master (or a reload keeps the old
 * configuration) before a daemon runs with it.  No key may be in two tables
 * (a unit test checks).  See docs/ARCHITECTURE.md, "Configuration".
 */
enum config_type { CT_STRING, CT_LIST, CT_BOOL, CT_COUNT, CT_SIZE, CT_TIME,
    CT_CHOICE };

#define CF_EMPTY_OK	0x01	/* may be empty (a choice: its first word) */
#define CF_EXPAND	0x02	/* $myhostname is expanded (string or list) */
#define CF_HOSTNAME	0x04	/* must be a valid domain name */
#define CF_NETWORKS	0x08	/* a list of networks (cidr.h) */
#define CF_BESIDE	0x10	/* a relative path is taken from tern.conf's dir */

struct config_key {
	const char	*name;
	enum config_type type;
	size_t		 off;	/* of the field in the table's struct */
	const char	*def;	/* NULL: computed (myhostname only) */
	int		 flags;
	long long	 min;	/* counts, sizes and times */
	const char *const *words; /* CT_CHOICE: value = index, NULL ends */
	const char	*not_above; /* time/count key of the same table that
				   this one may not exceed */
};

struct config_table {
	const char		*name;	/* the program, for messages */
	const struct config_key	*key;
	size_t			 nkey;
	size_t			 size;	/* of the struct the keys fill */
};

#define CONFIG_TABLE(prog, keys, type) \
	{ (prog), (keys), sizeof(keys) / sizeof((keys)[0]), sizeof(type) }

/* One table and the struct it fills; dest NULL: values are checked and
 * dropped (the master's whole-file check). */
struct config_part {
	const struct config_table *table;
	void			*dest;
};

/* The keys every program reads. */
struct tern_config {
	/* identity */
	char	*myhostname;		/* default: the system host name */
	struct config_list mydestination; /* default: "localhost, $myhostname" */
	/* paths and users */
	char	*queue_directory;	/* default: /var/spool/tern */
	char	*daemon_directory;	/* default: compiled-in LIBEXECDIR */
	char	*mail_owner;		/* default: tern */
	char	*setgid_group;		/* group of maildrop/ and ternpostdrop: terndrop */
	char	*master_config;		/* default: master.conf beside tern.conf */
	struct config_list mynetworks;	/* networks that may relay, default
					   "127.0.0.0/8, [::1]/128" */
	struct config_list relay_domains; /* domains relayed for anyone,
					   default empty; ".d" = subdomains */
	size_t	 message_size_limit;	/* default 10240000; smtpd, pickup,
					   sendmail */
	int	 resolver_timeout;	/* seconds, default 30; resolver and
					   the SMTP client */
	int	 local_time_limit;	/* seconds per batch of mailbox work,
					   default 1000 (Postfix's
					   command_time_limit); deliver and qmgr */
	struct config_list alias_maps;	/* aliases(5) tables local delivery
					   reads, default hash:/etc/aliases */
	struct config_list alias_database; /* the ones newaliases builds,
					   default hash:/etc/aliases */
	char	*recipient_delimiter;	/* "user+tag": default "" (none);
					   deliver and smtpd's RCPT check */
	/* virtual domains (common/virtual.h): qmgr, smtpd and deliver */
	struct config_list virtual_alias_maps;	/* address -> addresses */
	struct config_list virtual_alias_domains; /* default
					   "$virtual_alias_maps" */
	struct config_list virtual_mailbox_maps; /* address -> mailbox path */
	struct config_list virtual_mailbox_domains; /* default
					   "$virtual_mailbox_maps" */
	/* logging */
	int	 verbose;		/* bool, default no */
	/* where it came from, for messages */
	char	*path;
};

extern const struct config_table config_global_table;

/* config_parse_parts() flags */
#define CONFIG_ALL_KEYS	0x01	/* a key no table declares is an error */

/*
 * Parse text (name is used in messages) into cf (the global table) and
 * each part.  Without CONFIG_ALL_KEYS, keys of no given table are skipped.
 * On error prints "file:line: reason" for every mistake through log_error,
 * frees cf and the parts, and returns -1.
 */
int	config_parse_parts(const char *name, const char *text, size_t len,
	    struct tern_config *, const struct config_part *, size_t nparts,
	    int flags);
/* The same from path (NULL: TERN_SYSCONFDIR "/tern.conf"). */
int	config_load_parts(const char *path, struct tern_config *,
	    const struct config_part *, size_t nparts, int flags);
/* Defaults only (what an empty file gives), for cf and the parts. */
void	config_defaults_parts(struct tern_config *, const struct config_part *,
	    size_t nparts);
void	config_free_part(const struct config_table *, void *dest);

/* The global table alone, every other key skipped. */
int	config_load(const char *path, struct tern_config *);
int	config_parse(const char *name, const char *text, size_t len,
	    struct tern_config *);
void	config_free(struct tern_config *);
void	config_defaults(struct tern_config *);

/* Is domain (case-insensitive, no trailing dot) listed in mydestination? */
int	config_is_local_domain(const struct tern_config *, const char *domain);

/* Print every key of a table and its value, as "key = value" lines. */
void	config_print(const struct config_table *, const void *dest, int fd);

/* Value parsers, exported for tests: 0 ok, -1 bad. */
int	config_parse_bool(const char *, int *);
int	config_parse_count(const char *, int *);
int	config_parse_size(const char *, size_t *);
int	config_parse_time(const char *, int *);
int	config_parse_list(const char *, struct config_list *);
void	config_list_free(struct config_list *);

#endif
