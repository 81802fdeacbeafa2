/*
 * map_inline - the inline: type, a table written in its own name, as
 * Postfix's: "inline:{ key = value, key2 = value2, { key3 = text, with a
 * comma } }".  Elements are separated by commas outside braces; an element
 * in braces may hold commas; each is "key = value" (white space around
 * both trimmed, neither empty).  The name is configuration, so a mistake
 * fails map_open() with the element's number, never a guess.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "map_inline.h"
#include "map_types.h"

static void
trim(const char **s, size_t *len)
{
	while (*len > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* The element s[0..len) (trimmed, not empty) into t. */
static int
inline_element(struct map_table *t, const char *s, size_t len, size_t n,
    char *err, size_t errlen)
{
	const char	*eq, *v;
	size_t		 klen, vlen;

	if (s[0] == '{') {
		if (len < 2 || s[len - 1] != '}') {
			map_err(err, errlen, "inline: element %zu: "
			    "unbalanced braces", n);
			return -1;
		}
		s++;
		len -= 2;
		trim(&s, &len);
	}
	if ((eq = memchr(s, '=', len)) == NULL) {
		map_err(err, errlen, "inline: element %zu: expected "
		    "\"key = value\"", n);
		return -1;
	}
	klen = (size_t)(eq - s);
	v = eq + 1;
	vlen = len - klen - 1;
	trim(&s, &klen);
	trim(&v, &vlen);
	if (klen == 0 || vlen == 0 || klen > MAP_KEY_MAX) {
		map_err(err, errlen, "inline: element %zu: %s", n, klen >
		    MAP_KEY_MAX ? "key too long" : "empty key or value");
		return -1;
	}
	map_table_add(t, s, klen, v, vlen, n);
	return 0;
}

struct map_table *
map_inline_parse(const char *spec, char *err, size_t errlen)
{
	struct map_table	*t;
	const char		*s = spec, *start;
	size_t			 len = strlen(spec), i, n = 0;
	int			 depth = 0;

	trim(&s, &len);
	if (len > MAP_LINE_MAX) {
		map_err(err, errlen, "inline: too long");
		return NULL;
	}
	if (len < 2 || s[0] != '{' || s[len - 1] != '}') {
		map_err(err, errlen, "inline: expected \"{ key = value, ... }\"");
		return NULL;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
			map_err(err, errlen, "inline: control character");
			return NULL;
		}
	t = map_table_new();
	start = ++s;
	len -= 2;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] == '{')
			depth++;
		else if (i < len && s[i] == '}' && --depth < 0)
			break;
		if (i < len && (s[i] != ',' || depth > 0))
			continue;
		if (i == len && depth != 0)
			break;
		{
			const char	*e = start;
			size_t		 elen = (size_t)(s + i - start);

			trim(&e, &elen);
			if (elen > 0 && inline_element(t, e, elen, ++n, err,
			    errlen) == -1)
				goto bad;
		}
		start = s + i + 1;
	}
	if (depth != 0) {
		map_err(err, errlen, "inline: unbalanced braces");
		goto bad;
	}
	map_table_done(t);
	return t;
bad:
	map_table_free(t);
	return NULL;
}

static int
inline_open(const char *name, void **data, char *err, size_t errlen)
{
	struct map_table	*t;

	if ((t = map_inline_parse(name, err, errlen)) == NULL)
		return MAP_OPEN_BAD;
	*data = t;
	return 0;
}

static int
inline_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	(void)err;
	(void)errlen;
	*value = map_table_get(data, key);
	return *value != NULL ? MAP_FOUND : MAP_NOTFOUND;
}

static void
inline_close(void *data)
{
	map_table_free(data);
}

const struct map_ops map_inline_ops = {
	"inline", inline_open, inline_lookup, inline_close, NULL
};
