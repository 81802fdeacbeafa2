/*
 * map_pgsql - the pgsql: type's configuration file and query expansion,
 * exported for unit tests (the type itself is reached through map.h).
 *
 * "pgsql:/etc/tern/virtual.cf" names a file of "key = value" lines
 * (comments, continuation lines), Postfix's pgsql_table(5) keys:
 *
 *	hosts		hosts tried in order: "host", "host:port",
 *			"inet:host:port", "[ipv6]:port", "unix:/socket/
 *			directory" (default localhost); at most
 *			PGSQL_HOSTS_MAX
 *	user, password	the login; or password_file, an absolute path to a
 *			file whose first line is the password (kept out of
 *			a readable .cf)
 *	dbname		the database (required)
 *	query		the SQL, "%s" the whole key, "%u" its local part
 *			(the key when it has no '@'), "%d" its domain (no
 *			'@': the lookup is not made: not found), "%%" a
 *			'%'; every expansion escaped with PQescapeStringConn
 *			(required; write quotes around them: '%s')
 *	connect_timeout	seconds per host (default 5)
 *	query_timeout	seconds per query (default 10)
 *	expansion_limit	most values in one answer (0: no limit; more is a
 *			temporary failure, as Postfix's)
 *
 * The answer is every non-empty field of every row, joined with ",", at
 * most MAP_VALUE_MAX bytes (more: temporary failure).
 */
#ifndef TERN_MAP_PGSQL_H
#define TERN_MAP_PGSQL_H

#include <stddef.h>

#define PGSQL_HOSTS_MAX	8

struct pgsql_conf {
	char	*host[PGSQL_HOSTS_MAX];	/* libpq host and port, split */
	char	*port[PGSQL_HOSTS_MAX];	/* NULL: default */
	int	 nhosts;
	char	*user, *password, *dbname, *query;
	int	 connect_timeout, query_timeout, expansion_limit;
};

/* Parse the file's text; 0, or -1 with err "name:line: reason". */
int	pgsql_conf_parse(const char *name, const char *text, size_t len,
	    struct pgsql_conf *, char *err, size_t errlen);
void	pgsql_conf_free(struct pgsql_conf *);
/*
 * Expand query for key, each expansion passed through escape(ctx, out,
 * in, len) (which writes at most 2 * len + 1 bytes and returns the length
 * written, or -1).  The query in out (bounded by outlen), 1; 0 when the key
 * has no domain for "%d" (no lookup); -1 too long or escape failed.
 */
int	pgsql_expand(const char *query, const char *key,
	    long (*escape)(void *, char *, const char *, size_t), void *ctx,
	    char *out, size_t outlen);

#endif
