/*
 * Unit tests for deliver/maildir.c and deliver/deliver_message.c: the
 * maildir unique-name builder, and real deliveries into a scratch home
 * directory (a fresh mkdtemp directory per test) as the invoking user:
 * byte-exact content, the Maildir layout and modes, nothing left in tmp/,
 * failures that leave nothing behind.  Also the queue-file checks (symbolic
 * links, FIFOs, an offset that does not follow the "data" line) and whole
 * requests through deliver_handle().  A version 2 file delivers exactly its
 * message, not the outcome records after it; deliveries are recorded in
 * the file's status bytes, a recorded one is not made again, and a file
 * locked by another delivery is deferred.  When run as root, a delivery as an
 * unprivileged user into a home it cannot enter shows that the ids really
 * switch, and come back.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "ipc.h"
#include "proto_deliver.h"
#include "deliver/deliver.h"

#define ID		"0TESTQUEUEID1"
#define HEADER		"tern-queue 1\nid " ID "\ntime 1700000000\n" \
			"from s@example.org\nclient local\nhelo -\n" \
			"rcpt P u@localhost\ndata\n"
#define BODY		"Subject: hi\n\nline one\n.dot line\n\xff\xfe raw\n"
/* Version 2: BODY is 39 bytes, and an outcome record follows it. */
#define V2_HEADER(st)	"tern-queue 2\nid " ID "\ntime 1700000000\n" \
			"size 00000000000000000039\nfrom s@example.org\n" \
			"client local\nhelo -\nbody \nsmtputf8 0\nret \n" \
			"envid \nrcpt " st " root@localhost\norcpt \n" \
			"notify \nrcpt P User@localhost\norcpt \nnotify \n" \
			"data\n"
#define V2_OUTCOME	"outcome 1 T 1700000001 4.2.0 - try again later\n"

struct scratch {
	char			 dir[64];	/* queue dir and home in one */
	char			 home[128];
	char			 oldcwd[4096];
	struct tern_config	 cfg;
	struct deliver_params	 par;
	struct deliver_ctx	 ctx;
	struct deliver_request	 req;
	const char		*rcpt[2];
	struct deliver_msg	 msg;
	struct local_user	 u;
	uid_t			 owner;		/* expected queue file owner */
};

static int
setup(void **state)
{
	struct scratch	*s = calloc(1, sizeof(*s));
	struct config_part part = { &deliver_params_table, NULL };
	int		 fd;

	assert_non_null(s);
	assert_non_null(getcwd(s->oldcwd, sizeof(s->oldcwd)));
	strcpy(s->dir, "/tmp/tern-deliver-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	assert_int_equal(chdir(s->dir), 0);
	assert_int_equal(mkdir("active", 0700), 0);
	snprintf(s->home, sizeof(s->home), "%s/home", s->dir);
	assert_int_equal(mkdir(s->home, 0700), 0);
	fd = open("active/" ID, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, HEADER BODY, strlen(HEADER BODY)),
	    (ssize_t)strlen(HEADER BODY));
	close(fd);

	part.dest = &s->par;
	config_defaults_parts(&s->cfg, &part, 1);
	s->ctx.cfg = &s->cfg;
	s->ctx.par = &s->par;
	strcpy(s->ctx.hostname, "host/with:odd");
	s->rcpt[0] = "User@localhost";
	s->rcpt[1] = "other@localhost";
	s->req.id = ID;
	s->req.path = "active/" ID;
	s->req.offset = (off_t)strlen(HEADER);
	s->req.sender = "s@example.org";
	s->req.nrcpt = 1;
	s->req.rcpt = s->rcpt;
	snprintf(s->u.name, sizeof(s->u.name), "tester");
	snprintf(s->u.home, sizeof(s->u.home), "%s", s->home);
	s->u.uid = geteuid();
	s->u.gid = getegid();
	s->owner = geteuid();
	*state = s;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	struct scratch	*s = *state;

	local_workers_close(&s->ctx);
	assert_int_equal(chdir(s->oldcwd), 0);
	nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	config_free(&s->cfg);
	config_free_part(&deliver_params_table, &s->par);
	free(s);
	return 0;
}

