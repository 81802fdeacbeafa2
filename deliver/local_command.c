/*
 * local_command - the targets of an alias or .forward that are not a
 * mailbox: a |command and a /file, each made by a process of its own.
 *
 * deliver ignores SIGCHLD (the kernel reaps its workers), so it cannot
 * wait for a command; a helper process forked for each target can: it
 * runs the work and writes one result record back on a pipe.  Whatever
 * touches a user's world runs with the target owner's real and effective
 * ids (aliases: default_privs; a .forward: its user; an include file: its
 * owner), never root's: the command after setgid/setuid in its own process
 * group, the file opened and written after the helper gave up root.  All
 * of it must end by the batch's deadline (local_time_limit): the helper
 * kills the command's process group when the time is up (a deferral), and
 * deliver kills a helper that does not answer shortly after.
 *
 * A command gets the message on stdin (Return-Path: and Delivered-To:
 * first), a clean environment (HOME, USER, SHELL, PATH, SENDER, RECIPIENT,
 * EXTENSION, LOCAL, DOMAIN) and /bin/sh -c.  Its exit status is judged as
 * sysexits(3) says: 0 delivered, 75 (EX_TEMPFAIL) deferred, anything else
 * (a signal too) bounced with the start of its output.  A file is appended
 * to in mbox format (mbox.c) under an fcntl lock.  A mailbox in
 * mail_spool_directory (home_mailbox empty) is a file target too, written
 * with the user's uid and the spool directory's group (Debian's mail
 * group, which may create files there) and locked as Debian's mail tools
 * lock it: a dot-lock file user.lock, then fcntl.
 *
 * Each is made once per message: a target whose key (kind, the owner's
 * uid, command or path) the message's duplicate filter (local_dup.c)
 * holds already takes that copy's outcome, for another recipient of the
 * same message whose aliases or .forward end at the same command or file.
 * A command's key also holds everything its environment differs by (the
 * recipient, the extension, the owner), so a command is shared only by
 * runs that would be identical; a command named for two recipients runs
 * for each, as it sees each one's RECIPIENT.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "io.h"
#include "log.h"
#include "deliver.h"
#include "local_expand.h"

#define CMD_OUTPUT_MAX	200	/* bytes of output kept for a bounce */
#define CMD_GRACE_MS	2000	/* helper's answer after the deadline */
#define CMD_EX_TEMPFAIL	75
#define DOTLOCK_STALE	300	/* s: an older mbox.lock was left behind */

struct cmd_result {
	int	 status;	/* enum deliver_status */
	char	 dsn[DELIVER_DSN_SIZE];
	char	 text[DELIVER_TEXT_SIZE];
};

static void
cmd_set(struct cmd_result *r, enum deliver_status st, const char *dsn,
    const char *text)
{
	r->status = (int)st;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	snprintf(r->text, sizeof(r->text), "%s", text);
}

/* Take on o's ids for good (real, effective, saved).  0 or -1. */
static int
cmd_become(const struct lx_owner *o)
{
	if (geteuid() != 0)
		return geteuid() == o->uid ? 0 : -1;
	if (setgroups(1, &o->gid) < 0 || setgid(o->gid) < 0 ||
	    setuid(o->uid) < 0 || setuid(0) == 0 || getuid() != o->uid)
		return -1;
	return 0;
}

/* The child that runs the command; never returns. */
static void __attribute__((noreturn))
cmd_exec(const struct lx_target *t, const struct deliver_msg *msg,
    const char *rcpt, int in, int out)
{
	char	 env[9][DELIVER_PATH_SIZE + 32], *envp[10];
	char	 local[ADDR_LOCAL_MAX + 1];
	const char *domain = addr_domain(rcpt);
	int	 i;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    cmd_become(t->owner) < 0)
		_exit(CMD_EX_TEMPFAIL);
	/* Nothing of deliver's -- its socket, the queue file open for
	 * writing -- may reach a user's command. */
	closefrom(STDERR_FILENO + 1);
	if (strchr(rcpt, '@') == NULL ||
	    addr_local_part(rcpt, local, sizeof(local)) < 0)
		snprintf(local, sizeof(local), "%.*s", ADDR_LOCAL_MAX, rcpt);
	snprintf(env[0], sizeof(env[0]), "HOME=%s", t->owner->home);
	snprintf(env[1], sizeof(env[1]), "USER=%s", t->owner->name);
	snprintf(env[2], sizeof(env[2]), "SHELL=/bin/sh");
	snprintf(env[3], sizeof(env[3]), "PATH=/usr/bin:/bin");
	snprintf(env[4], sizeof(env[4]), "SENDER=%s", msg->req->sender);
	snprintf(env[5], sizeof(env[5]), "RECIPIENT=%s", rcpt);
	snprintf(env[6], sizeof(env[6]), "EXTENSION=%s", t->ext);
	snprintf(env[7], sizeof(env[7]), "LOCAL=%s", local);
	snprintf(env[8], sizeof(env[8]), "DOMAIN=%s",
	    domain != NULL ? domain : "");
	for (i = 0; i < 9; i++)
		envp[i] = env[i];
	envp[9] = NULL;
	if (chdir(t->owner->home) < 0 && chdir("/") < 0)
		_exit(CMD_EX_TEMPFAIL);
	execle("/bin/sh", "sh", "-c", t->text, (char *)NULL, envp);
	_exit(CMD_EX_TEMPFAIL);
}

