/*
 * queue_outcome - the outcome records of a queue file (format in
 * queue_file.h): what became of a recipient at an attempt, appended after
 * the message so that a reason survives a restart and can be reported
 * later (delivery status notifications, queue tools).  Appending is a
 * pwrite at the end of the last complete record and an fdatasync; reading
 * takes records up to the first line that is not a complete, valid one, so
 * a torn append is ignored and written over by the next.
 */
#ifndef TERN_QUEUE_OUTCOME_H
#define TERN_QUEUE_OUTCOME_H

#include <stddef.h>

#include "queue_file.h"

/* Action letters of an outcome record (RFC 3464 section 2.3.3). */
#define OUTCOME_DELIVERED	'D'
#define OUTCOME_BOUNCED		'B'
#define OUTCOME_DELAYED		'T'
#define OUTCOME_RELAYED		'R'
#define OUTCOME_EXPANDED	'E'
/* Notice markers, not outcomes: a delivery status notification about
 * this recipient was queued (bounce(8)) for its failure, a delay, or its
 * delivery, so it is not sent again after a restart.  The text names the
 * notice's queue id. */
#define OUTCOME_NOTICE_FAILED	'F'
#define OUTCOME_NOTICE_DELAYED	'W'
#define OUTCOME_NOTICE_DELIVERED 'S'

#define QUEUE_CODE_SIZE		12	/* "5.123.456" and NUL, room to spare */
#define QUEUE_HOST_SIZE		256
#define QUEUE_TEXT_MAX		1000
#define QUEUE_OUTCOME_MAX	1400	/* longest record line, LF incl. */

struct queue_outcome {
	int		 rcpt;		/* index into env->rcpt */
	char		 action;	/* OUTCOME_* */
	long long	 time;
	char		 code[QUEUE_CODE_SIZE];	/* "" if none */
	char		 host[QUEUE_HOST_SIZE];	/* "" if none */
	char		 text[QUEUE_TEXT_MAX + 1];
};

/* Render o as one record line (with its LF) into out; the text is cut to
 * QUEUE_TEXT_MAX bytes and its control characters replaced.  The length,
 * or -1 (EINVAL) if o->action, o->code or o->host is not valid. */
int	queue_outcome_format(const struct queue_outcome *, char *out,
	    size_t outlen);
/* Parse one record line (without its LF) for a file of nrcpt recipients.
 * 0, or -1 with *err.  Fuzzable. */
int	queue_outcome_parse(const char *line, size_t len, int nrcpt,
	    struct queue_outcome *, const char **err);
/* Append o to the file on fd (opened O_RDWR) without syncing it: the
 * caller makes it durable with fdatasync(fd), together with any status
 * bytes it writes.  Finds the end of the records first if env does not
 * know it.  0, or -1 (errno; EOPNOTSUPP for a version 1 file). */
int	queue_outcome_write(int fd, struct queue_envelope *,
	    const struct queue_outcome *);
/* queue_outcome_write + fdatasync.  0 or -1. */
int	queue_outcome_append(int fd, struct queue_envelope *,
	    const struct queue_outcome *);
/* Call fn for each outcome record of the file on fd, oldest first, until
 * fn returns non-zero; records end at the first line that is not a valid
 * one.  Sets env->outcome_end.  0, fn's non-zero value, or -1 (errno). */
int	queue_outcome_read(int fd, struct queue_envelope *,
	    int (*fn)(const struct queue_outcome *, void *), void *arg);

#endif
