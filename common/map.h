/*
 * map - lookup tables named "type:name", as Postfix's maps: transport_maps
 * today, aliases and access maps later.  A map is opened once, looked up
 * many times and closed; each type is one row of the table in map.c (open,
 * lookup, close), so that Berkeley DB or CDB maps slot in beside the one
 * type there is now:
 *
 *	texthash:/path	the file read into memory at open, in postmap(1)'s
 *			input format: "key value" lines (key and value
 *			separated by white space), '#' comment lines, blank
 *			lines, a line starting with white space continues
 *			the previous one.  Keys are matched without regard to
 *			case; the first of two equal keys wins.  When the
 *			file changes (inode, size or mtime) it is read again
 *			at the next lookup (checked at most once a second);
 *			if the new text is bad, the old table stays and a
 *			warning is logged once.
 *
 * A map file is trusted as far as a configuration file is: every line is
 * still bounded and checked, and a bad one fails the open with
 * "file:line: reason", never guessed at.
 */
#ifndef TERN_MAP_H
#define TERN_MAP_H

#include <stddef.h>

#define MAP_FILE_MAX	(16 * 1024 * 1024)	/* bytes of a texthash file */
#define MAP_LINE_MAX	(64 * 1024)		/* bytes of a logical line */
#define MAP_KEY_MAX	1024			/* bytes of a key */
#define MAP_ERR_MAX	512
#define MAP_LIST_MAX	16			/* maps in one list */

struct map;

/* Open "type:name".  The map, or NULL with err[0..errlen) set. */
struct map *map_open(const char *spec, char *err, size_t errlen);
/* Look key up: 1 and *value (valid until the next lookup or close), 0 not
 * found, -1 the lookup failed (err set; a caller defers, never bounces). */
int	map_lookup(struct map *, const char *key, const char **value,
	    char *err, size_t errlen);
void	map_close(struct map *);
const char *map_name(const struct map *);	/* "type:name" */

/* Parse texthash text[0..len) (exported for tests).  0 and the pairs in a
 * new table (map_table_free), or -1 with err. */
struct map_table;
struct map_table *map_table_parse(const char *name, const char *text,
	    size_t len, char *err, size_t errlen);
const char *map_table_get(const struct map_table *, const char *key);
size_t	map_table_size(const struct map_table *);
void	map_table_free(struct map_table *);

/* A list of maps searched in order, as Postfix's "transport_maps = a, b". */
struct map_list {
	struct map	*map[MAP_LIST_MAX];
	int		 count;
};

/* Open every spec; 0, or -1 with err (the ones opened are closed). */
int	map_list_open(struct map_list *, char *const *spec, int n, char *err,
	    size_t errlen);
/* The first map with key: as map_lookup. */
int	map_list_lookup(struct map_list *, const char *key, const char **value,
	    char *err, size_t errlen);
void	map_list_close(struct map_list *);

#endif
