/*
 * Unit tests for the queue file format 2 (common/queue_file.c) and its
 * outcome records (common/queue_outcome.c): version 1 files still read,
 * version 2 round trips of every envelope field, outcome records appended
 * and read back (also after a torn append), and hostile or truncated
 * headers and records refused.  The files live in a fresh mkdtemp queue
 * directory per test.
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

#include "queue.h"
#include "queue_file.h"
#include "queue_outcome.h"
#include "queue_writer.h"

#include "tests/unit/queue_testdir.h"

static void
queue_testdir_reset(void)
{
}

#define V1_HEAD	"tern-queue 1\nid ABC\ntime 1700000000\nfrom s@x\nclient local\n" \
	"helo -\nrcpt P a@b\nrcpt D \"c d\"@e\ndata\n"
#define V1_BODY	"Subject: old\n\nversion one\n"

#define V2_HEAD(size) "tern-queue 2\nid ABC\ntime 1700000000\nsize " size "\n" \
	"from s@x\nclient 192.0.2.1\nhelo h.example\nbody 8BITMIME\nsmtputf8 1\n" \
	"ret HDRS\nenvid QQ 1+x\nrcpt P a@b\norcpt rfc822;A@B\n" \
	"notify SUCCESS,DELAY\nrcpt B c@d\norcpt \nnotify NEVER\ndata\n"
#define V2_BODY	"Subject: new\n\nversion two\n"	/* 26 bytes */
#define V2_SIZE	"00000000000000000026"
#define V2_FILE	V2_HEAD(V2_SIZE) V2_BODY

/* V2_FILE as active/ABC, opened for qmgr's updates. */
static int
open_v2(struct queue_envelope *env)
{
	const char	*err = NULL;
	int		 fd;

	close(put_file(QDIR_ACTIVE, "ABC", V2_FILE, strlen(V2_FILE)));
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDWR, env, &fd,
	    &err), 0);
	return fd;
}

static int
count_one(const struct queue_outcome *o, void *arg)
{
	(void)o;
	(*(int *)arg)++;
	return 0;
}

/* Version 1 files, as queues hold them from before format 2, still read:
 * from a buffer and from a descriptor, the message to the end of the file,
 * no DSN fields, and no outcome records (nor any appended). */
static void
test_v1_read(void **state)
{
	struct queue_envelope	 env;
	struct queue_outcome	 o;
	const char		 text[] = V1_HEAD V1_BODY;
	const char		*err = NULL;
	int			 fd, n = 0;

	(void)state;
	assert_int_equal(queue_file_parse(text, sizeof(text) - 1, &env, &err), 0);
	assert_int_equal(env.version, 1);
	assert_int_equal(env.data_off, (off_t)strlen(V1_HEAD));
	assert_int_equal(env.data_len, (off_t)strlen(V1_BODY));
	assert_int_equal(env.body, QUEUE_BODY_NONE);
	assert_int_equal(env.ret, QUEUE_RET_NONE);
	assert_int_equal(env.smtputf8, 0);
	assert_null(env.envid);
	assert_int_equal(env.nrcpt, 2);
	assert_string_equal(env.rcpt[1].addr, "\"c d\"@e");
	assert_int_equal(env.rcpt[1].status, RCPT_DELIVERED);
	assert_null(env.rcpt[0].orcpt);
	assert_int_equal(env.rcpt[0].notify, 0);
	queue_envelope_free(&env);

	fd = put_file(QDIR_ACTIVE, "ABC", text, sizeof(text) - 1);
	close(fd);
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDWR, &env, &fd,
	    &err), 0);
	assert_int_equal(env.version, 1);
	assert_int_equal(env.data_len, (off_t)strlen(V1_BODY));
	assert_int_equal(queue_rcpt_mark(fd, &env, 0, RCPT_BOUNCED), 0);
	assert_int_equal(queue_outcome_read(fd, &env, count_one, &n), 0);
	assert_int_equal(n, 0);
	memset(&o, 0, sizeof(o));
	o.action = OUTCOME_BOUNCED;
	assert_int_equal(queue_outcome_append(fd, &env, &o), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	close(fd);
	queue_envelope_free(&env);
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDONLY, &env, &fd,
	    &err), 0);
	assert_int_equal(env.rcpt[0].status, RCPT_BOUNCED);
	close(fd);
	queue_envelope_free(&env);
}

