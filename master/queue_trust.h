/*
 * queue_trust - may root trust the queue directory?
 *
 * The master (root) creates the queue's subdirectories and gives them to
 * mail_owner, and deliver (root) opens queue files and relies on the owner
 * checks it makes there: all of that is only sound if nobody but root can
 * rename, replace or add entries on the way to the queue.  So a master that
 * runs as root refuses to start unless every directory from / to the queue
 * directory on its real path, and the directory holding any symbolic link
 * on the path as written, belongs to root and is writable by nobody else.
 * One exception, above the queue directory's parent only: a root-owned
 * sticky directory (/tmp, /var/tmp) may be writable by all, since nobody
 * else may rename or remove the root-owned directory in it.  (Postfix's
 * postfix-script only warns about the queue's own tree; here a doubt
 * refuses.)  Then the master marks the environment with the identity of
 * the directory it checked (DAEMON_QUEUE_ID_ENV), and every daemon refuses
 * to run in any other.  An unprivileged master (a developer's instance)
 * trusts itself and skips the check: every daemon runs as that same user
 * anyway.
 */
#ifndef TERN_QUEUE_TRUST_H
#define TERN_QUEUE_TRUST_H

#include <sys/stat.h>

/* NULL if a directory with this stat may be trusted by root, else why not
 * ("not owned by root", ...). */
const char *queue_trust_why(const struct stat *);

/* Before the master changes into queue_dir (which may not exist yet): 0,
 * or -1 after logging which directory is unsafe and why.  Always 0 when
 * not running as root. */
int	queue_trust_check(const char *queue_dir);
/* The rule for directories above the queue's parent: sticky will do. */
const char *queue_trust_why_above(const struct stat *);
/* In the queue directory, after the check: put its identity in the
 * environment for the daemons (daemon_setup compares).  0, or -1 logged. */
int	queue_trust_mark(void);

#endif
