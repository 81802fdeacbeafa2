/*
 * map_pgsql - the pgsql: type (map_pgsql.h has the configuration): one
 * PostgreSQL connection per map, kept between lookups, made to the first
 * host in "hosts" that answers within connect_timeout.  A query runs
 * asynchronously (PQsendQuery, poll) so that query_timeout holds even
 * against a server that stopped answering; on a time-out or a broken
 * connection the connection is dropped, and a broken one is made again
 * (the next host if the first is down) and the query repeated once.  Any
 * failure is MAP_TEMPFAIL: the caller defers, never bounces, when the
 * database is down.  The file is read again when it changes.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "map.h"
#include "map_pgsql.h"
#include "map_types.h"

#define PGSQL_QUERY_MAX	(16 * 1024)

/* ---- configuration ------------------------------------------------- */

struct pgsql_parse {
	struct pgsql_conf	*c;
	char			*password_file;
	unsigned		 seen;
};

static const char *const pgsql_keys[] = { "hosts", "user", "password",
    "password_file", "dbname", "query", "connect_timeout", "query_timeout",
    "expansion_limit", NULL };

static int
pgsql_number(const char *v, int min, int *out)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > 86400)
		return -1;
	*out = (int)n;
	return 0;
}

static int
pgsql_host(struct pgsql_conf *c, const char *h, const char **why)
{
	const char	*colon;

	if (c->nhosts == PGSQL_HOSTS_MAX) {
		*why = "too many hosts";
		return -1;
	}
	if (strncmp(h, "unix:", 5) == 0) {
		if (h[5] != '/') {
			*why = "unix: needs an absolute socket directory";
			return -1;
		}
		c->host[c->nhosts++] = xstrdup(h + 5);
		return 0;
	}
	if (strncmp(h, "inet:", 5) == 0)
		h += 5;
	if (*h == '\0' || (*h == ':' && strchr(h + 1, ':') == NULL) ||
	    strcmp(h, "[]") == 0) {	/* "", ":port", "[]" */
		*why = "empty host";
		return -1;
	}
	if (h[0] == '[') {	/* [address] or [address]:port */
		if ((colon = strchr(h, ']')) == NULL || (colon[1] != '\0' &&
		    (colon[1] != ':' || colon[2] == '\0'))) {
			*why = "bad [address]:port";
			return -1;
		}
		if (colon[1] == ':')
			c->port[c->nhosts] = xstrdup(colon + 2);
		c->host[c->nhosts++] = xstrndup(h + 1, (size_t)(colon - h - 1));
	} else if ((colon = strchr(h, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {	/* host:port, not IPv6 */
		c->port[c->nhosts] = xstrdup(colon + 1);
		c->host[c->nhosts++] = xstrndup(h, (size_t)(colon - h));
	} else
		c->host[c->nhosts++] = xstrdup(h);
	return 0;
}

static int
pgsql_hosts(struct pgsql_conf *c, const char *v, const char **why)
{
	char	*copy = xstrdup(v), *p, *save = NULL;
	int	 r = 0;

	for (p = strtok_r(copy, ", \t", &save); p != NULL && r == 0;
	    p = strtok_r(NULL, ", \t", &save))
		r = pgsql_host(c, p, why);
	free(copy);
	return r;
}

static int
pgsql_set(struct pgsql_parse *p, int k, const char *v, const char **why)
{
	struct pgsql_conf	*c = p->c;

	switch (k) {
	case 0:
		return pgsql_hosts(c, v, why);
	case 1:
		c->user = xstrdup(v);
		return 0;
	case 2:
		c->password = xstrdup(v);
		return 0;
	case 3:
		p->password_file = xstrdup(v);
		return 0;
	case 4:
		c->dbname = xstrdup(v);
		return 0;
	case 5:
		c->query = xstrdup(v);
		return 0;
	}
	*why = "bad number";
	return pgsql_number(v, k == 8 ? 0 : 1, k == 6 ? &c->connect_timeout :
	    k == 7 ? &c->query_timeout : &c->expansion_limit);
}

static int
pgsql_line(void *ctx, const char *line, size_t lineno, const char **why)
{
	struct pgsql_parse	*p = ctx;
	const char		*eq = strchr(line, '='), *v;
	size_t			 klen;
	int			 k;

	(void)lineno;
	if (eq == NULL) {
		*why = "expected \"key = value\"";
		return -1;
	}
	for (klen = (size_t)(eq - line); klen > 0 &&
	    isspace((unsigned char)line[klen - 1]); klen--)
		;
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	for (k = 0; pgsql_keys[k] != NULL; k++)
		if (strlen(pgsql_keys[k]) == klen &&
		    strncmp(pgsql_keys[k], line, klen) == 0)
			break;
	if (pgsql_keys[k] == NULL) {
		*why = "unknown key";
		return -1;
	}
	if (p->seen & (1u << k)) {
		*why = "key given twice";
		return -1;
	}
	p->seen |= 1u << k;
	return pgsql_set(p, k, v, why);
}

/* The first line of the password file. */
static int
pgsql_password_file(struct pgsql_conf *c, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	size_t		 len;
	char		*text;

	if (path[0] != '/') {
		map_err(err, errlen, "password_file %s: not an absolute path",
		    path);
		return -1;
	}
	if ((text = map_file_read(path, &len, &st, err, errlen)) == NULL)
		return -1;
	text[strcspn(text, "\r\n")] = '\0';
	free(c->password);
	c->password = xstrdup(text);
	explicit_bzero(text, len);
	free(text);
	return 0;
}

void
pgsql_conf_free(struct pgsql_conf *c)
{
	int	 i;

	for (i = 0; i < c->nhosts; i++) {
		free(c->host[i]);
		free(c->port[i]);
	}
	if (c->password != NULL)
		explicit_bzero(c->password, strlen(c->password));
	free(c->user);
	free(c->password);
	free(c->dbname);
	free(c->query);
	memset(c, 0, sizeof(*c));
}

int
pgsql_conf_parse(const char *name, const char *text, size_t len,
    struct pgsql_conf *c, char *err, size_t errlen)
{
	struct pgsql_parse	 p;
	const char		*missing = NULL;

	memset(c, 0, sizeof(*c));
	c->connect_timeout = 5;
	c->query_timeout = 10;
	memset(&p, 0, sizeof(p));
	p.c = c;
	if (map_text_lines(name, text, len, pgsql_line, &p, err, errlen) == -1)
		goto bad;
	if (c->dbname == NULL)
		missing = "dbname";
	else if (c->query == NULL)
		missing = "query";
	if (missing != NULL) {
		map_err(err, errlen, "%s: no %s", name, missing);
		goto bad;
	}
	if (c->nhosts == 0)
		c->host[c->nhosts++] = xstrdup("localhost");
	if (p.password_file != NULL && pgsql_password_file(c, p.password_file,
	    err, errlen) == -1)
		goto bad;
	free(p.password_file);
	return 0;
bad:
	free(p.password_file);
	pgsql_conf_free(c);
	return -1;
}

/* ---- the query ----------------------------------------------------- */

int
pgsql_expand(const char *query, const char *key,
    long (*escape)(void *, char *, const char *, size_t), void *ctx,
    char *out, size_t outlen)
{
	const char	*at = strrchr(key, '@'), *part;
	size_t		 o = 0, plen;
	long		 n;

	for (; *query != '\0'; query++) {
		if (*query != '%' || query[1] == '%') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *query;
			query += *query == '%';
			continue;
		}
		switch (*++query) {
		case 's':
			part = key;
			plen = strlen(key);
			break;
		case 'u':
			part = key;
			plen = at != NULL ? (size_t)(at - key) : strlen(key);
			break;
		case 'd':
			if (at == NULL)
				return 0;
			part = at + 1;
			plen = strlen(part);
			break;
		default:
			return -1;
		}
		if (o + 2 * plen + 1 >= outlen ||
		    (n = escape(ctx, out + o, part, plen)) < 0)
			return -1;
		o += (size_t)n;
	}
	out[o] = '\0';
	return 1;
}

/* ---- the type ------------------------------------------------------ */

struct pgsql {
	char		*path;
	struct pgsql_conf conf;
	struct stat	 st;
	time_t		 checked;
	int		 reported;
	PGconn		*conn;		/* NULL: none now */
	int		 host;		/* which one conn is to */
	struct buf	 value;
};

static int
pgsql_read(const char *path, struct pgsql_conf *c, struct stat *st,
    char *err, size_t errlen)
{
	char	*text, why[MAP_ERR_MAX];
	size_t	 len;
	int	 r;

	if ((text = map_file_read(path, &len, st, why, sizeof(why))) == NULL) {
		map_err(err, errlen, "pgsql:%s", why);
		return -1;
	}
	r = pgsql_conf_parse(path, text, len, c, why, sizeof(why));
	explicit_bzero(text, len);
	free(text);
	if (r == -1)
		map_err(err, errlen, "pgsql:%s", why);
	return r;
}

static int
pgsql_open(const char *name, void **data, char *err, size_t errlen)
{
	struct pgsql	*p;
	struct pgsql_conf c;
	struct stat	 st;

	if (name[0] != '/') {
		map_err(err, errlen, "pgsql:%s: not an absolute path", name);
		return MAP_OPEN_BAD;
	}
	if (pgsql_read(name, &c, &st, err, errlen) == -1)
		return MAP_OPEN_LATER;
	p = xcalloc(1, sizeof(*p));
	p->path = xstrdup(name);
	p->conf = c;
	p->st = st;
	p->checked = time(NULL);
	buf_init(&p->value, MAP_VALUE_MAX);
	*data = p;
	return 0;
}

static void
pgsql_disconnect(struct pgsql *p)
{
	if (p->conn != NULL)
		PQfinish(p->conn);
	p->conn = NULL;
}

static void
pgsql_refresh(struct pgsql *p)
{
	struct pgsql_conf c;
	struct stat	 st;
	char		 err[MAP_ERR_MAX];

	if (!map_file_changed(p->path, &p->st, &p->checked))
		return;
	if (pgsql_read(p->path, &c, &st, err, sizeof(err)) == -1) {
		if (!p->reported)
			log_warn("%s; still using the settings read before",
			    err);
		p->reported = 1;
		return;
	}
	pgsql_disconnect(p);
	pgsql_conf_free(&p->conf);
	p->conf = c;
	p->st = st;
	p->reported = 0;
}

/* libpq's messages end in a newline, some have several lines: the first. */
static void
pgsql_one_line(char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[strcspn(err, "\n")] = '\0';
}

/* A connection to the first host that takes one, in the order given. */
static int
pgsql_connect(struct pgsql *p, char *err, size_t errlen)
{
	const char	*kw[8], *val[8];
	char		 timeout[16];
	int		 i, n;

	snprintf(timeout, sizeof(timeout), "%d", p->conf.connect_timeout);
	for (i = 0; i < p->conf.nhosts; i++) {
		n = 0;
		kw[n] = "host", val[n++] = p->conf.host[i];
		if (p->conf.port[i] != NULL)
			kw[n] = "port", val[n++] = p->conf.port[i];
		kw[n] = "dbname", val[n++] = p->conf.dbname;
		if (p->conf.user != NULL)
			kw[n] = "user", val[n++] = p->conf.user;
		if (p->conf.password != NULL)
			kw[n] = "password", val[n++] = p->conf.password;
		kw[n] = "connect_timeout", val[n++] = timeout;
		kw[n] = "application_name", val[n++] = "tern";
		kw[n] = val[n] = NULL;
		p->conn = PQconnectdbParams(kw, val, 0);
		if (p->conn != NULL && PQstatus(p->conn) == CONNECTION_OK) {
			p->host = i;
			return 0;
		}
		map_err(err, errlen, "pgsql:%s: host %s: %s", p->path,
		    p->conf.host[i], p->conn != NULL ?
		    PQerrorMessage(p->conn) : "out of memory");
		pgsql_one_line(err, errlen);
		pgsql_disconnect(p);
	}
	return -1;
}

static long
pgsql_escape(void *ctx, char *out, const char *in, size_t len)
{
	int	 error = 0;
	size_t	 n;

	n = PQescapeStringConn(ctx, out, in, len, &error);
	return error != 0 ? -1 : (long)n;
}

/* Wait for the whole result of the query sent, at most query_timeout.
 * The result, or NULL with err, the connection dropped, and *broken set
 * if it broke (rather than timed out): a server restarted since the last
 * query shows only here, when the answer is read. */
static PGresult *
pgsql_wait(struct pgsql *p, char *err, size_t errlen, int *broken)
{
	struct pollfd	 pfd;
	PGresult	*res = NULL, *r;
	time_t		 end = time(NULL) + p->conf.query_timeout;
	int		 left;

	pfd.fd = PQsocket(p->conn);
	pfd.events = POLLIN;
	for (;;) {
		while (!PQisBusy(p->conn)) {
			if ((r = PQgetResult(p->conn)) == NULL)
				return res;
			PQclear(res);	/* only the last one counts */
			res = r;
		}
		if ((left = (int)(end - time(NULL))) <= 0 ||
		    poll(&pfd, 1, left * 1000) == 0) {
			map_err(err, errlen, "pgsql:%s: query timed out after "
			    "%ds", p->path, p->conf.query_timeout);
			break;
		}
		if (!PQconsumeInput(p->conn)) {
			map_err(err, errlen, "pgsql:%s: %s", p->path,
			    PQerrorMessage(p->conn));
			*broken = 1;
			break;
		}
	}
	PQclear(res);
	pgsql_disconnect(p);	/* a late answer must not be taken for the
				   next query's */
	return NULL;
}

/* The fields of res joined with ",": MAP_FOUND, NOTFOUND or TEMPFAIL. */
static int
pgsql_answer(struct pgsql *p, PGresult *res, char *err, size_t errlen)
{
	int	 row, col, n = 0;
	char	*v;

	buf_reset(&p->value);
	for (row = 0; row < PQntuples(res); row++)
		for (col = 0; col < PQnfields(res); col++) {
			if (PQgetisnull(res, row, col) ||
			    *(v = PQgetvalue(res, row, col)) == '\0')
				continue;
			if ((p->conf.expansion_limit > 0 &&
			    ++n > p->conf.expansion_limit) ||
			    (p->value.len > 0 && buf_append(&p->value, ",",
			    1) == -1) || buf_append_str(&p->value, v) == -1 ||
			    strlen(v) != (size_t)PQgetlength(res, row, col)) {
				map_err(err, errlen, "pgsql:%s: answer too "
				    "large or with a NUL byte", p->path);
				return MAP_TEMPFAIL;
			}
		}
	return p->value.len > 0 ? MAP_FOUND : MAP_NOTFOUND;
}

/* One try on the current (or a new) connection: MAP_* or, when the
 * connection broke and a new one may do better, -2. */
static int
pgsql_try(struct pgsql *p, const char *key, char *err, size_t errlen)
{
	char		 q[PGSQL_QUERY_MAX];
	PGresult	*res;
	int		 r, fresh = p->conn == NULL, broken = 0;

	if (p->conn == NULL && pgsql_connect(p, err, errlen) == -1)
		return MAP_TEMPFAIL;
	if ((r = pgsql_expand(p->conf.query, key, pgsql_escape, p->conn, q,
	    sizeof(q))) != 1) {
		if (r == -1)
			map_err(err, errlen, "pgsql:%s: query too long or bad "
			    "%% expansion", p->path);
		return r == 0 ? MAP_NOTFOUND : MAP_TEMPFAIL;
	}
	if (!PQsendQuery(p->conn, q)) {
		map_err(err, errlen, "pgsql:%s: %s", p->path,
		    PQerrorMessage(p->conn));
		pgsql_disconnect(p);
		return fresh ? MAP_TEMPFAIL : -2;
	}
	if ((res = pgsql_wait(p, err, errlen, &broken)) == NULL)
		return broken && !fresh ? -2 : MAP_TEMPFAIL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		map_err(err, errlen, "pgsql:%s: %s", p->path,
		    PQresultErrorMessage(res));
		PQclear(res);
		if (PQstatus(p->conn) != CONNECTION_OK) {
			pgsql_disconnect(p);
			return fresh ? MAP_TEMPFAIL : -2;
		}
		return MAP_TEMPFAIL;
	}
	r = pgsql_answer(p, res, err, errlen);
	PQclear(res);
	return r;
}

static int
pgsql_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	struct pgsql	*p = data;
	int		 r;

	pgsql_refresh(p);
	if ((r = pgsql_try(p, key, err, errlen)) == -2)
		r = pgsql_try(p, key, err, errlen);
	if (r == MAP_TEMPFAIL || r == -2) {
		pgsql_one_line(err, errlen);
		return MAP_TEMPFAIL;
	}
	if (r == MAP_FOUND)
		*value = buf_str(&p->value);
	return r;
}

static void
pgsql_close(void *data)
{
	struct pgsql	*p = data;

	pgsql_disconnect(p);
	pgsql_conf_free(&p->conf);
	buf_free(&p->value);
	free(p->path);
	free(p);
}

const struct map_ops map_pgsql_ops = {
	"pgsql", pgsql_open, pgsql_lookup, pgsql_close, NULL
};
