/*
 * deliver_record - a delivery recorded where it happens: once a message is
 * durably in a recipient's mailbox (the fsync of new/), deliver sets that
 * recipient's status byte in the queue file to delivered, before it
 * replies to qmgr; and a recipient whose byte already says delivered (a
 * request repeated after deliver or qmgr died, or after qmgr gave up
 * waiting) is answered "ok" without a second delivery.  So a process
 * killed anywhere but between the fsync of new/ and the mark (a few
 * system calls) delivers nothing twice.
 *
 * The byte is a pwrite without fsync: a process crash keeps it (the page
 * cache is the kernel's), only a power loss can take it back, and then the
 * delivery is repeated, never lost.  Only deliveries are marked: a bounce
 * has nothing to repeat, and its notification is qmgr's to record first.
 * The queue file is locked (deliver_message.c) while it is read and
 * marked, so two deliver processes never both see a recipient pending.
 *
 * Requests name recipients by address; they are matched to the file's
 * rcpt lines here, each line at most once per request, a pending line
 * before a finished one of the same address.  A request recipient with no
 * line (a qmgr bug) is delivered and not marked: as before this change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "deliver.h"

/* The first line from start on (wrapping) with addr, not yet taken, and
 * pending if pending is set; -1 if none. */
static int
record_find(const struct queue_envelope *env, const char *taken,
    const char *addr, int start, int pending)
{
	int	 n = env->nrcpt, k, i;

	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (taken[i] || strcmp(env->rcpt[i].addr, addr) != 0)
			continue;
		if (!pending || env->rcpt[i].status == RCPT_PENDING)
			return i;
	}
	return -1;
}

/* qmgr lists a request's recipients in file order, so each search starts
 * after the last line found and usually succeeds at once. */
void
deliver_record_match(struct deliver_msg *msg)
{
	const struct deliver_request	*req = msg->req;
	char				*taken;
	int				 j, i, next = 0;

	msg->line = xcalloc((size_t)req->nrcpt, sizeof(*msg->line));
	taken = xcalloc(msg->env.nrcpt > 0 ? (size_t)msg->env.nrcpt : 1, 1);
	for (j = 0; j < req->nrcpt; j++) {
		msg->line[j] = -1;
		if (msg->env.nrcpt == 0)
			continue;
		i = record_find(&msg->env, taken, req->rcpt[j], next, 1);
		if (i < 0)
			i = record_find(&msg->env, taken, req->rcpt[j], next,
			    0);
		if (i < 0) {
			log_qid(LOG_LEVEL_WARN, req->id, "to=<%s> is not a "
			    "recipient of the queue file: not recorded",
			    req->rcpt[j]);
			continue;
		}
		taken[i] = 1;
		msg->line[j] = i;
		next = (i + 1) % msg->env.nrcpt;
	}
	free(taken);
}

int
deliver_record_done(const struct deliver_msg *msg, int j)
{
	return msg->line != NULL && msg->line[j] >= 0 &&
	    msg->env.rcpt[msg->line[j]].status == RCPT_DELIVERED;
}

void
deliver_record_mark(const struct deliver_msg *msg, int j)
{
	struct queue_rcpt	*r;

	if (msg->line == NULL || msg->line[j] < 0)
		return;
	r = &msg->env.rcpt[msg->line[j]];
	if (r->status == RCPT_DELIVERED)
		return;
	if (queue_rcpt_write(msg->fd, &msg->env, msg->line[j],
	    RCPT_DELIVERED) < 0) {
		/* Delivered all the same; qmgr records it or repeats it. */
		log_qid(LOG_LEVEL_WARN, msg->req->id, "cannot record the "
		    "delivery to <%s> in the queue file: %s",
		    msg->req->rcpt[j], strerror(errno));
		return;
	}
	r->status = RCPT_DELIVERED;
}

void
deliver_record_all(const struct deliver_msg *msg,
    const struct deliver_result *result)
{
	int	 j;

	for (j = 0; j < msg->req->nrcpt; j++)
		if (result[j].status == DELIVER_OK)
			deliver_record_mark(msg, j);
}
