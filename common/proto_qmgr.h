/*
 * proto_qmgr - the qmgr protocol (PROTO_QMGR_VERSION 1), spoken to the
 * queue manager on QMGR_SOCKET by smtpd and the admin tools.
 *
 * Framing is ipc.h.  Every request carries "v" = PROTO_QMGR_VERSION; qmgr
 * answers a request with another version, or an unknown type, with
 * IPC_T_ERROR.  Requests and replies:
 *
 *	QMGR_T_NOTIFY	id=<queue id>      a message was committed to incoming/
 *	    -> IPC_T_OK                    (advisory: qmgr also scans incoming/)
 *	QMGR_T_FLUSH	(no attributes)    retry every deferred message now
 *	    -> IPC_T_OK
 *
 * A client may send any number of requests on one connection, each waiting
 * for its reply.  qmgr never blocks on a client: a client that sends a bad
 * frame is disconnected.
 */
#ifndef TERN_PROTO_QMGR_H
#define TERN_PROTO_QMGR_H

#include "proto_common.h"

#define QMGR_SOCKET		"private/qmgr"
#define PROTO_QMGR_VERSION	1

#define QMGR_T_NOTIFY	0x10
#define QMGR_T_FLUSH	0x11

#endif
