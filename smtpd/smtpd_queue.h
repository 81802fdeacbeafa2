/*
 * smtpd_queue - turn an SMTP transaction into the start of a queue file:
 * the envelope (queue_file.h) and smtpd's own Received: header (RFC 5321 4.4).
 */
#ifndef TERN_SMTPD_QUEUE_H
#define TERN_SMTPD_QUEUE_H

#include <time.h>

#include "smtpd_command.h"

struct buf;
struct queue_rcpt;
struct queue_writer;

struct smtpd_txn {
	long long		 arrival;	/* time(NULL) at DATA */
	const char		*sender;	/* "" for <> */
	enum smtpd_body		 body;		/* MAIL BODY= */
	int			 ret;		/* MAIL RET=: QUEUE_RET_* */
	const char		*envid;		/* MAIL ENVID= or NULL */
	const char		*client;	/* IP address, no brackets */
	int			 client_v6;
	const char		*helo;
	int			 esmtp;		/* EHLO rather than HELO */
	int			 tls;		/* received through STARTTLS */
	const char		*myhostname;
	int			 nrcpt;
	struct queue_rcpt	*rcpt;
};

/* Create tmp/<id> with the envelope and the Received: header, reusing a
 * file from pool if there is one.  Returns a new writer (w->id is the
 * queue id) or NULL with errno set. */
struct queue_writer *smtpd_queue_open(struct smtpd_txn *, struct queue_pool *);
/* Append the Received: header for id, dated t, to b.  0 or -1 (too long). */
int	smtpd_queue_received(struct buf *b, const struct smtpd_txn *,
	    const char *id, time_t t);

#endif