/* Names in dir (not . or ..); returns how many, the first in first. */
static int
list_dir(const char *dir, char *first, size_t firstlen)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, firstlen, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static char *
read_file(const char *path, size_t *len)
{
	static char	 buf[64 * 1024];
	ssize_t		 n;
	int		 fd;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	close(fd);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
test_unique_name(void **state)
{
	char	 out[128];

	(void)state;
	assert_int_equal(maildir_unique_name(out, sizeof(out), 1700000000LL,
	    123456, 4242, 7, "mx.example.org"), 0);
	assert_string_equal(out, "1700000000.M123456P4242Q7.mx.example.org");
	assert_int_equal(maildir_unique_name(out, sizeof(out), 1, 0, 1, 0,
	    "a/b:c"), 0);
	assert_string_equal(out, "1.M0P1Q0.a\\057b\\072c");
	/* Exactly fitting, one short, and no host at all. */
	assert_int_equal(maildir_unique_name(out, 13, 1, 2, 3, 4, "hos"), 0);
	assert_string_equal(out, "1.M2P3Q4.hos");
	assert_int_equal(maildir_unique_name(out, 12, 1, 2, 3, 4, "hos"), -1);
	assert_int_equal(maildir_unique_name(out, 12, 1, 2, 3, 4, "a:"), -1);
	assert_int_equal(maildir_unique_name(out, 8, 1, 2, 3, 4, "h"), -1);
	assert_int_equal(maildir_unique_name(out, sizeof(out), 1, 2, 3, 4, ""), -1);
	assert_int_equal(maildir_stable_name(out, sizeof(out), 1700000000LL,
	    "0ABC", 7, "a/b:c"), 0);
	assert_string_equal(out, "1700000000.T0ABCR7.a\\057b\\072c");
	assert_int_equal(maildir_stable_name(out, 18, 1700000000LL, "0ABC", 7,
	    "host"), -1);
	assert_null(strchr(out, '/'));
}

static void
open_msg(struct scratch *s)
{
	const char	*why = NULL;

	if (deliver_message_open(&s->req, &s->msg, geteuid(), &why) != 0)
		fail_msg("open: %s", why);
}

static void
test_deliver_byte_exact(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;
	struct stat		 st;
	char			 path[512], name[256];
	const char		*want = "Return-Path: <s@example.org>\n"
				    "Delivered-To: User@localhost\n" BODY;
	char			*got;
	size_t			 len;

	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	if (res.status != DELIVER_OK)
		fail_msg("%s %s", res.dsn, res.text);
	assert_string_equal(res.dsn, "2.0.0");
	assert_string_equal(res.text, "delivered to maildir");
	assert_int_equal(geteuid(), s->u.uid);

	snprintf(path, sizeof(path), "%s/Maildir/new", s->home);
	assert_int_equal(list_dir(path, name, sizeof(name)), 1);
	assert_non_null(strstr(name, ".host\\057with\\072odd"));
	assert_int_equal(list_dir("home/Maildir/tmp", NULL, 0), 0);
	assert_int_equal(list_dir("home/Maildir/cur", NULL, 0), 0);
	snprintf(path, sizeof(path), "%s/Maildir/new/%s", s->home, name);
	got = read_file(path, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, s->u.uid);
	assert_int_equal(stat("home/Maildir", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat("home/Maildir/cur", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

/* Null sender, an existing Maildir, a nested mailbox path, two messages
 * in the same second get different names. */
static void
test_deliver_twice_nested(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;
	char			 name[256];
	char			*got;
	size_t			 len;

	s->req.sender = "";
	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[1], &s->u, "Mail/box/", &res);
	assert_int_equal(res.status, DELIVER_OK);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[1], &s->u, "Mail/box/", &res);
	assert_int_equal(res.status, DELIVER_OK);
	deliver_message_close(&s->msg);
	assert_int_equal(list_dir("home/Mail/box/new", name, sizeof(name)), 2);
	assert_int_equal(list_dir("home/Mail/box/tmp", NULL, 0), 0);
	assert_int_equal(s->ctx.counter, 2);
	assert_int_equal(chdir("home/Mail/box/new"), 0);
	got = read_file(name, &len);
	assert_int_equal(chdir(s->dir), 0);
	assert_true(strncmp(got, "Return-Path: <>\nDelivered-To: "
	    "other@localhost\nSubject: hi\n", 58) == 0);
}

static void
test_missing_home_defers(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;

	snprintf(s->u.home, sizeof(s->u.home), "%s/nonexistent", s->dir);
	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_DEFER);
	assert_string_equal(res.dsn, "4.3.0");
	assert_non_null(strstr(res.text, "does not exist"));
	assert_int_equal(access("nonexistent", F_OK), -1);

	strcpy(s->u.home, "relative/home");
	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_DEFER);
}

/* The queue file is shorter than when it was opened: defer, and leave no
 * partial message in tmp/ or new/. */
static void
test_short_queue_file_leaves_nothing(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;

	open_msg(s);
	s->msg.size += 100;
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_DEFER);
	assert_string_equal(res.dsn, "4.3.0");
	assert_non_null(strstr(res.text, "shorter"));
	assert_int_equal(list_dir("home/Maildir/tmp", NULL, 0), 0);
	assert_int_equal(list_dir("home/Maildir/new", NULL, 0), 0);
}

