/*
 * queue_client - how the queue tools (mailq, sendmail -q, ternctl) reach
 * the queue: a caller that may read the queue directories (root, the mail
 * owner, or the owner of a developer's instance) reads them itself, as
 * Postfix's showq does when run by the superuser with the system down;
 * anyone else asks the showq service over its public socket
 * (proto_showq.h).  A flush goes straight to qmgr when the caller may
 * connect to private/qmgr, else through showq.  Both start by changing
 * into the queue directory.  Failures are told on stderr, prefixed with
 * the program's name.
 */
#ifndef TERN_QUEUE_CLIENT_H
#define TERN_QUEUE_CLIENT_H

#include <stdio.h>

#include "config.h"
#include "queue_list.h"

enum queue_client_fmt { QC_TEXT, QC_JSON };

/* Print the messages that pass f (NULL: all) to out.  0; -1 when the
 * queue cannot be read (QC_DOWN: neither directly nor through showq). */
#define QC_DOWN	(-2)
int	queue_client_list(const struct tern_config *, FILE *out,
	    const struct queue_list_filter *f, enum queue_client_fmt,
	    const char *prog);
/* Ask qmgr to retry every deferred message now.  0, -1 (refused), or
 * QC_DOWN (no qmgr / no showq to ask). */
int	queue_client_flush(const struct tern_config *, const char *prog);
/* Every message through showq, fn for each (queue_list_scan's contract).
 * 0, fn's value, -1 (a bad page), or QC_DOWN (errno). */
int	queue_client_showq(int (*fn)(const struct queue_list_msg *, void *),
	    void *arg);
/* Tell qmgr that message id is in incoming/ (QMGR_T_NOTIFY), waiting at
 * most timeout_ms: best effort, since qmgr's scan of incoming/ finds it
 * anyway.  0, or -1 (not told). */
int	queue_client_notify(const char *id, int timeout_ms);
/* May this process read the queue itself (in the queue directory)? */
int	queue_client_direct(void);

#endif
