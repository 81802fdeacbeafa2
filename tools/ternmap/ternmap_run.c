/*
 * ternmap_run - ternmap's modes.  Builds and changes go through map_build
 * and map_db (a complete new .db renamed into place, never a half-written
 * one); queries through the map layer exactly as a daemon looks up, so
 * "ternmap -q" answers what qmgr or local delivery would, including
 * temporary failures (exit 75).  As root, a build of a source file that
 * root does not own, or a change (-d, -i) of a .db that root does not
 * own, runs in a child with the owner's ids (unless -o), as postmap does,
 * so that root never writes what a user's file makes it read, nor works
 * as root in a directory the user may change under it.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "buf.h"
#include "config.h"
#include "map.h"
#include "map_build.h"
#include "map_db.h"
#include "privs.h"
#include "ternmap.h"

static int
ternmap_build_one(const char *spec, const struct ternmap_opts *o)
{
	char	 err[MAP_ERR_MAX];
	size_t	 entries, dups;

	if (map_build(spec, o->aliases ? MAP_FORMAT_ALIASES :
	    MAP_FORMAT_POSTMAP, &entries, &dups, err, sizeof(err)) == -1) {
		fprintf(stderr, "ternmap: %s\n", err);
		return TM_EX_FAIL;
	}
	if (dups > 0)
		fprintf(stderr, "ternmap: warning: %s: %zu duplicate name(s) "
		    "ignored (the first one counts)\n", spec, dups);
	if (o->verbose)
		fprintf(stderr, "ternmap: %s: %zu entries\n", spec, entries);
	return TM_EX_OK;
}

/* As root, work on a table owned by someone else with the owner's ids,
 * in a child: what run(spec, o, ctx) writes and reads, it does as the
 * owner could.  The owner is that of the .db when it exists (a change
 * writes into its directory), else of the source. */
struct ternmap_job {
	int	(*run)(const char *, const struct ternmap_opts *, void *);
	const char			*spec;
	const struct ternmap_opts	*o;
	void				*ctx;
};

static int
ternmap_job_run(void *arg)
{
	struct ternmap_job	*j = arg;

	return j->run(j->spec, j->o, j->ctx);
}

static int
ternmap_as_owner(const char *spec, const struct ternmap_opts *o,
    int (*run)(const char *, const struct ternmap_opts *, void *), void *ctx)
{
	struct ternmap_job	 job = { run, spec, o, ctx };
	struct stat		 st;
	const char		*path;
	char			*dbpath;
	size_t			 len;
	int			 r;

	if (o->keep_root || geteuid() != 0 || !map_db_spec(spec, &path))
		return run(spec, o, ctx);
	len = strlen(path) + 4;
	dbpath = xmalloc(len);
	snprintf(dbpath, len, "%s.db", path);
	r = o->mode != TM_BUILD ? stat(dbpath, &st) : -1;
	free(dbpath);
	if (r == -1 && stat(path, &st) == -1)
		return run(spec, o, ctx);
	if ((r = privs_run_as(st.st_uid, st.st_gid, ternmap_job_run,
	    &job)) == -1) {
		fprintf(stderr, "ternmap: %s: cannot run as the file's owner\n",
		    spec);
		return TM_EX_FAIL;
	}
	return r;
}

static int
ternmap_build_run(const char *spec, const struct ternmap_opts *o, void *ctx)
{
	(void)ctx;
	return ternmap_build_one(spec, o);
}

int
ternmap_build(const struct ternmap_opts *o)
{
	char	*spec;
	int	 i, rc = TM_EX_OK, r;

	for (i = 0; i < o->nmaps; i++) {
		spec = ternmap_spec(o->map[i]);
		if ((r = ternmap_as_owner(spec, o, ternmap_build_run, NULL)) !=
		    TM_EX_OK)
			rc = r;
		free(spec);
	}
	return rc;
}

int
ternmap_newaliases(const struct ternmap_opts *o)
{
	struct tern_config	 cfg;
	const char		*path;
	int			 r;

	path = o->config != NULL ? o->config : getenv("TERN_CONFIG");
	if (config_load(path, &cfg) < 0)
		return TM_EX_CONFIG;
	r = map_build_aliases(&cfg.alias_database, "ternmap", o->verbose);
	config_free(&cfg);
	return r == 0 ? TM_EX_OK : TM_EX_FAIL;
}

static struct map *
ternmap_open(const char *arg, char *err, size_t errlen)
{
	char		*spec = ternmap_spec(arg);
	struct map	*m = map_open(spec, err, errlen);

	free(spec);
	return m;
}

int
ternmap_query(const struct ternmap_opts *o)
{
	struct map	*m;
	const char	*v;
	char		 err[MAP_ERR_MAX];
	int		 r;

	if ((m = ternmap_open(o->map[0], err, sizeof(err))) == NULL) {
		fprintf(stderr, "ternmap: %s\n", err);
		return TM_EX_USAGE;
	}
	r = map_lookup(m, o->key, &v, err, sizeof(err));
	if (r == MAP_FOUND)
		printf("%s\n", v);
	else if (r == MAP_TEMPFAIL)
		fprintf(stderr, "ternmap: temporary failure: %s\n", err);
	map_close(m);
	if (fflush(stdout) == EOF)
		return TM_EX_FAIL;
	return r == MAP_FOUND ? TM_EX_OK : r == MAP_NOTFOUND ?
	    TM_EX_NOTFOUND : TM_EX_TEMPFAIL;
}

