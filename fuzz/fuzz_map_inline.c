/*
 * fuzz_map_inline - the inline: table parser (common/map_inline.c), the
 * one table type whose text sits in a configuration value.  Input: the
 * name after "inline:", up to its first NUL.
 *
 * Invariants: the parse is the same twice; an accepted table has keys
 * non-empty, lower-case, at most MAP_KEY_MAX bytes, without white space at
 * either end, and values non-empty without white space at either end;
 * written back with every pair in braces ("{ { k = v }, ... }") it parses
 * to the same table.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "map.h"
#include "map_inline.h"

static void
check_trimmed(const char *s)
{
	FUZZ_ASSERT(s[0] != '\0' && !isspace((unsigned char)s[0]) &&
	    !isspace((unsigned char)s[strlen(s) - 1]));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map_table	*t, *t2;
	struct buf		 b;
	const char		*k, *v, *k2, *v2;
	char			 err[MAP_ERR_MAX], *text;
	size_t			 i, j;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	t = map_inline_parse(text, err, sizeof(err));
	t2 = map_inline_parse(text, err, sizeof(err));
	free(text);
	FUZZ_ASSERT((t == NULL) == (t2 == NULL));
	map_table_free(t2);
	if (t == NULL) {
		FUZZ_ASSERT(strncmp(err, "inline:", 7) == 0);
		return 0;
	}
	buf_init(&b, SIZE_MAX);
	buf_append_str(&b, "{");
	for (i = 0; i < map_table_size(t); i++) {
		map_table_pair(t, i, &k, &v);
		FUZZ_ASSERT(strlen(k) <= MAP_KEY_MAX);
		check_trimmed(k);
		check_trimmed(v);
		for (j = 0; k[j] != '\0'; j++)
			FUZZ_ASSERT(!isupper((unsigned char)k[j]));
		buf_appendf(&b, " { %s = %s },", k, v);
	}
	buf_append_str(&b, " }");
	t2 = map_inline_parse(buf_str(&b), err, sizeof(err));
	FUZZ_ASSERT(t2 != NULL);
	FUZZ_ASSERT(map_table_size(t2) == map_table_size(t));
	for (i = 0; i < map_table_size(t); i++) {
		map_table_pair(t, i, &k, &v);
		map_table_pair(t2, i, &k2, &v2);
		FUZZ_ASSERT(strcmp(k, k2) == 0 && strcmp(v, v2) == 0);
	}
	map_table_free(t2);
	map_table_free(t);
	buf_free(&b);
	return 0;
}
