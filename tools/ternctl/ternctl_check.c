/*
 * ternctl_check - "check": is this installation sound?  Each problem is one
 * line on standard output ("problem: ..."), and the exit code is 1 if there
 * was any, 0 if none.  What is checked: tern.conf against every program's
 * keys (the master's whole-file check, with its "file:line: reason"s on
 * stderr); master.conf; that each program master.conf names exists in
 * daemon_directory, and that a service answers smtpd's recipient lookups;
 * every table of tern.conf as the daemons open it (ternctl_tables.c); the
 * directories from / to the queue (the master's own
 * rule, queue_trust.c, when run as root); the owner and mode of each queue
 * directory as the master makes them (the mail owner's, 0700; pid/ root's;
 * maildrop/ 1770 with setgid_group; public/ 0711); and every file in the
 * queue directories: a regular file of the mail owner, one link, no access
 * for group or others, and, where mail waits, a queue file that parses;
 * and that no domain of mydestination is also a virtual domain (Postfix
 * warns: local delivery would take its mail).
 * It changes nothing.  Reading the queue needs root or the mail owner;
 * anyone else is told so, which counts as a problem.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "../../master/master_params.h"
#include "../../master/queue_trust.h"
#include "../../master/service_table.h"
#include "drop_file.h"
#include "privs.h"
#include "proto_lookup.h"
#include "queue_file.h"
#include "ternctl.h"
#include "virtual.h"

struct ctl_chk {
	int	 problems;
	uid_t	 uid;		/* mail owner */
	gid_t	 gid;
	gid_t	 drop_gid;	/* setgid_group; (gid_t)-1 if none */
};

static void
chk_problem(struct ctl_chk *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
chk_problem(struct ctl_chk *c, const char *fmt, ...)
{
	va_list	 ap;

	printf("problem: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	c->problems++;
}

static const struct {
	const char	*name;
	int		 mode;
	int		 owner;		/* 0 mail owner, 1 root */
} chk_dirs[] = {
	{ "tmp", 0700, 0 }, { "incoming", 0700, 0 }, { "active", 0700, 0 },
	{ "deferred", 0700, 0 }, { "hold", 0700, 0 }, { "corrupt", 0700, 0 },
	{ "free", 0700, 0 }, { "private", 0700, 0 }, { "pid", 0700, 1 },
	{ "public", 0711, 0 }, { DROP_DIR, 01770, 0 },
};

static void
chk_dir(struct ctl_chk *c, const char *name, int mode, int root)
{
	struct stat	 st;
	uid_t		 uid = root ? 0 : c->uid;
	gid_t		 gid = root ? 0 : c->gid;

	if (strcmp(name, DROP_DIR) == 0 && c->drop_gid != (gid_t)-1)
		gid = c->drop_gid;
	if (lstat(name, &st) == -1) {
		chk_problem(c, "%s/: %s", name, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		chk_problem(c, "%s is not a directory", name);
		return;
	}
	if ((st.st_mode & 07777) != (mode_t)mode)
		chk_problem(c, "%s/: mode %04o, should be %04o", name,
		    (unsigned)(st.st_mode & 07777), (unsigned)mode);
	if (privs_is_root() && (st.st_uid != uid || st.st_gid != gid))
		chk_problem(c, "%s/: owner %u:%u, should be %u:%u", name,
		    (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned)uid,
		    (unsigned)gid);
}

/* The files of one directory where mail waits. */
static void
chk_files(struct ctl_chk *c, enum queue_dir d)
{
	struct queue_envelope env;
	struct dirent	*de;
	struct stat	 st;
	const char	*err, *name = queue_dir_name(d);
	DIR		*dp;
	int		 fd;

	if ((dp = opendir(name)) == NULL) {
		if (errno != ENOENT)
			chk_problem(c, "%s/: cannot read: %s%s", name,
			    strerror(errno), errno == EACCES ? " (run check "
			    "as root or the mail owner)" : "");
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dp), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1)
			continue;	/* moved on meanwhile */
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
		    (st.st_mode & 077) != 0 || st.st_uid != c->uid) {
			chk_problem(c, "%s/%s: not a private regular file of "
			    "the mail owner with one link", name, de->d_name);
			continue;
		}
		if (d == QDIR_CORRUPT || d == QDIR_FREE || d == QDIR_TMP)
			continue;
		if (!queue_id_valid(de->d_name)) {
			chk_problem(c, "%s/%s: not a queue id", name,
			    de->d_name);
			continue;
		}
		errno = 0;
		err = NULL;
		if (queue_file_open(d, de->d_name, O_RDONLY, &env, &fd,
		    &err) == 0) {
			close(fd);
			queue_envelope_free(&env);
		} else if (errno != ENOENT)
			chk_problem(c, "%s/%s: %s", name, de->d_name,
			    err != NULL ? err : strerror(errno));
	}
	closedir(dp);
}

