/*
 * service_table - parse master.conf into a table of services.
 *
 * The parser is deliberately pure: it sees only the bytes it is given and
 * reports through a caller's buffer, so the same code runs under the master,
 * the unit tests and a fuzzer.  Every field is checked here, with the line it
 * came from, so that a mistake stops the master at start-up (or keeps the old
 * table on reload) instead of surfacing later as a failed bind or exec.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto_lookup.h"
#include "service_table.h"

#define FIELD_COUNT	7		/* fields before the extra arguments */
#define TOKEN_MAX	(FIELD_COUNT + SERVICE_ARGS_MAX + 1)
#define SHOW_MAX	64		/* bytes of a bad token quoted back */

/* Where we are, for messages. */
struct parse_ctx {
	const char	*name;
	size_t		 line;
	char		*err;
	size_t		 errlen;
};

struct token {
	const char	*p;
	size_t		 len;
};

static const char *field_names[FIELD_COUNT] = {
	"service", "type", "address", "user", "chroot", "limit", "program"
};

static int parse_fail(struct parse_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

static int
parse_fail(struct parse_ctx *ctx, const char *fmt, ...)
{
	char	 reason[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (ctx->errlen == 0)
		return -1;
	if (ctx->line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%zu: %s", ctx->name,
		    ctx->line, reason);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->name, reason);
	return -1;
}

/* Length to quote back in a message: long tokens are cut, not echoed whole. */
static int
show_len(const struct token *t)
{
	return (int)(t->len > SHOW_MAX ? SHOW_MAX : t->len);
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Same bytes as a C string? */
static int
token_is(const struct token *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->p, s, t->len) == 0;
}

static void
token_copy(char *dst, const struct token *t)
{
	memcpy(dst, t->p, t->len);
	dst[t->len] = '\0';
}

/* Letters, digits, '.', '_', '-', not starting with '-' or '.' (a name
 * that looks like an option or a hidden file is asking for trouble). */
static int
name_syntax_ok(const struct token *t)
{
	size_t	 i;

	if (t->len == 0 || t->p[0] == '-' || t->p[0] == '.')
		return 0;
	for (i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)t->p[i];
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

/* A relative path that stays below its base, in one spelling only: no "..",
 * no ".", no empty component, no trailing '/'. */
static int
path_stays_below(const char *p, size_t len)
{
	size_t	 start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (i == start)
			return 0;		/* empty component */
		if (p[start] == '.' && (i - start == 1 ||
		    (i - start == 2 && p[start + 1] == '.')))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* A host name or dotted IPv4 address; syntax only. */
static int
host_syntax_ok(const char *h, size_t len)
{
	size_t	 i, label = 0;
	int	 numeric = 1;
	char	 tmp[16];
	struct in_addr a4;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (!is_digit(c))
			numeric = 0;
		if (++label > 63)
			return 0;
	}
	if (label == 0 || h[len - 1] == '-')
		return 0;
	/* All digits and dots: it must be a real IPv4 address, not a name. */
	if (numeric) {
		if (len >= sizeof(tmp))
			return 0;
		memcpy(tmp, h, len);
		tmp[len] = '\0';
		return inet_pton(AF_INET, tmp, &a4) == 1;
	}
	return 1;
}

/* Decimal 1..65535, no sign, at most five digits. */
static int
port_syntax_ok(const char *p)
{
	size_t	 i, len = strlen(p);
	long	 v = 0;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (!is_digit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

int
service_inet_split(const char *addr, char *host, size_t hostlen,
    char *port, size_t portlen, const char **why)
{
	const char	*h, *colon, *close;
	size_t		 hlen;
	char		 tmp[INET6_ADDRSTRLEN];
	struct in6_addr	 a6;

	if (addr[0] == '[') {
		if ((close = strchr(addr, ']')) == NULL) {
			*why = "missing ']' after the IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*why = "expected ]:port after the IPv6 address";
			return -1;
		}
		h = addr + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (hlen == 0 || hlen >= sizeof(tmp)) {
			*why = "bad IPv6 address";
			return -1;
		}
		memcpy(tmp, h, hlen);
		tmp[hlen] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1) {
			*why = "bad IPv6 address";
			return -1;
		}
	} else {
		if ((colon = strrchr(addr, ':')) == NULL) {
			*why = "expected host:port, [v6addr]:port or *:port";
			return -1;
		}
		h = addr;
		hlen = (size_t)(colon - addr);
		if (memchr(h, ':', hlen) != NULL) {
			*why = "an IPv6 address needs brackets: [v6addr]:port";
			return -1;
		}
		if (hlen == 0) {
			*why = "missing host before the port (*:port means "
			    "every address)";
			return -1;
		}
		if (!(hlen == 1 && h[0] == '*') && !host_syntax_ok(h, hlen)) {
			*why = "bad host name or IPv4 address";
			return -1;
		}
	}
	if (!port_syntax_ok(colon + 1)) {
		*why = "bad port (expected a number from 1 to 65535)";
		return -1;
	}
	if (hlen >= hostlen || strlen(colon + 1) >= portlen) {
		*why = "address too long";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

/*
 * Split a line into blank-separated tokens.  Control characters (other
 * than tab and a CR, which a file edited elsewhere may end its lines with)
 * are refused outright, which also keeps them out of every message.
 * Returns the token count, or -1.
 */
static int
line_tokens(struct parse_ctx *ctx, const char *p, size_t len,
    struct token tok[TOKEN_MAX])
{
	size_t	 i = 0, start;
	int	 n = 0;

	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
			continue;
		}
		start = i;
		for (; i < len; i++) {
			c = (unsigned char)p[i];
			if (c == ' ' || c == '\t' || c == '\r')
				break;
			if (c < 0x20 || c == 0x7f)
				return parse_fail(ctx, "invalid character "
				    "(byte 0x%02x)", c);
		}
		if (n == TOKEN_MAX - 1)
			return parse_fail(ctx, "too many arguments (at most "
			    "%d after the program)", SERVICE_ARGS_MAX);
		tok[n].p = p + start;
		tok[n].len = i - start;
		n++;
	}
	return n;
}

static int
parse_name(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	if (t->len >= SERVICE_NAME_MAX)
		return parse_fail(ctx, "service name too long (at most %d "
		    "characters)", SERVICE_NAME_MAX - 1);
	if (!name_syntax_ok(t))
		return parse_fail(ctx, "bad service name \"%.*s\" (letters, "
		    "digits, '.', '_' and '-' only, not first '-' or '.')",
		    show_len(t), t->p);
	token_copy(s->name, t);
	return 0;
}

static int
parse_type(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	if (token_is(t, "inet"))
		s->type = SERVICE_INET;
	else if (token_is(t, "unix"))
		s->type = SERVICE_UNIX;
	else
		return parse_fail(ctx, "unknown service type \"%.*s\" "
		    "(expected inet or unix)", show_len(t), t->p);
	return 0;
}

static int
parse_address(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	char		 host[SERVICE_ADDR_MAX], port[8];
	const char	*why;

	if (t->len >= SERVICE_ADDR_MAX)
		return parse_fail(ctx, "address too long (at most %d "
		    "characters)", SERVICE_ADDR_MAX - 1);
	token_copy(s->address, t);
	if (s->type == SERVICE_INET) {
		if (service_inet_split(s->address, host, sizeof(host), port,
		    sizeof(port), &why) == -1)
			return parse_fail(ctx, "bad inet address \"%.*s\": %s",
			    show_len(t), t->p, why);
		return 0;
	}
	if (t->len >= SERVICE_UNIX_MAX)
		return parse_fail(ctx, "unix socket path too long (at most %d "
		    "characters)", SERVICE_UNIX_MAX - 1);
	if (t->p[0] == '/')
		return parse_fail(ctx, "unix socket path \"%.*s\" must be "
		    "relative to queue_directory", show_len(t), t->p);
	if (!path_stays_below(t->p, t->len))
		return parse_fail(ctx, "bad unix socket path \"%.*s\" (no "
		    "\".\", \"..\", empty or trailing components)", show_len(t),
		    t->p);
	return 0;
}

static int
parse_user(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	if (t->len >= SERVICE_USER_MAX)
		return parse_fail(ctx, "user name too long (at most %d "
		    "characters)", SERVICE_USER_MAX - 1);
	if (!token_is(t, "-") && !name_syntax_ok(t))
		return parse_fail(ctx, "bad user name \"%.*s\"", show_len(t),
		    t->p);
	token_copy(s->user, t);
	return 0;
}

static int
parse_chroot(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	if (token_is(t, "y"))
		s->chroot = 1;
	else if (token_is(t, "n"))
		s->chroot = 0;
	else
		return parse_fail(ctx, "bad chroot flag \"%.*s\" (expected y "
		    "or n)", show_len(t), t->p);
	return 0;
}

static int
parse_limit(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	size_t	 i;
	int	 v = 0;

	for (i = 0; i < t->len; i++) {
		if (!is_digit((unsigned char)t->p[i]) || v > SERVICE_LIMIT_MAX)
			break;
		v = v * 10 + (t->p[i] - '0');
	}
	if (i < t->len || v < 1 || v > SERVICE_LIMIT_MAX)
		return parse_fail(ctx, "bad process limit \"%.*s\" (expected "
		    "a number from 1 to %d)", show_len(t), t->p,
		    SERVICE_LIMIT_MAX);
	s->limit = v;
	return 0;
}

static int
parse_program(struct parse_ctx *ctx, const struct token *t, struct service *s)
{
	if (t->len >= SERVICE_PATH_MAX)
		return parse_fail(ctx, "program name too long (at most %d "
		    "characters)", SERVICE_PATH_MAX - 1);
	if (t->p[0] == '/' ? !path_stays_below(t->p + 1, t->len - 1) :
	    !path_stays_below(t->p, t->len))
		return parse_fail(ctx, "bad program \"%.*s\" (no \".\", "
		    "\"..\", empty or trailing components)", show_len(t),
		    t->p);
	token_copy(s->program, t);
	return 0;
}

static int
parse_args(struct parse_ctx *ctx, const struct token *t, int n,
    struct service *s)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (t[i].len >= SERVICE_ARG_MAX)
			return parse_fail(ctx, "argument %d too long (at most "
			    "%d characters)", i + 1, SERVICE_ARG_MAX - 1);
		token_copy(s->args[i], &t[i]);
	}
	s->nargs = n;
	return 0;
}