/* Every field of a version 2 header, parsed and written back byte for
 * byte. */
static void
test_v2_round_trip(void **state)
{
	struct queue_envelope	 env;
	const char		 text[] = V2_FILE;
	const char		*err = NULL;
	char			*again;
	size_t			 len;

	(void)state;
	assert_int_equal(queue_file_parse(text, sizeof(text) - 1, &env, &err), 0);
	assert_int_equal(env.version, 2);
	assert_string_equal(env.id, "ABC");
	assert_int_equal(env.arrival, 1700000000);
	assert_string_equal(env.sender, "s@x");
	assert_int_equal(env.body, QUEUE_BODY_8BITMIME);
	assert_int_equal(env.smtputf8, 1);
	assert_int_equal(env.ret, QUEUE_RET_HDRS);
	assert_string_equal(env.envid, "QQ 1+x");
	assert_int_equal(env.nrcpt, 2);
	assert_string_equal(env.rcpt[0].orcpt, "rfc822;A@B");
	assert_int_equal(env.rcpt[0].notify,
	    QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY);
	assert_string_equal(env.rcpt[1].orcpt, "");
	assert_int_equal(env.rcpt[1].notify, QUEUE_NOTIFY_NEVER);
	assert_int_equal(env.rcpt[1].status, RCPT_BOUNCED);
	assert_int_equal(text[env.rcpt[1].status_off], 'B');
	assert_int_equal(env.data_off, (off_t)strlen(V2_HEAD(V2_SIZE)));
	assert_int_equal(env.data_len, 26);
	assert_memory_equal(text + env.size_off, V2_SIZE, QUEUE_SIZE_DIGITS);
	again = queue_envelope_format(&env, &len);
	assert_non_null(again);
	assert_int_equal(len, strlen(V2_HEAD(V2_SIZE)));
	assert_memory_equal(again, text, len);
	free(again);

	/* No size yet: written as the unfinished mark. */
	env.data_len = -1;
	again = queue_envelope_format(&env, &len);
	assert_non_null(again);
	assert_non_null(strstr(again, "\nsize --------------------\n"));
	free(again);
	/* Sets no client could give are never written. */
	env.data_len = 26;
	env.rcpt[1].notify = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_DELAY;
	assert_null(queue_envelope_format(&env, &len));
	env.rcpt[1].notify = 0x10;
	assert_null(queue_envelope_format(&env, &len));
	env.rcpt[1].notify = 0;
	env.body = (enum queue_body)7;
	assert_null(queue_envelope_format(&env, &len));
	env.body = QUEUE_BODY_7BIT;
	free(env.rcpt[0].orcpt);
	env.rcpt[0].orcpt = strdup("rfc822");
	assert_null(queue_envelope_format(&env, &len));
	queue_envelope_free(&env);
}

/* What smtpd gives the writer reaches the file, and the size record
 * bounds the message exactly. */
