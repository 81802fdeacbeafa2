/*
 * proto_lookup - the lookup protocol (PROTO_LOOKUP_VERSION 2), spoken by
 * smtpd to the lookup service (lookup(8)) on LOOKUP_SOCKET, as Postfix's
 * smtpd asks proxymap and trivial-rewrite: smtpd reads no password
 * database and no table itself, holds no database connection, and can
 * run chrooted into the queue directory.  The question is the RCPT
 * check's (rcpt_lookup.h): does this recipient reach a mailbox, and which?
 *
 *	LOOKUP_T_RCPT	v=2 id=<n> rcpt=<address>
 *	                     n: 1..LOOKUP_ID_MAX, chosen by the client;
 *	                     address: canonical (addr_canonical), or a bare
 *	                     "postmaster"
 *	    -> LOOKUP_T_REPLY v=2 id=<n> status=found account=<mailbox key>
 *	                     the recipient exists; addresses with one key
 *	                     share one mailbox (smtpd stores them once)
 *	    -> LOOKUP_T_REPLY v=2 id=<n> status=unknown
 *	                     no such recipient (smtpd: 550 5.1.1)
 *	    -> LOOKUP_T_REPLY v=2 id=<n> status=tempfail [text=<reason>]
 *	                     a table or the database could not say (451)
 *	    -> LOOKUP_T_REPLY v=2 id=<n> status=virtual
 *	                     a virtual alias or virtual mailbox (accepted;
 *	                     no account: the address is its own key)
 *	    -> LOOKUP_T_REPLY v=2 id=<n> status=foreign
 *	                     neither a local nor a virtual domain's address:
 *	                     relay control decides (version 2 added these)
 *	    -> IPC_T_ERROR text=<reason>	a malformed request
 *
 * Replies come in request order, each with its request's id, so a client
 * may pipeline requests on one connection and check that every reply is
 * the one it waits for.  Every frame is at most LOOKUP_FRAME_MAX bytes.
 * A client treats anything else -- another type, version or id, a missing
 * or malformed attribute, an account with control characters -- as a
 * broken service: a temporary failure, never "unknown".
 */
#ifndef TERN_PROTO_LOOKUP_H
#define TERN_PROTO_LOOKUP_H

#include <stddef.h>

#include "addr.h"
#include "ipc.h"
#include "proto_common.h"
#include "rcpt_lookup.h"

#define LOOKUP_SOCKET		"private/lookup"
#define PROTO_LOOKUP_VERSION	2

#define LOOKUP_T_RCPT		0x60
#define LOOKUP_T_REPLY		0x61

#define LOOKUP_FRAME_MAX	2048	/* bytes of a frame, length incl. */
#define LOOKUP_ID_MAX		(1LL << 53)
#define LOOKUP_RCPT_MAX		ADDR_PATH_MAX	/* bytes of rcpt */
#define LOOKUP_TEXT_MAX		512	/* bytes of a tempfail's text */

/* A decoded reply. */
struct lookup_reply {
	long long		 id;
	enum rcpt_lookup_status	 status;
	char			 account[RCPT_LOOKUP_ACCOUNT_MAX + 1];
	char			 text[LOOKUP_TEXT_MAX + 1];	/* or "" */
};

/* The status words of a reply: "found", "unknown", "tempfail",
 * "virtual", "foreign"; and back
 * (0, or -1 for another word). */
const char *lookup_status_name(enum rcpt_lookup_status);
int	lookup_status_parse(const char *, enum rcpt_lookup_status *);

/* Build a request into m (initialized here).  0, or -1 (rcpt too long or
 * malformed: not sent). */
int	lookup_request_build(struct ipc_msg *m, long long id, const char *rcpt);
/* Check a request: 0 with *id and *rcpt (pointing into m), or -1 with
 * *err.  rcpt is a valid mailbox of at most LOOKUP_RCPT_MAX bytes, or
 * "postmaster" in any case. */
int	lookup_request_decode(const struct ipc_msg *m, long long *id,
	    const char **rcpt, const char **err);
/* Build a reply into m (initialized here); account for FOUND, text
 * (may be NULL) for TEMPFAIL.  0 or -1. */
int	lookup_reply_build(struct ipc_msg *m, long long id,
	    enum rcpt_lookup_status, const char *account, const char *text);
/* Decode a reply (pure, fuzzed): 0 with r filled, or -1 with *err when m
 * is not a well-formed reply (an IPC_T_ERROR is -1 too, its text in
 * *err, pointing into m). */
int	lookup_reply_decode(const struct ipc_msg *m, struct lookup_reply *r,
	    const char **err);

#endif
