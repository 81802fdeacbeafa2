/*
 * daemon - what every tern daemon does at start-up, in the same order.
 *
 * The master starts a daemon as
 *	PROGRAM -c CONFIG -s SERVICE -u USER [-C] [-v] [-l]
 * -c the tern.conf path; -s the service name from master.conf (the syslog
 * ident); -u the user to run as; -C chroot into the queue directory; -v
 * verbose logging; -l: file descriptor 3 is the service's listening socket,
 * bound by the master.  -f (for running by hand) copies the log to stderr.
 * Arguments after the options (from the service's master.conf row) are left
 * in nargs/args.
 *
 * daemon_setup() parses that, loads the configuration (exit 1 with
 * "file:line: reason" on error), opens the log, changes to the queue
 * directory and ignores SIGPIPE and SIGIO (daemon_signals).  The daemon
 * then does whatever needs root or files outside the chroot, and calls
 * daemon_drop_privs().
 */
#ifndef TERN_DAEMON_H
#define TERN_DAEMON_H

#include <sys/types.h>

#include "config.h"

#define DAEMON_LISTEN_FD 3
/* "dev:ino" of the queue directory the master checked (queue_trust.h): a
 * daemon that finds another directory there refuses to run. */
#define DAEMON_QUEUE_ID_ENV "TERN_QUEUE_ID"
#define DAEMON_QUEUE_ID_SIZE 48
struct stat;
/* The value of DAEMON_QUEUE_ID_ENV for the directory st. */
void	daemon_queue_id(char out[DAEMON_QUEUE_ID_SIZE], const struct stat *st);

struct daemon_ctx {
	const char	*progname;
	const char	*service;
	const char	*config_path;
	const char	*user;
	int		 chroot;
	int		 foreground;
	int		 listen_fd;	/* -1 without -l */
	pid_t		 master_pid;	/* parent with -l, else 0 */
	int		 nargs;		/* arguments after the options */
	char		**args;
	struct tern_config cfg;
	struct config_part params;	/* the program's own keys */
};

/* params: the program's own key table and the struct it fills (see
 * config.h); keys of other programs are skipped here, the master checks
 * them. */
void	daemon_setup(int argc, char **argv, const char *progname,
	    const struct config_table *params, void *dest, struct daemon_ctx *);
/* Ignore the signals whose default action would kill a daemon for nothing
 * (SIGPIPE, and SIGIO from a broken write lease); see daemon.c. */
void	daemon_signals(void);
void	daemon_drop_privs(struct daemon_ctx *);	/* exits on failure */
/* Exit (SIGTERM) when the master dies; re-arm after credential changes. */
void	daemon_watch_master(const struct daemon_ctx *);
void	daemon_cleanup(struct daemon_ctx *);

#endif
