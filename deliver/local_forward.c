/*
 * local_forward - an alias or .forward target outside our domains: the
 * message goes back into the queue as a new message to that address, with
 * the original sender (so bounces go where the first ones would), a
 * Delivered-To: of the recipient that forwarded it at its top (so a loop
 * that brings it back is caught, local.c), and its own queue id; qmgr is
 * told (QMGR_T_NOTIFY, best effort: its scan of incoming/ finds it too) and
 * routes it like any other.  All the remote targets of one recipient go
 * in one new message, with one recipient line each: one queue file, not
 * one per target; an address another recipient of the same message had
 * forwarded already is left out (local.c asks the message's duplicate
 * filter, local_dup.c, first).  This is Postfix local(8)'s
 * resubmission through cleanup, made with common/queue_writer.c: the new
 * file is durable (fsync, rename, fsync of incoming/) before this target
 * counts as delivered.  The file is written with the ids of the queue's
 * owner (active/'s), as smtpd's are, never as root.
 *
 * A target of an alias that has an owner ("owner-NAME", local_expand.h)
 * is forwarded from owner-NAME@myhostname instead, so its later bounces
 * go to the owner; and a target of such an alias that failed here for good
 * is reported to the owner the same way: a new file from owner-NAME with
 * the failed member as its one recipient, already bounced (status byte and
 * outcome record, written before the file enters incoming/), which qmgr
 * finds with nothing to deliver and a failure notice due -- sent by
 * bounce(8) to the owner, as Postfix's local(8) sends it with the owner as
 * sender.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "privs.h"
#include "queue_client.h"
#include "queue_outcome.h"
#include "queue_writer.h"
#include "deliver.h"

#define FORWARD_NOTIFY_MS	1000	/* qmgr's answer to a notice */

