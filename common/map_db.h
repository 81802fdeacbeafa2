/*
 * map_db - writing the Berkeley DB files of hash: and btree: maps (the
 * reading side is a map type like the others, map.h).  A file is never
 * changed in place: every write makes a complete new database in a
 * temporary file beside it (path.db.XXXXXX), fsyncs it, renames it over
 * path.db and fsyncs the directory, so a reader (which takes no lock)
 * sees the old file or the new one, never half of one, and a crash leaves
 * at worst a stray temporary file.  Writers that change an existing file
 * (map_db_change) hold an exclusive flock on it, so two changes do not
 * lose one another.
 *
 * Storage, as Postfix's postmap on Linux: the key lower-cased and the
 * value, each with its trailing NUL byte included (db5.3_dump -p shows
 * "key\00"); readers try the key with the NUL, then without, so files
 * made by tools that leave it out are read too.
 */
#ifndef TERN_MAP_DB_H
#define TERN_MAP_DB_H

#include <sys/types.h>

#include <stddef.h>

struct map_table;

/* "hash:/path" or "btree:/path": 1 and *path (in spec); 0 another type. */
int	map_db_spec(const char *spec, const char **path);
/* Write t as the whole of spec's path.db, with permission bits mode. */
int	map_db_write(const char *spec, const struct map_table *t, mode_t mode,
	    char *err, size_t errlen);
/*
 * Change spec's path.db: its entries but each key in del[0..ndel) (lower-
 * cased by the caller), and every pair of add (replacing an old value);
 * add may be NULL.  A missing path.db is started empty.  *ndeleted: how
 * many of del were there.  0, or -1 with err (the old file untouched).
 */
int	map_db_change(const char *spec, const struct map_table *add,
	    char *const *del, size_t ndel, size_t *ndeleted, char *err,
	    size_t errlen);

#endif
