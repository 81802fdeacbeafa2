/*
 * supervise - the master's state and main loop: start every instance of
 * every service, restart the ones that end, reload on SIGHUP, stop on
 * SIGTERM or SIGINT.
 */
#ifndef TERN_SUPERVISE_H
#define TERN_SUPERVISE_H

#include <sys/types.h>

#include <limits.h>

#include "config.h"
#include "service_table.h"

#define SUPERVISE_STOP_MS	5000	/* SIGTERM, then this long, SIGKILL */
#define SUPERVISE_RESTART_MS	10000	/* lived this long: restart at once */
#define SUPERVISE_RESET_MS	60000	/* lived this long: back-off reset */
#define SUPERVISE_BACKOFF_MIN	1000	/* first back-off, doubling ... */
#define SUPERVISE_BACKOFF_MAX	60000	/* ... up to this */

/* One instance slot of a service. */
struct instance {
	pid_t		 pid;		/* 0: not running */
	long long	 started;	/* io_now_ms() when it was started */
	long long	 start_at;	/* while pid == 0: start no earlier */
	int		 backoff;	/* ms to wait if it dies young */
	int		 fd;		/* its own listening socket (grouped
					   service), -1: none (yet) */
};

/* A service as the master runs it. */
struct service_run {
	const struct service *svc;	/* in master_conf.table */
	const char	*user;		/* svc->user, or mail_owner for "-" */
	int		 fd;		/* listening socket; -1: none, or the
					   service is grouped (each instance
					   has its own: service_listen.h) */
	struct instance	*inst;		/* svc->limit slots */
};

/* Everything read from tern.conf and master.conf, checked. */
struct master_conf {
	struct tern_config cfg;
	struct service_table table;
	struct service_run *run;	/* table.count entries */
	uid_t		 owner_uid;	/* mail_owner (or us, if not root): */
	gid_t		 owner_gid;	/* owns the queue dirs and sockets */
};

struct master {
	char		 config_path[PATH_MAX];	/* absolute */
	int		 foreground;		/* -f: pass -f to daemons */
	int		 verbose;		/* -v: pass -v to daemons */
	struct master_conf conf;
	int		 sigfd;			/* signalfd; -1 until open */
	int		 stopping;		/* do not restart what ends */
	int		 want_reload;		/* SIGHUP seen */
	int		 want_stop;		/* SIGTERM or SIGINT seen */
};

/* Reset and block the signals the master handles, before anything else
 * can make them arrive.  0 or -1 (logged). */
int	supervise_block_signals(void);
/* Receive the blocked signals through m->sigfd.  0 or -1 (logged). */
int	supervise_open_signals(struct master *m);

/* Read and check both files: tern.conf at config_path (absolute), every
 * key against every program's table (master_params.h), and the
 * service table it names; resolve each service's user.  0, or -1 after
 * logging "file:line: reason". */
int	supervise_load(const char *config_path, struct master_conf *);
void	supervise_conf_free(struct master_conf *);

/* Bind every service's socket (at start-up).  0, or -1 (logged). */
int	supervise_listen_all(struct master_conf *);

/* After an instance of a slot ended (or could not be started) having
 * lived ms: set in->start_at (now, or later by the back-off) and the next
 * back-off.  Exported for the tests. */
void	supervise_schedule(struct instance *in, long long lived,
	    long long now);

/* The main loop; returns once SIGTERM or SIGINT has stopped every daemon
 * and closed every socket. */
void	supervise_run(struct master *m);

#endif
