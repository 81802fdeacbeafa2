/*
 * ternctl_confedit - the text side of "config set" and "config -n": which
 * keys a tern.conf text sets, and the text with one key set to a value.
 * tern.conf's syntax (config.h): "key = value" lines, '#' comments, blank
 * lines, and lines starting with white space that continue the previous
 * value (comments and blank lines in between end nothing).  A key's line
 * and its continuation lines are replaced by one "key = value" line in
 * place, so everything else (comments, order, other keys) stays as the
 * administrator wrote it; a key not set yet is appended.  Pure functions
 * of their input, unit-tested.
 */
#include <stdlib.h>
#include <string.h>

#include "ternctl.h"

/* The key a line sets ("key = ..." at the start), its length; 0 if the
 * line is blank, a comment or a continuation. */
static size_t
ctl_line_key(const char *p, const char *end)
{
	const char	*k = p;

	while (k < end && ((*k >= 'a' && *k <= 'z') || (*k >= 'A' &&
	    *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
		k++;
	return k > p && k < end && (*k == ' ' || *k == '\t' || *k == '=') ?
	    (size_t)(k - p) : 0;
}

/* What a line is to the parser (config.c): blank or a comment (which
 * end nothing: continuations may follow them), a continuation (white
 * space first), or the start of an entry. */
enum ctl_line { CTL_LINE_NONE, CTL_LINE_CONT, CTL_LINE_ENTRY };

static enum ctl_line
ctl_line_kind(const char *p, const char *end)
{
	const char	*q = p;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (q >= end || *q == '\n' || *q == '\r' || *q == '#')
		return CTL_LINE_NONE;
	return q > p ? CTL_LINE_CONT : CTL_LINE_ENTRY;
}

static const char *
ctl_eol(const char *p, const char *end)
{
	const char	*e = memchr(p, '\n', (size_t)(end - p));

	return e != NULL ? e + 1 : end;
}

char **
ctl_conf_keys(const char *text, size_t len)
{
	const char	*p, *end = text + len;
	char		**v;
	size_t		 n = 0, k, cap = 16;

	if ((v = calloc(cap + 1, sizeof(*v))) == NULL)
		return NULL;
	for (p = text; p < end; p = ctl_eol(p, end)) {
		if ((k = ctl_line_key(p, end)) == 0)
			continue;
		if (n == cap) {
			char **nv = reallocarray(v, 2 * cap + 1, sizeof(*v));

			if (nv == NULL)
				break;
			v = nv;
			cap *= 2;
		}
		if ((v[n] = strndup(p, k)) == NULL)
			break;
		v[++n] = NULL;
	}
	return v;
}

void
ctl_conf_keys_free(char **v)
{
	char	**p;

	for (p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}

char *
ctl_conf_edit(const char *text, size_t len, const char *key,
    const char *value, size_t *outlen)
{
	const char	*p, *e, *end = text + len;
	size_t		 klen = strlen(key), nlen, n = 0;
	char		*out, line[CONFIG_LIST_MAX * 64];
	int		 in_key = 0, done = 0;

	nlen = (size_t)snprintf(line, sizeof(line), "%s = %s\n", key, value);
	if (nlen >= sizeof(line) || (out = malloc(len + nlen + 2)) == NULL)
		return NULL;
	for (p = text; p < end; p = e) {
		e = ctl_eol(p, end);
		switch (ctl_line_kind(p, end)) {
		case CTL_LINE_ENTRY:
			in_key = !done && ctl_line_key(p, end) == klen &&
			    strncmp(p, key, klen) == 0;
			if (in_key) {	/* the key's line: ours instead */
				memcpy(out + n, line, nlen);
				n += nlen;
				done = 1;
				continue;
			}
			break;
		case CTL_LINE_CONT:
			if (in_key)	/* the old value's rest */
				continue;
			break;
		case CTL_LINE_NONE:
			break;
		}
		memcpy(out + n, p, (size_t)(e - p));
		n += (size_t)(e - p);
	}
	if (!done) {	/* append, after a newline of its own */
		if (n > 0 && out[n - 1] != '\n')
			out[n++] = '\n';
		memcpy(out + n, line, nlen);
		n += nlen;
	}
	*outlen = n;
	return out;
}