/* Keep the start of the command's output, printable: one read, 0 at
 * its end. */
static ssize_t
cmd_output(int fd, char *keep, size_t *kept)
{
	char	 buf[4096];
	ssize_t	 n, i;

	if ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n && *kept < CMD_OUTPUT_MAX; i++)
			keep[(*kept)++] = (unsigned char)buf[i] < 0x20 ||
			    (unsigned char)buf[i] > 0x7e ? ' ' : buf[i];
	keep[*kept] = '\0';
	return n;
}

/* The command's stdin: the message with its delivery headers, written
 * into a file in the helper's memory first so that the poll loop below
 * never blocks on the queue file. */
static int
cmd_feed(const struct deliver_msg *msg, const char *rcpt)
{
	char	 tmpl[] = "/tmp/tern-cmd-XXXXXX";
	const char *what;
	int	 f;

	if ((f = mkstemp(tmpl)) < 0)
		return -1;
	unlink(tmpl);
	if (deliver_message_write(f, msg, rcpt, &what) < 0 ||
	    lseek(f, 0, SEEK_SET) < 0) {
		close(f);
		return -1;
	}
	return f;
}

/* The helper's work for a command: run it, wait for it by the deadline,
 * judge its exit status. */
static void
cmd_helper(const struct lx_target *t, const struct deliver_msg *msg,
    const char *rcpt, long long deadline_ms, struct cmd_result *r)
{
	char		 out[CMD_OUTPUT_MAX + 1], text[DELIVER_TEXT_SIZE];
	size_t		 kept = 0;
	struct pollfd	 p;
	int		 o[2], in, status = 0, done = 0;
	pid_t		 pid;
	long long	 left;

	out[0] = '\0';
	signal(SIGCHLD, SIG_DFL);
	if ((in = cmd_feed(msg, rcpt)) < 0 || pipe2(o, O_CLOEXEC) < 0) {
		cmd_set(r, DELIVER_DEFER, "4.3.0", "cannot start command");
		return;
	}
	if ((pid = fork()) < 0) {
		cmd_set(r, DELIVER_DEFER, "4.3.0", "cannot fork command");
		return;
	}
	if (pid == 0)
		cmd_exec(t, msg, rcpt, in, o[1]);
	close(o[1]);
	close(in);
	p.fd = o[0];
	p.events = POLLIN;
	while (!done && (left = deadline_ms - io_now_ms()) > 0) {
		if (poll(&p, 1, (int)(left > 100 ? 100 : left)) > 0 &&
		    cmd_output(o[0], out, &kept) > 0)
			continue;
		done = waitpid(pid, &status, WNOHANG) == pid;
	}
	if (!done) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		cmd_set(r, DELIVER_DEFER, "4.3.0", "command timed out");
		return;
	}
	while (cmd_output(o[0], out, &kept) > 0)
		continue;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		cmd_set(r, DELIVER_OK, "2.0.0", "delivered to command");
		return;
	}
	if (WIFEXITED(status))
		snprintf(text, sizeof(text), "command exited %d: %s",
		    WEXITSTATUS(status), out);
	else
		snprintf(text, sizeof(text), "command killed by signal %d: %s",
		    WTERMSIG(status), out);
	if (WIFEXITED(status) && WEXITSTATUS(status) == CMD_EX_TEMPFAIL)
		cmd_set(r, DELIVER_DEFER, "4.3.0", text);
	else
		cmd_set(r, DELIVER_BOUNCE, "5.3.0", text);
}

/* path.lock, taken as Debian's liblockfile does (O_EXCL; one older than
 * DOTLOCK_STALE seconds is broken), by the deadline.  0 or -1. */
