/*
 * master_pid - the master's pid file, <queue_directory>/pid/master.pid.
 *
 * The file is held under an exclusive flock for the master's whole life, so
 * a second master on the same queue refuses to start, and a master killed
 * with SIGKILL leaves a stale file that the next one simply takes over.
 */
#ifndef TERN_MASTER_PID_H
#define TERN_MASTER_PID_H

#include <sys/types.h>

#define MASTER_PID_PATH	"pid/master.pid"	/* relative to the queue */

/* Open and lock path.  The descriptor, or -1 after logging why (another
 * master: "master already running, pid N"). */
int	master_pid_lock(const char *path);
/* Record pid (after daemonizing).  0 or -1, logged. */
int	master_pid_write(int fd, pid_t pid);
/* Remove the file, then release the lock. */
void	master_pid_remove(const char *path, int fd);

#endif