/* A file where the Maildir should be. */
static void
test_maildir_is_a_file(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;
	int			 fd;

	fd = open("home/Maildir", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_DEFER);
	assert_string_equal(res.dsn, "4.3.0");
	assert_non_null(strstr(res.text, "create maildir"));
}

/* As root: the delivery really runs as the user (nobody cannot enter a
 * root-only home), and root comes back afterwards. */
static void
test_runs_as_the_user(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;

	if (geteuid() != 0)
		skip();
	s->u.uid = 65534;
	s->u.gid = 65534;
	open_msg(s);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_DEFER);
	assert_non_null(strstr(res.text, "Permission denied"));
	assert_int_equal(geteuid(), 0);
	assert_int_equal(getegid(), 0);
	assert_int_equal(access("home/Maildir", F_OK), -1);
}

static void
expect_open_fails(struct scratch *s, const char *why_part)
{
	const char	*why = NULL;

	assert_int_equal(deliver_message_open(&s->req, &s->msg, s->owner,
	    &why), -1);
	assert_int_equal(s->msg.fd, -1);
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", why, why_part);
}

static void
test_queue_file_checks(void **state)
{
	struct scratch	*s = *state;

	s->req.offset = (off_t)strlen(HEADER) - 1;
	expect_open_fails(s, "data line");
	s->req.offset = (off_t)strlen(HEADER) + 1;
	expect_open_fails(s, "data line");
	s->req.offset = (off_t)strlen(HEADER BODY) + 1;
	expect_open_fails(s, "beyond the end");
	s->req.offset = (off_t)strlen(HEADER);

	assert_int_equal(rename("active/" ID, "real"), 0);
	assert_int_equal(symlink("../real", "active/" ID), 0);
	expect_open_fails(s, strerror(ELOOP));
	assert_int_equal(unlink("active/" ID), 0);
	assert_int_equal(mkfifo("active/" ID, 0600), 0);
	expect_open_fails(s, "not a regular file");
	assert_int_equal(unlink("active/" ID), 0);
	expect_open_fails(s, strerror(ENOENT));

	/* A second name, or somebody else's file. */
	assert_int_equal(link("real", "active/" ID), 0);
	expect_open_fails(s, "more than one name");
	assert_int_equal(unlink("real"), 0);
	s->owner = geteuid() + 1;
	expect_open_fails(s, "not owned");
	s->owner = geteuid();
	open_msg(s);
	deliver_message_close(&s->msg);
}

/* A whole request: misrouted and malformed recipients bounce, local ones for
 * users that do not exist bounce, and mbox-style home_mailbox defers. */
