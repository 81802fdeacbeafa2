/*
 * service_spawn - fork and exec a daemon instance.
 *
 * Everything that can fail for a reason worth a clear message (the path,
 * the argument vector) is decided in the parent before fork; the child only
 * arranges its descriptors and signals and execs.  The child inherits the
 * master's blocked signal mask and ignored signals across exec, so it
 * resets both: a daemon must start with the defaults it expects.
 */
#include <sys/prctl.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "service_spawn.h"

int
service_spawn_argv(const struct spawn_opts *o, const struct service *s,
    const char *user, char *path, size_t pathlen, char *argv[SPAWN_ARGV_MAX])
{
	int	 n = 0, i, len;

	if (s->program[0] == '/')
		len = snprintf(path, pathlen, "%s", s->program);
	else
		len = snprintf(path, pathlen, "%s/%s", o->daemon_directory,
		    s->program);
	if (len < 0 || (size_t)len >= pathlen)
		return -1;
	/* execv() takes char *const[], but never writes through it. */
	argv[n++] = (char *)s->program;
	argv[n++] = (char *)"-c";
	argv[n++] = (char *)o->config_path;
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)s->name;
	argv[n++] = (char *)"-u";
	argv[n++] = (char *)user;
	if (s->chroot)
		argv[n++] = (char *)"-C";
	if (o->verbose)
		argv[n++] = (char *)"-v";
	if (o->foreground)
		argv[n++] = (char *)"-f";
	argv[n++] = (char *)"-l";
	for (i = 0; i < s->nargs; i++)
		argv[n++] = (char *)s->args[i];
	argv[n] = NULL;
	return 0;
}

/* In the child: defaults for every signal, nothing blocked. */
static void
spawn_reset_signals(void)
{
	sigset_t	 none;
	int		 sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);	/* EINVAL for some: harmless */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void
spawn_child(const struct service *s, const char *path, char **argv,
    int listen_fd, pid_t master)
{
	spawn_reset_signals();
	/* Die with the master (see daemon_watch_master): armed here, before
	 * exec, so there is no moment in which the master could die unseen;
	 * the setting survives exec. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(127);
	/* dup2 onto itself would keep close-on-exec: clear it instead. */
	if (listen_fd == DAEMON_LISTEN_FD) {
		if (fcntl(listen_fd, F_SETFD, 0) == -1) {
			log_error("service %s: fcntl: %s", s->name,
			    strerror(errno));
			_exit(127);
		}
	} else if (dup2(listen_fd, DAEMON_LISTEN_FD) == -1) {
		log_error("service %s: dup2: %s", s->name, strerror(errno));
		_exit(127);
	}
	closefrom(DAEMON_LISTEN_FD + 1);
	execv(path, argv);
	log_error("service %s: cannot execute %s: %s", s->name, path,
	    strerror(errno));
	_exit(127);
}

pid_t
service_spawn(const struct spawn_opts *o, const struct service *s,
    const char *user, int listen_fd)
{
	char	 path[SPAWN_PATH_MAX];
	char	*argv[SPAWN_ARGV_MAX];
	pid_t	 pid, master = getpid();

	if (service_spawn_argv(o, s, user, path, sizeof(path), argv) == -1) {
		log_error("service %s: program path too long", s->name);
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_error("service %s: fork: %s", s->name, strerror(errno));
		return -1;
	}
	if (pid == 0)
		spawn_child(s, path, argv, listen_fd, master);
	log_debug("service %s: started pid %ld: %s", s->name, (long)pid, path);
	return pid;
}
