/*
 * ternctl - the administrator's command (ternctl(8)): one program with
 * subcommands a person can guess.  The parts: ternctl_args.c (the command
 * line, unit-tested), ternctl_queue.c (queue list and flush, for anyone),
 * ternctl_admin.c (hold, release, requeue, delete: root and the mail owner
 * only), ternctl_show.c (queue show, like postcat), ternctl_config.c
 * (config, -n, -d), ternctl_confset.c (config set), ternctl_check.c
 * (check) with ternctl_tables.c (its tables), ternctl_master.c (status, start, stop, reload), ternctl.c
 * (configuration and dispatch).  Exit codes are sysexits.h's, plus 1 for
 * "done, but something was wrong" (check's problems, an id not found) and
 * 3 for status's "not running" (as LSB init scripts say it).
 */
#ifndef TERN_TERNCTL_H
#define TERN_TERNCTL_H

#include <stdio.h>

#include "config.h"
#include "queue_list.h"

#define CTL_EX_OK		0
#define CTL_EX_FAIL		1
#define CTL_EX_NOTRUNNING	3
#define CTL_EX_USAGE		64
#define CTL_EX_DATAERR		65
#define CTL_EX_UNAVAILABLE	69
#define CTL_EX_SOFTWARE		70
#define CTL_EX_OSERR		71
#define CTL_EX_CANTCREAT	73
#define CTL_EX_TEMPFAIL		75
#define CTL_EX_NOPERM		77
#define CTL_EX_CONFIG		78

enum ctl_cmd {
	CTL_QUEUE_LIST, CTL_QUEUE_SHOW, CTL_QUEUE_HOLD, CTL_QUEUE_RELEASE,
	CTL_QUEUE_REQUEUE, CTL_QUEUE_DELETE, CTL_QUEUE_FLUSH, CTL_CONFIG,
	CTL_CONFIG_SET, CTL_CHECK, CTL_STATUS, CTL_START, CTL_STOP, CTL_RELOAD,
	CTL_HELP
};

/* What "queue show" prints (postcat's -e, -h, -b); 0: everything. */
#define CTL_SHOW_ENVELOPE	0x1
#define CTL_SHOW_HEADER		0x2
#define CTL_SHOW_BODY		0x4

struct ctl_opts {
	enum ctl_cmd	 cmd;
	const char	*config;	/* -c; NULL: TERN_CONFIG or default */
	int		 json;		/* queue list --json */
	int		 filtered;	/* a --sender/... filter was given */
	struct queue_list_filter filter;
	int		 all;		/* the selection is ALL */
	int		 stdin_ids;	/* the selection is "-": ids on stdin */
	int		 config_mode;	/* 0, 'n' (non-default), 'd' (defaults) */
	int		 show;		/* CTL_SHOW_* */
	int		 nargs;		/* ids, keys or key=value words */
	char		**args;		/* point into argv */
	const char	*error;		/* why parsing failed */
};

/* Parse argv.  0, or CTL_EX_USAGE with o->error set. */
int	ctl_args(int argc, char **argv, struct ctl_opts *o);
/* An age: seconds, or a number with s, m, h, d or w.  0 or -1. */
int	ctl_parse_age(const char *s, long long *out);
/* The usage text. */
void	ctl_usage(FILE *);

int	ctl_queue_list(const struct ctl_opts *, const struct tern_config *);
int	ctl_queue_flush(const struct ctl_opts *, const struct tern_config *);
int	ctl_queue_admin(const struct ctl_opts *, const struct tern_config *);
int	ctl_queue_show(const struct ctl_opts *, const struct tern_config *);
int	ctl_config(const struct ctl_opts *, const char *path);
int	ctl_config_set(const struct ctl_opts *, const char *path);
int	ctl_check(const struct ctl_opts *, const char *path);
/* check's part for the tables of tern.conf at path (ternctl_tables.c):
 * how many problems it reported. */
int	ctl_check_tables(const char *path);
int	ctl_master(const struct ctl_opts *, const char *path,
	    const struct tern_config *);

/* Root or the mail owner: may this user change or read the queue files?
 * If not, say so on stderr (naming what was refused) and return 0. */
int	ctl_may_admin(const struct tern_config *, const char *what);

/* config set's edit, apart from the file: text with key set to value
 * (its line and continuation lines replaced, or a line appended).
 * Malloc'd, *outlen its length; NULL on allocation failure. */
char	*ctl_conf_edit(const char *text, size_t len, const char *key,
	    const char *value, size_t *outlen);
/* tern.conf's path (path, or the compiled-in one), and its text read
 * whole (at most 1 MiB; NULL with errno). */
const char *ctl_conf_path(const char *path);
char	*ctl_conf_read(const char *path, size_t *len);
/* Is key declared by some table?  1 or 0. */
int	ctl_conf_known(const char *key);
/* The keys set in text (non-comment, non-continuation lines), as a
 * NULL-terminated malloc'd array of malloc'd names. */
char	**ctl_conf_keys(const char *text, size_t len);
void	ctl_conf_keys_free(char **);

#endif