static void
test_handle_request(void **state)
{
	struct scratch	*s = *state;
	struct ipc_msg	 m, r;

	ipc_msg_init(&m, DELIVER_T_REQUEST);
	ipc_msg_add(&m, "v", "3");
	ipc_msg_add(&m, "id", ID);
	ipc_msg_add(&m, "path", "active/" ID);
	ipc_msg_add_int(&m, "offset", (long long)strlen(HEADER));
	ipc_msg_add(&m, "sender", "");
	ipc_msg_add(&m, "nexthop", "");
	ipc_msg_add(&m, "nrcpt", "4");
	ipc_msg_add(&m, "rcpt.0", "x@example.net");
	ipc_msg_add(&m, "rcpt.1", "no-such-user-tern-xyz@localhost");
	ipc_msg_add(&m, "rcpt.2", "root@localhost");
	ipc_msg_add(&m, "rcpt.3", "a..b@localhost");
	/* mbox is refused before anything in root's home is touched. */
	free(s->par.home_mailbox);
	s->par.home_mailbox = strdup("Mailbox");
	deliver_handle(&s->ctx, &m, &r);
	assert_int_equal(r.type, DELIVER_T_REPLY);
	assert_string_equal(ipc_msg_get(&r, "nrcpt"), "4");
	assert_string_equal(ipc_msg_get(&r, "status.0"), "bounce");
	assert_string_equal(ipc_msg_get(&r, "dsn.0"), "5.3.5");
	assert_string_equal(ipc_msg_get(&r, "status.1"), "bounce");
	assert_string_equal(ipc_msg_get(&r, "dsn.1"), "5.1.1");
	assert_string_equal(ipc_msg_get(&r, "text.1"), "user unknown");
	assert_string_equal(ipc_msg_get(&r, "status.2"), "defer");
	assert_string_equal(ipc_msg_get(&r, "dsn.2"), "4.3.5");
	assert_string_equal(ipc_msg_get(&r, "text.2"),
	    "mbox delivery not supported");
	assert_string_equal(ipc_msg_get(&r, "status.3"), "bounce");
	assert_string_equal(ipc_msg_get(&r, "dsn.3"), "5.1.3");
	ipc_msg_free(&r);

	/* The queue file is gone: everybody is deferred. */
	assert_int_equal(unlink("active/" ID), 0);
	deliver_handle(&s->ctx, &m, &r);
	assert_int_equal(r.type, DELIVER_T_REPLY);
	assert_string_equal(ipc_msg_get(&r, "status.0"), "defer");
	assert_string_equal(ipc_msg_get(&r, "status.3"), "defer");
	assert_string_equal(ipc_msg_get(&r, "dsn.3"), "4.3.0");
	ipc_msg_free(&r);
	ipc_msg_free(&m);

	/* Malformed: IPC_T_ERROR with the reason. */
	ipc_msg_init(&m, DELIVER_T_REQUEST);
	ipc_msg_add(&m, "v", "3");
	deliver_handle(&s->ctx, &m, &r);
	assert_int_equal(r.type, IPC_T_ERROR);
	assert_string_equal(ipc_msg_get(&r, "text"), "missing id");
	ipc_msg_free(&r);
	ipc_msg_free(&m);
}

/* Several messages into one Maildir together: each one byte-exact in new/,
 * and one that cannot be written (its queue file is short) fails alone,
 * leaving nothing behind, while the others are delivered. */
static void
test_deliver_many(void **state)
{
	struct scratch		*s = *state;
	struct deliver_msg	 bad;
	struct deliver_result	 res[3];
	struct maildir_job	 job[3], *jobs[3];
	char			 name[256], path[512];
	const char		*want = "Return-Path: <s@example.org>\n"
				    "Delivered-To: User@localhost\n" BODY;
	size_t			 len;
	int			 k;

	open_msg(s);
	bad = s->msg;
	bad.size += 100;
	memset(job, 0, sizeof(job));
	for (k = 0; k < 3; k++) {
		job[k].msg = k == 1 ? &bad : &s->msg;
		job[k].rcpt = s->rcpt[0];
		job[k].res = &res[k];
		jobs[k] = &job[k];
	}
	maildir_deliver_many(&s->ctx, &s->u, "Maildir/", jobs, 3);
	deliver_message_close(&s->msg);
	assert_int_equal(res[0].status, DELIVER_OK);
	assert_int_equal(res[1].status, DELIVER_DEFER);
	assert_non_null(strstr(res[1].text, "shorter"));
	assert_int_equal(res[2].status, DELIVER_OK);
	assert_string_not_equal(job[0].name, job[2].name);
	assert_int_equal(list_dir("home/Maildir/tmp", NULL, 0), 0);
	assert_int_equal(list_dir("home/Maildir/new", name, sizeof(name)), 2);
	for (k = 0; k < 3; k += 2) {
		snprintf(path, sizeof(path), "home/Maildir/new/%s", job[k].name);
		assert_string_equal(read_file(path, &len), want);
	}
}

/* A batch of requests gets one reply each, in order, a malformed one an
 * error in its place. */