static int
file_dotlock(const char *lock, long long deadline_ms)
{
	struct stat	 st;
	int		 fd;

	while ((fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		if (errno != EEXIST || io_now_ms() >= deadline_ms)
			return -1;
		if (stat(lock, &st) == 0 && st.st_mtime + DOTLOCK_STALE <
		    time(NULL))
			unlink(lock);
		else
			usleep(100 * 1000);
	}
	close(fd);
	return 0;
}

/* The helper's work for a file or a spool mailbox (dotlock: also locked
 * with path.lock): as its owner, append under an fcntl lock.  A spool
 * mailbox must be the owner's own file. */
static void
file_helper(const struct lx_target *t, const struct deliver_msg *msg,
    const char *rcpt, long long deadline_ms, int dotlock,
    struct cmd_result *r)
{
	struct flock	 fl;
	struct stat	 st;
	const char	*what;
	char		 text[DELIVER_TEXT_SIZE], lock[DELIVER_PATH_SIZE];
	int		 fd;

	if (cmd_become(t->owner) < 0) {
		cmd_set(r, DELIVER_DEFER, "4.3.0", "cannot take the owner's ids");
		return;
	}
	snprintf(lock, sizeof(lock), "%.4000s.lock", t->text);
	if (dotlock && file_dotlock(lock, deadline_ms) < 0) {
		snprintf(text, sizeof(text), "cannot lock %.150s: %s", lock,
		    strerror(errno));
		cmd_set(r, DELIVER_DEFER, "4.2.1", text);
		return;
	}
	fd = open(t->text, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (dotlock && (st.st_uid != t->owner->uid || st.st_nlink != 1))) {
		int perm = fd >= 0 || errno == EACCES || errno == ELOOP;

		snprintf(text, sizeof(text), "cannot use %.150s: %s", t->text,
		    fd >= 0 ? "not a regular file of its own" :
		    strerror(errno));
		cmd_set(r, perm ? DELIVER_BOUNCE : DELIVER_DEFER,
		    perm ? "5.2.0" : "4.2.0", text);
		goto out;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLK, &fl) < 0) {
		if (io_now_ms() >= deadline_ms) {
			cmd_set(r, DELIVER_DEFER, "4.2.1", "file is locked");
			goto out;
		}
		usleep(100 * 1000);
	}
	if (mbox_append(fd, msg, rcpt, &what) < 0) {
		snprintf(text, sizeof(text), "%s: %s", what, strerror(errno));
		cmd_set(r, DELIVER_DEFER, "4.2.0", text);
	} else
		cmd_set(r, DELIVER_OK, "2.0.0", dotlock ? "delivered to mailbox" :
		    "appended to file");
out:
	if (fd >= 0)
		close(fd);
	if (dotlock)
		unlink(lock);
}

/* The helper for t, and its answer by the deadline. */
static void
cmd_run(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, const struct lx_target *t, struct deliver_result *res)
{
	struct cmd_result	 r;
	struct pollfd		 p;
	int			 fd[2];
	pid_t			 pid;
	long long		 left;
	ssize_t			 n = -1;

	if (pipe2(fd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "cannot start a helper: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fd[0]);
		memset(&r, 0, sizeof(r));
		if (t->kind == LX_COMMAND)
			cmd_helper(t, msg, rcpt, ctx->deadline_ms, &r);
		else
			file_helper(t, msg, rcpt, ctx->deadline_ms,
			    t->kind == LX_MAILBOX, &r);
		_exit(io_write_all(fd[1], &r, sizeof(r)) < 0);
	}
	close(fd[1]);
	p.fd = fd[0];
	p.events = POLLIN;
	left = ctx->deadline_ms + CMD_GRACE_MS - io_now_ms();
	if (left > 0 && poll(&p, 1, (int)left) > 0)
		n = io_read_full(fd[0], &r, sizeof(r), CMD_GRACE_MS) == 0 ?
		    (ssize_t)sizeof(r) : -1;
	close(fd[0]);
	if (n != (ssize_t)sizeof(r) || r.status < DELIVER_OK ||
	    r.status > DELIVER_BOUNCE) {
		kill(pid, SIGKILL);
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "%s delivery did not finish",
		    t->kind == LX_COMMAND ? "command" : "file");
		return;
	}
	r.dsn[sizeof(r.dsn) - 1] = '\0';
	r.text[sizeof(r.text) - 1] = '\0';
	deliver_result_set(res, (enum deliver_status)r.status, r.dsn, "%s",
	    r.text);
}

/* t's key in the message's duplicate filter.  A command's run differs
 * by everything its environment carries (cmd_exec: RECIPIENT and what is
 * taken from it, EXTENSION, the owner's ids, USER and HOME), so all of it
 * is in the key: two recipients share a run only if it would be the same
 * run.  A file's copy is the same whoever it is for. */
static int
cmd_dup_key(struct buf *key, const char *rcpt, const struct lx_target *t)
{
	if (local_dup_key(key, t->kind, t->text, t->owner->uid, NULL) < 0)
		return -1;
	if (t->kind != LX_COMMAND)
		return 0;
	return buf_appendf(key, "\n%s\n%s\n%lu\n%s\n%s", rcpt, t->ext,
	    (unsigned long)t->owner->gid, t->owner->name, t->owner->home);
}

const char *
local_command_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, const struct lx_target *t, struct deliver_result *res)
{
	const struct deliver_result	*made;
	struct buf			 key;
	const char			*by = NULL;

	if (t->owner == NULL) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "internal error: %s target without an owner",
		    t->kind == LX_COMMAND ? "command" : "file");
		return NULL;
	}
	buf_init(&key, LOCAL_DUP_KEY_MAX);
	if (cmd_dup_key(&key, rcpt, t) < 0)
		buf_reset(&key);
	if (key.len > 0 &&
	    (made = local_dup_find(msg->dup, buf_str(&key), &by)) != NULL)
		*res = *made;	/* an earlier recipient's copy */
	else {
		cmd_run(ctx, msg, rcpt, t, res);
		if (key.len > 0)
			(void)local_dup_add(msg->dup, buf_str(&key), res,
			    rcpt);
	}
	buf_free(&key);
	return by;
}
