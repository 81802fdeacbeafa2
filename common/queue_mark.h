/*
 * queue_mark - a delivery recorded where it happens, shared by every
 * transport (deliver, the SMTP client): once a recipient is durably in a
 * mailbox or accepted by the next hop, the transport sets that recipient's
 * status byte in the queue file to delivered before it replies to qmgr,
 * and a recipient whose byte already says delivered (a request repeated
 * after a transport or qmgr died) is answered "ok" without a second
 * delivery.  The byte is a pwrite without fsync: a process crash keeps it
 * (the page cache is the kernel's), only a power loss can take it back,
 * and then the delivery is repeated, never lost.
 *
 * A request names recipients by address; queue_mark_match() pairs them
 * with the file's rcpt lines, each line at most once per request, a
 * pending line before a finished one of the same address.  A request
 * recipient with no line (a qmgr bug) is logged and never marked: it is
 * delivered as before, not lost.
 */
#ifndef TERN_QUEUE_MARK_H
#define TERN_QUEUE_MARK_H

#include "queue_file.h"

/* The rcpt line of env for each of addr[0..n), or -1: a new array of n
 * ints (n == 0: an array of one).  id names the message in log lines. */
int	*queue_mark_match(const struct queue_envelope *, const char *id,
	    const char *const *addr, int n);
/* 1 if the line of recipient j (line[j]) already says delivered. */
int	queue_mark_done(const struct queue_envelope *, const int *line, int j);
/* Set the byte of recipient j (line[j]) to delivered in the file open on
 * fd (pwrite, no fsync) and in env's recipient (env->rcpt is not
 * const: the caller's copy stays current).  0; -1 when it has no line or the
 * write failed (logged: the delivery stands, qmgr records or repeats it). */
int	queue_mark_delivered(int fd, const struct queue_envelope *,
	    const char *id, const int *line, int j);

#endif
