/*
 * ternctl_confedit - the text side of "config set" and "config -n": which
 * keys a tern.conf text sets, and the text with one key set to a value.
 * tern.conf's syntax (config.h): "key = value" lines, '#' comments, blank
 * lines, and lines starting with white space that continue the previous
 * value.  A key's line and its continuation lines are replaced by one
 * "key = value" line in place, so everything else (comments, order,
 * other keys) stays as the administrator wrote it; a key not set yet is
 * appended.  Pure functions of their input, unit-tested.
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

/* A continuation: starts with white space and is not blank. */
static int
ctl_line_cont(const char *p, const char *end)
{
	if (p >= end || (*p != ' ' && *p != '\t'))
		return 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p < end && *p != '\n';
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
	const char	*p, *end = text + len, *start = NULL, *stop = NULL;
	size_t		 klen = strlen(key), nlen, n;
	char		*out, line[CONFIG_LIST_MAX * 64];

	nlen = (size_t)snprintf(line, sizeof(line), "%s = %s\n", key, value);
	if (nlen >= sizeof(line))
		return NULL;
	for (p = text; p < end && start == NULL; p = ctl_eol(p, end))
		if (ctl_line_key(p, end) == klen && strncmp(p, key, klen) == 0) {
			start = p;
			for (stop = ctl_eol(p, end); ctl_line_cont(stop, end);)
				stop = ctl_eol(stop, end);
		}
	if ((out = malloc(len + nlen + 2)) == NULL)
		return NULL;
	if (start == NULL) {	/* append, after a newline of its own */
		memcpy(out, text, len);
		n = len;
		if (len > 0 && text[len - 1] != '\n')
			out[n++] = '\n';
		memcpy(out + n, line, nlen);
		*outlen = n + nlen;
		return out;
	}
	n = (size_t)(start - text);
	memcpy(out, text, n);
	memcpy(out + n, line, nlen);
	memcpy(out + n + nlen, stop, (size_t)(end - stop));
	*outlen = n + nlen + (size_t)(end - stop);
	return out;
}
