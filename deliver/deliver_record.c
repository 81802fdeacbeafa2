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
 * The matching and the mark are common/queue_mark.c, shared with the SMTP
 * client; this file applies them to deliver's requests.
 */
#include "deliver.h"
#include "queue_mark.h"

void
deliver_record_match(struct deliver_msg *msg)
{
	msg->line = queue_mark_match(&msg->env, msg->req->id,
	    msg->req->rcpt, msg->req->nrcpt);
}

int
deliver_record_done(const struct deliver_msg *msg, int j)
{
	return queue_mark_done(&msg->env, msg->line, j);
}

void
deliver_record_mark(const struct deliver_msg *msg, int j)
{
	/* Delivered all the same if this fails; qmgr records or repeats it. */
	(void)queue_mark_delivered(msg->fd, &msg->env, msg->req->id,
	    msg->line, j);
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
