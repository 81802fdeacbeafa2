/*
 * proto_common - message types shared by every tern protocol.
 *
 * Types are unique across protocols (0x01-0x0f generic, 0x10 qmgr, 0x20
 * deliver, 0x30 resolver, 0x40 anvil, 0x50 showq, 0x60 lookup) so a message
 * sent to the wrong daemon is caught.
 *
 *	IPC_T_OK	success with nothing more to say
 *	IPC_T_ERROR	text=<reason>: the request was refused (bad version,
 *			unknown type, missing attribute).  The sender logs it.
 */
#ifndef TERN_PROTO_COMMON_H
#define TERN_PROTO_COMMON_H

#define IPC_T_OK	0x01
#define IPC_T_ERROR	0x02

#define IPC_A_TEXT	"text"	/* the reason in an IPC_T_ERROR */

#endif
