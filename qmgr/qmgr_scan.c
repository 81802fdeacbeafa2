/*
 * qmgr_scan - finding work on disk.  A message enters the active set by a
 * rename into active/: qmgr's own, out of incoming/ or deferred/, or
 * smtpd's commit, which it announces (QMGR_T_COMMITTED; a lost notice is
 * made up for by a scan of active/ every QMGR_ORPHAN_INTERVAL seconds, and
 * at start-up everything there is taken back), so a file is always in
 * exactly one directory and a crash at any point leaves it where some scan
 * will find it again.  incoming/ and deferred/ are read
 * in passes of QMGR_SCAN_STEP entries per turn of the event loop, so a
 * directory of any size never holds up the clients or the agents for long.
 * A pass keeps the oldest ids (qmgr_oldest.c: at most
 * qmgr_message_active_limit of them, so memory stays bounded however many
 * files wait) of the files that may enter the active set, and when it is
 * over they are moved into active/ oldest first as room appears, taking
 * turns between incoming/ and deferred/ as Postfix's qmgr does, so that
 * neither new mail nor retries starve the other.  A pass that had to drop
 * ids is followed by another once its ids are fed; a pass asked for while
 * one runs (a notice, the timer, a flush) follows it too.  A notice for a
 * file in incoming/ moves it at once when nothing older waits there.
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

static void
orphan_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	qmgr_scan_orphans(arg);
}

static void
scan_one_init(struct qmgr *q, struct qmgr_scan *s, enum queue_dir dir)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	qmgr_oldest_init(&s->ids, q->active_max);
}

void
qmgr_scan_init(struct qmgr *q)
{
	struct timeval tv;

	scan_one_init(q, &q->incoming, QDIR_INCOMING);
	scan_one_init(q, &q->deferred, QDIR_DEFERRED);
	q->feed_turn = 0;
	if (q->base == NULL)	/* a unit test runs the steps itself */
		return;
	tv.tv_sec = q->par->queue_scan_interval > 0 ?
	    q->par->queue_scan_interval : 1;
	tv.tv_usec = 0;
	q->scan_ev = event_new(q->base, -1, EV_PERSIST, scan_timer_cb, q);
	if (q->scan_ev == NULL || event_add(q->scan_ev, &tv) == -1)
		log_fatal("qmgr: cannot create the scan timer");
	/* Not the scan interval (60 s): a notice lost under load would make
	 * a new message wait that long. */
	tv.tv_sec = QMGR_ORPHAN_INTERVAL;
	q->orphan_ev = event_new(q->base, -1, EV_PERSIST, orphan_timer_cb, q);
	if (q->orphan_ev == NULL || event_add(q->orphan_ev, &tv) == -1)
		log_fatal("qmgr: cannot create the active/ scan timer");
}

static void
scan_one_free(struct qmgr_scan *s)
{
	if (s->d != NULL)
		closedir(s->d);
	s->d = NULL;
	qmgr_oldest_reset(&s->ids);
}

void
qmgr_scan_free(struct qmgr *q)
{
	if (q->scan_ev != NULL)
		event_free(q->scan_ev);
	q->scan_ev = NULL;
	if (q->orphan_ev != NULL)
		event_free(q->orphan_ev);
	q->orphan_ev = NULL;
	scan_one_free(&q->incoming);
	scan_one_free(&q->deferred);
	if (q->trim_d != NULL)
		closedir(q->trim_d);
	q->trim_d = NULL;
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
	(void)qmgr_active_add(q, id);
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
		/* Still being committed by a running smtpd (which may yet
		 * take it back): the orphan scan finds it once it is not. */
		if (queue_being_written(QDIR_ACTIVE, de->d_name) != 0)
			continue;
		if (qmgr_active_room(q)) {
			(void)qmgr_active_add(q, de->d_name);
			n++;
		} else if (queue_move(de->d_name, QDIR_ACTIVE,
		    QDIR_INCOMING) == 0)
			q->incoming.again = 1;
		else
			log_qid(LOG_LEVEL_ERROR, de->d_name, "cannot move "
			    "active/ to incoming/: %s", strerror(errno));
	}
	closedir(d);
	if (n > 0)
		log_info("recovered %d message(s) from active/", n);
}

/* Is a pass under way, or are ids of the last one left to feed? */
static int
scan_busy(const struct qmgr_scan *s)
{
	return s->d != NULL || qmgr_oldest_left(&s->ids) > 0;
}

/* A pass or a trim under way goes on whatever the room; feeding and new
 * passes wait for room. */
