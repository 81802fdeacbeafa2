/*
 * qmgr_scan - finding work on disk.  A message enters the active set only
 * by a rename into active/ (or, at start-up, by being found there), so a
 * file is always in exactly one directory and a crash at any point leaves
 * it where some scan will find it again.  Scans stop when the active set is
 * full and note the backlog; qmgr_active_kick() asks for a rescan when the
 * set has room again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "qmgr.h"

static void
scan_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr *q = arg;

	(void)fd;
	(void)what;
	qmgr_active_unpark(q);
	qmgr_scan_incoming(q);
	qmgr_scan_deferred(q, 0);
	qmgr_scan_tmp(q);
	qmgr_scan_trim_free(q);
}

void
qmgr_scan_init(struct qmgr *q)
{
	struct timeval tv;

	tv.tv_sec = q->par->queue_scan_interval > 0 ?
	    q->par->queue_scan_interval : 1;
	tv.tv_usec = 0;
	q->scan_ev = event_new(q->base, -1, EV_PERSIST, scan_timer_cb, q);
	if (q->scan_ev == NULL || event_add(q->scan_ev, &tv) == -1)
		log_fatal("qmgr: cannot create the scan timer");
}

void
qmgr_scan_free(struct qmgr *q)
{
	if (q->scan_ev != NULL)
		event_free(q->scan_ev);
	q->scan_ev = NULL;
}

static DIR *
scan_open(enum queue_dir dir)
{
	DIR *d;

	if ((d = opendir(queue_dir_name(dir))) == NULL)
		log_error("cannot read %s/: %s", queue_dir_name(dir),
		    strerror(errno));
	return d;
}

/* Move <from>/<id> into active/ and take it on.  A file that is already
 * gone was taken by an earlier NOTIFY or scan: not an error. */
static void
scan_take(struct qmgr *q, const char *id, enum queue_dir from)
{
	if (queue_move(id, from, QDIR_ACTIVE) == -1) {
		if (errno != ENOENT)
			log_qid(LOG_LEVEL_ERROR, id, "cannot move %s/ to "
			    "active/: %s", queue_dir_name(from),
			    strerror(errno));
		return;
	}
	qmgr_active_add(q, id);
}

/* Start-up, first: one name per file (queue_links_repair). */
void
qmgr_scan_links(void)
{
	int	 n;

	if ((n = queue_links_repair()) < 0)
		log_error("cannot repair files with two queue names: %s",
		    strerror(errno));
	else if (n > 0)
		log_warn("removed %d second queue name(s) left by a crash "
		    "during a move", n);
}

/*
 * Start-up: whatever is in active/ was being worked on when the last qmgr
 * stopped.  Its recipients' status bytes say what is left to do.  Should
 * there be more than fits in memory, the rest goes back to incoming/, which
 * is scanned as room appears.
 */
void
qmgr_scan_recover(struct qmgr *q)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = scan_open(QDIR_ACTIVE)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (qmgr_active_room(q)) {
			qmgr_active_add(q, de->d_name);
			n++;
		} else if (queue_move(de->d_name, QDIR_ACTIVE,
		    QDIR_INCOMING) == 0)
			q->backlog = 1;
		else
			log_qid(LOG_LEVEL_ERROR, de->d_name, "cannot move "
			    "active/ to incoming/: %s", strerror(errno));
	}
	closedir(d);
	if (n > 0)
		log_info("recovered %d message(s) from active/", n);
}

void
qmgr_scan_incoming(struct qmgr *q)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = scan_open(QDIR_INCOMING)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (!qmgr_active_room(q)) {
			q->backlog = 1;
			break;
		}
		scan_take(q, de->d_name, QDIR_INCOMING);
	}
	closedir(d);
}

/* FLUSH: make the file due now, durably in its mtime, so that a flush is
 * honoured even for files the active set has no room for yet. */
static void
scan_make_due(DIR *d, const char *name, struct stat *st, time_t now)
{
	struct timespec ts[2];

	if (st->st_mtime <= now)
		return;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = now;
	ts[1].tv_nsec = 0;
	if (utimensat(dirfd(d), name, ts, AT_SYMLINK_NOFOLLOW) == -1)
		log_qid(LOG_LEVEL_WARN, name, "cannot flush: %s",
		    strerror(errno));
	else
		st->st_mtime = now;
}

void
qmgr_scan_deferred(struct qmgr *q, int flush)
{
	struct dirent	*de;
	struct stat	 st;
	time_t		 now = time(NULL);
	DIR		*d;

	if ((d = scan_open(QDIR_DEFERRED)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (flush)
			scan_make_due(d, de->d_name, &st, now);
		if (st.st_mtime > now)
			continue;
		if (!qmgr_active_room(q)) {
			q->backlog = 1;
			if (!flush)
				break;
			continue;	/* keep marking files due */
		}
		scan_take(q, de->d_name, QDIR_DEFERRED);
	}
	closedir(d);
}

/*
 * tmp/ holds messages still being received.  smtpd removes its own file
 * when a session fails, but one killed during DATA cannot: whatever is older
 * than any transfer could take was never acknowledged, and would otherwise
 * fill the disk over many crashes.
 */
void
qmgr_scan_tmp(struct qmgr *q)
{
	struct dirent	*de;
	struct stat	 st;
	time_t		 limit = time(NULL) - QMGR_TMP_MAX_AGE;
	DIR		*d;

	(void)q;
	if ((d = scan_open(QDIR_TMP)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_mtime > limit)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_qid(LOG_LEVEL_INFO, de->d_name,
			    "removed from tmp/: abandoned while being received");
	}
	closedir(d);
}

/*
 * free/ grows while qmgr finishes messages faster than smtpd takes new
 * ones, at most by what the queue held; beyond QUEUE_FREE_MAX files the
 * rest is removed.
 */
void
qmgr_scan_trim_free(struct qmgr *q)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	(void)q;
	if ((d = scan_open(QDIR_FREE)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (queue_id_valid(de->d_name) && ++n > QUEUE_FREE_MAX)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

void
qmgr_scan_notify(struct qmgr *q, const char *id)
{
	if (!qmgr_active_room(q)) {
		q->backlog = 1;	/* stays in incoming/ for a later scan */
		return;
	}
	scan_take(q, id, QDIR_INCOMING);
}
