/*
 * ternmap - the table command, as Postfix's postmap(1) and postalias(1):
 * build a hash: or btree: table's .db from its text source, query any
 * table type, delete keys and add pairs.  The parts: ternmap_args.c (the
 * command line), ternmap_run.c (each mode), ternmap.c (main).  Exit codes
 * are the interface: 0 done (or found), 1 not found or failed, 64 usage,
 * 75 temporary failure of a lookup (as a daemon would defer), 78 a bad
 * configuration file.
 */
#ifndef TERN_TERNMAP_H
#define TERN_TERNMAP_H

#define TM_EX_OK	0
#define TM_EX_NOTFOUND	1
#define TM_EX_FAIL	1
#define TM_EX_USAGE	64
#define TM_EX_TEMPFAIL	75
#define TM_EX_CONFIG	78

enum ternmap_mode { TM_BUILD, TM_QUERY, TM_DELETE, TM_ADD, TM_BENCH };

struct ternmap_opts {
	enum ternmap_mode mode;
	const char	*config;	/* -c; NULL: TERN_CONFIG or default */
	const char	*key;		/* -q, -d */
	long		 count;		/* -b: lookups to time */
	int		 aliases;	/* -a: aliases(5) source format */
	int		 keep_root;	/* -o: do not become the file's owner */
	int		 verbose;	/* -v */
	int		 nmaps;
	char		**map;		/* "type:name" (a bare path: hash:) */
	const char	*error;		/* why parsing failed */
};

/* Parse argv: 0, or TM_EX_USAGE with o->error. */
int	ternmap_args(int argc, char **argv, struct ternmap_opts *o);
/* "type:name" for an argument: itself, or "hash:" + a bare path (free). */
char	*ternmap_spec(const char *arg);
/* Each mode: an exit code. */
int	ternmap_build(const struct ternmap_opts *);
int	ternmap_newaliases(const struct ternmap_opts *);
int	ternmap_query(const struct ternmap_opts *);
int	ternmap_delete(const struct ternmap_opts *);
int	ternmap_add(const struct ternmap_opts *);
int	ternmap_bench(const struct ternmap_opts *);

#endif
