/*
 * service_table - the master's service table, master.conf.
 *
 * One service per line, fields separated by blanks (space, tab):
 *
 *	service  type  address  user  chroot  limit  program  [args...]
 *
 * A line whose first non-blank character is '#' is a comment; blank lines
 * are ignored.  service_table_parse() is pure (no I/O, no logging, no global
 * state) so that it can be fuzzed: it takes the text and a name for messages,
 * and either fills a table or returns -1 with "name:line: reason" in err.
 * Every field is bounded; the limits below are part of master.conf(5).
 */
#ifndef TERN_SERVICE_TABLE_H
#define TERN_SERVICE_TABLE_H

#include <stddef.h>

/* Buffer sizes, each including the terminating NUL. */
#define SERVICE_NAME_MAX	32	/* service name, also the syslog ident */
#define SERVICE_ADDR_MAX	264	/* host (253) + ":" + port, bracketed */
#define SERVICE_UNIX_MAX	108	/* sizeof(sockaddr_un.sun_path) */
#define SERVICE_USER_MAX	33	/* user name; "-" means mail_owner */
#define SERVICE_PATH_MAX	256	/* program name or absolute path */
#define SERVICE_ARG_MAX		256	/* one extra argument */
#define SERVICE_ARGS_MAX	16	/* extra arguments per service */

#define SERVICE_LIMIT_MAX	1000	/* instances per service */
#define SERVICE_TABLE_MAX	64	/* services per table */
#define SERVICE_FILE_MAX	(1024 * 1024)	/* largest master.conf read */

enum service_type {
	SERVICE_INET,		/* TCP: host:port, [v6addr]:port, *:port */
	SERVICE_UNIX		/* stream socket, path below queue_directory */
};

struct service {
	char		 name[SERVICE_NAME_MAX];
	enum service_type type;
	char		 address[SERVICE_ADDR_MAX];
	char		 user[SERVICE_USER_MAX];	/* "-": mail_owner */
	int		 chroot;			/* 1: chroot to the queue */
	int		 limit;				/* 1..SERVICE_LIMIT_MAX */
	char		 program[SERVICE_PATH_MAX];
	int		 nargs;
	char		 args[SERVICE_ARGS_MAX][SERVICE_ARG_MAX];
	size_t		 line;				/* for messages */
};

struct service_table {
	int		 count;
	struct service	*svc;		/* count entries; NULL when empty */
};

/*
 * Parse master.conf text.  buf need not be NUL-terminated and may hold any
 * bytes.  0: tab filled (at least one service; free it with
 * service_table_free).  -1: tab is empty and err holds "name:line: reason"
 * (or "name: reason" for a fault of the whole file).
 */
int	service_table_parse(const char *name, const char *buf, size_t len,
	    struct service_table *tab, char *err, size_t errlen);
/* Read the file at path (at most SERVICE_FILE_MAX bytes) and parse it.
 * Errors, including I/O errors, are reported the same way as above. */
int	service_table_load(const char *path, struct service_table *tab,
	    char *err, size_t errlen);
void	service_table_free(struct service_table *tab);

/* The service called name, or NULL. */
const struct service *service_table_find(const struct service_table *,
	    const char *name);
/* A service running smtpd (the program's base name) while no unix
 * service listens on LOOKUP_SOCKET: every local RCPT would get 451.  The
 * first such service, or NULL when all is well. */
const struct service *service_table_smtpd_without_lookup(
	    const struct service_table *);
/* Do a and b listen on the same socket (same type and address)? */
int	service_same_endpoint(const struct service *a, const struct service *b);

/*
 * Split an inet address into host and port.  host becomes "*" for the
 * wildcard, the bare address for "[v6]:port" (brackets removed), else the
 * host name or IPv4 address.  0, or -1 with *why set to a static reason.
 * Syntax only: nothing is resolved.
 */
int	service_inet_split(const char *addr, char *host, size_t hostlen,
	    char *port, size_t portlen, const char **why);

#endif
