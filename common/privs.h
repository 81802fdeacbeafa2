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
 *
 * privs_run_as() runs a function in a child with a file owner's ids, for
 * the table tools: root building or changing a table a user owns must do
 * only what that user could (a symbolic link planted beside the .db must not
 * make root write through it), as postmap and postalias do.
 */
#ifndef TERN_PRIVS_H
#define TERN_PRIVS_H

#include <sys/types.h>

int	privs_lookup(const char *user, uid_t *, gid_t *);
int	privs_drop(const char *user, const char *chroot_dir);
int	privs_become(uid_t, gid_t);	/* effective ids only; 0 or -1 */
int	privs_restore(void);		/* back to effective root; 0 or -1 */
int	privs_is_root(void);

/* fn(arg) in a child process with uid and gid (no supplementary groups)
 * when this process is root and uid is not 0, else here.  The result is
 * fn's, which must be 0..125 (a child's exit status); -1 if the child could
 * not be made, could not switch, or did not exit normally. */
int	privs_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);

#endif
