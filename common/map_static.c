/*
 * map_static - "static:value": a table that finds every key, always with
 * the same value, as Postfix's static: type (virtual_uid_maps =
 * static:5000).  The value is the text after "static:", as written, or
 * between the braces of "static:{a value}" (Postfix's spelling of a value
 * with spaces).  A lookup never fails.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "map.h"
#include "map_types.h"

static int
static_open(const char *name, void **data, char *err, size_t errlen)
{
	size_t	 len = strlen(name);

	if (len >= MAP_VALUE_MAX) {
		map_err(err, errlen, "static:%.40s...: value too long", name);
		return MAP_OPEN_BAD;
	}
	/* "static:{text with spaces}", as Postfix writes it. */
	if (len >= 2 && name[0] == '{' && name[len - 1] == '}')
		*data = xstrndup(name + 1, len - 2);
	else
		*data = xstrdup(name);
	return 0;
}

static int
static_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	(void)key;
	(void)err;
	(void)errlen;
	*value = data;
	return MAP_FOUND;
}

static void
static_close(void *data)
{
	free(data);
}

const struct map_ops map_static_ops = {
	"static", static_open, static_lookup, static_close, NULL
};
