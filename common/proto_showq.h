/*
 * proto_showq - the showq protocol (PROTO_SHOWQ_VERSION 1), spoken to the
 * showq service on SHOWQ_SOCKET by mailq and "ternctl queue list" when they
 * cannot read the queue themselves, and by "ternctl queue flush" (and
 * "sendmail -q") for any user.  The socket is world-connectable (mode 0666
 * in public/, mode 0711): showq is the one door for unprivileged users, so
 * it only reads (a listing) and relays one fixed request (a flush) to qmgr.
 *
 * Framing is ipc.h.  Every request and every page carries "v" =
 * PROTO_SHOWQ_VERSION; a request with another version or an unknown type
 * gets IPC_T_ERROR text=....
 *
 *	SHOWQ_T_LIST	[queue=<name> after=<id>]   list from there (the
 *	                                            cursor of the last page);
 *	                                            none: from the start
 *	    -> SHOWQ_T_PAGE v=1, then for each message, in this order:
 *	         queue=<incoming|active|deferred|hold|maildrop> id=<queue id>
 *	         time=<arrival, s> size=<bytes>
 *	         sender=<address, "" for <>>         (not for maildrop)
 *	         uid=<submitting uid>                (maildrop only)
 *	         then per pending recipient: rcpt=<address> [reason=<text>]
 *	         cut=<n>                  (optional: recipients left out)
 *	       and last, when there is more: next.queue=<name> next.id=<id>
 *	SHOWQ_T_FLUSH	(no attributes)     ask qmgr to retry deferred mail now
 *	    -> IPC_T_OK, or IPC_T_ERROR text=... (qmgr unreachable).  Flushes
 *	       are coalesced: one asked for within SHOWQ_FLUSH_INTERVAL
 *	       seconds of the last one relayed is answered IPC_T_OK without
 *	       bothering qmgr again (a flush costs qmgr a pass over deferred/,
 *	       and any local user may ask).
 *
 * A page holds at most SHOWQ_PAGE_MAX messages and fits one frame; a
 * message too big for a frame of its own has recipients left out (cut=).
 * The client asks for the next page with the cursor until none is given.
 * Values never hold control characters (the decoder refuses them, so a
 * compromised showq cannot write escape sequences to a user's terminal).
 */
#ifndef TERN_PROTO_SHOWQ_H
#define TERN_PROTO_SHOWQ_H

#include "ipc.h"
#include "proto_common.h"
#include "queue_list.h"

#define SHOWQ_SOCKET		"public/showq"
#define PROTO_SHOWQ_VERSION	1

#define SHOWQ_T_LIST	0x50
#define SHOWQ_T_PAGE	0x51
#define SHOWQ_T_FLUSH	0x52

#define SHOWQ_PAGE_MAX		500
#define SHOWQ_PAGE_BYTES	(IPC_FRAME_MAX - 4096)	/* room for the tail */
#define SHOWQ_PAGE_ATTRS	(IPC_ATTR_MAX - 8)
#define SHOWQ_FLUSH_INTERVAL	1

/* The server's page under construction. */
struct showq_page {
	struct ipc_msg	 msg;
	size_t		 bytes;		/* payload so far */
	int		 n;		/* messages */
};

void	showq_page_init(struct showq_page *);
/* Add m to the page.  0: added (recipients may have been cut if m alone
 * is too big for a frame); 1: the page is full, m was not added; -1:
 * out of memory. */
int	showq_page_add(struct showq_page *, const struct queue_list_msg *m);
/* The cursor to go on from: after id in queue q. */
int	showq_page_next(struct showq_page *, enum queue_list_queue q,
	    const char *id);

/* Decode a page: fn for each message (until fn returns non-zero).  The
 * cursor goes to *next_q/next_id (QL_COUNT: the last page).  0, fn's
 * value, or -1 with *err when the page is malformed.  Fuzzable. */
int	showq_page_decode(const struct ipc_msg *,
	    int (*fn)(const struct queue_list_msg *, void *), void *arg,
	    enum queue_list_queue *next_q, char next_id[QUEUE_ID_SIZE],
	    const char **err);

/* Check a LIST request: 0 with the start (*q, after: "" for none), or -1
 * with *err. */
int	showq_list_check(const struct ipc_msg *, enum queue_list_queue *q,
	    char after[QUEUE_ID_SIZE], const char **err);

#endif
