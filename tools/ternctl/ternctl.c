/*
 * ternctl - the administrator's command (ternctl.h, ternctl(8)).  It runs
 * with its caller's privileges, never set-uid: what a user may do is what
 * the queue's modes and the daemons' sockets let that user do (the queue
 * directories are the mail owner's, mode 0700; showq's socket is open to
 * all), and the checks here only turn a refusal into a clear message.
 * The configuration comes from -c, else TERN_CONFIG, else the compiled-in
 * tern.conf.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "ternctl.h"

int
ctl_may_admin(const struct tern_config *cfg, const char *what)
{
	struct passwd	*pw;
	uid_t		 uid = getuid();

	if (uid == 0)
		return 1;
	if ((pw = getpwnam(cfg->mail_owner)) != NULL && pw->pw_uid == uid)
		return 1;
	fprintf(stderr, "ternctl: %s: permission denied: only root (or the "
	    "mail owner, %s) may do this; any user may list the queue and "
	    "flush it\n", what, cfg->mail_owner);
	return 0;
}

/* The commands that need only the global keys. */
static int
ctl_run(const struct ctl_opts *o, const char *path)
{
	struct tern_config cfg;
	int		 rc;

	if (config_load(path, &cfg) < 0)
		return CTL_EX_CONFIG;
	switch (o->cmd) {
	case CTL_QUEUE_LIST:
		rc = ctl_queue_list(o, &cfg);
		break;
	case CTL_QUEUE_FLUSH:
		rc = ctl_queue_flush(o, &cfg);
		break;
	case CTL_QUEUE_SHOW:
		rc = ctl_queue_show(o, &cfg);
		break;
	case CTL_QUEUE_HOLD:
	case CTL_QUEUE_RELEASE:
	case CTL_QUEUE_REQUEUE:
	case CTL_QUEUE_DELETE:
		rc = ctl_queue_admin(o, &cfg);
		break;
	default:
		rc = ctl_master(o, path, &cfg);
		break;
	}
	config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl_opts	 o;
	const char	*path;
	int		 rc;

	if ((rc = ctl_args(argc, argv, &o)) != 0) {
		fprintf(stderr, "ternctl: %s\n", o.error);
		ctl_usage(stderr);
		return rc;
	}
	if (o.cmd == CTL_HELP) {
		ctl_usage(stdout);
		return CTL_EX_OK;
	}
	path = o.config != NULL ? o.config : getenv("TERN_CONFIG");
	switch (o.cmd) {
	case CTL_CONFIG:
		return ctl_config(&o, path);
	case CTL_CONFIG_SET:
		return ctl_config_set(&o, path);
	case CTL_CHECK:
		return ctl_check(&o, path);
	default:
		return ctl_run(&o, path);
	}
}
