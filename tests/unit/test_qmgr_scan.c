/*
 * test_qmgr_scan - qmgr's passes over incoming/ and deferred/ in a real
 * (temporary) queue directory, run step by step without an event loop: the
 * active set never holds more than qmgr_message_active_limit messages, it
 * is filled oldest first whatever the directory order, a pass reads a
 * bounded number of entries per step, incoming/ and deferred/ take turns,
 * deferred files count only when due (or flushed), a notice jumps the
 * line only when nothing older waits, and free/ is trimmed in steps.
 */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmgr/qmgr.h"
#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
}

static struct tern_config	 cf;
static struct qmgr_params	 par;
static struct qmgr		 q;

static void
qmgr_start(int limit)
{
	char text[128];
	const struct config_part part[] = { { &qmgr_params_table, &par } };

	snprintf(text, sizeof(text), "qmgr_message_active_limit = %d\n", limit);
	memset(&cf, 0, sizeof(cf));
	memset(&par, 0, sizeof(par));
	assert_int_equal(config_parse_parts("test", text, strlen(text), &cf,
	    part, 1, 0), 0);
	memset(&q, 0, sizeof(q));
	q.cfg = &cf;
	q.par = &par;
	qmgr_active_init(&q);
	qmgr_dest_init(&q);
	qmgr_scan_init(&q);
}

static void
qmgr_stop(void)
{
	struct qmgr_msg *m;

	while ((m = TAILQ_FIRST(&q.msgs)) != NULL)
		qmgr_active_remove(&q, m);
	qmgr_scan_free(&q);
	qmgr_active_free(&q);
	config_free(&cf);
	config_free_part(&qmgr_params_table, &par);
}

static void
id_of(char *buf, int n)
{
	snprintf(buf, QUEUE_ID_SIZE, "ID%05d", n);
}

/* Files ID00000..ID<n-1> in d, created in an order that is not theirs;
 * in deferred/, due at mtime. */
