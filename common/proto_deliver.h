/*
 * proto_deliver - the delivery protocol (PROTO_DELIVER_VERSION 4): qmgr asks
 * a transport (today the local one, deliver, on DELIVER_SOCKET) to deliver
 * one message to some of its recipients, all bound for one next hop.
 *
 *	DELIVER_T_REQUEST
 *	    v=4 (a transport also takes 3: the request did not change)
 *	    id=<queue id>
 *	    path=<queue file, relative to the queue directory: "active/<id>">
 *	    offset=<byte offset of the message in that file (data_off)>
 *	    sender=<envelope sender, "" for <>>
 *	    nexthop=<the next hop of the request's destination, as qmgr routed
 *	        it (qmgr_route.c): myhostname for "local"; a
 *	        host or domain for a remote transport>          (version 3)
 *	    nrcpt=<N, 1..DELIVER_RCPT_MAX>
 *	    rcpt.<i>=<recipient address>          for i = 0 .. N-1
 *	-> DELIVER_T_REPLY
 *	    nrcpt=<N>
 *	    status.<i>=ok | defer | bounce         one per request recipient,
 *	    dsn.<i>=<enhanced status, e.g. 2.0.0, 4.2.2, 5.1.1>   same order
 *	    text.<i>=<human-readable outcome, for logs and bounces>
 *	    [action.<i>=relayed | passed]       optional, with "ok" only: the
 *	        next hop took the message but sends no delivery notice
 *	        (RFC 3461: a server without DSN; qmgr reports "relayed"
 *	        itself when the sender asked for NOTIFY=SUCCESS), or it
 *	        took on the notices (a server with DSN, to which NOTIFY was
 *	        passed on: qmgr sends none), or "expanded" (local: an alias
 *	        or .forward delivered to several targets, RFC 3461 6.2.7.3;
 *	        added within version 4: an older qmgr counts the word as
 *	        unclear and reports "delivered"); absent: "delivered" (a
 *	        mailbox).  Added within version 3: an older qmgr ignores it,
 *	        and a reply without it means what it always did.
 *	    [mailbox.<i>=1]       optional, with "ok" only: the recipient went
 *	        to exactly one mailbox, a Maildir the agent's worker wrote
 *	        for its account (no alias or .forward with several targets,
 *	        no owner- alias, command, file, forwarding, mbox or
 *	        mailbox_transport), so the next requests for the same
 *	        address would go the same way: qmgr may give them to this
 *	        agent together (qmgr_transport.c, pool_filling).  Added
 *	        within version 4 on 2026-11-28: an older qmgr ignores it;
 *	        absent: not known, never filled.
 *
 * The next hop is the transport's business: myhostname for the local
 * transport (which checks nothing against it), a
 * domain (MX lookup) or "[host]:port" (no lookup) for an SMTP client.
 *
 * "ok" means the message is durably in the recipient's mailbox (or was
 * accepted by the next hop); "defer" means try again later; "bounce" means
 * never.  Every transport records an "ok" in the queue file before it
 * replies: it opens "path" read-write, takes a POSIX write lock on it
 * (F_SETLK; a file locked by another process is deferred, "busy"), reads
 * the header under the lock, and sets the status byte of each recipient
 * the mailbox or the next hop has accepted to delivered (queue_rcpt_write,
 * queue_file.h; no fsync) before the reply, after which it closes the
 * file.  A recipient whose byte already says delivered is answered "ok"
 * without another attempt.  So a transport or qmgr killed after the
 * acceptance and the record repeats nothing; only a kill between the two
 * can (deliver closes that gap too: maildir.c), and a power loss, which
 * may repeat a delivery but never loses one.  common/queue_mark.c does
 * this for deliver (deliver_record.c) and the SMTP client (which takes no
 * lock: see docs/ARCHITECTURE.md); the notifications must do the same.  A transport process serves one connection at a time; qmgr keeps
 * up to deliver_concurrency connections open.  On one connection qmgr may
 * send up to DELIVER_PIPELINE_MAX requests before it reads a reply (since
 * version 2; 8 until 2026-11-27, when it became 32 without a change of
 * version: an agent reads requests as they come, however many wait, so a
 * deeper pipeline changes nothing on the wire; qmgr keeps 8 for the SMTP
 * and LMTP clients); the replies come back in request order.  deliver
 * handles the requests it finds waiting (up to DELIVER_BATCH_MAX, 16, and
 * about 100 recipients) as one batch, so deliveries into the same mailbox
 * share a privilege switch and one fsync of new/, and it answers each only
 * when the whole batch is durable; a full pipeline holds the next batch
 * while one is made.  A malformed request gets IPC_T_ERROR, in its place
 * in the order.
 *
 * Every attribute name is spelt here once, and the one codec (proto_deliver.c,
 * in libtern) encodes and checks both messages, so each transport and qmgr
 * speak the protocol by linking it.  The decoders trust nothing: a request
 * with a missing, repeated, out-of-range or unannounced attribute of this
 * protocol is refused whole (attributes of other names are ignored, so the
 * protocol can grow); a reply with the wrong count or an unannounced outcome
 * is unusable, and a recipient whose outcome is unclear counts as deferred.
 */