/* A new service must differ from every earlier one in name and socket. */
static int
check_unique(struct parse_ctx *ctx, const struct service_table *tab,
    const struct service *s)
{
	int	 i;

	for (i = 0; i < tab->count; i++) {
		const struct service *o = &tab->svc[i];
		if (strcmp(o->name, s->name) == 0)
			return parse_fail(ctx, "duplicate service name \"%s\" "
			    "(first defined at line %zu)", s->name, o->line);
		if (service_same_endpoint(o, s))
			return parse_fail(ctx, "%s address \"%s\" is already "
			    "used by service \"%s\" (line %zu)",
			    s->type == SERVICE_INET ? "inet" : "unix",
			    s->address, o->name, o->line);
	}
	return 0;
}

static int
table_append(struct parse_ctx *ctx, struct service_table *tab,
    const struct service *s)
{
	struct service	*n;

	if (tab->count == SERVICE_TABLE_MAX)
		return parse_fail(ctx, "too many services (at most %d)",
		    SERVICE_TABLE_MAX);
	/* Grow one entry at a time: tables are small and this runs rarely. */
	n = reallocarray(tab->svc, (size_t)tab->count + 1, sizeof(*n));
	if (n == NULL)
		return parse_fail(ctx, "out of memory");
	tab->svc = n;
	tab->svc[tab->count++] = *s;
	return 0;
}