static void
test_v2_writer(void **state)
{
	char			*addrs[] = { "a@example.org", "b@example.org" };
	struct queue_rcpt	 rcpt[2];
	struct queue_envelope	 env, got;
	struct queue_writer	*w = malloc(sizeof(*w));
	struct stat		 st;
	const char		*err = NULL;
	char			 path[QUEUE_PATH_SIZE], buf[64];
	int			 fd;

	(void)state;
	memset(&env, 0, sizeof(env));
	memset(rcpt, 0, sizeof(rcpt));
	env.arrival = 1700000001;
	env.sender = "s@example.org";
	env.client = "local";
	env.helo = "-";
	env.body = QUEUE_BODY_7BIT;
	env.ret = QUEUE_RET_FULL;
	env.envid = "id-1";
	env.nrcpt = 2;
	env.rcpt = rcpt;
	rcpt[0].addr = addrs[0];
	rcpt[0].status = RCPT_PENDING;
	rcpt[0].notify = QUEUE_NOTIFY_FAILURE;
	rcpt[1].addr = addrs[1];
	rcpt[1].status = RCPT_PENDING;
	rcpt[1].orcpt = "utf-8;b@example.org";
	assert_int_equal(queue_writer_open(w, &env), 0);
	assert_int_equal(queue_writer_write(w, "hello\n", 6), 0);
	assert_int_equal(queue_writer_commit(w), 0);
	assert_int_equal(queue_file_open(QDIR_INCOMING, env.id, O_RDONLY, &got,
	    &fd, &err), 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.body, QUEUE_BODY_7BIT);
	assert_int_equal(got.ret, QUEUE_RET_FULL);
	assert_string_equal(got.envid, "id-1");
	assert_int_equal(got.rcpt[0].notify, QUEUE_NOTIFY_FAILURE);
	assert_string_equal(got.rcpt[0].orcpt, "");
	assert_string_equal(got.rcpt[1].orcpt, "utf-8;b@example.org");
	assert_int_equal(got.data_len, 6);
	assert_int_equal(got.data_off, env.data_off);
	assert_int_equal(got.size_off, env.size_off);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	assert_int_equal(queue_path(path, sizeof(path), QDIR_INCOMING, env.id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, got.data_off + got.data_len);
	close(fd);
	queue_envelope_free(&got);
	free(w);
}

struct seen {
	struct queue_outcome	 o[8];
	int			 n;
	int			 stop_at;	/* stop after this many; 0: never */
};

static int
collect(const struct queue_outcome *o, void *arg)
{
	struct seen	*s = arg;

	if (s->n < 8)
		s->o[s->n] = *o;
	s->n++;
	return s->stop_at != 0 && s->n >= s->stop_at ? 7 : 0;
}

/* Close and open active/ABC again, as after a restart, and read its
 * records into seen; the new descriptor. */
static int
reread(int fd, struct queue_envelope *env, struct seen *seen)
{
	const char	*err = NULL;

	close(fd);
	queue_envelope_free(env);
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDWR, env, &fd,
	    &err), 0);
	memset(seen, 0, sizeof(*seen));
	assert_int_equal(queue_outcome_read(fd, env, collect, seen), 0);
	return fd;
}

static void
outcome_set(struct queue_outcome *o, int rcpt, char action, const char *code,
    const char *host, const char *text)
{
	memset(o, 0, sizeof(*o));
	o->rcpt = rcpt;
	o->action = action;
	o->time = 1700000100 + rcpt;
	strcpy(o->code, code);
	strcpy(o->host, host);
	strcpy(o->text, text);
}