struct ternmap_change {
	const struct map_table	*add;
	char *const		*del;
	size_t			 ndel;
};

/* A change, maybe in a child (as the owner), reports through its exit
 * code: TM_EX_NOTFOUND when none of the keys to delete was there. */
static int
ternmap_change_run(const char *spec, const struct ternmap_opts *o, void *ctx)
{
	const struct ternmap_change *c = ctx;
	char		 err[MAP_ERR_MAX];
	size_t		 n = 0;

	(void)o;
	if (map_db_change(spec, c->add, c->del, c->ndel, &n, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "ternmap: %s\n", err);
		return TM_EX_FAIL;
	}
	return c->ndel > 0 && n == 0 ? TM_EX_NOTFOUND : TM_EX_OK;
}

/* TM_EX_OK, TM_EX_NOTFOUND (none of del was there), TM_EX_USAGE, or
 * TM_EX_FAIL (the same exit code as TM_EX_NOTFOUND, as postmap's). */
static int
ternmap_change(const struct ternmap_opts *o, const struct map_table *add,
    char *const *del, size_t ndel)
{
	struct ternmap_change c = { add, del, ndel };
	char	*spec = ternmap_spec(o->map[0]);
	const char *path;
	int	 r;

	if (!map_db_spec(spec, &path)) {
		fprintf(stderr, "ternmap: %s: only hash: and btree: tables "
		    "can be changed\n", spec);
		free(spec);
		return TM_EX_USAGE;
	}
	r = ternmap_as_owner(spec, o, ternmap_change_run, &c);
	free(spec);
	return r;
}

int
ternmap_delete(const struct ternmap_opts *o)
{
	char	*key = xstrdup(o->key), *p;
	int	 rc;

	for (p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	rc = ternmap_change(o, NULL, &key, 1);
	free(key);
	return rc;
}

/* Standard input, whole, at most MAP_FILE_MAX bytes: NULL on error. */
static char *
ternmap_stdin(size_t *len)
{
	struct buf	 b;
	char		 chunk[65536];
	size_t		 n;

	buf_init(&b, MAP_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&b, chunk, n) == -1) {
			fprintf(stderr, "ternmap: standard input: more than "
			    "%d bytes\n", MAP_FILE_MAX);
			buf_free(&b);
			return NULL;
		}
	if (ferror(stdin)) {
		perror("ternmap: standard input");
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
}

int
ternmap_add(const struct ternmap_opts *o)
{
	struct map_table *t;
	char		*text, err[MAP_ERR_MAX];
	size_t		 len, dups = 0;
	int		 rc;

	if ((text = ternmap_stdin(&len)) == NULL)
		return TM_EX_FAIL;
	t = o->aliases ? aliases_parse("stdin", text, len, &dups, err,
	    sizeof(err)) : map_table_parse("stdin", text, len, err,
	    sizeof(err));
	free(text);
	if (t == NULL) {
		fprintf(stderr, "ternmap: %s\n", err);
		return TM_EX_FAIL;
	}
	rc = ternmap_change(o, t, NULL, 0);
	if (rc == TM_EX_OK && o->verbose)
		fprintf(stderr, "ternmap: %zu entries added or replaced\n",
		    map_table_size(t));
	map_table_free(t);
	return rc;
}

static double
ternmap_now(clockid_t clock)
{
	struct timespec	 ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* -b: count lookups, cycling through the keys on standard input (one a
 * line); prints the rates by elapsed and by CPU time. */
int
ternmap_bench(const struct ternmap_opts *o)
{
	struct map	*m;
	const char	*v;
	char		*text, *p, **keys = NULL, err[MAP_ERR_MAX];
	size_t		 len, nkeys = 0, cap = 0;
	long		 i, found = 0, failed = 0;
	double		 t0, c0, dt, dc;

	if ((text = ternmap_stdin(&len)) == NULL)
		return TM_EX_FAIL;
	for (p = strtok(text, "\r\n"); p != NULL; p = strtok(NULL, "\r\n")) {
		if (nkeys == cap) {
			cap = cap != 0 ? cap * 2 : 1024;
			keys = xreallocarray(keys, cap, sizeof(*keys));
		}
		keys[nkeys++] = p;
	}
	if (nkeys == 0 || (m = ternmap_open(o->map[0], err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "ternmap: %s\n", nkeys == 0 ? "no keys on "
		    "standard input" : err);
		free(keys);
		free(text);
		return TM_EX_USAGE;
	}
	t0 = ternmap_now(CLOCK_MONOTONIC);
	c0 = ternmap_now(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < o->count; i++)
		switch (map_lookup(m, keys[(size_t)i % nkeys], &v, err,
		    sizeof(err))) {
		case MAP_FOUND:
			found++;
			break;
		case MAP_TEMPFAIL:
			failed++;
			break;
		}
	dt = ternmap_now(CLOCK_MONOTONIC) - t0;
	dc = ternmap_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
	/* Both rates: on a busy machine the elapsed time says more about the
	 * other processes than about the table. */
	printf("%s: %ld lookups of %zu keys in %.3f s (%.3f s CPU): %.0f "
	    "lookups/s, %.0f per CPU second (%ld found, %ld failed)\n",
	    map_name(m), o->count, nkeys, dt, dc, dt > 0 ?
	    (double)o->count / dt : 0.0, dc > 0 ? (double)o->count / dc : 0.0,
	    found, failed);
	map_close(m);
	free(keys);
	free(text);
	return failed > 0 ? TM_EX_TEMPFAIL : TM_EX_OK;
}
