/*
 * ternctl_master - "status", "start", "stop" and "reload": the master
 * through its pid file (<queue_directory>/pid/master.pid, master_pid.h)
 * and signals, as Postfix's postfix(1) does.  A pid counts only if that
 * process is alive and is a master (a stale file from a killed master
 * names some other process, or none).  pid/ is root's: anyone else gets
 * the status from whether the showq service answers.  start runs the
 * master beside this program (tern-master when installed, master in a
 * build) or in daemon_directory, with the same tern.conf, and waits up to
 * CTL_WAIT_S for it to run; stop sends SIGTERM and waits as long for it to
 * go; reload checks tern.conf first (a bad file would be refused by the
 * master anyway, which keeps running the old one) and sends SIGHUP.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../master/master_params.h"
#include "../../master/master_pid.h"
#include "ipc.h"
#include "proto_showq.h"
#include "ternctl.h"

#define CTL_WAIT_S	30

/* Is pid a live (not zombie) master process? */
static int
ctl_is_master(pid_t pid)
{
	char	 path[64], line[256], name[64] = "", state = 0;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Name:", 5) == 0)
			sscanf(line + 5, " %63s", name);
		else if (strncmp(line, "State:", 6) == 0)
			sscanf(line + 6, " %c", &state);
	}
	fclose(f);
	return state != 0 && state != 'Z' && strstr(name, "master") != NULL;
}

/* The running master's pid; 0 if none; -1 if the pid file is not ours to
 * read (errno). */
static pid_t
ctl_master_pid(void)
{
	FILE	*f;
	long	 pid = 0;

	if ((f = fopen(MASTER_PID_PATH, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1 || pid > INT_MAX)
		pid = 0;
	fclose(f);
	return pid > 0 && ctl_is_master((pid_t)pid) ? (pid_t)pid : 0;
}

static int
ctl_showq_answers(void)
{
	int	 fd;

	if ((fd = ipc_connect(SHOWQ_SOCKET)) == -1)
		return 0;
	close(fd);
	return 1;
}

static int
ctl_status(void)
{
	pid_t	 pid = ctl_master_pid();

	if (pid > 0) {
		printf("tern is running (master pid %d)\n", (int)pid);
		return CTL_EX_OK;
	}
	if (pid == -1 && ctl_showq_answers()) {
		printf("tern is running (its showq service answers)\n");
		return CTL_EX_OK;
	}
	printf("tern is not running\n");
	return CTL_EX_NOTRUNNING;
}

/* Wait until the master runs (want 1) or is gone (want 0). */
static int
ctl_wait(int want)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	int		 i;

	for (i = 0; i < CTL_WAIT_S * 10; i++) {
		if ((ctl_master_pid() > 0) == want)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* The master program: beside us, else in daemon_directory. */
static int
ctl_master_prog(const struct tern_config *cfg, char out[PATH_MAX])
{
	static const char *const names[] = { "tern-master", "master" };
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;
	size_t	 i;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		for (i = 0; i < 2; i++)
			if (snprintf(out, PATH_MAX, "%s/%s", self, names[i]) <
			    PATH_MAX && access(out, X_OK) == 0)
				return 0;
	}
	if (snprintf(out, PATH_MAX, "%s/master", cfg->daemon_directory) <
	    PATH_MAX && access(out, X_OK) == 0)
		return 0;
	return -1;
}

static int
ctl_start(const char *path, const struct tern_config *cfg)
{
	char	 prog[PATH_MAX], conf[PATH_MAX];
	pid_t	 pid;
	int	 status;

	if (ctl_master_pid() > 0) {
		printf("tern is already running\n");
		return CTL_EX_OK;
	}
	if (ctl_master_prog(cfg, prog) == -1) {
		fprintf(stderr, "ternctl: cannot find the master program\n");
		return CTL_EX_UNAVAILABLE;
	}
	if (realpath(ctl_conf_path(path), conf) == NULL) {
		fprintf(stderr, "ternctl: %s: %s\n", ctl_conf_path(path),
		    strerror(errno));
		return CTL_EX_CONFIG;
	}
	if ((pid = fork()) == -1)
		return CTL_EX_OSERR;
	if (pid == 0) {
		execl(prog, prog, "-c", conf, (char *)NULL);
		_exit(127);
	}
	/* The master's parent exits when its child runs on its own. */
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ternctl: %s did not start (see its log)\n",
		    prog);
		return CTL_EX_FAIL;
	}
	if (ctl_wait(1) == -1) {
		fprintf(stderr, "ternctl: the master did not come up\n");
		return CTL_EX_FAIL;
	}
	printf("tern started (master pid %d)\n", (int)ctl_master_pid());
	return CTL_EX_OK;
}

static int
ctl_signal(int sig)
{
	pid_t	 pid = ctl_master_pid();

	if (pid == -1) {
		fprintf(stderr, "ternctl: %s: %s (only root may control the "
		    "master)\n", MASTER_PID_PATH, strerror(errno));
		return CTL_EX_NOPERM;
	}
	if (pid == 0) {
		printf("tern is not running\n");
		return CTL_EX_NOTRUNNING;
	}
	if (kill(pid, sig) == -1) {
		fprintf(stderr, "ternctl: cannot signal the master: %s\n",
		    strerror(errno));
		return errno == EPERM ? CTL_EX_NOPERM : CTL_EX_OSERR;
	}
	return CTL_EX_OK;
}

int
ctl_master(const struct ctl_opts *o, const char *path,
    const struct tern_config *cfg)
{
	struct tern_config check;
	int		 rc;

	if (chdir(cfg->queue_directory) == -1) {
		if (o->cmd == CTL_STATUS) {
			printf("tern is not running (no queue directory)\n");
			return CTL_EX_NOTRUNNING;
		}
		if (o->cmd != CTL_START) {
			fprintf(stderr, "ternctl: queue directory %s: %s\n",
			    cfg->queue_directory, strerror(errno));
			return CTL_EX_TEMPFAIL;
		}
	}
	switch (o->cmd) {
	case CTL_STATUS:
		return ctl_status();
	case CTL_START:
		return ctl_start(path, cfg);
	case CTL_STOP:
		if ((rc = ctl_signal(SIGTERM)) != CTL_EX_OK)
			return rc == CTL_EX_NOTRUNNING ? CTL_EX_OK : rc;
		if (ctl_wait(0) == -1) {
			fprintf(stderr, "ternctl: the master is still "
			    "running after %d s\n", CTL_WAIT_S);
			return CTL_EX_FAIL;
		}
		printf("tern stopped\n");
		return CTL_EX_OK;
	case CTL_RELOAD:
		if (master_params_load(path, &check) == -1) {
			fprintf(stderr, "ternctl: %s is not valid; not "
			    "reloading\n", ctl_conf_path(path));
			return CTL_EX_CONFIG;
		}
		config_free(&check);
		if ((rc = ctl_signal(SIGHUP)) == CTL_EX_OK)
			printf("reload signalled: the master re-reads its "
			    "configuration and restarts the daemons\n");
		return rc;
	default:
		return CTL_EX_SOFTWARE;
	}
}
