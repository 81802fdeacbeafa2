/*
 * map - lookup tables named "type:name", as Postfix's maps: transport_maps,
 * alias_maps and the tables to come (virtual, access).  A map is opened
 * once, looked up many times and closed; each type is one file
 * (common/map_TYPE.c) behind the same three functions (map_types.h):
 *
 *	texthash:/path	the file read into memory, in postmap(1)'s input
 *			format (map_table_parse below)
 *	hash:/path	Berkeley DB hash file /path.db, built from the text
 *	btree:/path	/path by ternmap(1) or newaliases (map_db.h)
 *	inline:{ k = v, { k2 = text, with comma } }
 *			the table in the name itself
 *	pgsql:/path.cf	a PostgreSQL query (pgsql_table(5)'s settings)
 *	static:value	every key found, with value (virtual_uid_maps)
 *
 * Keys are matched without regard to case (each key is lower-cased before
 * a type sees it) and bounded by MAP_KEY_MAX: a longer key is not found.
 * A value is bounded by MAP_VALUE_MAX: a longer one is a lookup failure,
 * never a truncated answer.
 *
 * Failures: a spec that can never work (unknown type, relative path,
 * inline: syntax) fails map_open().  Anything that can mend itself -- a
 * missing or unreadable file, a bad edit, a database server that is down
 * -- does not: map_open() still returns a map, and each lookup returns -1
 * (temporary failure: the caller defers with 4xx, never bounces) until the
 * table opens, which is tried again at most once a second.  A table that
 * opened is reopened when its file changes (device, inode, size or mtime;
 * one stat at most once a second); if the new version cannot be opened the
 * old one stays in use for keys it finds and a warning is logged once.  A
 * key not found is looked for again after one more stat, made at once (a
 * file gone, or a new version that cannot be read, makes it -1, not 0):
 * callers refuse (550)
 * or bounce (5.1.1) on MAP_NOTFOUND, so it must never come from a version
 * older than the file (ternmap rebuilt it a moment ago, and the lookup
 * service, which asked later, accepted the address).
 *
 * Every file is trusted as far as a configuration file is: every line is
 * still bounded and checked, and a bad one is reported as "file:line:
 * reason", never guessed at.
 */
#ifndef TERN_MAP_H
#define TERN_MAP_H

#include <stddef.h>

#define MAP_FILE_MAX	(16 * 1024 * 1024)	/* bytes of a source file */
#define MAP_LINE_MAX	(64 * 1024)		/* bytes of a logical line */
#define MAP_KEY_MAX	1024			/* bytes of a key */
#define MAP_VALUE_MAX	(64 * 1024)		/* bytes of a value */
#define MAP_ERR_MAX	512
#define MAP_LIST_MAX	16			/* maps in one list */

/* map_lookup() results */
#define MAP_FOUND	1
#define MAP_NOTFOUND	0
#define MAP_TEMPFAIL	(-1)

struct map;

/* Open "type:name".  The map (perhaps not open yet: see above), or NULL
 * with err[0..errlen) set when the spec itself is wrong. */
struct map *map_open(const char *spec, char *err, size_t errlen);
/* Look key up: MAP_FOUND and *value (NUL-terminated, at most MAP_VALUE_MAX
 * bytes, valid until the next lookup in this map or its close),
 * MAP_NOTFOUND, or MAP_TEMPFAIL with err set (the table and why; the caller
 * defers, never bounces). */
int	map_lookup(struct map *, const char *key, const char **value,
	    char *err, size_t errlen);
void	map_close(struct map *);
const char *map_name(const struct map *);	/* "type:name" */

/*
 * The in-memory table behind texthash: and inline:, and the input of
 * ternmap's builds: pairs sorted by lower-cased key, the first of two
 * equal keys kept.
 */
struct map_table;
/* Parse text[0..len) in postmap(1)'s input format: "key value" lines (key
 * and value separated by white space), '#' comment lines, blank lines, a
 * line starting with white space continues the previous one.  The table,
 * or NULL with err "name:line: reason". */
struct map_table *map_table_parse(const char *name, const char *text,
	    size_t len, char *err, size_t errlen);
const char *map_table_get(const struct map_table *, const char *key);
size_t	map_table_size(const struct map_table *);
/* How many pairs with a repeated key were dropped (for a warning). */
size_t	map_table_dups(const struct map_table *);
/* The i-th pair in key order, i < map_table_size(). */
void	map_table_pair(const struct map_table *, size_t i, const char **key,
	    const char **value);
void	map_table_free(struct map_table *);
/* Building one: new, add (key lower-cased here; line orders duplicates:
 * the lowest wins), then done (sorts; before any get or pair). */
struct map_table *map_table_new(void);
void	map_table_add(struct map_table *, const char *key, size_t klen,
	    const char *value, size_t vlen, size_t line);
void	map_table_done(struct map_table *);

/*
 * The logical lines of a text file in postmap(1)'s layout (comments,
 * blank lines, continuation lines joined with one space, CRLF, control
 * characters and NULs refused, lines bounded by MAP_LINE_MAX): line() is
 * called for each with its first line's number; it returns 0, or -1 with
 * *why set.  0, or -1 with err "name:line: why".  Shared by the texthash,
 * aliases(5) and pgsql configuration parsers.
 */
int	map_text_lines(const char *name, const char *text, size_t len,
	    int (*line)(void *ctx, const char *logical, size_t lineno,
	    const char **why), void *ctx, char *err, size_t errlen);

/* A table from the logical lines of text, line() adding to the table it
 * gets as ctx: the table (done), or NULL with err. */
struct map_table *map_table_from_lines(const char *name, const char *text,
	    size_t len, int (*line)(void *t, const char *logical,
	    size_t lineno, const char **why), char *err, size_t errlen);

/* A list of maps searched in order, as Postfix's "transport_maps = a, b". */
struct map_list {
	struct map	*map[MAP_LIST_MAX];
	int		 count;
};

/* Open every spec; 0, or -1 with err (the ones opened are closed). */
int	map_list_open(struct map_list *, char *const *spec, int n, char *err,
	    size_t errlen);
/* The first map with key, as map_lookup: a map that fails temporarily
 * stops the search (MAP_TEMPFAIL), since a later map must not answer for
 * it. */
int	map_list_lookup(struct map_list *, const char *key, const char **value,
	    char *err, size_t errlen);
void	map_list_close(struct map_list *);

#endif
