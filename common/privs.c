/*
 * privs - dropping root for good (privs_drop) and borrowing a user's
 * identity for a while (privs_become/privs_restore).  A drop is verified
 * after the fact, because a set*id() call that half-worked is exactly the
 * kind of failure nobody notices until it is exploited.  The saved groups
 * are process state by design: they are root's, to be put back on restore.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "privs.h"

static gid_t	*privs_saved_groups;
static int	 privs_saved_ngroups = -1;	/* -1: not saved yet */
static gid_t	 privs_saved_egid;
static int	 privs_switched;
static int	 privs_saved_pdeathsig;	/* see privs_become() */
static pid_t	 privs_saved_ppid;

int
privs_is_root(void)
{
	return geteuid() == 0;
}

int
privs_lookup(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;

	if (user == NULL || *user == '\0') {
		log_error("no user name given");
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_error("unknown user '%s'%s%s", user, errno ? ": " : "",
		    errno ? strerror(errno) : "");
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int
privs_chroot(const char *dir)
{
	if (chroot(dir) < 0 || chdir("/") < 0) {
		log_error("chroot %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Every id must be the target, and root must be out of reach. */
static int
privs_verify(uid_t uid, gid_t gid)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg, groups[2];
	int	 n;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid) {
		log_error("privs: ids did not change as requested");
		return -1;
	}
	n = getgroups(2, groups);
	if (n < 0 || n > 1 || (n == 1 && groups[0] != gid)) {
		log_error("privs: supplementary groups were not reset");
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_error("privs: could get root back after dropping it");
		return -1;
	}
	return 0;
}

int
privs_drop(const char *user, const char *chroot_dir)
{
	uid_t	 uid;
	gid_t	 gid;

	if (!privs_is_root()) {
		if (chroot_dir != NULL) {
			log_error("cannot chroot to %s: not running as root",
			    chroot_dir);
			return -1;
		}
		log_debug("not root: keeping uid %ld", (long)getuid());
		return 0;
	}
	/* Look the user up before a chroot hides /etc/passwd. */
	if (privs_lookup(user, &uid, &gid) < 0)
		return -1;
	if (chroot_dir != NULL && privs_chroot(chroot_dir) < 0)
		return -1;
	if (uid == 0) {
		/* master.conf asked for root (deliver): nothing to drop. */
		log_debug("user %s is root: keeping privileges", user);
		return 0;
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		log_error("cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	return privs_verify(uid, gid);
}

/* Remember root's groups once, to put them back on restore. */
static int
privs_save(void)
{
	int	 n;

	if (privs_saved_ngroups >= 0)
		return 0;
	if ((n = getgroups(0, NULL)) < 0)
		return -1;
	privs_saved_groups = xreallocarray(NULL, (size_t)n + 1, sizeof(gid_t));
	if ((n = getgroups(n, privs_saved_groups)) < 0) {
		free(privs_saved_groups);
		privs_saved_groups = NULL;
		return -1;
	}
	privs_saved_ngroups = n;
	privs_saved_egid = getegid();
	return 0;
}

int
privs_become(uid_t uid, gid_t gid)
{
	if (!privs_is_root()) {
		/* Unprivileged instance: only "becoming" ourselves works. */
		if (uid == geteuid() && gid == getegid())
			return 0;
		errno = EPERM;
		return -1;
	}
	if (privs_save() < 0)
		return -1;
	/* Changing the effective ids clears the parent-death signal that
	 * ties a daemon to its master (daemon.c); remember it for
	 * privs_restore(). */
	if (prctl(PR_GET_PDEATHSIG, &privs_saved_pdeathsig) < 0)
		privs_saved_pdeathsig = 0;
	privs_saved_ppid = getppid();
	/* Groups first: changing them needs the root euid given up last. */
	if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
		int saved = errno;

		privs_switched = 1;
		privs_restore();
		errno = saved;
		return -1;
	}
	privs_switched = 1;
	if (geteuid() != uid || getegid() != gid) {
		privs_restore();
		errno = EPERM;
		return -1;
	}
	return 0;
}

int
privs_restore(void)
{
	if (!privs_switched)
		return 0;
	if (seteuid(0) < 0 || setegid(privs_saved_egid) < 0 ||
	    setgroups((size_t)privs_saved_ngroups, privs_saved_groups) < 0)
		return -1;
	privs_switched = 0;
	if (privs_saved_pdeathsig != 0) {
		if (prctl(PR_SET_PDEATHSIG, privs_saved_pdeathsig) < 0)
			return -1;
		/* The parent may have died while the signal was unarmed. */
		if (getppid() != privs_saved_ppid)
			raise(privs_saved_pdeathsig);
	}
	return 0;
}

int
privs_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t	 pid;
	int	 status;

	if (geteuid() != 0 || uid == 0)
		return fn(arg);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1 || getuid() != uid || setuid(0) == 0) {
			fprintf(stderr, "cannot become uid %ld: %s\n",
			    (long)uid, strerror(errno));
			_exit(126);
		}
		_exit(fn(arg));
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 125)
		return -1;
	return WEXITSTATUS(status);
}