static int
parse_line(struct parse_ctx *ctx, const char *p, size_t len,
    struct service_table *tab)
{
	struct token	 tok[TOKEN_MAX];
	struct service	*s;
	size_t		 i = 0;
	int		 n, rc = -1;

	/* Comments are skipped before any checking: they may say anything. */
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	if ((n = line_tokens(ctx, p + i, len - i, tok)) == -1)
		return -1;
	if (n < FIELD_COUNT)
		return parse_fail(ctx, "missing field: %s (expected: service "
		    "type address user chroot limit program [args...])",
		    field_names[n]);
	/* A struct service is a few kB: keep it off the stack. */
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return parse_fail(ctx, "out of memory");
	s->line = ctx->line;
	if (parse_name(ctx, &tok[0], s) == 0 &&
	    parse_type(ctx, &tok[1], s) == 0 &&
	    parse_address(ctx, &tok[2], s) == 0 &&
	    parse_user(ctx, &tok[3], s) == 0 &&
	    parse_chroot(ctx, &tok[4], s) == 0 &&
	    parse_limit(ctx, &tok[5], s) == 0 &&
	    parse_program(ctx, &tok[6], s) == 0 &&
	    parse_args(ctx, &tok[FIELD_COUNT], n - FIELD_COUNT, s) == 0 &&
	    check_unique(ctx, tab, s) == 0)
		rc = table_append(ctx, tab, s);
	free(s);
	return rc;
}

