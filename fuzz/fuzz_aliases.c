/*
 * fuzz_aliases - the aliases(5) parser and the target splitter
 * (common/aliases.c).  Input: the file's bytes.
 *
 * Invariants: the parse is the same twice; an accepted file gives names
 * that are non-empty, lower-case, at most MAP_KEY_MAX bytes and free of
 * control characters, and values that are non-empty with no white space
 * at either end; each value (and the raw input up to its first NUL)
 * splits into targets that always advance the cursor and end, each of a
 * known kind, non-empty, an include or file with an absolute path, its
 * text within the buffer.
 */
#include <ctype.h>
#include <string.h>

#include "aliases.h"
#include "fuzz.h"
#include "map.h"

static void
check_targets(const char *value)
{
	struct alias_target	 t;
	const char		*cur = value, *before, *why;
	char			 buf[512];
	int			 r, n = 0;

	for (;;) {
		before = cur;
		r = alias_target_next(&cur, &t, buf, sizeof(buf), &why);
		FUZZ_ASSERT(r >= -1 && r <= 1);
		if (r != 1)
			break;
		FUZZ_ASSERT(cur > before);
		FUZZ_ASSERT(t.kind >= ALIAS_ADDRESS && t.kind <= ALIAS_INCLUDE);
		FUZZ_ASSERT(t.text >= buf && strlen(t.text) < sizeof(buf));
		FUZZ_ASSERT(t.text[0] != '\0');
		if (t.kind == ALIAS_INCLUDE || t.kind == ALIAS_FILE)
			FUZZ_ASSERT(t.text[0] == '/');
		FUZZ_ASSERT(++n <= 100000);
	}
	if (r == -1)
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct map_table	*t, *t2;
	const char		*k, *v;
	char			 err[MAP_ERR_MAX], *text;
	size_t			 dups, dups2, i, j;

	t = aliases_parse("f", (const char *)data, size, &dups, err,
	    sizeof(err));
	t2 = aliases_parse("f", (const char *)data, size, &dups2, err,
	    sizeof(err));
	FUZZ_ASSERT((t == NULL) == (t2 == NULL));
	if (t != NULL) {
		FUZZ_ASSERT(map_table_size(t) == map_table_size(t2));
		FUZZ_ASSERT(dups == dups2);
		for (i = 0; i < map_table_size(t); i++) {
			map_table_pair(t, i, &k, &v);
			FUZZ_ASSERT(k[0] != '\0' && strlen(k) <= MAP_KEY_MAX);
			for (j = 0; k[j] != '\0'; j++)
				FUZZ_ASSERT(!isupper((unsigned char)k[j]) &&
				    ((unsigned char)k[j] >= 0x20 || k[j] == '\t'));
			FUZZ_ASSERT(v[0] != '\0' &&
			    !isspace((unsigned char)v[0]) &&
			    !isspace((unsigned char)v[strlen(v) - 1]));
			FUZZ_ASSERT(map_table_get(t, k) == v);
			check_targets(v);
		}
	} else
		FUZZ_ASSERT(strncmp(err, "f:", 2) == 0);
	map_table_free(t);
	map_table_free(t2);
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_targets(text);
	free(text);
	return 0;
}
