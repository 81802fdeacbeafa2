/*
 * proto_bounce - the bounce protocol (PROTO_BOUNCE_VERSION 1), spoken by
 * qmgr to the notifications service (bounce(8)) on BOUNCE_SOCKET: "write
 * the delivery status notification (RFC 3464) about these recipients of
 * this message".  bounce reads the message's queue file in active/ (its
 * envelope, DSN fields and outcome records), composes the notice and
 * commits it into incoming/ as a new message from <> (queue_writer: file
 * and directory fsync) before it replies, so that qmgr may record the
 * notice as sent, and change the original's state, only once the notice is
 * durable.
 *
 *	BOUNCE_T_NOTICE v=1 id=<queue id in active/>
 *	                event=failed|delayed|delivered
 *	                rcpts=<i>[,<i>...]	recipient indices, ascending
 *	                [until=<epoch s>]	delayed: the end of retries
 *	    -> BOUNCE_T_REPLY status=sent id=<queue id of the notice>
 *	    -> BOUNCE_T_REPLY status=none	no notice is due (a message no
 *	                     notice goes back for): done, nothing was queued
 *	    -> IPC_T_ERROR text=<reason>	bad request, unreadable file, no
 *	                     room in the queue: nothing was queued; qmgr keeps
 *	                     the message and asks again later
 *
 * One request per connection is enough (qmgr asks once per message and
 * event; for more recipients than one rcpts value can name, once per part
 * of them, so such a message gets several notices); the reply comes after
 * the notice's fsync.  qmgr does not wait for it (several requests may be
 * out at once, each on its own connection) and closes a connection that
 * stays unanswered too long (only the oldest request's clock runs);
 * bounce serves no request whose client has hung up by the time it reads
 * it, and publishes no notice whose client hung up while it composed and
 * fsynced it, since that client asks again.  IPC_T_ERROR is about this
 * request only: qmgr defers the message but goes on asking for others.
 *
 * Who a notice goes to (bounce_notice_kind): the sender of an ordinary
 * message; for a notice (sender <>, helo BOUNCE_HELO_NOTICE) that failed,
 * 2bounce_notice_recipient (a "double bounce", helo BOUNCE_HELO_2BOUNCE);
 * for a double bounce, or any other message from <>, nobody, so notices
 * never loop.  Both sides use the same function on the queue envelope.
 */
#ifndef TERN_PROTO_BOUNCE_H
#define TERN_PROTO_BOUNCE_H

#include <stddef.h>

#include "proto_common.h"

struct queue_envelope;

#define BOUNCE_SOCKET		"private/bounce"
#define PROTO_BOUNCE_VERSION	1

#define BOUNCE_T_NOTICE		0x50
#define BOUNCE_T_REPLY		0x51

/* The client and helo records of a notice's queue file: they mark it as
 * ours (smtpd never writes "localhost" as a client; pickup writes helo
 * "localhost"). */
#define BOUNCE_CLIENT		"localhost"
#define BOUNCE_HELO_NOTICE	"tern-bounce"
#define BOUNCE_HELO_2BOUNCE	"tern-2bounce"

#define BOUNCE_RCPTS_MAX	(60 * 1024)	/* bytes of the rcpts value */

enum bounce_event { BOUNCE_FAILED, BOUNCE_DELAYED, BOUNCE_DELIVERED };

enum bounce_kind {
	BOUNCE_KIND_NONE,	/* nobody gets a notice about this message */
	BOUNCE_KIND_SENDER,	/* its sender does */
	BOUNCE_KIND_2BOUNCE	/* it is a failed notice: the postmaster */
};

/* Who gets a notice about event on env's message. */
enum bounce_kind bounce_notice_kind(const struct queue_envelope *,
	    enum bounce_event);

/* "failed", ... and back; -1 for an unknown word. */
const char *bounce_event_name(enum bounce_event);
int	bounce_event_parse(const char *, enum bounce_event *);

/* Parse an rcpts value: ascending indices below nrcpt, each once, at least
 * one.  Fills idx (room for nrcpt) and *n.  0 or -1.  Fuzzable. */
int	bounce_rcpts_parse(const char *s, int nrcpt, int *idx, int *n);

#endif
