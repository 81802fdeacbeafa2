/*
 * pickup - the local submission service (Postfix's pickup(8)): takes the
 * drop files that sendmail(1) leaves, through ternpostdrop, in maildrop/,
 * and turns each into a queue file in incoming/ with the writer smtpd
 * uses.  Every drop file is hostile until proven otherwise: pickup_file.c
 * opens it without following links, checks type, owner, links and size,
 * parses it completely (drop_file.h) and only then writes anything;
 * pickup_message.c builds the message pickup queues (Received: with the
 * submitter's uid, From:/Date:/Message-ID: when missing, Bcc: removed).
 * A file it refuses goes to corrupt/ with a log line; pickup goes on.
 */
#ifndef TERN_PICKUP_H
#define TERN_PICKUP_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "drop_file.h"

#define PICKUP_HEADER_MAX	102400	/* header bytes (Postfix's
					   header_size_limit) */
#define PICKUP_SCAN_INTERVAL	60	/* s between scans without a poke */
#define PICKUP_STALE_TMP	3600	/* s before a .<id> file is removed */

/* What pickup knows of one submission besides the drop file. */
struct pickup_info {
	const char	*myhostname;
	const char	*queue_id;
	long long	 uid;		/* the file's owner */
	long long	 now;		/* arrival, seconds */
};

/* Build the message to queue from the drop file's message msg[0..len):
 * our Received: line, the header without Bcc:, the fields that were
 * missing, the body.  0, or -1 with *err (header too big). */
int	pickup_message_build(const struct drop_envelope *env, const char *msg,
	    size_t len, const struct pickup_info *info, struct buf *out,
	    const char **err);
/* A sender or recipient of a drop file as the queue stores it: checked,
 * canonical, with @myhostname added to a bare local part.  0 or -1. */
int	pickup_address(const char *in, const char *myhostname, char *out,
	    size_t outlen);

/* Outcome of one drop file. */
enum pickup_result {
	PICKUP_QUEUED,		/* in incoming/, drop file removed */
	PICKUP_REFUSED,		/* moved to corrupt/ (or removed) */
	PICKUP_SKIPPED,		/* not ours to take now (temporary name) */
	PICKUP_RETRY		/* the queue could not be written: later */
};

/* Take maildrop/<name>; the queue id of the new message in id.  */
enum pickup_result pickup_file(const struct tern_config *, const char *name,
	    char *id, size_t idlen);

#endif
