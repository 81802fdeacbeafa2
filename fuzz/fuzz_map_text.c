/*
 * fuzz_map_text - the texthash source parser, postmap(1)'s input format
 * (map_table_parse in common/map_table.c), which also builds hash: and
 * btree: files.  Input: the file's bytes.
 *
 * Invariants: the parse is the same twice; an accepted file gives keys
 * that are non-empty, lower-case, at most MAP_KEY_MAX bytes, with no white
 * space or control characters, in strictly ascending order, each found by
 * map_table_get; values non-empty with no white space at either end and
 * no control characters but tabs; a refused one names file and line.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "map.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map_table	*t, *t2;
	const char		*k, *v, *prev = NULL;
	char			 err[MAP_ERR_MAX];
	size_t			 i, j;

	t = map_table_parse("f", (const char *)data, size, err, sizeof(err));
	t2 = map_table_parse("f", (const char *)data, size, err, sizeof(err));
	FUZZ_ASSERT((t == NULL) == (t2 == NULL));
	if (t == NULL) {
		FUZZ_ASSERT(strncmp(err, "f:", 2) == 0);
		return 0;
	}
	FUZZ_ASSERT(map_table_size(t) == map_table_size(t2));
	for (i = 0; i < map_table_size(t); i++) {
		map_table_pair(t, i, &k, &v);
		FUZZ_ASSERT(k[0] != '\0' && strlen(k) <= MAP_KEY_MAX);
		for (j = 0; k[j] != '\0'; j++)
			FUZZ_ASSERT(!isupper((unsigned char)k[j]) &&
			    !isspace((unsigned char)k[j]) &&
			    (unsigned char)k[j] >= 0x20);
		FUZZ_ASSERT(prev == NULL || strcmp(prev, k) < 0);
		prev = k;
		FUZZ_ASSERT(map_table_get(t, k) == v);
		FUZZ_ASSERT(v[0] != '\0' && !isspace((unsigned char)v[0]) &&
		    !isspace((unsigned char)v[strlen(v) - 1]));
		for (j = 0; v[j] != '\0'; j++)
			FUZZ_ASSERT((unsigned char)v[j] >= 0x20 || v[j] == '\t');
	}
	map_table_free(t);
	map_table_free(t2);
	return 0;
}