static off_t
file_size(int fd)
{
	struct stat	 st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

/* Outcome records go after the message, come back in order, survive a
 * reopen, and never change the message; a torn append is ignored and
 * written over. */
static void
test_outcomes(void **state)
{
	struct queue_envelope	 env;
	struct queue_outcome	 o;
	struct seen		 seen;
	char			 msg[64];
	off_t			 end;
	int			 fd, i;

	(void)state;
	fd = open_v2(&env);
	outcome_set(&o, 0, OUTCOME_DELAYED, "4.4.1", "mx.example.org[192.0.2.5]",
	    "connect: timed out");
	assert_int_equal(queue_outcome_append(fd, &env, &o), 0);
	/* A remote server's text: control characters cannot break the line. */
	outcome_set(&o, 1, OUTCOME_BOUNCED, "5.1.1", "", "550 no\r\nsuch user");
	assert_int_equal(queue_outcome_write(fd, &env, &o), 0);
	assert_int_equal(queue_rcpt_write(fd, &env, 1, RCPT_BOUNCED), 0);
	assert_int_equal(fdatasync(fd), 0);
	outcome_set(&o, 0, OUTCOME_DELIVERED, "", "", "");
	memset(o.text, 'x', QUEUE_TEXT_MAX);	/* longest text */
	o.text[QUEUE_TEXT_MAX] = '\0';
	assert_int_equal(queue_outcome_append(fd, &env, &o), 0);
	assert_int_equal(env.outcome_end, file_size(fd));

	fd = reread(fd, &env, &seen);
	assert_int_equal(env.data_len, 26);
	/* The message is still exactly what it was. */
	assert_int_equal(pread(fd, msg, (size_t)env.data_len, env.data_off), 26);
	assert_memory_equal(msg, V2_BODY, 26);
	assert_int_equal(pread(fd, msg, 8, env.data_off + 26), 8);
	assert_memory_equal(msg, "outcome ", 8);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.o[0].rcpt, 0);
	assert_int_equal(seen.o[0].action, OUTCOME_DELAYED);
	assert_int_equal(seen.o[0].time, 1700000100);
	assert_string_equal(seen.o[0].code, "4.4.1");
	assert_string_equal(seen.o[0].host, "mx.example.org[192.0.2.5]");
	assert_string_equal(seen.o[0].text, "connect: timed out");
	assert_int_equal(seen.o[1].action, OUTCOME_BOUNCED);
	assert_string_equal(seen.o[1].host, "");
	assert_string_equal(seen.o[1].text, "550 no??such user");
	assert_int_equal(seen.o[2].action, OUTCOME_DELIVERED);
	assert_string_equal(seen.o[2].code, "");
	assert_int_equal(strlen(seen.o[2].text), QUEUE_TEXT_MAX);
	assert_int_equal(env.rcpt[1].status, RCPT_BOUNCED);
	end = env.outcome_end;
	assert_int_equal(end, file_size(fd));
	assert_int_equal(env.outcome_torn, 0);

	/* fn can stop the walk. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	assert_int_equal(queue_outcome_read(fd, &env, collect, &seen), 7);
	assert_int_equal(seen.n, 2);

	/* A crash in the middle of an append: half a record at the end. */
	assert_int_equal(pwrite(fd, "outcome 1 D 17", 14, end), 14);
	fd = reread(fd, &env, &seen);
	assert_int_equal(seen.n, 3);
	assert_int_equal(env.outcome_end, end);
	assert_int_equal(env.outcome_torn, 1);
	/* The next append goes over it and leaves nothing after itself. */
	outcome_set(&o, 1, OUTCOME_RELAYED, "2.0.0", "b.example", "ok");
	assert_int_equal(queue_outcome_append(fd, &env, &o), 0);
	assert_int_equal(file_size(fd), env.outcome_end);
	fd = reread(fd, &env, &seen);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.o[3].action, OUTCOME_RELAYED);

	/* Garbage after valid records (a complete but bad line, then more
	 * records) ends the walk there. */
	end = env.outcome_end;
	assert_int_equal(pwrite(fd, "outcome 9 D 1 - - x\noutcome 0 D 1 - - y\n",
	    40, end), 40);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(queue_outcome_read(fd, &env, collect, &seen), 0);
	assert_int_equal(seen.n, 4);
	assert_int_equal(env.outcome_end, end);
	/* A line far longer than any record, with no end. */
	for (i = 0; i < 3; i++) {
		char	 junk[1000];

		memset(junk, 'o', sizeof(junk));
		assert_int_equal(pwrite(fd, junk, sizeof(junk),
		    end + (off_t)i * 1000), (ssize_t)sizeof(junk));
	}
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(queue_outcome_read(fd, &env, collect, &seen), 0);
	assert_int_equal(seen.n, 4);
	outcome_set(&o, 0, OUTCOME_EXPANDED, "", "", "alias");
	assert_int_equal(queue_outcome_append(fd, &env, &o), 0);
	assert_int_equal(file_size(fd), env.outcome_end);
	close(fd);
	queue_envelope_free(&env);
}