int
qmgr_scan_wanted(const struct qmgr *q)
{
	if (q->incoming.d != NULL || q->deferred.d != NULL ||
	    q->trim_d != NULL)
		return 1;
	return qmgr_active_room(q) &&
	    (scan_busy(&q->incoming) || q->incoming.again ||
	    scan_busy(&q->deferred) || q->deferred.again);
}

static void
scan_request(struct qmgr *q, struct qmgr_scan *s, int flush)
{
	s->again = 1;
	if (flush)
		s->flush_next = 1;
	qmgr_active_kick(q);
}

void
qmgr_scan_incoming(struct qmgr *q)
{
	scan_request(q, &q->incoming, 0);
}

void
qmgr_scan_deferred(struct qmgr *q, int flush)
{
	scan_request(q, &q->deferred, flush);
}

static int scan_may_take_now(struct qmgr *);

void
qmgr_scan_notify(struct qmgr *q, const char *id)
{
	if (scan_may_take_now(q)) {
		scan_take(q, id, QDIR_INCOMING);
		return;
	}
	/* Older mail waits (or there is no room): its turn comes first,
	 * and a pass after it finds this file. */
	scan_request(q, &q->incoming, 0);
}

/* May a file just committed (or just found) be taken on at once?  Only
 * with room, and with nothing older waiting in incoming/ for its turn. */
static int
scan_may_take_now(struct qmgr *q)
{
	return qmgr_active_room(q) && !scan_busy(&q->incoming) &&
	    !q->incoming.again;
}

/* A file in active/ that is not in memory and cannot be taken on now:
 * back to incoming/, whose passes bring it in its turn (the one extra
 * rename is paid only while the active set is full or has a backlog). */
static int
scan_requeue(struct qmgr *q, const char *id)
{
	if (queue_move(id, QDIR_ACTIVE, QDIR_INCOMING) == -1) {
		/* Left in active/: the next orphan scan or start-up finds it. */
		if (errno != ENOENT)
			log_qid(LOG_LEVEL_ERROR, id, "cannot move active/ to "
			    "incoming/: %s", strerror(errno));
		return -1;
	}
	scan_request(q, &q->incoming, 0);
	return 0;
}

void
qmgr_scan_committed(struct qmgr *q, const char *id)
{
	char		 path[QUEUE_PATH_SIZE];
	struct stat	 st;

	if (qmgr_active_find(q, id) != NULL)
		return;		/* found by an orphan scan or the recovery */
	/* Gone (a stale notice: the orphan scan took and finished it), or
	 * not a file: nothing to hold a place in the active set for. */
	if (queue_path(path, sizeof(path), QDIR_ACTIVE, id) < 0 ||
	    lstat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_debug("%s: committed, but not in active/", id);
		return;
	}
	if (scan_may_take_now(q))
		(void)qmgr_active_add(q, id);
	else
		(void)scan_requeue(q, id);
}

/* One entry of active/: take it on if it is a file nobody told us about
 * that no writer holds any more (queue_being_written: a commit still
 * under way may yet take it back out).  1 if taken on or sent back. */
static int
scan_orphan(struct qmgr *q, DIR *d, const char *name)
{
	struct stat st;

	if (!queue_id_valid(name) || qmgr_active_find(q, name) != NULL)
		return 0;
	if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode) || queue_being_written(QDIR_ACTIVE, name) != 0)
		return 0;
	if (scan_may_take_now(q))
		return qmgr_active_add(q, name) == 0;
	return scan_requeue(q, name) == 0;
}

/* All of active/ in one go, not in steps: it holds at most about the
 * active set (new mail beyond it goes back to incoming/), and every name
 * qmgr knows costs one look in its index (20,000 in about 20 ms). */
void
qmgr_scan_orphans(struct qmgr *q)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = scan_open(QDIR_ACTIVE)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		n += scan_orphan(q, d, de->d_name);
	closedir(d);
	if (n > 0)
		log_warn("took on %d message(s) found in active/ without a "
		    "notice from smtpd", n);
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

/* May the file of this entry enter the active set now?  In deferred/, only
 * when its time has come (after a flush made it come). */
