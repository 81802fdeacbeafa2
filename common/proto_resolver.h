/*
 * proto_resolver - the resolver protocol (PROTO_RESOLVER_VERSION 1): MX
 * lookups (RFC 5321 section 5.1) for the delivery agents, on
 * RESOLVER_SOCKET.
 *
 *	RESOLVER_T_MX
 *	    v=1
 *	    domain=<domain name, no trailing dot>
 *	-> RESOLVER_T_REPLY
 *	    status=ok | temp | perm
 *	    text=<reason, for logs and bounces>   (always present)
 *	    dsn=<enhanced status code for temp/perm, e.g. 4.4.3, 5.1.2>
 *	    implicit=0 | 1       1: no MX records, the domain's own address
 *	                         records are used (the "implicit MX")
 *	    nmx=<N>              hosts, sorted by preference (ties shuffled)
 *	    mx.<i>=<preference> <host name>
 *	    addr.<i>=<address> [<address> ...]   IPv6 and IPv4 addresses of
 *	                                         host i; may be empty
 *
 * NXDOMAIN (and a null MX, RFC 7505) is "perm"; SERVFAIL, a time-out or a
 * network error is "temp".  Many requests may be outstanding on one
 * connection only one at a time; clients open several connections for
 * parallel lookups.
 */
#ifndef TERN_PROTO_RESOLVER_H
#define TERN_PROTO_RESOLVER_H

#include "proto_common.h"

#define RESOLVER_SOCKET		"private/resolver"
#define PROTO_RESOLVER_VERSION	1
#define RESOLVER_MX_MAX		32

#define RESOLVER_T_MX		0x30
#define RESOLVER_T_REPLY	0x31

#endif