/* The message from the queue file, after a Delivered-To: line. */
static int
forward_copy(struct queue_writer *w, const struct deliver_msg *msg,
    const char *rcpt)
{
	char	 buf[16 * 1024];
	off_t	 off = msg->offset;
	ssize_t	 n;

	if (queue_writer_write(w, "Delivered-To: ", 14) < 0 ||
	    queue_writer_write(w, rcpt, strlen(rcpt)) < 0 ||
	    queue_writer_write(w, "\n", 1) < 0)
		return -1;
	while (off < msg->size) {
		size_t want = sizeof(buf);

		if ((off_t)want > msg->size - off)
			want = (size_t)(msg->size - off);
		if ((n = pread(msg->fd, buf, want, off)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		if (queue_writer_write(w, buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

/* What goes into the new file besides the message: to[0..n) (orcpt and
 * failed only with n == 1). */
struct forward_file {
	const char			*sender;
	char *const			*to;
	int				 n;
	const char			*orcpt;		/* or NULL */
	const struct deliver_result	*failed;	/* or NULL: pending */
};

/* Make the file durable with its recipient bounced: the outcome record
 * after the message, synced before the file enters incoming/ (qmgr must
 * never see the recipient bounced without its reason). */
static int
forward_commit_failed(struct queue_writer *w, const struct deliver_result *f)
{
	struct queue_envelope	 env;
	struct queue_outcome	 o;

	memset(&env, 0, sizeof(env));
	memset(&o, 0, sizeof(o));
	o.rcpt = 0;
	o.action = OUTCOME_BOUNCED;
	o.time = (long long)time(NULL);
	strlcpy(o.code, f->dsn, sizeof(o.code));
	strlcpy(o.text, f->text, sizeof(o.text));
	env.version = 2;
	env.nrcpt = 1;
	if (queue_writer_sync(w) < 0)
		return -1;
	env.outcome_end = w->size;
	if (queue_outcome_write(w->fd, &env, &o) < 0 || fdatasync(w->fd) < 0)
		return -1;
	return queue_writer_publish(w);
}

static int
forward_write(const struct deliver_msg *msg, const char *rcpt,
    const struct forward_file *ff, char *id, size_t idlen)
{
	struct queue_writer	*w = xmalloc(sizeof(*w));
	struct queue_envelope	 env;
	struct queue_rcpt	*r = xcalloc((size_t)ff->n, sizeof(*r));
	int			 i, rc = -1;

	memset(&env, 0, sizeof(env));
	env.arrival = (long long)time(NULL);
	env.client = "localhost";
	env.helo = "localhost";
	env.sender = (char *)ff->sender;
	for (i = 0; i < ff->n; i++) {
		r[i].addr = ff->to[i];
		r[i].status = ff->failed != NULL ? RCPT_BOUNCED : RCPT_PENDING;
	}
	if (ff->n == 1)
		r[0].orcpt = (char *)ff->orcpt;
	env.rcpt = r;
	env.nrcpt = ff->n;
	if (queue_writer_open(w, &env) == 0) {
		if (forward_copy(w, msg, rcpt) == 0 && (ff->failed != NULL ?
		    forward_commit_failed(w, ff->failed) :
		    queue_writer_commit(w)) == 0) {
			snprintf(id, idlen, "%s", w->id);
			rc = 0;
		} else
			queue_writer_abort(w);
	}
	free(r);
	free(w);
	return rc;
}

/* The file, written with the queue owner's ids: 0 and its id, or -1 with
 * res a deferral. */
static int
forward_queue(const struct deliver_msg *msg, int j,
    const struct forward_file *ff, char *id, size_t idlen,
    struct deliver_result *res)
{
	struct stat	 st;
	int		 rc, saved;

	if (stat(queue_dir_name(QDIR_ACTIVE), &st) < 0 ||
	    privs_become(st.st_uid, st.st_gid) < 0) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "cannot take the queue owner's ids: %s", strerror(errno));
		return -1;
	}
	rc = forward_write(msg, msg->req->rcpt[j], ff, id, idlen);
	saved = errno;
	privs_restore();
	if (rc < 0)
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "cannot queue the %s: %s", ff->failed != NULL ?
		    "failure report" : "forwarded message", strerror(saved));
	return rc;
}

/* Queued, qmgr is told: it answers a notice from its event loop, also
 * while it waits for this deliver's reply. */
static int
forward_queue_notify(const struct deliver_msg *msg, int j,
    const struct forward_file *ff, char *id, size_t idlen,
    struct deliver_result *res)
{
	if (forward_queue(msg, j, ff, id, idlen, res) < 0)
		return -1;
	(void)queue_client_notify(id, FORWARD_NOTIFY_MS);
	return 0;
}

void
local_forward_list(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, char *const *to, int n, struct deliver_result *res)
{
	struct forward_file	 ff;
	struct deliver_result	 one;
	char			 id[QUEUE_ID_SIZE], **clean;
	int			 i, k = 0;

	/* Every remote target of one recipient in one new message. */
	(void)ctx;
	clean = xcalloc((size_t)n, sizeof(*clean));
	for (i = 0; i < n; i++)
		if (!proto_deliver_addr_clean(to[i]))
			deliver_result_set(&res[i], DELIVER_BOUNCE, "5.1.3",
			    "bad forwarding address");
		else
			clean[k++] = to[i];
	if (k == 0) {
		free(clean);
		return;
	}
	memset(&ff, 0, sizeof(ff));
	ff.sender = msg->req->sender;
	ff.to = clean;
	ff.n = k;
	if (forward_queue_notify(msg, j, &ff, id, sizeof(id), &one) == 0)
		deliver_result_set(&one, DELIVER_OK, "2.0.0",
		    "forwarded as %s", id);
	for (i = 0; i < n; i++)
		if (proto_deliver_addr_clean(to[i]))
			res[i] = one;
	free(clean);
}

void
local_forward(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *to, const char *sender, struct deliver_result *res)
{
	struct forward_file	 ff;
	char			 id[QUEUE_ID_SIZE], *one = (char *)to;

	(void)ctx;
	if (!proto_deliver_addr_clean(to)) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.3",
		    "bad forwarding address");
		return;
	}
	memset(&ff, 0, sizeof(ff));
	ff.sender = sender != NULL ? sender : msg->req->sender;
	ff.to = &one;
	ff.n = 1;
	if (forward_queue_notify(msg, j, &ff, id, sizeof(id), res) == 0)
		deliver_result_set(res, DELIVER_OK, "2.0.0",
		    "forwarded as %s", id);
}

void
local_forward_failure(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const char *owner, const char *member,
    struct deliver_result *res)
{
	struct forward_file	 ff;
	struct deliver_result	 failed = *res;
	char			 id[QUEUE_ID_SIZE], orcpt[QUEUE_ADDR_MAX], *one;

	(void)ctx;
	memset(&ff, 0, sizeof(ff));
	ff.sender = owner;
	one = proto_deliver_addr_clean(member) ? (char *)member :
	    (char *)msg->req->rcpt[j];
	ff.to = &one;
	ff.n = 1;
	snprintf(orcpt, sizeof(orcpt), "rfc822;%s", msg->req->rcpt[j]);
	ff.orcpt = strlen(msg->req->rcpt[j]) + 7 < sizeof(orcpt) ? orcpt : NULL;
	ff.failed = &failed;
	if (forward_queue_notify(msg, j, &ff, id, sizeof(id), res) == 0)
		deliver_result_set(res, DELIVER_OK, "2.0.0",
		    "failure reported to %s as %s: %s", owner, id, failed.text);
}
