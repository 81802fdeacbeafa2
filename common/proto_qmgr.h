/*
 * proto_qmgr - the qmgr protocol (PROTO_QMGR_VERSION 2), spoken to the
 * queue manager on QMGR_SOCKET by smtpd, pickup, deliver and the admin
 * tools.  Version 2 added QMGR_T_COMMITTED: smtpd commits new mail
 * straight into active/, which a version 1 qmgr would not look at until
 * it restarted.  qmgr still takes version 1's requests (NOTIFY, FLUSH)
 * from clients not yet restarted after an upgrade; smtpd commits into
 * active/ only once qmgr has answered one of its version 2 notices on the
 * connection.
 *
 * Framing is ipc.h.  Every request carries "v" = PROTO_QMGR_VERSION (or 1,
 * for the requests version 1 had); qmgr answers a request with another
 * version, or an unknown type, with IPC_T_ERROR.  smtpd, refused a version
 * 2 notice (an older qmgr still running), sends version 1 NOTIFYs on that
 * connection.  Requests and replies:
 *
 *	QMGR_T_NOTIFY	id=<queue id>      a message was committed to incoming/
 *	    -> IPC_T_OK                    (advisory: qmgr also scans incoming/)
 *	QMGR_T_COMMITTED id=<queue id>     smtpd committed a message straight
 *	    -> IPC_T_OK                    into active/ (its one rename); qmgr
 *	                                   takes it on, or moves it to incoming/
 *	                                   when the active set has no room or
 *	                                   older mail waits.  Advisory too: a
 *	                                   lost one is found by qmgr's scan of
 *	                                   active/ every QMGR_ORPHAN_INTERVAL
 *	                                   seconds (5), for files no writer
 *	                                   holds locked
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
#define PROTO_QMGR_VERSION	2

#define QMGR_T_NOTIFY	0x10
#define QMGR_T_FLUSH	0x11
#define QMGR_T_COMMITTED	0x12

#endif
