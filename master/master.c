/*
 * master - the tern supervisor.
 *
 * Start-up runs in an order chosen so that every error still reaches the
 * terminal and nothing is half done: read and check both configuration
 * files, check (as root) that only root controls the queue directory,
 * prepare it, take the pid file lock (so a second
 * master stops before it touches a socket), bind every listening socket,
 * and only then leave the terminal and start the daemons.  See master(8).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master_pid.h"
#include "queue_trust.h"
#include "service_listen.h"
#include "supervise.h"

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: master [-fnv] [-c config]\n");
	exit(1);
}

/* Drop whatever descriptors our caller leaked to us (a daemon that keeps a
 * pipe of the shell that started it open makes that shell hang), and make
 * sure 0-2 are open, so that no socket of ours can land on one of them and
 * be written to as if it were stderr. */
static void
master_fds(void)
{
	int	 fd;

	closefrom(STDERR_FILENO + 1);
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* The configuration path as an absolute name: daemons and reloads read it
 * from the queue directory.  Symbolic links are kept as the user wrote
 * them, so messages name the file the way the administrator knows it. */
static int
master_abspath(const char *path, char *out, size_t outlen)
{
	char	 cwd[PATH_MAX];
	int	 len;

	if (path[0] == '/')
		len = snprintf(out, outlen, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL) {
		log_error("getcwd: %s", strerror(errno));
		return -1;
	} else
		len = snprintf(out, outlen, "%s/%s", cwd, path);
	if (len < 0 || (size_t)len >= outlen) {
		log_error("%s: path too long", path);
		return -1;
	}
	return 0;
}

/* Leave the terminal: the parent returns to the shell, the child carries
 * on in a new session with stdio on /dev/null. */
static int
master_daemonize(void)
{
	pid_t	 pid;
	int	 fd;

	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (setsid() == -1) {
		log_error("setsid: %s", strerror(errno));
		return -1;
	}
	if ((fd = open("/dev/null", O_RDWR)) == -1) {
		log_error("/dev/null: %s", strerror(errno));
		return -1;
	}
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > 2)
		close(fd);
	return 0;
}

/* -n: both files read and checked as a start or reload would; nothing
 * else is touched.  Exits 0 or 1. */
static void
master_check(const char *config)
{
	struct master_conf	 mc;
	char			 path[PATH_MAX];

	if (master_abspath(config, path, sizeof(path)) == -1 ||
	    supervise_load(path, &mc) == -1)
		exit(1);
	printf("%s: configuration ok, %d service(s)\n", path, mc.table.count);
	supervise_conf_free(&mc);
	exit(0);
}

/* Everything up to the first daemon; exits 1 on any error. */
static void
master_start(struct master *m, const char *config, int *pidfd)
{
	struct master_conf *mc = &m->conf;

	if (supervise_block_signals() == -1 ||
	    master_abspath(config, m->config_path, sizeof(m->config_path)) == -1)
		exit(1);
	if (supervise_load(m->config_path, mc) == -1)
		exit(1);
	log_set_verbose(m->verbose || mc->cfg.verbose);
	if (queue_trust_check(mc->cfg.queue_directory) == -1 ||
	    service_listen_chdir(mc->cfg.queue_directory) == -1 ||
	    queue_trust_mark() == -1 ||
	    service_listen_queue(mc->owner_uid, mc->owner_gid,
	    mc->cfg.setgid_group) == -1)
		exit(1);
	if ((*pidfd = master_pid_lock(MASTER_PID_PATH)) == -1)
		exit(1);
	if (supervise_listen_all(mc) == -1)
		exit(1);
	if (!m->foreground) {
		if (master_daemonize() == -1)
			exit(1);
		log_open("master", 0);
	}
	if (master_pid_write(*pidfd, getpid()) == -1 ||
	    supervise_open_signals(m) == -1)
		exit(1);
}

int
main(int argc, char **argv)
{
	static struct master m;	/* large (PATH_MAX); not on the stack */
	const char	*config = TERN_SYSCONFDIR "/tern.conf";
	int		 ch, pidfd, check = 0;

	m.sigfd = -1;
	while ((ch = getopt(argc, argv, "c:fnv")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'f':
			m.foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			m.verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	master_fds();
	umask(022);
	/* Until we leave the terminal, errors go to it as well as to syslog. */
	log_open("master", 1);
	log_set_verbose(m.verbose);

	if (check)
		master_check(config);
	master_start(&m, config, &pidfd);
	supervise_run(&m);

	master_pid_remove(MASTER_PID_PATH, pidfd);
	close(m.sigfd);
	supervise_conf_free(&m.conf);
	log_info("stopped");
	return 0;
}
