/*
 * ternctl_admin - the queue-changing commands: hold, release, requeue and
 * delete, by id, by "-" (ids on standard input), by filters, or ALL, with
 * the count printed as Postfix's postsuper does.  Only root and the mail
 * owner may (the queue's modes say so; ctl_may_admin says it clearly).
 *
 * Every change is one rename between queue directories (never over an
 * existing name, queue_rename) or, for delete, an unlink (the file is
 * really gone, not recycled into free/), and then an fsync of the
 * directories changed.  A message in active/ is left alone: qmgr holds it
 * open and would not find it when the attempt ends; it is named, and the
 * command can be repeated once the attempt is over.  qmgr races us only by
 * renaming too, so a file that vanished was taken by qmgr, and is looked
 * for again.  Released and requeued mail goes to incoming/ and qmgr is
 * told (best effort: its scan finds it anyway).  Each change is logged.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "proto_qmgr.h"
#include "queue.h"
#include "queue_client.h"
#include "ternctl.h"

#define CTL_LINE_MAX	256	/* an id line on standard input */
#define CTL_RETRY	3	/* looks for a file qmgr moved meanwhile */

struct ctl_op {
	enum ctl_cmd	 cmd;
	const char	*verb;		/* for the count, Postfix's words */
	const char	*what;		/* for refusals */
	unsigned	 from;		/* bits (1 << QDIR_*) it acts on */
	enum queue_dir	 to;		/* QDIR_COUNT: delete */
	int		 all_active;	/* ALL names what is in active/ too */
};

#define B(d)	(1u << (d))

static const struct ctl_op ctl_ops[] = {
	{ CTL_QUEUE_HOLD, "Placed on hold", "queue hold",
	    B(QDIR_INCOMING) | B(QDIR_DEFERRED), QDIR_HOLD, 1 },
	{ CTL_QUEUE_RELEASE, "Released from hold", "queue release",
	    B(QDIR_HOLD), QDIR_INCOMING, 0 },
	{ CTL_QUEUE_REQUEUE, "Requeued", "queue requeue",
	    B(QDIR_DEFERRED) | B(QDIR_HOLD), QDIR_INCOMING, 0 },
	{ CTL_QUEUE_DELETE, "Deleted", "queue delete",
	    B(QDIR_INCOMING) | B(QDIR_DEFERRED) | B(QDIR_HOLD) |
	    B(QDIR_CORRUPT), QDIR_COUNT, 1 },
};

/* Where ids are looked for, in the order qmgr moves them along. */
static const enum queue_dir ctl_search[] = {
	QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT
};

struct ctl_run {
	const struct ctl_op *op;
	int		 done, busy, missing;
	unsigned	 touched;	/* directories to fsync */
	int		 qmgr_fd;	/* for NOTIFY; -1: not (yet) open */
	struct queue_list_filter filter;
};

/* The directory holding id, or QDIR_COUNT. */
static enum queue_dir
ctl_locate(const char *id)
{
	char	 path[QUEUE_PATH_SIZE];
	size_t	 i;

	for (i = 0; i < sizeof(ctl_search) / sizeof(ctl_search[0]); i++)
		if (queue_path(path, sizeof(path), ctl_search[i], id) == 0 &&
		    access(path, F_OK) == 0)
			return ctl_search[i];
	return QDIR_COUNT;
}

static void
ctl_notify(struct ctl_run *r, const char *id)
{
	struct ipc_msg	 req, reply;

	if (r->qmgr_fd == -1 && (r->qmgr_fd = ipc_connect(QMGR_SOCKET)) == -1) {
		r->qmgr_fd = -2;	/* qmgr down: its start-up scan will do */
		return;
	}
	if (r->qmgr_fd < 0)
		return;
	ipc_msg_init(&req, QMGR_T_NOTIFY);
	if (ipc_msg_add_int(&req, "v", PROTO_QMGR_VERSION) == 0 &&
	    ipc_msg_add(&req, "id", id) == 0 &&
	    ipc_call(r->qmgr_fd, &req, &reply, 5000) == 0)
		ipc_msg_free(&reply);
	ipc_msg_free(&req);
}

/* Act on one message now in d.  1 done, 0 not here any more, -1 failed. */
static int
ctl_act(struct ctl_run *r, const char *id, enum queue_dir d)
{
	char	 path[QUEUE_PATH_SIZE];

	if (r->op->to == QDIR_COUNT) {
		if (queue_path(path, sizeof(path), d, id) == -1)
			return -1;
		if (unlink(path) == -1)
			return errno == ENOENT ? 0 : -1;
		log_qid(LOG_LEVEL_INFO, id, "removed from %s/ by ternctl "
		    "(uid %u)", queue_dir_name(d), (unsigned)getuid());
	} else {
		if (queue_move(id, d, r->op->to) == -1)
			return errno == ENOENT ? 0 : -1;
		log_qid(LOG_LEVEL_INFO, id, "moved from %s/ to %s/ by ternctl "
		    "(uid %u)", queue_dir_name(d), queue_dir_name(r->op->to),
		    (unsigned)getuid());
		r->touched |= B(r->op->to);
		if (r->op->to == QDIR_INCOMING)
			ctl_notify(r, id);
	}
	r->touched |= B(d);
	return 1;
}