static void
test_batch_replies_in_order(void **state)
{
	struct scratch	*s = *state;
	struct ipc_msg	 m[3], r[3];
	int		 i;

	for (i = 0; i < 3; i += 2) {
		ipc_msg_init(&m[i], DELIVER_T_REQUEST);
		ipc_msg_add(&m[i], "v", "3");
		ipc_msg_add(&m[i], "id", ID);
		ipc_msg_add(&m[i], "path", "active/" ID);
		ipc_msg_add_int(&m[i], "offset", (long long)strlen(HEADER));
		ipc_msg_add(&m[i], "sender", "");
		ipc_msg_add(&m[i], "nexthop", "localhost");
		ipc_msg_add(&m[i], "nrcpt", "1");
		ipc_msg_add(&m[i], "rcpt.0", i == 0 ? "x@example.net" :
		    "a..b@localhost");
	}
	ipc_msg_init(&m[1], DELIVER_T_REQUEST);
	ipc_msg_add(&m[1], "v", "3");
	deliver_batch(&s->ctx, m, 3, r);
	assert_null(s->ctx.local);
	assert_int_equal(r[0].type, DELIVER_T_REPLY);
	assert_string_equal(ipc_msg_get(&r[0], "dsn.0"), "5.3.5");
	assert_int_equal(r[1].type, IPC_T_ERROR);
	assert_string_equal(ipc_msg_get(&r[1], "text"), "missing id");
	assert_int_equal(r[2].type, DELIVER_T_REPLY);
	assert_string_equal(ipc_msg_get(&r[2], "dsn.0"), "5.1.3");
	for (i = 0; i < 3; i++) {
		ipc_msg_free(&m[i]);
		ipc_msg_free(&r[i]);
	}
}

/* active/ID as a version 2 file, recipient 0 with status st, recipient 1
 * pending, an outcome record after the message; the request names
 * recipient 1 (User@localhost) and the message's offset. */