/* Many records: the reader crosses its chunk boundaries. */
static void
test_outcomes_many(void **state)
{
	struct queue_envelope	 env;
	struct queue_outcome	 o;
	struct seen		 seen;
	const char		*err = NULL;
	int			 fd, i;

	(void)state;
	fd = open_v2(&env);
	for (i = 0; i < 500; i++) {
		outcome_set(&o, i % 2, OUTCOME_DELAYED, "4.2.0", "h", "");
		memset(o.text, 'a' + i % 26, (size_t)(i * 7 % QUEUE_TEXT_MAX));
		assert_int_equal(queue_outcome_write(fd, &env, &o), 0);
	}
	close(fd);
	queue_envelope_free(&env);
	assert_int_equal(queue_file_open(QDIR_ACTIVE, "ABC", O_RDONLY, &env,
	    &fd, &err), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(queue_outcome_read(fd, &env, collect, &seen), 0);
	assert_int_equal(seen.n, 500);
	assert_int_equal(env.outcome_end, file_size(fd));
	close(fd);
	queue_envelope_free(&env);
}

/* Records the reader must refuse, and records the writer must not make. */
static void
test_outcome_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"outcome",
		"outcome ",
		"outcom 0 D 1 - - x",
		"outcome 2 D 1 - - x",			/* index >= nrcpt */
		"outcome 01 D 1 - - x",
		"outcome -1 D 1 - - x",
		"outcome 0 X 1 - - x",
		"outcome 0 DD 1 - - x",
		"outcome 0  1 - - x",
		"outcome 0 D x - - x",
		"outcome 0 D 1234567890123456789 - - x",
		"outcome 0 D 1 6.0.0 - x",
		"outcome 0 D 1 4.1 - x",
		"outcome 0 D 1 4.1.1234 - x",
		"outcome 0 D 1 4..1 - x",
		"outcome 0 D 1 4.1.1. - x",
		"outcome 0 D 1 - - x\ty",
		"outcome 0 D 1 - -",			/* no space before text */
		"outcome 0 D 1 -  x",			/* empty host */
		"outcome 0 D 1 - h\x7fst x",
	};
	struct queue_outcome	 o;
	const char		*err;
	char			 line[QUEUE_OUTCOME_MAX + 1], host[300];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (queue_outcome_parse(bad[i], strlen(bad[i]), 2, &o, &err) == 0)
			fail_msg("record %zu accepted: %s", i, bad[i]);
		assert_non_null(err);
	}
	assert_int_equal(queue_outcome_parse("outcome 1 T 0 4.7.12 - ", 23, 2,
	    &o, &err), 0);
	assert_string_equal(o.code, "4.7.12");
	assert_string_equal(o.text, "");
	/* The longest host fits; one more byte does not. */
	memset(host, 'h', sizeof(host));
	snprintf(line, sizeof(line), "outcome 0 D 1 - %.*s x",
	    QUEUE_HOST_SIZE - 1, host);
	assert_int_equal(queue_outcome_parse(line, strlen(line), 1, &o, &err), 0);
	snprintf(line, sizeof(line), "outcome 0 D 1 - %.*s x",
	    QUEUE_HOST_SIZE, host);
	assert_int_equal(queue_outcome_parse(line, strlen(line), 1, &o, &err), -1);

	outcome_set(&o, 0, 'X', "", "", "");
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	outcome_set(&o, 0, OUTCOME_BOUNCED, "5.1", "", "");
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	outcome_set(&o, 0, OUTCOME_BOUNCED, "", "a host", "");
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	outcome_set(&o, 0, OUTCOME_BOUNCED, "", "-", "");
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	outcome_set(&o, -1, OUTCOME_BOUNCED, "", "", "");
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	outcome_set(&o, 0, OUTCOME_BOUNCED, "", "", "");
	o.time = 1000000000000000000LL;	/* more digits than the reader takes */
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)), -1);
	o.time = 999999999999999999LL;
	assert_true(queue_outcome_format(&o, line, sizeof(line)) > 0);
	assert_int_equal(queue_outcome_parse(line, strlen(line) - 1, 1, &o,
	    &err), 0);
	assert_int_equal(o.time, 999999999999999999LL);
	outcome_set(&o, 0, OUTCOME_BOUNCED, "5.0.0", "h", "t");
	assert_int_equal(queue_outcome_format(&o, line, 10), -1);
	assert_int_equal(queue_outcome_format(&o, line, sizeof(line)),
	    (int)strlen("outcome 0 B 1700000100 5.0.0 h t\n"));
	assert_string_equal(line, "outcome 0 B 1700000100 5.0.0 h t\n");
}

