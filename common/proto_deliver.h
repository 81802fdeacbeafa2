/*
 * proto_deliver - the delivery protocol (PROTO_DELIVER_VERSION 2): qmgr asks
 * a deliver process on DELIVER_SOCKET to deliver one message to some of its
 * recipients.
 *
 *	DELIVER_T_REQUEST
 *	    v=2
 *	    id=<queue id>
 *	    path=<queue file, relative to the queue directory: "active/<id>">
 *	    offset=<byte offset of the message in that file (data_off)>
 *	    sender=<envelope sender, "" for <>>
 *	    nexthop=<next hop of the request's destination (qmgr_route.c):
 *	        the recipients' domain for "local"; optional, unused by deliver>
 *	    nrcpt=<N, 1..DELIVER_RCPT_MAX>
 *	    rcpt.<i>=<recipient address>          for i = 0 .. N-1
 *	-> DELIVER_T_REPLY
 *	    nrcpt=<N>
 *	    status.<i>=ok | defer | bounce         one per request recipient,
 *	    dsn.<i>=<enhanced status, e.g. 2.0.0, 4.2.2, 5.1.1>   same order
 *	    text.<i>=<human-readable outcome, for logs and bounces>
 *
 * "ok" means the message is durably in the recipient's mailbox (or was
 * accepted by the next hop); "defer" means try again later; "bounce" means
 * never.  A deliver process serves one connection at a time; qmgr keeps up
 * to deliver_concurrency connections open.  On one connection qmgr may send
 * up to DELIVER_PIPELINE_MAX requests before it reads a reply (version 2;
 * version 1 allowed one); the replies come back in request order.  deliver
 * handles the requests it finds waiting (up to about 100 recipients) as one
 * batch, so deliveries into the same mailbox share a privilege switch and
 * one fsync of new/, and it answers each only when the whole batch is
 * durable.  A malformed request gets IPC_T_ERROR, in its place in the
 * order.
 */
#ifndef TERN_PROTO_DELIVER_H
#define TERN_PROTO_DELIVER_H

#include "proto_common.h"

#define DELIVER_SOCKET		"private/deliver"
#define PROTO_DELIVER_VERSION	2
#define DELIVER_RCPT_MAX	1000
#define DELIVER_PIPELINE_MAX	8	/* requests out on one connection */

#define DELIVER_T_REQUEST	0x20
#define DELIVER_T_REPLY		0x21

#endif
