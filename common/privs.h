/*
 * privs - giving up root, and proving it.
 *
 * privs_drop() chroots (optionally), sets the supplementary groups, gid and
 * uid of a user, then checks that every id really changed and that setuid(0)
 * now fails; any failure is fatal to the caller (-1, logged).  When the
 * process is not root (a developer's unprivileged instance) it changes
 * nothing and says so once at debug level; a chroot request then fails.
 *
 * privs_become()/privs_restore() switch only the effective ids, for the
 * local delivery agent, which writes each Maildir as its owner but must get
 * root back for the next recipient.
 */
#ifndef TERN_PRIVS_H
#define TERN_PRIVS_H

#include <sys/types.h>

int	privs_lookup(const char *user, uid_t *, gid_t *);
int	privs_drop(const char *user, const char *chroot_dir);
int	privs_become(uid_t, gid_t);	/* effective ids only; 0 or -1 */
int	privs_restore(void);		/* back to effective root; 0 or -1 */
int	privs_is_root(void);

#endif
