/*
 * queue_trust - may root trust the queue directory?
 *
 * The master (root) creates the queue's subdirectories and gives them to
 * mail_owner, and deliver (root) opens queue files and relies on the owner
 * checks it makes there: all of that is only sound if nobody but root can
 * rename, replace or add entries on the way to the queue.  So a master that
 * runs as root refuses to start unless the queue directory and its parent
 * (and, if the queue directory is a symbolic link, the directory holding
 * the link) belong to root and are writable by nobody else.  An
 * unprivileged master (a developer's instance) trusts itself and skips the
 * check: every daemon runs as that same user anyway.
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

#endif
