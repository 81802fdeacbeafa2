/*
 * Unit tests for qmgr's outcome records (qmgr/qmgr_record.c): a deferral's
 * reason is appended once and again only when it changes, also after a
 * reload (a restart of qmgr); bounces are always appended; a peer's bad
 * status code does not lose the record; a version 1 file gets none; a
 * file without records is not read for them.  The records are read back
 * with queue_outcome_read().
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmgr/qmgr.h"
#include "queue_outcome.h"

#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
}

#define REC_BODY	"Subject: r\n\nbody\n"	/* 17 bytes */
#define REC_FILE	"tern-queue 2\nid ABC\ntime 1700000000\n" \
	"size 00000000000000000017\nfrom s@x\nclient local\nhelo -\nbody \n" \
	"smtputf8 0\nret \nenvid \nrcpt P a@b\norcpt \nnotify \n" \
	"rcpt P c@d\norcpt \nnotify \ndata\n" REC_BODY
#define REC_V1		"tern-queue 1\nid ABC\ntime 1700000000\nfrom s@x\n" \
	"client local\nhelo -\nrcpt P a@b\ndata\n" REC_BODY

/* active/ABC with text, loaded into m as qmgr loads a message. */
static void
load(struct qmgr_msg *m, const char *text)
{
	const char	*err = NULL;

	memset(m, 0, sizeof(*m));
	strcpy(m->id, "ABC");
	if (text != NULL)
		close(put_file(QDIR_ACTIVE, "ABC", text, strlen(text)));
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDWR, &m->env,
	    &m->fd, &err), 0);
	qmgr_record_load(m);
}

static void
unload(struct qmgr_msg *m)
{
	close(m->fd);
	queue_envelope_free(&m->env);
	qmgr_record_free(m);
}

struct seen {
	struct queue_outcome	 o[8];
	int			 n;
};

static int
collect(const struct queue_outcome *o, void *arg)
{
	struct seen	*s = arg;

	if (s->n < 8)
		s->o[s->n] = *o;
	s->n++;
	return 0;
}

static void
read_back(struct qmgr_msg *m, struct seen *s)
{
	struct queue_envelope	 env;
	const char		*err = NULL;
	int			 fd;

	memset(s, 0, sizeof(*s));
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDONLY, &env,
	    &fd, &err), 0);
	assert_int_equal(queue_outcome_read(fd, &env, collect, s), 0);
	assert_int_equal(env.data_off + env.data_len,
	    m->env.data_off + m->env.data_len);
	close(fd);
	queue_envelope_free(&env);
}

/* A file that ends with its message has no records: its end is known
 * without reading on; one with bytes after the message is read. */
static void
test_load_end_of_records(void **state)
{
	struct qmgr_msg	 m;

	(void)state;
	load(&m, REC_FILE);
	assert_int_equal(m.env.outcome_end, (off_t)strlen(REC_FILE));
	assert_int_equal(m.env.outcome_torn, 0);
	unload(&m);
	load(&m, REC_FILE "outcome 0 fail");	/* a torn append */
	assert_int_equal(m.env.outcome_end, (off_t)strlen(REC_FILE));
	assert_int_equal(m.env.outcome_torn, 1);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 1);
	unload(&m);
	load(&m, NULL);
	assert_true(m.env.outcome_end > (off_t)strlen(REC_FILE));
	assert_int_equal(m.env.outcome_torn, 0);
	unload(&m);
}

static void
test_deferral_recorded_once_per_reason(void **state)
{
	struct qmgr_msg	 m;
	struct seen	 s;

	(void)state;
	load(&m, REC_FILE);
	assert_int_equal(qmgr_record_write(&m, 1, OUTCOME_DELAYED, "4.3.0",
	    "home directory missing"), 1);
	assert_int_equal(qmgr_record_write(&m, 1, OUTCOME_DELAYED, "4.3.0",
	    "home directory missing"), 0);
	assert_int_equal(fdatasync(m.fd), 0);
	unload(&m);

	/* A restart: the reason on file is known, so not written again. */
	load(&m, NULL);
	assert_int_equal(qmgr_record_write(&m, 1, OUTCOME_DELAYED, "4.3.0",
	    "home directory missing"), 0);
	assert_int_equal(qmgr_record_write(&m, 1, OUTCOME_DELAYED, "4.2.2",
	    "mailbox full"), 1);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 1);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 1);
	read_back(&m, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.o[0].rcpt, 1);
	assert_int_equal(s.o[0].action, 'T');
	assert_string_equal(s.o[0].code, "4.3.0");
	assert_string_equal(s.o[0].text, "home directory missing");
	assert_string_equal(s.o[1].code, "4.2.2");
	assert_int_equal(s.o[2].rcpt, 0);
	assert_int_equal(s.o[2].action, 'B');
	assert_string_equal(s.o[2].host, "");
	unload(&m);
}

/* A text with control characters is stored cleaned, and still counts as
 * the same reason after a reload. */
static void
test_cleaned_text_same_reason(void **state)
{
	struct qmgr_msg	 m;
	struct seen	 s;

	(void)state;
	load(&m, REC_FILE);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_DELAYED, "4.4.1",
	    "line\r\nbreak"), 1);
	unload(&m);
	load(&m, NULL);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_DELAYED, "4.4.1",
	    "line\r\nbreak"), 0);
	read_back(&m, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.o[0].text, "line??break");
	unload(&m);
}

/* A status code the format refuses is left out, not the record. */
static void
test_bad_code_kept_out(void **state)
{
	struct qmgr_msg	 m;
	struct seen	 s;

	(void)state;
	load(&m, REC_FILE);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "9.x",
	    "odd peer"), 1);
	read_back(&m, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.o[0].code, "");
	assert_string_equal(s.o[0].text, "odd peer");
	unload(&m);
}

static void
test_version1_gets_none(void **state)
{
	struct qmgr_msg	 m;
	struct stat	 st;

	(void)state;
	load(&m, REC_V1);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 0);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)strlen(REC_V1));
	unload(&m);
}

/* A file that ends with its message has no records: none is read (the
 * end is known from the size taken at open), the markers are all clear,
 * and the first record goes right after the message.  Bytes after the
 * message that are not a record (a torn append) are read as such and
 * written over. */
static void
test_no_records_read_for_bare_file(void **state)
{
	struct qmgr_msg	 m;
	struct seen	 s;
	int		 i;

	(void)state;
	load(&m, REC_FILE);
	assert_int_equal(m.env.outcome_end, (off_t)strlen(REC_FILE));
	assert_int_equal(m.env.outcome_torn, 0);
	assert_non_null(m.noticed);
	for (i = 0; i < m.env.nrcpt; i++)
		assert_int_equal(m.noticed[i], 0);
	assert_int_equal(qmgr_record_write(&m, 0, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 1);
	read_back(&m, &s);
	assert_int_equal(s.n, 1);
	unload(&m);

	load(&m, REC_FILE "B 0 17000");
	assert_int_equal(m.env.outcome_end, (off_t)strlen(REC_FILE));
	assert_int_equal(m.env.outcome_torn, 1);
	assert_int_equal(qmgr_record_write(&m, 1, OUTCOME_BOUNCED, "5.1.1",
	    "no such user"), 1);
	read_back(&m, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.o[0].rcpt, 1);
	unload(&m);
}

#define QT(f)	cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		QT(test_load_end_of_records),
		QT(test_deferral_recorded_once_per_reason),
		QT(test_cleaned_text_same_reason),
		QT(test_bad_code_kept_out),
		QT(test_version1_gets_none),
		QT(test_no_records_read_for_bare_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
