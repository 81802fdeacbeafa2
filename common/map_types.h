/*
 * map_types - what map.c asks of each table type (common/map_TYPE.c), and
 * the few helpers the types share.  Internal to the map layer: callers use
 * map.h.
 *
 * A type's open() returns 0 with *data, MAP_OPEN_LATER (the table cannot be
 * opened now: file missing, unreadable or bad, server down; map.c keeps
 * the map and retries) or MAP_OPEN_BAD (the name can never work), with err
 * set.  lookup() gets a key already lower-cased and at most MAP_KEY_MAX
 * bytes, and answers as map_lookup().  A type that reads a file notices
 * its changes itself (map_file_changed()); its recheck() does so now,
 * whenever it last looked, and returns 1 if it took a new version, 0 if
 * the file is still the version in use, -1 if the file is gone or its new
 * version cannot be read (then "not found" from the old version is no
 * answer: map_lookup() says MAP_TEMPFAIL); NULL for a type with no file.
 */
#ifndef TERN_MAP_TYPES_H
#define TERN_MAP_TYPES_H

#include <sys/stat.h>

#include <stddef.h>
#include <time.h>

#define MAP_OPEN_LATER	(-1)
#define MAP_OPEN_BAD	(-2)

struct map_ops {
	const char	*type;
	int		 (*open)(const char *name, void **data, char *err,
			    size_t errlen);
	int		 (*lookup)(void *, const char *key, const char **value,
			    char *err, size_t errlen);
	void		 (*close)(void *);
	int		 (*recheck)(void *);
};

extern const struct map_ops map_texthash_ops, map_inline_ops, map_hash_ops,
    map_btree_ops, map_pgsql_ops, map_static_ops;

void	map_err(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Has path changed since *st (device, inode, size, mtime)?  Looks at most
 * once a second (*checked).  1 changed, 0 not (or gone: the table read
 * before stays in use). */
int	map_file_changed(const char *path, const struct stat *st,
	    time_t *checked);
/* For a type's recheck(): 0 if path is still the version *st, -1 if it
 * cannot be stat'ed or is the version that already failed to load (*bad:
 * so a broken file is not parsed again for every "not found"), 1 if it is
 * a new version to read; *now gets its stat. */
int	map_file_recheck(const char *path, const struct stat *st,
	    const struct stat *bad, struct stat *now);
/* The whole regular file path, at most MAP_FILE_MAX bytes: a NUL-terminated
 * copy (free it) and *len, *st; or NULL with err. */
char	*map_file_read(const char *path, size_t *len, struct stat *st,
	    char *err, size_t errlen);

#endif
