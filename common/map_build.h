/*
 * map_build - making a hash: or btree: table's .db file from its text
 * source, as postmap(1) and postalias(1) do: "hash:/etc/aliases" is built
 * from /etc/aliases into /etc/aliases.db (map_db.h: a temporary file,
 * fsync, rename; never a half-written .db).  The whole source is parsed
 * before anything is written, so a bad line leaves the old .db in use.
 * For ternmap(1) and newaliases.
 */
#ifndef TERN_MAP_BUILD_H
#define TERN_MAP_BUILD_H

#include <stddef.h>

struct config_list;

enum map_format {
	MAP_FORMAT_POSTMAP,	/* "key value" lines (map_table_parse) */
	MAP_FORMAT_ALIASES	/* aliases(5) (aliases_parse), plus the key
				   "@" (value "@") that postalias adds, which
				   tells sendmail-style readers the table is
				   complete */
};

/* Build spec ("hash:/path", "btree:/path"): 0 and *entries, *dups (the
 * repeated keys dropped, the first kept), or -1 with err. */
int	map_build(const char *spec, enum map_format, size_t *entries,
	    size_t *dups, char *err, size_t errlen);
/*
 * newaliases: build every table of alias_database (hash: and btree:; a
 * type that has no file to build, texthash: or pgsql:, is skipped, as
 * Postfix does).  Reports each table or error on stderr as "prog: ...".
 * Run as root, a table whose source another user owns is built as that
 * user (privs_run_as()), as ternmap(1) does.
 * 0, or -1 if any failed.
 */
int	map_build_aliases(const struct config_list *alias_database,
	    const char *prog, int verbose);

#endif
