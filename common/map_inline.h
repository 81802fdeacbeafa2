/*
 * map_inline - the parser of inline: tables (see map_inline.c), exported
 * for its tests and fuzz harness.
 */
#ifndef TERN_MAP_INLINE_H
#define TERN_MAP_INLINE_H

#include <stddef.h>

struct map_table;

/* "{ key = value, ... }" (the name after "inline:"): the table, or NULL
 * with err. */
struct map_table *map_inline_parse(const char *spec, char *err,
	    size_t errlen);

#endif