#ifndef TERN_PROTO_DELIVER_H
#define TERN_PROTO_DELIVER_H

#include <sys/types.h>

#include "ipc.h"
#include "proto_common.h"

#define DELIVER_SOCKET		"private/deliver"
#define PROTO_DELIVER_VERSION	4
#define PROTO_DELIVER_VERSION_MIN 3	/* oldest request still taken */
#define DELIVER_RCPT_MAX	1000
#define DELIVER_PIPELINE_MAX	32	/* requests out on one connection */
#define DELIVER_BATCH_MAX	16	/* requests deliver takes as one batch:
					   half of what qmgr may pipeline, so
					   the next batch waits while this one
					   is made (qmgr's fill counts on it) */
#define DELIVER_NEXTHOP_MAX	300	/* a domain, or "[IPv6 address]:port" */
#define DELIVER_REPLY_SHORT_TEXT 48	/* texts are cut to this if a reply
					   would not fit in one frame */

#define DELIVER_T_REQUEST	0x20
#define DELIVER_T_REPLY		0x21

/* Attribute names.  The per-recipient ones are "<name>.<i>", i in decimal
 * without leading zeros. */
#define DELIVER_A_VERSION	"v"
#define DELIVER_A_ID		"id"
#define DELIVER_A_PATH		"path"
#define DELIVER_A_OFFSET	"offset"
#define DELIVER_A_SENDER	"sender"
#define DELIVER_A_NEXTHOP	"nexthop"
#define DELIVER_A_NRCPT		"nrcpt"		/* request and reply */
#define DELIVER_A_RCPT		"rcpt"		/* rcpt.<i> */
#define DELIVER_A_STATUS	"status"	/* status.<i> */
#define DELIVER_A_DSN		"dsn"		/* dsn.<i> */
#define DELIVER_A_TEXT		"text"		/* text.<i> */
#define DELIVER_A_ACTION	"action"	/* action.<i>, optional */
#define DELIVER_A_MAILBOX	"mailbox"	/* mailbox.<i>, optional */

/* The status words, in this order. */
enum deliver_status {
	DELIVER_OK,		/* "ok": durably in the mailbox */
	DELIVER_DEFER,		/* "defer": try again later */
	DELIVER_BOUNCE		/* "bounce": never */
};

/* A request.  Decoded, every string points into the ipc_msg it came from
 * (so it lives no longer than that message) and rcpt is allocated:
 * release it with proto_deliver_request_free(). */
struct deliver_request {
	const char	 *id;
	const char	 *path;		/* "active/<id>" */
	off_t		  offset;	/* first message byte in the file */
	const char	 *sender;	/* "" for the null sender */
	const char	 *nexthop;	/* "" when qmgr does not say */
	int		  nrcpt;
	const char	**rcpt;		/* nrcpt entries */
};

/* What an "ok" means for delivery status notifications (action.<i>). */
enum deliver_action {
	DELIVER_ACTION_DELIVERED,	/* in the mailbox: no attribute */
	DELIVER_ACTION_RELAYED,		/* "relayed": next hop without DSN */
	DELIVER_ACTION_PASSED,		/* "passed": next hop with DSN */
	DELIVER_ACTION_EXPANDED		/* "expanded": an alias or .forward
					   delivered to several targets */
};

/* One recipient's outcome.  Decoded, dsn and text point into the reply
 * or are static. */
struct deliver_outcome {
	enum deliver_status	 status;
	const char		*dsn;
	const char		*text;
	enum deliver_action	 action;	/* with DELIVER_OK only */
	int			 mailbox;	/* with DELIVER_OK only: one
						   Maildir, by the worker */
};

/* Requests, built in steps so a sender can fill a frame: start (every
 * attribute but the recipients), add recipient i = 0, 1, ... while it
 * fits, finish with the count.  0, or -1: start and finish leave m empty;
 * add leaves m as it was (no room for rcpt, or a bad one) and the request
 * can still be finished. */
int	proto_deliver_request_start(struct ipc_msg *,
	    const struct deliver_request *);
int	proto_deliver_request_add(struct ipc_msg *, int i, const char *rcpt);
int	proto_deliver_request_finish(struct ipc_msg *, int nrcpt);
/* All of it at once: 0, or -1 (m empty) if it does not fit in a frame. */
int	proto_deliver_request_encode(struct ipc_msg *,
	    const struct deliver_request *);
/* Check m and fill req.  0, or -1 with *err a static reason for the
 * IPC_T_ERROR reply.  Either way proto_deliver_request_free() follows. */
int	proto_deliver_request_decode(const struct ipc_msg *,
	    struct deliver_request *, const char **err);
void	proto_deliver_request_free(struct deliver_request *);
/* The recipient count a request announces, unchecked beyond its range:
 * 1..DELIVER_RCPT_MAX, or -1. */
int	proto_deliver_request_nrcpt(const struct ipc_msg *);

/* The reply of n outcomes (1..DELIVER_RCPT_MAX), in request order; texts
 * are cut to DELIVER_REPLY_SHORT_TEXT if the whole would not fit in a
 * frame.  0, or -1 (m empty). */
int	proto_deliver_reply_encode(struct ipc_msg *,
	    const struct deliver_outcome *, int n);
/* Read the reply to a request of n recipients into out[0..n).  Every
 * outcome is filled.  -1 with *err when the reply as a whole is unusable
 * (an IPC_T_ERROR, another type, a wrong count, an outcome for a recipient
 * that was not asked about, one given twice): all are deferred.  Otherwise
 * the number of recipients whose outcome was unclear (no status or an
 * unknown word: deferred) or whose dsn was malformed (replaced by the
 * status's default, 2.0.0, 4.0.0 or 5.0.0). */
int	proto_deliver_reply_decode(const struct ipc_msg *, int n,
	    struct deliver_outcome *out, const char **err);
/* IPC_T_ERROR text=<text>, for a request that is refused.  0, or -1 if
 * text cannot be sent (m is then an IPC_T_ERROR without it). */
int	proto_deliver_error_encode(struct ipc_msg *, const char *text);

const char *proto_deliver_status_name(enum deliver_status);
/* 0 and *st, or -1 if word is not a status word (case matters). */
int	proto_deliver_status_parse(const char *word, enum deliver_status *st);
/* 1 if dsn is an enhanced status code "c.s.d" (RFC 3463: class 2, 4 or 5,
 * subject 1-3 digits, detail 1-3 digits) of the class status implies. */
int	proto_deliver_dsn_valid(const char *dsn, enum deliver_status);
/* 1 if s is an address we may copy into a header: at most QUEUE_ADDR_MAX
 * bytes and no control characters (8-bit bytes are left to addr.c). */
int	proto_deliver_addr_clean(const char *s);

#endif
