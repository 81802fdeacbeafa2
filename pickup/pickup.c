/*
 * pickup - main loop of the local submission service.  One instance, as
 * mail_owner.  It scans maildrop/ at start (so mail submitted while the
 * daemons were down is taken at once), whenever the kernel reports a new
 * name there (inotify: ternpostdrop's rename is the poke, so sendmail
 * needs no socket to reach us), whenever a client connects to its socket
 * (private/pickup; a connection is a wake-up and carries nothing), and
 * every PICKUP_SCAN_INTERVAL seconds in case a notice was lost.  After a
 * scan that queued mail it tells qmgr (QMGR_T_NOTIFY, best effort: qmgr
 * also scans incoming/).  Nothing a file holds can stop the loop: every
 * failure is one file's, logged, and the next file is taken.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "drop_file.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "pickup.h"
#include "proto_qmgr.h"
#include "queue.h"

#define PICKUP_NOTIFY_MAX	256	/* ids told to qmgr per scan */

static volatile sig_atomic_t pickup_stop;

static void
pickup_on_term(int sig)
{
	(void)sig;
	pickup_stop = 1;
}

/* Tell qmgr about the new messages; a failure only delays them until
 * qmgr's own scan of incoming/. */
static void
pickup_notify(char ids[][QUEUE_ID_SIZE], int n)
{
	struct ipc_msg	 req, reply;
	int		 fd, i;

	if (n == 0 || (fd = ipc_connect(QMGR_SOCKET)) < 0)
		return;
	for (i = 0; i < n; i++) {
		ipc_msg_init(&req, QMGR_T_NOTIFY);
		if (ipc_msg_add_int(&req, "v", PROTO_QMGR_VERSION) == 0 &&
		    ipc_msg_add(&req, "id", ids[i]) == 0 &&
		    ipc_call(fd, &req, &reply, 1000) == 0)
			ipc_msg_free(&reply);
		ipc_msg_free(&req);
	}
	close(fd);
}

/* Remove a temporary file ternpostdrop left behind (killed mid-write). */
static void
pickup_stale(const char *name)
{
	struct stat	 st;
	char		 path[512];

	snprintf(path, sizeof(path), "%s/%s", DROP_DIR, name);
	if (lstat(path, &st) == 0 &&
	    st.st_mtime + PICKUP_STALE_TMP < time(NULL) && unlink(path) == 0)
		log_info("maildrop/%s: unfinished for an hour; removed", name);
}

static void
pickup_scan(const struct tern_config *cfg)
{
	char		 ids[PICKUP_NOTIFY_MAX][QUEUE_ID_SIZE];
	struct dirent	*de;
	DIR		*dp;
	int		 n = 0;

	if ((dp = opendir(DROP_DIR)) == NULL) {
		log_error("cannot read %s/: %s", DROP_DIR, strerror(errno));
		return;
	}
	while (!pickup_stop && (de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		switch (pickup_file(cfg, de->d_name, ids[n], sizeof(ids[n]))) {
		case PICKUP_QUEUED:
			if (++n == PICKUP_NOTIFY_MAX) {
				pickup_notify(ids, n);
				n = 0;
			}
			break;
		case PICKUP_SKIPPED:
			if (de->d_name[0] == '.')
				pickup_stale(de->d_name);
			break;
		default:
			break;
		}
	}
	closedir(dp);
	pickup_notify(ids, n);
}

/* Wait for a poke, a connection or the interval.  Drains what woke us. */
static void
pickup_wait(int ino, int lfd)
{
	struct pollfd	 p[2];
	char		 b[4096];
	int		 n = 0, c;

	if (ino >= 0)
		p[n++] = (struct pollfd){ .fd = ino, .events = POLLIN };
	if (lfd >= 0)
		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(p, (nfds_t)n, PICKUP_SCAN_INTERVAL * 1000) <= 0)
		return;
	while (ino >= 0 && read(ino, b, sizeof(b)) > 0)
		;
	while (lfd >= 0 && (c = accept4(lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		close(c);
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 ctx;
	struct sigaction	 sa;
	int			 ino;

	daemon_setup(argc, argv, "pickup", NULL, NULL, &ctx);	/* global keys only */
	daemon_drop_privs(&ctx);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pickup_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (ctx.listen_fd >= 0 && io_set_nonblock(ctx.listen_fd, 1) < 0)
		log_fatal("cannot make the listening socket non-blocking");
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, DROP_DIR,
	    IN_MOVED_TO | IN_CREATE) < 0) {
		log_warn("no inotify on %s/ (%s): scanning every %ds only",
		    DROP_DIR, strerror(errno), PICKUP_SCAN_INTERVAL);
		if (ino >= 0)
			close(ino);
		ino = -1;
	}
	log_info("started");
	while (!pickup_stop) {
		pickup_scan(&ctx.cfg);
		if (!pickup_stop)
			pickup_wait(ino, ctx.listen_fd);
	}
	log_info("stopping");
	if (ino >= 0)
		close(ino);
	daemon_cleanup(&ctx);
	return 0;
}
