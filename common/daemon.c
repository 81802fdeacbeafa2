/*
 * daemon - the common start-up of every tern daemon, in one fixed order:
 * command line, listening socket, configuration, log, queue directory,
 * signals (daemon_signals).  Anything wrong here is fatal, because a daemon that starts half
 * configured is worse than one the master keeps restarting.
 */
#include <sys/socket.h>

#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "io.h"
#include "log.h"
#include "privs.h"

static _Noreturn void
daemon_usage(const char *progname)
{
	fprintf(stderr, "usage: %s [-Cflv] [-c config] [-s service] [-u user]\n",
	    progname);
	exit(1);
}

static void
daemon_check_listener(void)
{
	int		 on = 0;
	socklen_t	 len = sizeof(on);

	if (getsockopt(DAEMON_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
		log_fatal("-l: fd %d: %s", DAEMON_LISTEN_FD, strerror(errno));
	if (!on)
		log_fatal("-l: fd %d is not a listening socket", DAEMON_LISTEN_FD);
	if (io_set_nonblock(DAEMON_LISTEN_FD, 1) < 0 ||
	    io_set_cloexec(DAEMON_LISTEN_FD, 1) < 0)
		log_fatal("-l: fd %d: %s", DAEMON_LISTEN_FD, strerror(errno));
}

static void
daemon_options(int argc, char **argv, struct daemon_ctx *ctx, int *verbose,
    int *listen)
{
	int	 ch;

	while ((ch = getopt(argc, argv, "c:s:u:Cvfl")) != -1) {
		switch (ch) {
		case 'c':
			ctx->config_path = optarg;
			break;
		case 's':
			ctx->service = optarg;
			break;
		case 'u':
			ctx->user = optarg;
			break;
		case 'C':
			ctx->chroot = 1;
			break;
		case 'v':
			*verbose = 1;
			break;
		case 'f':
			ctx->foreground = 1;
			break;
		case 'l':
			*listen = 1;
			break;
		default:
			daemon_usage(ctx->progname);
		}
	}
	/* What follows the options is the service's own arguments from
	 * master.conf; the daemon decides what they mean. */
	ctx->nargs = argc - optind;
	ctx->args = argv + optind;
}

void
daemon_queue_id(char out[DAEMON_QUEUE_ID_SIZE], const struct stat *st)
{
	snprintf(out, DAEMON_QUEUE_ID_SIZE, "%llu:%llu",
	    (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
}

/* The master checked the queue directory by path; it must still be the one
 * it checked now that we are in it (nobody swapped a directory on the way
 * in the meantime). */
static void
daemon_check_queue(const char *queue_dir)
{
	const char		*want = getenv(DAEMON_QUEUE_ID_ENV);
	char			 id[DAEMON_QUEUE_ID_SIZE];
	struct stat		 st;

	if (want == NULL)
		return;		/* not started by a master */
	if (stat(".", &st) < 0)
		log_fatal("stat %s: %s", queue_dir, strerror(errno));
	daemon_queue_id(id, &st);
	if (strcmp(id, want) != 0)
		log_fatal("queue directory %s is not the one the master checked "
		    "(%s, not %s): refusing to run", queue_dir, id, want);
}

void
daemon_setup(int argc, char **argv, const char *progname,
    const struct config_table *params, void *dest, struct daemon_ctx *ctx)
{
	int	 verbose = 0, listen = 0;

	memset(ctx, 0, sizeof(*ctx));
	ctx->progname = progname;
	ctx->listen_fd = -1;
	ctx->params.table = params;
	ctx->params.dest = dest;
	daemon_options(argc, argv, ctx, &verbose, &listen);
	if (listen) {
		daemon_check_listener();
		ctx->listen_fd = DAEMON_LISTEN_FD;
		/* -l means the master started us. */
		ctx->master_pid = getppid();
		daemon_watch_master(ctx);
	}
	/* Errors before log_open() reach stderr: the master or the person who
	 * started us sees "file:line: reason". */
	if (config_load_parts(ctx->config_path, &ctx->cfg, &ctx->params,
	    params != NULL ? 1 : 0, 0) < 0)
		exit(1);
	log_set_verbose(verbose || ctx->cfg.verbose);
	log_open(ctx->service != NULL ? ctx->service : progname, ctx->foreground);
	if (chdir(ctx->cfg.queue_directory) < 0)
		log_fatal("chdir %s: %s", ctx->cfg.queue_directory, strerror(errno));
	daemon_check_queue(ctx->cfg.queue_directory);
	daemon_signals();
}

/*
 * Signals whose default action would kill a daemon for something that is
 * not an error.  SIGPIPE: a peer that goes away must cost an EPIPE, not the
 * process.  SIGIO: taking a write lease (F_SETLEASE, as the queue writer
 * does to prove that nobody else has a reused file open) makes this process
 * the lease holder, and any other process that opens the file before the
 * lease is dropped makes the kernel send the holder SIGIO, whose default
 * action is to terminate: smtpd with all its sessions.  Nobody here uses
 * SIGIO to learn anything, so it is ignored; the lease still breaks (the
 * opener waits until we drop it, which we do at once).
 */
void
daemon_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGIO, SIG_IGN);
}

/*
 * LeakSanitizer's check at exit stops the process's threads through
 * /proc/self/task, which a chroot into the queue hides: it would end every
 * chrooted daemon of a sanitizer build with a fatal error instead of a
 * report.  So a chrooted process turns it off (through the runtime's hook,
 * asked at exit); the others keep it, and AddressSanitizer's own checks
 * stay on everywhere.  Process state by design: one process, one root.
 */
#if defined(__SANITIZE_ADDRESS__)
#define DAEMON_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DAEMON_LSAN 1
#endif
#endif
#ifdef DAEMON_LSAN
static int	daemon_chrooted;

int	__lsan_is_turned_off(void);

int
__lsan_is_turned_off(void)
{
	return daemon_chrooted;
}
#endif

void
daemon_drop_privs(struct daemon_ctx *ctx)
{
	const char	*user = ctx->user, *dir = NULL;

	/* "-" is master.conf's word for mail_owner. */
	if (user == NULL || strcmp(user, "-") == 0)
		user = ctx->cfg.mail_owner;
	/* We are already in the queue directory; "." also covers a relative
	 * queue_directory, which would mean something else after chdir. */
	if (ctx->chroot)
		dir = ctx->cfg.queue_directory[0] == '/' ?
		    ctx->cfg.queue_directory : ".";
	if (privs_drop(user, dir) < 0)
		log_fatal("cannot drop privileges to %s", user);
#ifdef DAEMON_LSAN
	daemon_chrooted = dir != NULL;
#endif
	/* setuid cleared the parent-death signal: arm it again. */
	daemon_watch_master(ctx);
}

/*
 * A daemon started by the master must not outlive it: it would keep the
 * listening sockets, and a new master could not bind them.  The kernel
 * sends SIGTERM when the master exits (each daemon already stops cleanly on
 * SIGTERM).  Credential changes clear that setting, so this runs again after
 * privileges are dropped (privs_restore() keeps it across its switches).
 */
void
daemon_watch_master(const struct daemon_ctx *ctx)
{
	if (ctx->master_pid <= 0)
		return;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		log_fatal("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (getppid() != ctx->master_pid)
		log_fatal("the master (pid %ld) is gone", (long)ctx->master_pid);
}

void
daemon_cleanup(struct daemon_ctx *ctx)
{
	if (ctx->listen_fd >= 0) {
		close(ctx->listen_fd);
		ctx->listen_fd = -1;
	}
	config_free(&ctx->cfg);
	if (ctx->params.table != NULL)
		config_free_part(ctx->params.table, ctx->params.dest);
}