static void
chk_programs(struct ctl_chk *c, const struct tern_config *cf)
{
	struct service_table tab;
	const struct service *s;
	char		 err[512], path[PATH_MAX];
	int		 i;

	if (service_table_load(cf->master_config, &tab, err,
	    sizeof(err)) == -1) {
		chk_problem(c, "%s", err);
		return;
	}
	for (i = 0; i < tab.count; i++) {
		const char *p = tab.svc[i].program;

		if (p[0] != '/' && snprintf(path, sizeof(path), "%s/%s",
		    cf->daemon_directory, p) < (int)sizeof(path))
			p = path;
		if (access(p, X_OK) == -1)
			chk_problem(c, "service %s: program %s: %s",
			    tab.svc[i].name, p, strerror(errno));
	}
	if ((s = service_table_smtpd_without_lookup(&tab)) != NULL)
		chk_problem(c, "service %s runs smtpd, but no service listens "
		    "on %s (lookup): every local recipient would get 451",
		    s->name, LOOKUP_SOCKET);
	service_table_free(&tab);
}

/* Is a domain of mydestination a virtual domain too?  Run whatever the
 * table check found, so a broken alias_maps hides no conflict; a virtual
 * table that cannot be opened or read is reported here only if the table
 * check (tables_bad problems) has not told of it already. */
static void
chk_virtual(struct ctl_chk *c, const struct tern_config *cf, int tables_bad)
{
	struct virtual_maps	 vm;
	char			 err[MAP_ERR_MAX], domain[256];
	int			 r;

	if (virtual_open(&vm, cf, err, sizeof(err)) == -1) {
		if (!tables_bad)
			chk_problem(c, "virtual tables: %s", err);
		return;
	}
	r = virtual_mydestination_conflict(&vm, domain, sizeof(domain));
	if (r < 0) {
		if (!tables_bad)
			chk_problem(c, "virtual tables: %s", vm.err);
	} else if (r > 0)
		chk_problem(c, "domain %s is in mydestination and is a virtual "
		    "domain too: mydestination wins, its virtual addresses "
		    "are never used", domain);
	virtual_close(&vm);
}

static void
chk_queue(struct ctl_chk *c, const struct tern_config *cf)
{
	struct group	*gr;
	size_t		 i;
	int		 d;

	if (privs_lookup(cf->mail_owner, &c->uid, &c->gid) == -1) {
		chk_problem(c, "mail_owner %s: no such user", cf->mail_owner);
		return;
	}
	c->drop_gid = (gr = getgrnam(cf->setgid_group)) != NULL ?
	    gr->gr_gid : (gid_t)-1;
	if (c->drop_gid == (gid_t)-1)
		chk_problem(c, "setgid_group %s: no such group "
		    "(only root and the mail owner can submit)",
		    cf->setgid_group);
	if (queue_trust_check(cf->queue_directory) == -1)
		chk_problem(c, "queue directory %s: root may not trust it "
		    "(see above)", cf->queue_directory);
	if (chdir(cf->queue_directory) == -1) {
		chk_problem(c, "queue directory %s: %s", cf->queue_directory,
		    strerror(errno));
		return;
	}
	for (i = 0; i < sizeof(chk_dirs) / sizeof(chk_dirs[0]); i++)
		chk_dir(c, chk_dirs[i].name, chk_dirs[i].mode,
		    chk_dirs[i].owner);
	for (d = 0; d < QDIR_COUNT; d++)
		chk_files(c, d);
}

int
ctl_check(const struct ctl_opts *o, const char *path)
{
	struct tern_config cf;
	struct ctl_chk	 c;
	int		 n;

	(void)o;
	memset(&c, 0, sizeof(c));
	if (master_params_load(path, &cf) == -1) {
		printf("problem: %s: not valid (reasons above)\n",
		    ctl_conf_path(path));
		return CTL_EX_FAIL;
	}
	chk_programs(&c, &cf);
	if ((n = ctl_check_tables(path)) > 0)
		c.problems += n;	/* the virtual tables among them */
	chk_virtual(&c, &cf, n > 0);
	chk_queue(&c, &cf);
	config_free(&cf);
	if (c.problems == 0)
		printf("ok: configuration, programs and queue look right\n");
	else
		printf("%d problem%s found\n", c.problems,
		    c.problems == 1 ? "" : "s");
	return c.problems == 0 ? CTL_EX_OK : CTL_EX_FAIL;
}
