/*
 * local_recipient - recipient to account.  Names that could never be a
 * login (addr_local_user) are unknown without asking the database, so odd
 * bytes from the network never reach an NSS back end; everything else is
 * one lookup, and a "not found" is believed only when the same database
 * still knows root.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "local_recipient.h"
#include "map.h"

#define LOCAL_RCPT_HOPS	8	/* one-name aliases followed */
#define PW_BUF_SIZE	(16 * 1024)	/* getpwnam_r() scratch space */

/* name was not found: is that the truth, or is the database unusable? */
static enum local_recipient_status
local_recipient_absent(local_recipient_lookup_fn lookup, void *arg,
    struct local_user *u, const char **why)
{
	int	 r = lookup("root", u, arg);

	memset(u, 0, sizeof(*u));
	if (r > 0)
		return LOCAL_RCPT_UNKNOWN;
	*why = r < 0 ? strerror(errno) : "password database has no root";
	return LOCAL_RCPT_TEMPFAIL;
}

enum local_recipient_status
local_recipient_resolve(const char *rcpt, local_recipient_lookup_fn lookup,
    void *arg, struct local_user *u, const char **why)
{
	char		 name[ADDR_LOCAL_MAX + 1];
	const char	*ignored;
	int		 r;

	if (why == NULL)
		why = &ignored;
	*why = NULL;
	memset(u, 0, sizeof(*u));
	if (addr_local_user(rcpt, name, sizeof(name)) < 0)
		return LOCAL_RCPT_UNKNOWN;
	/* The seam for aliases, virtual maps and extensions: they rewrite
	 * name here, before the database is asked. */
	r = lookup(name, u, arg);
	if (r == 0 && strcmp(name, "postmaster") == 0)
		r = lookup("root", u, arg);
	if (r > 0)
		return LOCAL_RCPT_FOUND;
	memset(u, 0, sizeof(*u));
	if (r < 0) {
		*why = strerror(errno);
		return LOCAL_RCPT_TEMPFAIL;
	}
	if (strcmp(name, "postmaster") == 0) {
		*why = "password database has no root";
		return LOCAL_RCPT_TEMPFAIL;
	}
	return local_recipient_absent(lookup, arg, u, why);
}

int
local_recipient_name(const char *rcpt, char *out, size_t outlen)
{
	if (addr_local_name(rcpt, out, outlen) < 0 || out[0] == '\0')
		return -1;
	return 0;
}

/* key in aliases: 1 found, 0 not, -1 failed (*why).  An alias whose value
 * is one plain local name ("postmaster: root") is 2 with that name in
 * key, so that both spellings reach one account (smtpd keeps a mailbox
 * once per transaction). */
static int
local_recipient_alias(struct map_list *aliases, char *key, size_t keylen,
    const char **why)
{
	static char	 err[MAP_ERR_MAX];
	const char	*value;
	size_t		 n;
	int		 r;

	if (aliases == NULL || aliases->count == 0)
		return 0;
	r = map_list_lookup(aliases, key, &value, err, sizeof(err));
	*why = err;
	if (r != MAP_FOUND)
		return r == MAP_NOTFOUND ? 0 : -1;
	value += strspn(value, " \t");
	n = strcspn(value, " \t,\"|/:@\\");
	if (n == 0 || n >= keylen || value[n + strspn(value + n, " \t")] != '\0')
		return 1;
	addr_lower(value, key, n + 1 < keylen ? n + 1 : keylen);
	key[n] = '\0';
	return 2;
}

enum local_recipient_status
local_recipient_resolve_aliases(const char *rcpt, struct map_list *aliases,
    char delimiter, local_recipient_lookup_fn lookup, void *arg,
    struct local_user *u, const char **why)
{
	char		 name[ADDR_LOCAL_MAX + 1], key[ADDR_LOCAL_MAX + 1], *d;
	const char	*ignored;
	int		 r, hops;

	if (why == NULL)
		why = &ignored;
	*why = NULL;
	memset(u, 0, sizeof(*u));
	if (local_recipient_name(rcpt, name, sizeof(name)) < 0)
		return LOCAL_RCPT_UNKNOWN;
	for (hops = 0;;) {
		strlcpy(key, name, sizeof(key));
		if ((r = local_recipient_alias(aliases, key, sizeof(key),
		    why)) < 0)
			return LOCAL_RCPT_TEMPFAIL;
		if (r == 2 && strcmp(key, name) != 0 &&
		    hops++ < LOCAL_RCPT_HOPS) {
			strlcpy(name, key, sizeof(name));
			continue;
		}
		if (r > 0) {
			strlcpy(u->name, name, sizeof(u->name));
			return LOCAL_RCPT_FOUND;
		}
		/* user+tag: then user, as an alias and as an account */
		if (delimiter == '\0' || (d = strchr(name + 1, delimiter)) ==
		    NULL)
			break;
		*d = '\0';
	}
	if (strcmp(name, "mailer-daemon") == 0)
		snprintf(name, sizeof(name), "postmaster");
	return local_recipient_resolve(name, lookup, arg, u, why);
}

int
local_recipient_getpw(const char *name, struct local_user *u, void *arg)
{
	struct passwd	 pw, *found = NULL;
	char		 buf[PW_BUF_SIZE];
	int		 r;

	(void)arg;
	r = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	/* getpwnam(3) lists these as "not found" for some implementations. */
	if (r == ENOENT || r == ESRCH || r == EBADF || r == EPERM ||
	    (r == 0 && found == NULL))
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
	strlcpy(u->name, pw.pw_name, sizeof(u->name));
	strlcpy(u->home, pw.pw_dir, sizeof(u->home));
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	return 1;
}