static int
scan_due(struct qmgr_scan *s, const char *name, time_t now)
{
	struct stat st;

	if (s->dir != QDIR_DEFERRED)
		return 1;
	if (fstatat(dirfd(s->d), name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(st.st_mode))
		return 0;
	if (s->flush)
		scan_make_due(s->d, name, &st, now);
	return st.st_mtime <= now;
}

static void
scan_start(struct qmgr_scan *s)
{
	s->again = 0;
	s->flush = s->flush_next;
	s->flush_next = 0;
	s->seen = 0;
	qmgr_oldest_reset(&s->ids);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	s->d = scan_open(s->dir);
}

/* The pass is over: what it kept is fed oldest first; what it dropped
 * needs another pass.  A pass that left files behind, or found the set
 * full, says so with the set's count (and the most it ever held). */
static void
scan_end(struct qmgr *q, struct qmgr_scan *s)
{
	struct timespec	 now;
	long long	 ms;

	closedir(s->d);
	s->d = NULL;
	qmgr_oldest_sort(&s->ids);
	if (s->ids.dropped > 0)
		s->again = 1;
	if (s->ids.dropped == 0 && qmgr_active_room(q))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - s->start.tv_sec) * 1000 +
	    (now.tv_nsec - s->start.tv_nsec) / 1000000;
	log_info("scan of %s/: %lu files in %lld ms, the %d oldest to take "
	    "in turn, %d left for a later pass; active=%d/%d (peak %d)",
	    queue_dir_name(s->dir), s->seen, ms, s->ids.n, s->ids.dropped,
	    q->nactive, q->active_max, q->active_peak);
}

/* Read up to QMGR_SCAN_STEP entries of the pass. */
static void
scan_step(struct qmgr *q, struct qmgr_scan *s)
{
	struct dirent	*de;
	time_t		 now = time(NULL);
	int		 n;

	for (n = 0; n < QMGR_SCAN_STEP; n++) {
		errno = 0;
		if ((de = readdir(s->d)) == NULL) {
			if (errno != 0)
				log_error("cannot read %s/: %s",
				    queue_dir_name(s->dir), strerror(errno));
			scan_end(q, s);
			return;
		}
		if (!queue_id_valid(de->d_name))
			continue;
		s->seen++;
		if (scan_due(s, de->d_name, now))
			(void)qmgr_oldest_offer(&s->ids, de->d_name);
	}
}

/* Whose turn is it to feed the active set: incoming/ and deferred/ take
 * turns while both have ids to give. */
static struct qmgr_scan *
scan_feeder(struct qmgr *q)
{
	struct qmgr_scan *first, *second;

	first = q->feed_turn == 0 ? &q->incoming : &q->deferred;
	second = q->feed_turn == 0 ? &q->deferred : &q->incoming;
	q->feed_turn ^= 1;
	if (qmgr_oldest_left(&first->ids) > 0)
		return first;
	if (qmgr_oldest_left(&second->ids) > 0)
		return second;
	return NULL;
}

/*
 * free/ grows while qmgr finishes messages faster than smtpd takes new
 * ones, at most by what the queue held (100,000 after a backlog); beyond
 * QUEUE_FREE_MAX files the rest is removed.  A step at a time, as the
 * passes: removing tens of thousands of files at once would stall qmgr
 * for seconds.
 */
void
qmgr_scan_trim_free(struct qmgr *q)
{
	if (q->trim_d != NULL)
		return;		/* under way */
	q->trim_n = 0;
	if ((q->trim_d = scan_open(QDIR_FREE)) != NULL)
		qmgr_active_kick(q);
}

/* Read up to QMGR_SCAN_STEP entries of free/, removing up to
 * QMGR_FEED_STEP files. */
static void
scan_trim_step(struct qmgr *q)
{
	struct dirent	*de;
	int		 n, gone = 0;

	for (n = 0; n < QMGR_SCAN_STEP && gone < QMGR_FEED_STEP; n++) {
		if ((de = readdir(q->trim_d)) == NULL) {
			closedir(q->trim_d);
			q->trim_d = NULL;
			return;
		}
		if (queue_id_valid(de->d_name) && ++q->trim_n > QUEUE_FREE_MAX &&
		    queue_free_remove(dirfd(q->trim_d), de->d_name) == 1)
			gone++;
	}
}

int
qmgr_scan_run(struct qmgr *q)
{
	struct qmgr_scan	*s, *both[2] = { &q->incoming, &q->deferred };
	const char		*id;
	int			 i, n;

	if (q->trim_d != NULL)
		scan_trim_step(q);
	for (i = 0; i < 2; i++) {
		s = both[i];
		if (s->d == NULL && qmgr_oldest_left(&s->ids) == 0 &&
		    s->again && qmgr_active_room(q))
			scan_start(s);
		if (s->d != NULL)
			scan_step(q, s);
	}
	for (n = 0; n < QMGR_FEED_STEP && qmgr_active_room(q); n++) {
		if ((s = scan_feeder(q)) == NULL)
			break;
		id = qmgr_oldest_next(&s->ids);
		scan_take(q, id, s->dir);
		if (qmgr_oldest_left(&s->ids) == 0)
			qmgr_oldest_reset(&s->ids);	/* memory back */
	}
	return qmgr_scan_wanted(q);
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