static void
make_files(enum queue_dir d, int first, int n, time_t mtime)
{
	char	 id[QUEUE_ID_SIZE], path[QUEUE_PATH_SIZE];
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	int	 i;

	for (i = 0; i < n; i++) {
		id_of(id, first + (int)(((long long)i * 7919) % n));
		close(put_file(d, id, "x", 1));
		assert_int_equal(queue_path(path, sizeof(path), d, id), 0);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
}

/* Run steps until the scans have nothing more to do now. */
static int
run_all(void)
{
	int steps = 1;

	while (qmgr_scan_run(&q))
		steps++;
	return steps;
}

/* Take the whole active set out, as finished messages: their ids in
 * order (comma-separated into out). */
static void
drain(char *out, size_t len)
{
	struct qmgr_msg	*m;
	char		 path[QUEUE_PATH_SIZE];

	out[0] = '\0';
	while ((m = qmgr_active_next(&q)) != NULL) {
		if (out[0] != '\0')
			strlcat(out, ",", len);
		strlcat(out, m->id, len);
		assert_int_equal(queue_path(path, sizeof(path), QDIR_ACTIVE,
		    m->id), 0);
		assert_int_equal(unlink(path), 0);
		qmgr_active_remove(&q, m);
	}
}

static int
count(enum queue_dir d)
{
	char	 cmd[64];
	FILE	*f;
	int	 n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | wc -l", queue_dir_name(d));
	assert_non_null(f = popen(cmd, "r"));
	assert_int_equal(fscanf(f, "%d", &n), 1);
	pclose(f);
	return n;
}

static void
test_incoming_oldest_first(void **state)
{
	char	 got[512];
	int	 round;

	(void)state;
	qmgr_start(10);
	make_files(QDIR_INCOMING, 0, 35, 0);
	qmgr_scan_incoming(&q);
	for (round = 0; round < 4; round++) {
		run_all();
		assert_true(q.nactive <= 10);
		assert_int_equal(count(QDIR_ACTIVE), q.nactive);
		drain(got, sizeof(got));
		switch (round) {
		case 0:
			assert_string_equal(got, "ID00000,ID00001,ID00002,"
			    "ID00003,ID00004,ID00005,ID00006,ID00007,ID00008,"
			    "ID00009");
			break;
		case 3:
			assert_string_equal(got, "ID00030,ID00031,ID00032,"
			    "ID00033,ID00034");
			break;
		}
	}
	assert_int_equal(count(QDIR_INCOMING), 0);
	assert_int_equal(q.active_peak, 10);
	assert_false(qmgr_scan_wanted(&q));
	qmgr_stop();
}

/* A big directory: each step reads at most QMGR_SCAN_STEP entries, and
 * the memory kept is for the limit's worth of ids, not the directory. */
static void
test_pass_is_incremental(void **state)
{
	int n = 2 * QMGR_SCAN_STEP + 100;

	(void)state;
	qmgr_start(5);
	make_files(QDIR_INCOMING, 0, n, 0);
	qmgr_scan_incoming(&q);
	/* (A step's entries include "." and "..".) */
	assert_int_equal(qmgr_scan_run(&q), 1);
	assert_in_range(q.incoming.seen, QMGR_SCAN_STEP - 2, QMGR_SCAN_STEP);
	assert_int_equal(q.nactive, 0);		/* not over: nothing fed */
	assert_true(q.incoming.ids.size <= 5);	/* the oldest 5 only */
	assert_int_equal(qmgr_scan_run(&q), 1);
	assert_in_range(q.incoming.seen, 2 * QMGR_SCAN_STEP - 2,
	    2 * QMGR_SCAN_STEP);
	(void)qmgr_scan_run(&q);		/* the end: fed */
	assert_null(q.incoming.d);
	assert_int_equal(q.nactive, 5);
	assert_int_equal(count(QDIR_INCOMING), n - 5);
	assert_null(q.incoming.ids.id);		/* all fed: memory back */
	assert_true(q.incoming.again);		/* the rest, later */
	qmgr_stop();
}

/* Both directories have a backlog: they take turns; deferred/ files only
 * when due, or all after a flush. */
static void
test_turns_and_due(void **state)
{
	char	 got[512];
	time_t	 now = time(NULL);

	(void)state;
	qmgr_start(4);
	make_files(QDIR_INCOMING, 100, 10, 0);
	make_files(QDIR_DEFERRED, 0, 10, now - 10);	/* due */
	make_files(QDIR_DEFERRED, 50, 3, now + 3600);	/* not yet */
	qmgr_scan_incoming(&q);
	qmgr_scan_deferred(&q, 0);
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00100,ID00000,ID00101,ID00001");
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00102,ID00002,ID00103,ID00003");
	/* Drain the rest; the future ones stay. */
	while (qmgr_scan_wanted(&q)) {
		run_all();
		drain(got, sizeof(got));
	}
	assert_int_equal(count(QDIR_INCOMING), 0);
	assert_int_equal(count(QDIR_DEFERRED), 3);
	qmgr_scan_deferred(&q, 1);
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00050,ID00051,ID00052");
	qmgr_stop();
}

/* A notice moves the file at once when nothing older waits; otherwise it
 * only asks for a pass, and the older mail goes first. */
static void
test_notify(void **state)
{
	char got[512];

	(void)state;
	qmgr_start(2);
	make_files(QDIR_INCOMING, 7, 1, 0);
	qmgr_scan_notify(&q, "ID00007");
	assert_int_equal(q.nactive, 1);
	assert_false(qmgr_scan_wanted(&q));
	drain(got, sizeof(got));
	make_files(QDIR_INCOMING, 0, 5, 0);
	qmgr_scan_incoming(&q);
	(void)qmgr_scan_run(&q);	/* a pass, ids 0-1 fed, 2-4 wait */
	assert_int_equal(q.nactive, 2);
	make_files(QDIR_INCOMING, 9, 1, 0);
	qmgr_scan_notify(&q, "ID00009");	/* no room */
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00000,ID00001");
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00002,ID00003");
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00004,ID00009");
	qmgr_stop();
}

/* smtpd commits into active/ and says so: the file is taken on where it
 * is (no rename), once however often it is named; with no room, or older
 * mail waiting, it goes back to incoming/ for its turn. */
static void
test_committed(void **state)
{
	char got[512];

	(void)state;
	qmgr_start(2);
	make_files(QDIR_ACTIVE, 7, 1, 0);
	qmgr_scan_committed(&q, "ID00007");
	qmgr_scan_committed(&q, "ID00007");
	assert_int_equal(q.nactive, 1);
	assert_int_equal(count(QDIR_ACTIVE), 1);
	assert_int_equal(count(QDIR_INCOMING), 0);
	make_files(QDIR_ACTIVE, 8, 1, 0);
	qmgr_scan_committed(&q, "ID00008");
	make_files(QDIR_ACTIVE, 9, 1, 0);
	qmgr_scan_committed(&q, "ID00009");	/* no room */
	assert_int_equal(q.nactive, 2);
	assert_int_equal(count(QDIR_INCOMING), 1);
	assert_int_equal(count(QDIR_ACTIVE), 2);
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00007,ID00008");
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00009");

	/* Older mail waits in incoming/: the new file queues behind it. */
	make_files(QDIR_INCOMING, 0, 3, 0);
	qmgr_scan_incoming(&q);
	(void)qmgr_scan_run(&q);		/* 0-1 fed, 2 waits */
	drain(got, sizeof(got));
	make_files(QDIR_ACTIVE, 10, 1, 0);
	qmgr_scan_committed(&q, "ID00010");
	assert_int_equal(q.nactive, 0);
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00002,ID00010");
	qmgr_stop();
}

/* A file in active/ that qmgr was never told about (a lost notice) is
 * taken on by the scan of active/, never twice, and not while its writer
 * still holds it (a commit under way may yet take it back out). */
static void
test_orphans(void **state)
{
	char	 got[512], path[QUEUE_PATH_SIZE];
	int	 fd;

	(void)state;
	qmgr_start(2);
	make_files(QDIR_ACTIVE, 0, 3, 0);
	qmgr_scan_committed(&q, "ID00001");
	assert_int_equal(queue_path(path, sizeof(path), QDIR_ACTIVE, "ID00000"),
	    0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	qmgr_scan_orphans(&q);			/* ID00002 taken, 0 held */
	assert_int_equal(q.nactive, 2);
	assert_int_equal(count(QDIR_ACTIVE), 3);
	close(fd);
	qmgr_scan_orphans(&q);			/* no room: back to incoming/ */
	assert_int_equal(q.nactive, 2);
	assert_int_equal(count(QDIR_ACTIVE), 2);
	assert_int_equal(count(QDIR_INCOMING), 1);
	qmgr_scan_orphans(&q);
	assert_int_equal(q.nactive, 2);
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00001,ID00002");
	run_all();
	drain(got, sizeof(got));
	assert_string_equal(got, "ID00000");

	/* A stale notice (the file was taken and finished): no phantom. */
	qmgr_scan_committed(&q, "ID00002");
	assert_int_equal(q.nactive, 0);
	qmgr_stop();
}

/* free/ is trimmed to QUEUE_FREE_MAX files, a step at a time. */
static void
test_trim_free(void **state)
{
	int n = QUEUE_FREE_MAX + 2 * QMGR_FEED_STEP + 10;

	(void)state;
	qmgr_start(10);
	make_files(QDIR_FREE, 0, n, 0);
	qmgr_scan_trim_free(&q);
	assert_true(qmgr_scan_wanted(&q));
	assert_int_equal(qmgr_scan_run(&q), 1);
	assert_true(count(QDIR_FREE) >= n - QMGR_FEED_STEP);	/* a step */
	assert_true(run_all() >= 3);
	assert_int_equal(count(QDIR_FREE), QUEUE_FREE_MAX);
	assert_null(q.trim_d);
	qmgr_stop();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_incoming_oldest_first,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pass_is_incremental,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_turns_and_due,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_notify,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_committed,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_orphans,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_trim_free,
		    setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
