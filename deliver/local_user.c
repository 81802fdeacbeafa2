/*
 * local_user - which account receives mail for a local recipient.
 *
 * The local part is matched case-insensitively against the passwd database;
 * "postmaster" always exists (RFC 5321 section 4.5.1) and falls back to
 * root.  Aliases and ~/.forward will be expanded in local_user_resolve(), in
 * front of the passwd lookup, when they come.  The lookup itself is a
 * parameter so that the mapping can be tested without real accounts.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "deliver.h"

#define PW_BUF_SIZE	(16 * 1024)	/* getpwnam_r() scratch space */

/* Map rcpt to an account.  0 and *u filled, or -1 and *res says why:
 * bounce 5.1.1 for no such user, defer 4.3.0 when the lookup failed. */
int
local_user_resolve(const char *rcpt, local_user_lookup_fn lookup, void *arg,
    struct local_user *u, struct deliver_result *res)
{
	char	 name[DELIVER_USER_SIZE];
	int	 r;

	memset(u, 0, sizeof(*u));
	if (addr_local_user(rcpt, name, sizeof(name)) < 0) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown");
		return -1;
	}
	/* The seam for aliases and .forward: they rewrite name here. */
	r = lookup(name, u, arg);
	if (r == 0 && strcmp(name, "postmaster") == 0)
		r = lookup("root", u, arg);
	if (r < 0) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "user lookup failed: %s", strerror(errno));
		return -1;
	}
	if (r == 0) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown");
		return -1;
	}
	return 0;
}

/* The system's passwd database, as a local_user_lookup_fn. */
int
local_user_getpw(const char *name, struct local_user *u, void *arg)
{
	struct passwd	 pw, *found = NULL;
	char		 buf[PW_BUF_SIZE];
	int		 r;

	(void)arg;
	r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (r == ENOENT || r == ESRCH || (r == 0 && found == NULL))
		return 0;
	if (r != 0) {
		errno = r;
		return -1;
	}
	if (strlen(pw.pw_name) >= sizeof(u->name) ||
	    strlen(pw.pw_dir) >= sizeof(u->home)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
	snprintf(u->home, sizeof(u->home), "%s", pw.pw_dir);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 1;
}
