/*
 * proto_anvil - the anvil protocol (PROTO_ANVIL_VERSION 1), spoken to the
 * connection-counting daemon on ANVIL_SOCKET by smtpd, as Postfix's
 * anvil(8): anvil counts, the client decides.  An ident names what is
 * counted: "<service>:<client address>" (the smtpd service name from
 * master.conf, so that port 25 and 587 count apart).
 *
 *	ANVIL_T_CONNECT	v=1 ident=<ident>	a session from it has begun
 *	    -> ANVIL_T_REPLY status=ok count=<sessions now, this one included>
 *	                     rate=<sessions begun in the current time unit,
 *	                           this one included>
 *	    -> ANVIL_T_REPLY status=full	anvil's table is full: nothing was
 *	                     counted, and the client applies no limit (and
 *	                     sends no DISCONNECT for it)
 *	ANVIL_T_DISCONNECT v=1 ident=<ident>	that session has ended
 *	    -> ANVIL_T_REPLY status=ok count=<sessions left>
 *	    -> ANVIL_T_REPLY status=unknown	this connection had no session
 *	                     counted for ident (nothing changes)
 *
 * A request with another version, an unknown type or a missing or
 * over-long ident gets IPC_T_ERROR.  Replies come in request order, so a
 * client may pipeline.  The time unit is anvil_rate_time_unit: the rate
 * counts sessions begun since the first one of the unit, and starts again
 * once the unit has passed.  Sessions are counted per client connection:
 * when a connection to anvil closes (its smtpd exited or gave up waiting),
 * every session it counted and did not end is ended with it, so a crash
 * never leaves counts behind.  A client that reconnects therefore does not
 * send DISCONNECT for sessions it counted on the earlier connection.
 */
#ifndef TERN_PROTO_ANVIL_H
#define TERN_PROTO_ANVIL_H

#include "proto_common.h"

#define ANVIL_SOCKET		"private/anvil"
#define PROTO_ANVIL_VERSION	1
#define ANVIL_IDENT_MAX		128	/* bytes of an ident, without NUL */

#define ANVIL_T_CONNECT		0x40
#define ANVIL_T_DISCONNECT	0x41
#define ANVIL_T_REPLY		0x42

#endif
