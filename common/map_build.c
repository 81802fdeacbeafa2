/*
 * map_build - text source to .db file (see map_build.h).  The source is
 * read whole (at most MAP_FILE_MAX bytes) and parsed into a table first;
 * only a complete table is written.  The .db gets the source's permission
 * bits, as postmap's does.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "config.h"
#include "map.h"
#include "map_build.h"
#include "map_db.h"
#include "map_types.h"
#include "privs.h"

int
map_build(const char *spec, enum map_format format, size_t *entries,
    size_t *dups, char *err, size_t errlen)
{
	struct map_table	*t;
	struct stat		 st;
	const char		*path;
	char			*text;
	size_t			 len;
	int			 r;

	*entries = *dups = 0;
	if (!map_db_spec(spec, &path) || path[0] != '/') {
		map_err(err, errlen, "%s: only hash:/path and btree:/path are "
		    "built from a file", spec);
		return -1;
	}
	if ((text = map_file_read(path, &len, &st, err, errlen)) == NULL)
		return -1;
	if (format == MAP_FORMAT_ALIASES) {
		if ((t = aliases_parse(path, text, len, dups, err,
		    errlen)) != NULL && map_table_get(t, "@") == NULL) {
			map_table_add(t, "@", 1, "@", 1, 0);
			map_table_done(t);
		}
	} else if ((t = map_table_parse(path, text, len, err, errlen)) != NULL)
		*dups = map_table_dups(t);
	free(text);
	if (t == NULL)
		return -1;
	*entries = map_table_size(t);
	r = map_db_write(spec, t, st.st_mode, err, errlen);
	map_table_free(t);
	return r;
}

struct map_build_job {
	const char	*spec;
	const char	*prog;
	int		 verbose;
};

/* One alias_database table; 0 or 1 (an exit status: it may run in a
 * child as the source's owner). */
static int
map_build_alias_table(void *arg)
{
	struct map_build_job	*j = arg;
	char			 err[MAP_ERR_MAX];
	size_t			 entries, dups;

	if (map_build(j->spec, MAP_FORMAT_ALIASES, &entries, &dups, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", j->prog, err);
		return 1;
	}
	if (dups > 0)
		fprintf(stderr, "%s: warning: %s: %zu duplicate name(s) "
		    "ignored (the first one counts)\n", j->prog, j->spec, dups);
	if (j->verbose)
		fprintf(stderr, "%s: %s: %zu entries\n", j->prog, j->spec,
		    entries);
	return 0;
}

int
map_build_aliases(const struct config_list *db, const char *prog,
    int verbose)
{
	struct map_build_job	 job = { NULL, prog, verbose };
	struct stat		 st;
	const char		*path;
	int			 i, rc = 0;

	for (i = 0; i < db->count; i++) {
		if (!map_db_spec(db->item[i], &path)) {
			if (verbose)
				fprintf(stderr, "%s: %s: nothing to build\n",
				    prog, db->item[i]);
			continue;
		}
		job.spec = db->item[i];
		/* Root builds a user's table as that user (privs.h). */
		if (stat(path, &st) == -1)
			st.st_uid = st.st_gid = 0;
		if (privs_run_as(st.st_uid, st.st_gid, map_build_alias_table,
		    &job) != 0)
			rc = -1;
	}
	return rc;
}
