/*
 * local_recipient - does a local recipient exist, and which account gets
 * its mail?  The one answer that smtpd (RCPT, to refuse unknown users) and
 * deliver (to place the mail) both ask, so smtpd never accepts what deliver
 * then bounces.  Aliases, virtual maps and address extensions will be
 * resolved here, in front of the password database, when they come.
 *
 * The recipient is an address in one of our own domains (the caller
 * decides that) or a bare "postmaster".  Its login name is the rule of
 * addr_local_user(); "postmaster" without an account of its own is root
 * (RFC 5321 section 4.5.1).  A failed lookup is a temporary failure, never
 * "unknown": so is a database in which even root is missing (smtpd
 * chrooted away from /etc/passwd, a broken name service), because a real
 * user must not be bounced for it.  The lookup is a parameter, so that
 * callers can put a cache in front of it and tests can fake the database.
 */
#ifndef TERN_LOCAL_RECIPIENT_H
#define TERN_LOCAL_RECIPIENT_H

#include <sys/types.h>

#define LOCAL_USER_NAME_SIZE	256	/* a login name */
#define LOCAL_USER_HOME_SIZE	4096	/* a home directory */

/* An account that receives mail. */
struct local_user {
	char	 name[LOCAL_USER_NAME_SIZE];	/* the account, e.g. "root" */
	uid_t	 uid;
	gid_t	 gid;
	char	 home[LOCAL_USER_HOME_SIZE];
};

enum local_recipient_status {
	LOCAL_RCPT_FOUND,	/* *u is the account */
	LOCAL_RCPT_UNKNOWN,	/* no such recipient, for good */
	LOCAL_RCPT_TEMPFAIL	/* the database could not say: try later */
};

/* A lookup by login name: 1 found (*u filled), 0 no such user, -1 error
 * (errno set). */
typedef int (*local_recipient_lookup_fn)(const char *name,
	    struct local_user *u, void *arg);

/* Resolve rcpt to its account with lookup.  On LOCAL_RCPT_TEMPFAIL *why
 * (if why is non-NULL) gets a short static reason for the log. */
enum local_recipient_status local_recipient_resolve(const char *rcpt,
	    local_recipient_lookup_fn lookup, void *arg, struct local_user *u,
	    const char **why);

struct map_list;

/* The name a local recipient's delivery starts from: its local part,
 * unquoted and lower-cased, any characters (an alias may be "a+b" or
 * "x.y").  0, or -1 if it is empty or does not fit. */
int	local_recipient_name(const char *rcpt, char *out, size_t outlen);

/* local_recipient_resolve() with the aliases and address extensions
 * deliver expands (deliver/local_expand.h): the name, or with an extension
 * (delimiter, '\0' for none) its base, found in aliases (NULL or empty:
 * none) is FOUND with u->name the alias and u->uid 0; else the base is
 * resolved as an account ("mailer-daemon", like "postmaster", falls back
 * to root).  A failed alias lookup is LOCAL_RCPT_TEMPFAIL. */
enum local_recipient_status local_recipient_resolve_aliases(const char *rcpt,
	    struct map_list *aliases, char delimiter,
	    local_recipient_lookup_fn lookup, void *arg, struct local_user *u,
	    const char **why);

/* The system's password database (getpwnam_r), as a lookup; arg unused. */
int	local_recipient_getpw(const char *name, struct local_user *u, void *arg);

#endif