#define H2	"tern-queue 2\nid ABC\ntime 1\nsize " V2_SIZE "\nfrom \nclient c\nhelo h\n"
#define D2	"body \nsmtputf8 0\nret \nenvid \n"
#define R2	"rcpt P a@b\norcpt \nnotify \n"

/* Version 2 headers and files to refuse, each for its reason. */
static void
test_v2_hostile(void **state)
{
	static const struct { const char *text, *err; } cases[] = {
		{ "tern-queue 2\nid ABC\ntime 1\nfrom \n", "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize 27\n", "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize 0000000000000000002x\n",
		    "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize 99999999999999999999\n",
		    "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize 000000000000000000027\n",
		    "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize -----------------000\n",
		    "bad size record" },
		{ "tern-queue 2\nid ABC\ntime 1\n", "truncated header" },
		{ H2 "smtputf8 0\n", "bad body record" },
		{ H2 "body 8bitmime\n", "bad body record" },
		{ H2 "body BINARYMIME\n", "bad body record" },
		{ H2 "body \nsmtputf8 2\n", "bad smtputf8 record" },
		{ H2 "body \nsmtputf8\n", "bad smtputf8 record" },
		{ H2 "body \nsmtputf8 0\nret full\n", "bad ret record" },
		{ H2 "body \nsmtputf8 0\nret \nenvid a\001b\n", "bad envid record" },
		{ H2 "body \nsmtputf8 0\nret \nrcpt P a@b\n", "bad envid record" },
		{ H2 D2 "rcpt P a@b\ndata\n", "bad orcpt record" },
		{ H2 D2 "rcpt P a@b\norcpt rfc822\nnotify \ndata\n", "bad orcpt record" },
		{ H2 D2 "rcpt P a@b\norcpt ;a@b\nnotify \ndata\n", "bad orcpt record" },
		{ H2 D2 "rcpt P a@b\norcpt rfc822;\nnotify \ndata\n", "bad orcpt record" },
		{ H2 D2 "rcpt P a@b\norcpt rfc 822;a\nnotify \ndata\n", "bad orcpt record" },
		{ H2 D2 "rcpt P a@b\norcpt \ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify NEVER,DELAY\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify DELAY,SUCCESS\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify SUCCESS,\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify SUCCESS,SUCCESS\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify success\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify ,\ndata\n", "bad notify record" },
		{ H2 D2 "rcpt P a@b\norcpt \nnotify \n", "missing data record" },
		{ H2 D2 "data\n", "no recipients" },
		{ H2 D2 R2 "data\nshort", "truncated message" },
		{ "tern-queue 2\nid ABC\ntime 1\nsize --------------------\n"
		    "from \nclient c\nhelo h\n" D2 R2 "data\n" V2_BODY "old tail",
		    "unfinished file" },
	};
	struct queue_envelope	 env;
	const char		*err;
	size_t			 i;
	int			 fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = NULL;
		if (queue_file_parse(cases[i].text, strlen(cases[i].text), &env,
		    &err) == 0)
			fail_msg("case %zu accepted", i);
		if (err == NULL || strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu: wanted '%s', got '%s'", i,
			    cases[i].err, err ? err : "(null)");
		/* The same through a descriptor, as qmgr reads it. */
		fd = put_file(QDIR_INCOMING, "ABC", cases[i].text,
		    strlen(cases[i].text));
		close(fd);
		err = NULL;
		assert_int_equal(queue_file_open(QDIR_INCOMING, "ABC", O_RDONLY,
		    &env, &fd, &err), -1);
		assert_int_equal(errno, EINVAL);
		if (err == NULL || strcmp(err, cases[i].err) != 0)
			fail_msg("case %zu (fd): wanted '%s', got '%s'", i,
			    cases[i].err, err ? err : "(null)");
	}
	/* The exact size passes. */
	assert_int_equal(queue_file_parse(H2 D2 R2 "data\n" V2_BODY,
	    strlen(H2 D2 R2 "data\n" V2_BODY), &env, &err), 0);
	queue_envelope_free(&env);
}

