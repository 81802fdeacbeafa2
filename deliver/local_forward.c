/*
 * local_forward - an alias or .forward target outside our domains: the
 * message goes back into the queue as a new message to that address, with
 * the original sender (so bounces go where the first ones would), a
 * Delivered-To: of the recipient that forwarded it at its top (so a loop
 * that brings it back is caught, local.c), and its own queue id; qmgr is
 * told (QMGR_T_NOTIFY, best effort: its scan of incoming/ finds it too) and
 * routes it like any other.  All the remote targets of one recipient go
 * in one new message, with one recipient line each: one queue file, not
 * one per target.  This is Postfix local(8)'s
 * resubmission through cleanup, made with common/queue_writer.c: the new
 * file is durable (fsync, rename, fsync of incoming/) before this target
 * counts as delivered.  The file is written with the ids of the queue's
 * owner (active/'s), as smtpd's are, never as root.
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

static int
forward_write(const struct deliver_msg *msg, const char *rcpt,
    char *const *to, int n, char *id, size_t idlen)
{
	struct queue_writer	*w = xmalloc(sizeof(*w));
	struct queue_envelope	 env;
	struct queue_rcpt	*r = xcalloc((size_t)n, sizeof(*r));
	int			 i, rc = -1;

	memset(&env, 0, sizeof(env));
	env.arrival = (long long)time(NULL);
	env.client = "localhost";
	env.helo = "localhost";
	env.sender = (char *)msg->req->sender;
	for (i = 0; i < n; i++) {
		r[i].addr = to[i];
		r[i].status = RCPT_PENDING;
	}
	env.rcpt = r;
	env.nrcpt = n;
	if (queue_writer_open(w, &env) == 0) {
		if (forward_copy(w, msg, rcpt) == 0 &&
		    queue_writer_commit(w) == 0) {
			snprintf(id, idlen, "%s", w->id);
			rc = 0;
		} else
			queue_writer_abort(w);
	}
	free(r);
	free(w);
	return rc;
}

void
local_forward_list(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, char *const *to, int n, struct deliver_result *res)
{
	const char		*rcpt = msg->req->rcpt[j];
	struct deliver_result	 one;
	struct stat		 st;
	char			 id[QUEUE_ID_SIZE], **clean;
	int			 i, k = 0, rc, saved;

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
	if (stat(queue_dir_name(QDIR_ACTIVE), &st) < 0 ||
	    privs_become(st.st_uid, st.st_gid) < 0) {
		deliver_result_set(&one, DELIVER_DEFER, "4.3.0",
		    "cannot take the queue owner's ids: %s", strerror(errno));
		rc = -2;
	} else {
		rc = forward_write(msg, rcpt, clean, k, id, sizeof(id));
		saved = errno;
		privs_restore();
		if (rc < 0)
			deliver_result_set(&one, DELIVER_DEFER, "4.3.0",
			    "cannot queue the forwarded message: %s",
			    strerror(saved));
		else
			deliver_result_set(&one, DELIVER_OK, "2.0.0",
			    "forwarded as %s", id);
	}
	for (i = 0; i < n; i++)
		if (proto_deliver_addr_clean(to[i]))
			res[i] = one;
	free(clean);
	/* qmgr answers a notice from its event loop, also while it waits
	 * for this deliver's reply. */
	if (rc == 0)
		(void)queue_client_notify(id, FORWARD_NOTIFY_MS);
}

void
local_forward(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *to, struct deliver_result *res)
{
	char	*one = (char *)to;

	local_forward_list(ctx, msg, j, &one, 1, res);
}