static void
put_v2(struct scratch *s, const char *text)
{
	int	 fd;

	assert_int_equal(unlink("active/" ID), 0);
	fd = open("active/" ID, O_CREAT | O_WRONLY | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	s->req.offset = (off_t)(strstr(text, "\ndata\n") + 6 - text);
}

/* The status byte of rcpt line k of active/ID. */
static char
file_status(int k)
{
	size_t		 len;
	const char	*text = read_file("active/" ID, &len), *p = text;

	while ((p = strstr(p, "\nrcpt ")) != NULL && k-- > 0)
		p++;
	assert_non_null(p);
	return p[6];
}

/* Does another process find the queue file busy?  1 or 0. */
static int
busy_elsewhere(struct scratch *s)
{
	struct deliver_msg	 other;
	const char		*why = NULL;
	pid_t			 pid;
	int			 st;

	if ((pid = fork()) == 0)
		_exit(deliver_message_open(&s->req, &other, s->owner,
		    &why) < 0 && strstr(why, "busy") != NULL ? 1 : 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The message ends where the size says: the outcome record after it is
 * not mail. */
static void
test_v2_delivers_exactly_the_message(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;
	char			 name[256], path[512];
	size_t			 len;

	put_v2(s, V2_HEADER("P") BODY V2_OUTCOME);
	open_msg(s);
	assert_int_equal(s->msg.size, s->req.offset + 39);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	if (res.status != DELIVER_OK)
		fail_msg("%s %s", res.dsn, res.text);
	assert_int_equal(list_dir("home/Maildir/new", name, sizeof(name)), 1);
	snprintf(path, sizeof(path), "home/Maildir/new/%s", name);
	assert_string_equal(read_file(path, &len),
	    "Return-Path: <s@example.org>\nDelivered-To: User@localhost\n"
	    BODY);
}

/* The mark lands on the request recipient's own line, in the file; a
 * second open of a file that is open for delivery finds it busy. */
static void
test_record_mark(void **state)
{
	struct scratch	*s = *state;

	put_v2(s, V2_HEADER("P") BODY V2_OUTCOME);
	open_msg(s);
	assert_int_equal(s->msg.line[0], 1);
	assert_false(deliver_record_done(&s->msg, 0));
	assert_int_equal(busy_elsewhere(s), 1);
	deliver_record_mark(&s->msg, 0);
	assert_true(deliver_record_done(&s->msg, 0));
	deliver_message_close(&s->msg);
	assert_int_equal(busy_elsewhere(s), 0);
	assert_int_equal(file_status(0), 'P');
	assert_int_equal(file_status(1), 'D');
	open_msg(s);
	assert_true(deliver_record_done(&s->msg, 0));
	deliver_message_close(&s->msg);

	/* Not a recipient of the file: delivered, never recorded. */
	s->rcpt[0] = "stranger@localhost";
	open_msg(s);
	assert_int_equal(s->msg.line[0], -1);
	deliver_record_mark(&s->msg, 0);
	assert_false(deliver_record_done(&s->msg, 0));
	deliver_message_close(&s->msg);
}

/* Two lines with one address: each request recipient takes its own line,
 * the pending one first. */
static void
test_record_match_same_address(void **state)
{
	struct scratch	*s = *state;

	put_v2(s, "tern-queue 2\nid " ID "\ntime 1\nsize 00000000000000000039\n"
	    "from \nclient local\nhelo -\nbody \nsmtputf8 0\nret \nenvid \n"
	    "rcpt D u@localhost\norcpt \nnotify \n"
	    "rcpt P u@localhost\norcpt \nnotify \n"
	    "rcpt P u@localhost\norcpt \nnotify \ndata\n" BODY);
	s->rcpt[0] = s->rcpt[1] = "u@localhost";
	s->req.nrcpt = 2;
	open_msg(s);
	assert_int_equal(s->msg.line[0], 1);
	assert_int_equal(s->msg.line[1], 2);
	deliver_message_close(&s->msg);
	s->req.nrcpt = 1;
	open_msg(s);
	assert_int_equal(s->msg.line[0], 1);
	deliver_message_close(&s->msg);
}

/* A request for a recipient the file records as delivered (deliver died
 * before its reply, and qmgr asks again) is answered ok, and nothing is
 * delivered; a pending one in the same request is delivered (here: to
 * root, refused as mbox, so nothing is written anywhere). */
static void
test_recorded_is_not_delivered_again(void **state)
{
	struct scratch	*s = *state;
	struct ipc_msg	 m, r;

	put_v2(s, V2_HEADER("D") BODY);
	s->rcpt[0] = s->rcpt[1] = "root@localhost";
	s->req.nrcpt = 2;
	s->req.nexthop = "localhost";
	assert_int_equal(proto_deliver_request_encode(&m, &s->req), 0);
	free(s->par.home_mailbox);
	s->par.home_mailbox = strdup("Mailbox");
	deliver_handle(&s->ctx, &m, &r);
	assert_int_equal(r.type, DELIVER_T_REPLY);
	assert_string_equal(ipc_msg_get(&r, "status.0"), "ok");
	assert_non_null(strstr(ipc_msg_get(&r, "text.0"), "already"));
	/* The second has no line of its own (the file names root once). */
	assert_string_equal(ipc_msg_get(&r, "status.1"), "defer");
	assert_string_equal(ipc_msg_get(&r, "dsn.1"), "4.3.5");
	ipc_msg_free(&r);
	ipc_msg_free(&m);
	assert_int_equal(file_status(0), 'D');
	assert_int_equal(file_status(1), 'P');
}

/* An attempt killed after its move into new/ and before its record: the
 * next attempt (here: the same delivery again, with a half-written tmp/
 * file of the same name left over) finds its copy and makes no second.
 * The half-written file left after the last round is removed by the
 * next attempt too. */
static void
test_retry_finds_its_copy(void **state)
{
	struct scratch		*s = *state;
	struct deliver_result	 res;
	char			 name[256], path[512];
	int			 fd, k;

	put_v2(s, V2_HEADER("P") BODY);
	open_msg(s);
	for (k = 0; k < 2; k++) {
		maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u,
		    "Maildir/", &res);
		if (res.status != DELIVER_OK)
			fail_msg("%d: %s %s", k, res.dsn, res.text);
		assert_int_equal(list_dir("home/Maildir/new", name,
		    sizeof(name)), 1);
		assert_non_null(strstr(name, ".T" ID "R1."));
		snprintf(path, sizeof(path), "home/Maildir/tmp/%s", name);
		fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(list_dir("home/Maildir/tmp", NULL, 0), 1);

	/* The name taken by another message (a repeated queue id: another
	 * size): this one is delivered under a unique name. */
	snprintf(path, sizeof(path), "home/Maildir/new/%s", name);
	assert_int_equal(truncate(path, 3), 0);
	maildir_deliver(&s->ctx, &s->msg, s->rcpt[0], &s->u, "Maildir/", &res);
	deliver_message_close(&s->msg);
	assert_int_equal(res.status, DELIVER_OK);
	assert_int_equal(list_dir("home/Maildir/new", NULL, 0), 2);
	assert_int_equal(list_dir("home/Maildir/tmp", NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unique_name),
		cmocka_unit_test_setup_teardown(test_deliver_byte_exact,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_twice_nested,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_home_defers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_queue_file_leaves_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_maildir_is_a_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_as_the_user,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_file_checks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_handle_request,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_many,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_replies_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_v2_delivers_exactly_the_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_mark,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_match_same_address,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_recorded_is_not_delivered_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_finds_its_copy,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
