/*
 * service_spawn - start one instance of a service.
 *
 * The child gets the service's listening socket as DAEMON_LISTEN_FD (3)
 * and nothing else beyond stdin, stdout and stderr, and runs
 *
 *	PROGRAM -c CONFIG -s SERVICE -u USER [-C] [-v] [-f] -l [ARGS...]
 *
 * as described in common/daemon.h.
 */
#ifndef TERN_SERVICE_SPAWN_H
#define TERN_SERVICE_SPAWN_H

#include <sys/types.h>

#include "service_table.h"

/* program, 3 option pairs, -C -v -f -l, the extra arguments, NULL. */
#define SPAWN_ARGV_MAX	(1 + 6 + 4 + SERVICE_ARGS_MAX + 1)
#define SPAWN_PATH_MAX	4096

struct spawn_opts {
	const char	*config_path;		/* absolute tern.conf path */
	const char	*daemon_directory;
	int		 verbose;		/* pass -v */
	int		 foreground;		/* pass -f */
};

/*
 * Build the executable path (program below daemon_directory unless it is
 * absolute) and the argument vector, which points into s, user, path and
 * opts.  Pure.  0, or -1 if the path does not fit.
 */
int	service_spawn_argv(const struct spawn_opts *, const struct service *s,
	    const char *user, char *path, size_t pathlen,
	    char *argv[SPAWN_ARGV_MAX]);

/* fork and exec one instance; the child's pid, or -1 (logged). */
pid_t	service_spawn(const struct spawn_opts *, const struct service *s,
	    const char *user, int listen_fd);

#endif