int
service_table_parse(const char *name, const char *buf, size_t len,
    struct service_table *tab, char *err, size_t errlen)
{
	struct parse_ctx ctx = { name, 0, err, errlen };
	const char	*line, *nl;
	size_t		 pos = 0, llen;

	tab->count = 0;
	tab->svc = NULL;
	if (errlen > 0)
		err[0] = '\0';
	while (pos < len) {
		line = buf + pos;
		nl = memchr(line, '\n', len - pos);
		llen = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += llen + (nl != NULL);
		ctx.line++;
		if (parse_line(&ctx, line, llen, tab) == -1) {
			service_table_free(tab);
			return -1;
		}
	}
	if (tab->count == 0) {
		ctx.line = 0;
		return parse_fail(&ctx, "no services defined");
	}
	return 0;
}

int
service_table_load(const char *path, struct service_table *tab, char *err,
    size_t errlen)
{
	char	*buf;
	ssize_t	 n = 0;
	size_t	 len = 0;
	int	 fd, rc, saved;

	tab->count = 0;
	tab->svc = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* One byte more than allowed, to tell "exactly the limit" from "more". */
	if ((buf = malloc(SERVICE_FILE_MAX + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	while (len <= SERVICE_FILE_MAX) {
		n = read(fd, buf + len, SERVICE_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (n == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(saved));
	else if (len > SERVICE_FILE_MAX)
		snprintf(err, errlen, "%s: file too large (more than %d bytes)",
		    path, SERVICE_FILE_MAX);
	if (n == -1 || len > SERVICE_FILE_MAX) {
		free(buf);
		return -1;
	}
	rc = service_table_parse(path, buf, len, tab, err, errlen);
	free(buf);
	return rc;
}

void
service_table_free(struct service_table *tab)
{
	free(tab->svc);
	tab->svc = NULL;
	tab->count = 0;
}

const struct service *
service_table_find(const struct service_table *tab, const char *name)
{
	int	 i;

	for (i = 0; i < tab->count; i++)
		if (strcmp(tab->svc[i].name, name) == 0)
			return &tab->svc[i];
	return NULL;
}

static int
service_runs(const struct service *s, const char *program)
{
	const char	*slash = strrchr(s->program, '/');

	return strcmp(slash != NULL ? slash + 1 : s->program, program) == 0;
}

const struct service *
service_table_smtpd_without_lookup(const struct service_table *tab)
{
	const struct service	*smtpd = NULL;
	int			 i;

	for (i = 0; i < tab->count; i++) {
		if (tab->svc[i].type == SERVICE_UNIX &&
		    strcmp(tab->svc[i].address, LOOKUP_SOCKET) == 0)
			return NULL;
		if (smtpd == NULL && service_runs(&tab->svc[i], "smtpd"))
			smtpd = &tab->svc[i];
	}
	return smtpd;
}

int
service_same_endpoint(const struct service *a, const struct service *b)
{
	return a->type == b->type && strcmp(a->address, b->address) == 0;
}