/* One message by id.  named: the user asked for it by name, so a message
 * not found or not in a queue this command acts on is worth a line. */
static void
ctl_one(struct ctl_run *r, const char *id, int named)
{
	enum queue_dir	 d;
	int		 tries, rc;

	for (tries = 0; tries < CTL_RETRY; tries++) {
		if ((d = ctl_locate(id)) == QDIR_COUNT)
			break;
		if (d == QDIR_ACTIVE) {
			fprintf(stderr, "ternctl: %s: being delivered "
			    "(active/); left alone, try again later\n", id);
			r->busy++;
			return;
		}
		if (!(r->op->from & B(d))) {
			if (named) {
				fprintf(stderr, "ternctl: %s: in %s/, not "
				    "changed by %s\n", id, queue_dir_name(d),
				    r->op->what);
				r->missing++;
			}
			return;
		}
		if ((rc = ctl_act(r, id, d)) == 1) {
			r->done++;
			return;
		}
		if (rc == -1) {
			fprintf(stderr, "ternctl: %s: %s/: %s\n", id,
			    queue_dir_name(d), strerror(errno));
			r->missing++;
			return;
		}
	}
	if (named) {
		fprintf(stderr, "ternctl: %s: no such message\n", id);
		r->missing++;
	}
}

static int
ctl_one_filtered(const struct queue_list_msg *m, void *arg)
{
	struct ctl_run	*r = arg;

	if (m->queue != QL_MAILDROP && queue_list_match(&r->filter, m))
		ctl_one(r, m->id, 0);
	return 0;
}

/* Every id in directory d, whether or not it parses (ALL). */
static int
ctl_all_in(struct ctl_run *r, enum queue_dir d)
{
	struct dirent	*de;
	DIR		*dp;

	if ((dp = opendir(queue_dir_name(d))) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dp)) != NULL)
		if (queue_id_valid(de->d_name))
			ctl_one(r, de->d_name, 0);
	closedir(dp);
	return 0;
}

static int
ctl_select(struct ctl_run *r, const struct ctl_opts *o)
{
	char	 line[CTL_LINE_MAX];
	size_t	 n;
	int	 d;

	if (o->all) {
		for (d = 0; d < QDIR_COUNT; d++)
			if (((r->op->from | (r->op->all_active ?
			    B(QDIR_ACTIVE) : 0)) & B(d)) &&
			    ctl_all_in(r, d) == -1)
				return -1;
		return 0;
	}
	if (o->stdin_ids) {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			n = strcspn(line, " \t\r\n");
			line[n] = '\0';
			if (queue_id_valid(line))
				ctl_one(r, line, 1);
		}
		return 0;
	}
	if (o->filtered) {
		r->filter = o->filter;
		r->filter.now = (long long)time(NULL);
		return queue_list_scan(ctl_one_filtered, r) == -1 ? -1 : 0;
	}
	for (d = 0; d < o->nargs; d++)
		ctl_one(r, o->args[d], 1);
	return 0;
}

static void
ctl_sync(unsigned touched)
{
	int	 d, fd;

	for (d = 0; d < QDIR_COUNT; d++) {
		if (!(touched & B(d)))
			continue;
		if ((fd = open(queue_dir_name(d), O_RDONLY | O_DIRECTORY)) ==
		    -1)
			continue;
		if (fsync(fd) == -1)
			fprintf(stderr, "ternctl: fsync %s/: %s\n",
			    queue_dir_name(d), strerror(errno));
		close(fd);
	}
}

int
ctl_queue_admin(const struct ctl_opts *o, const struct tern_config *cfg)
{
	struct ctl_run	 r;
	size_t		 i;

	memset(&r, 0, sizeof(r));
	r.qmgr_fd = -1;
	for (i = 0; i < sizeof(ctl_ops) / sizeof(ctl_ops[0]); i++)
		if (ctl_ops[i].cmd == o->cmd)
			r.op = &ctl_ops[i];
	if (r.op == NULL)
		return CTL_EX_SOFTWARE;
	if (!ctl_may_admin(cfg, r.op->what))
		return CTL_EX_NOPERM;
	if (chdir(cfg->queue_directory) == -1) {
		fprintf(stderr, "ternctl: queue directory %s: %s\n",
		    cfg->queue_directory, strerror(errno));
		return CTL_EX_TEMPFAIL;
	}
	log_open("ternctl", 0);
	if (ctl_select(&r, o) == -1) {
		fprintf(stderr, "ternctl: cannot read the queue: %s\n",
		    strerror(errno));
		return CTL_EX_TEMPFAIL;
	}
	ctl_sync(r.touched);
	if (r.qmgr_fd >= 0)
		close(r.qmgr_fd);
	printf("%s: %d message%s\n", r.op->verb, r.done, r.done == 1 ? "" :
	    "s");
	if (r.busy > 0)
		printf("Left alone while being delivered: %d message%s\n",
		    r.busy, r.busy == 1 ? "" : "s");
	return r.missing > 0 || (r.busy > 0 && !o->all && !o->filtered) ?
	    CTL_EX_FAIL : CTL_EX_OK;
}
