/*
 * sendmail_mailq - mailq (sendmail -bp): the queue in Postfix's mailq
 * layout, which monitoring plugins parse (check_mailq): a header line, one
 * block per message (id with '*' when active and '!' when held, size,
 * arrival, sender, then each pending recipient), a blank line after each,
 * and "-- N Kbytes in M Requests." or "Mail queue is empty".  Files still
 * in maildrop/ are listed as Postfix lists its maildrop queue.  It reads
 * the queue directories itself, so for now only root and the mail owner
 * may run it (Postfix's showq service would let everyone).  Also -q.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drop_file.h"
#include "ipc.h"
#include "proto_qmgr.h"
#include "queue.h"
#include "sendmail.h"

struct mailq_total {
	long long	 bytes;
	int		 n;
};

static void
mailq_header(FILE *f, int *first)
{
	if (*first)
		fprintf(f, "%-10s %8s %-20s %s\n", "-Queue ID-", "--Size--",
		    "----Arrival Time----", "-Sender/Recipient-------");
	*first = 0;
}

/* "Fri Nov 27 06:00:00 " as Postfix prints it (ctime's first 20). */
static void
mailq_time(long long t, char out[32])
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%a %b %e %H:%M:%S ", &tm) == 0)
		snprintf(out, 32, "%lld", t);
}

static void
mailq_message(FILE *f, enum queue_dir d, const char *id, int *first,
    struct mailq_total *tot)
{
	struct queue_envelope env;
	struct stat	 st;
	const char	*err;
	char		 when[32];
	int		 fd, i;

	if (queue_file_open(d, id, O_RDONLY, &env, &fd, &err) < 0)
		return;		/* gone, or corrupt: not mail to list */
	if (fstat(fd, &st) == 0)
		tot->bytes += st.st_size;
	tot->n++;
	close(fd);
	mailq_header(f, first);
	mailq_time(env.arrival, when);
	fprintf(f, "%-10s%c %8lld %20.20s %s\n", id,
	    d == QDIR_ACTIVE ? '*' : d == QDIR_HOLD ? '!' : ' ',
	    (long long)(env.data_len > 0 ? env.data_len : 0), when,
	    env.sender == NULL || env.sender[0] == '\0' ? "MAILER-DAEMON" :
	    env.sender);
	for (i = 0; i < env.nrcpt; i++)
		if (env.rcpt[i].status == RCPT_PENDING)
			fprintf(f, "%41s%s\n", "", env.rcpt[i].addr);
	fprintf(f, "\n");
	queue_envelope_free(&env);
}

static void
mailq_drop(FILE *f, const char *name, int *first, struct mailq_total *tot)
{
	struct stat	 st;
	char		 path[512], when[32];

	if (snprintf(path, sizeof(path), "%s/%s", DROP_DIR, name) >=
	    (int)sizeof(path) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	tot->bytes += st.st_size;
	tot->n++;
	mailq_header(f, first);
	mailq_time((long long)st.st_mtime, when);
	fprintf(f, "%-10s  %8lld %20.20s (maildrop queue, sender UID %u)\n\n",
	    name, (long long)st.st_size, when, (unsigned)st.st_uid);
}

/* List one directory; -1 (errno) if it cannot be read. */
static int
mailq_dir(FILE *f, const char *dir, enum queue_dir d, int *first,
    struct mailq_total *tot)
{
	struct dirent	*de;
	DIR		*dp;

	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dp)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (d == QDIR_COUNT)
			mailq_drop(f, de->d_name, first, tot);
		else
			mailq_message(f, d, de->d_name, first, tot);
	}
	closedir(dp);
	return 0;
}

int
sendmail_mailq(const struct tern_config *cfg, int out_fd)
{
	static const enum queue_dir dirs[] = {
		QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD
	};
	struct mailq_total tot = { 0, 0 };
	FILE		*f;
	size_t		 i;
	int		 first = 1;

	if (chdir(cfg->queue_directory) < 0) {
		fprintf(stderr, "mailq: queue directory %s: %s\n",
		    cfg->queue_directory, strerror(errno));
		return SM_EX_TEMPFAIL;
	}
	if ((f = fdopen(dup(out_fd), "w")) == NULL)
		return SM_EX_OSERR;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (mailq_dir(f, queue_dir_name(dirs[i]), dirs[i], &first,
		    &tot) < 0) {
			fprintf(stderr, "mailq: cannot read the queue (%s/: %s); "
			    "listing it needs root or the mail owner for now\n",
			    queue_dir_name(dirs[i]), strerror(errno));
			fclose(f);
			return SM_EX_TEMPFAIL;
		}
	/* maildrop/ may be unreadable (mode 1730 for the group): skip. */
	mailq_dir(f, DROP_DIR, QDIR_COUNT, &first, &tot);
	if (tot.n == 0)
		fprintf(f, "Mail queue is empty\n");
	else
		fprintf(f, "-- %lld Kbytes in %d Request%s.\n",
		    (tot.bytes + 1023) / 1024, tot.n, tot.n == 1 ? "" : "s");
	return fclose(f) == 0 ? SM_EX_OK : SM_EX_OSERR;
}

int
sendmail_flush(const struct tern_config *cfg)
{
	struct ipc_msg	 req, reply;
	int		 fd, rc = SM_EX_TEMPFAIL;

	if (chdir(cfg->queue_directory) < 0 ||
	    (fd = ipc_connect(QMGR_SOCKET)) < 0) {
		fprintf(stderr, "sendmail: cannot reach qmgr (%s/%s): %s\n",
		    cfg->queue_directory, QMGR_SOCKET, strerror(errno));
		return SM_EX_UNAVAILABLE;
	}
	ipc_msg_init(&req, QMGR_T_FLUSH);
	if (ipc_msg_add_int(&req, "v", PROTO_QMGR_VERSION) == 0 &&
	    ipc_call(fd, &req, &reply, 10000) == 0) {
		rc = reply.type == IPC_T_OK ? SM_EX_OK : SM_EX_SOFTWARE;
		ipc_msg_free(&reply);
	}
	if (rc != SM_EX_OK)
		fprintf(stderr, "sendmail: qmgr did not take the flush\n");
	ipc_msg_free(&req);
	close(fd);
	return rc;
}
