/*
 * aliases - aliases(5) files (see aliases.h): the line layout is
 * postmap(1)'s (map_text_lines: comments, continuation lines, bounds),
 * each logical line split into a name, quoted or not, and a value; and the
 * value split into targets, commas inside double quotes kept.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "aliases.h"
#include "map.h"

/* A quoted name at s ("..." with \-escapes): its unquoted text in name
 * (MAP_KEY_MAX + 1 bytes), *end past the closing quote; -1 with *why. */
static int
aliases_quoted_name(const char *s, char *name, size_t *nlen,
    const char **end, const char **why)
{
	size_t	 n = 0;

	for (s++; *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (*s == '\0') {
			*why = "unclosed quote in the name";
			return -1;
		}
		if (n == MAP_KEY_MAX) {
			*why = "name too long";
			return -1;
		}
		name[n++] = *s;
	}
	*nlen = n;
	*end = s + 1;
	return 0;
}

static int
aliases_line(void *ctx, const char *line, size_t lineno, const char **why)
{
	struct map_table	*t = ctx;
	char			 name[MAP_KEY_MAX + 1];
	const char		*p, *v;
	size_t			 n = 0, vlen;

	if (line[0] == '"') {
		if (aliases_quoted_name(line, name, &n, &p, why) == -1)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
	} else {
		for (p = line; *p != ':' && *p != '\0' && *p != ' ' &&
		    *p != '\t' && *p != '"'; p++)
			if (n < sizeof(name))
				name[n++] = *p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (n > MAP_KEY_MAX) {
			*why = "name too long";
			return -1;
		}
	}
	if (*p != ':') {
		*why = line[0] != '"' && strchr(p, ':') != NULL ? "white space "
		    "or quote in a name (quote the name)" : "expected \"name: "
		    "value\" (no ':' after the name)";
		return -1;
	}
	if (n == 0) {
		*why = "empty name";
		return -1;
	}
	for (v = p + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((vlen = strlen(v)) == 0) {
		*why = "no value after the name";
		return -1;
	}
	map_table_add(t, name, n, v, vlen, lineno);
	return 0;
}

struct map_table *
aliases_parse(const char *name, const char *text, size_t len, size_t *dups,
    char *err, size_t errlen)
{
	struct map_table	*t;

	if ((t = map_table_from_lines(name, text, len, aliases_line, err,
	    errlen)) != NULL)
		*dups = map_table_dups(t);
	return t;
}

static int
alias_is_sep(char c)
{
	return c == ',' || c == '\n' || c == ' ' || c == '\t' || c == '\r';
}

/* Where the quoted string at s (s[0] == '"') ends: the index of its
 * closing quote, within len. */
static size_t
alias_close_quote(const char *s, size_t len)
{
	size_t	 i;

	for (i = 1; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i;
}

/* The token at s up to a comma or newline outside quotes, into buf;
 * quotes around the whole token removed.  *end past it. */
static int
alias_token(const char *s, char *buf, size_t buflen, const char **end,
    const char **why)
{
	const char	*p;
	size_t		 n = 0, len;
	int		 q = 0, whole;

	for (p = s; *p != '\0' && (q || (*p != ',' && *p != '\n')); p++) {
		if (*p == '"')
			q = !q;
		else if (q && *p == '\\' && p[1] != '\0')
			p++;
	}
	if (q) {
		*why = "unclosed quote";
		return -1;
	}
	*end = p;
	for (len = (size_t)(p - s); len > 0 &&
	    isspace((unsigned char)s[len - 1]); len--)
		;
	/* "..." as a whole: unquoted, its escapes undone. */
	whole = len >= 2 && s[0] == '"' && alias_close_quote(s, len) == len - 1;
	for (p = s + whole; p < s + len - whole; p++) {
		if (whole && *p == '\\' && p + 1 < s + len - 1)
			p++;
		if (n + 1 >= buflen) {
			*why = "target too long";
			return -1;
		}
		buf[n++] = *p;
	}
	buf[n] = '\0';
	return 0;
}

int
alias_target_next(const char **cursor, struct alias_target *t, char *buf,
    size_t buflen, const char **why)
{
	const char	*s = *cursor;

	while (alias_is_sep(*s))
		s++;
	if (*s == '\0') {
		*cursor = s;
		return 0;
	}
	if (buflen == 0 || alias_token(s, buf, buflen, cursor, why) == -1)
		return -1;
	t->text = buf;
	t->kind = ALIAS_ADDRESS;
	if (buf[0] == '|') {
		t->kind = ALIAS_COMMAND;
		t->text = buf + 1;
	} else if (strncasecmp(buf, ":include:", 9) == 0) {
		t->kind = ALIAS_INCLUDE;
		for (t->text = buf + 9; *t->text == ' ' || *t->text == '\t';
		    t->text++)
			;
	} else if (buf[0] == '/')
		t->kind = ALIAS_FILE;
	if ((t->kind == ALIAS_INCLUDE && t->text[0] != '/') ||
	    t->text[0] == '\0') {
		*why = t->kind == ALIAS_INCLUDE ? ":include: needs an absolute "
		    "path" : "empty target";
		return -1;
	}
	return 1;
}