/* Every cut of a version 2 file before its last message byte fails
 * cleanly; exact-size copies let ASan catch any over-read.  And random
 * damage never crashes the parser or passes bounds it promises. */
static void
test_v2_prefixes_and_mutations(void **state)
{
	const char		 text[] = V2_FILE "outcome 1 B 5 5.0.0 - gone\n";
	size_t			 full = strlen(V2_FILE), len = sizeof(text) - 1, i;
	struct queue_envelope	 env;
	struct queue_outcome	 o;
	const char		*err;
	char			*copy;
	int			 round, k, ok = 0;

	(void)state;
	for (i = 0; i <= len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, text, i);
		if (i < full)
			assert_int_equal(queue_file_parse(copy, i, &env, &err), -1);
		else {
			assert_int_equal(queue_file_parse(copy, i, &env, &err), 0);
			assert_int_equal(env.data_off + env.data_len, (off_t)full);
			queue_envelope_free(&env);
		}
		free(copy);
	}
	srandom(4712);
	for (round = 0; round < 100000; round++) {
		copy = malloc(len);
		memcpy(copy, text, len);
		for (k = random() % 3; k >= 0; k--)
			copy[random() % len] = (char)(random() % 4 ? random() % 128 : random());
		if (queue_file_parse(copy, len, &env, &err) == 0) {
			assert_true(env.nrcpt >= 1);
			assert_true(env.data_len >= 0);
			assert_true(env.data_off + env.data_len <= (off_t)len);
			queue_envelope_free(&env);
			ok++;
		} else
			assert_non_null(err);
		if (queue_outcome_parse(copy + full, len - full - 1, 2, &o,
		    &err) == 0) {
			assert_true(o.rcpt >= 0 && o.rcpt < 2);
			assert_true(strlen(o.text) <= QUEUE_TEXT_MAX);
		}
		free(copy);
	}
	assert_true(ok > 0);
}

#define QT(f)	cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

/* A host may begin with '-' ("-" alone is none): kept, and formatted back
 * to the same line (found by fuzz_queue). */
static void
test_outcome_dash_host(void **state)
{
	static const char line[] = "outcome 0 D 1 - -mx.example ok";
	struct queue_outcome	 o;
	char			 out[QUEUE_OUTCOME_MAX + 1];

	(void)state;
	assert_int_equal(queue_outcome_parse(line, sizeof(line) - 1, 1, &o,
	    NULL), 0);
	assert_string_equal(o.host, "-mx.example");
	assert_int_equal(queue_outcome_format(&o, out, sizeof(out)),
	    (int)sizeof(line));
	assert_memory_equal(out, line, sizeof(line) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		QT(test_v1_read),
		QT(test_v2_round_trip),
		QT(test_v2_writer),
		QT(test_outcomes),
		QT(test_outcomes_many),
		QT(test_outcome_hostile),
		QT(test_v2_hostile),
		QT(test_v2_prefixes_and_mutations),
		QT(test_outcome_dash_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
