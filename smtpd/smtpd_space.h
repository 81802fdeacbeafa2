/*
 * smtpd_space - is there room in the queue for one more message?  Asked at
 * MAIL with a SIZE= parameter and at DATA, before a queue file is made, so
 * that a nearly full file system turns clients away with "452 4.3.1
 * Insufficient system storage" (they retry later) instead of failing
 * half-way through a message or filling the disk that holds acknowledged
 * mail.  The rule is Postfix's: queue_minfree bytes must stay free, and
 * never less than 1.5 x message_size_limit; a declared SIZE must fit on
 * top of that.  When the file system cannot be asked (statvfs fails) the
 * answer is yes, with a log line: a check that fails must not stop mail.
 */
#ifndef TERN_SMTPD_SPACE_H
#define TERN_SMTPD_SPACE_H

#include <stddef.h>

struct smtpd_params;

/* 1 if avail bytes leave room for a message of size bytes (0: unknown)
 * under queue_minfree and message_size_limit; pure, for tests. */
int	smtpd_space_enough(unsigned long long avail, size_t queue_minfree,
	    size_t message_size_limit, unsigned long long size);
/* The free space statvfs(2) reported for the queue, and when: at a
 * thousand messages a second a statvfs per message is a system call per
 * message for a figure that hardly moves.  It is asked again once it is
 * SMTP_SPACE_CACHE_MS old.  The check is a snapshot in any case: sessions
 * that pass it together all write afterwards. */
#define SMTP_SPACE_CACHE_MS	100
struct smtpd_space {
	unsigned long long	 avail;		/* bytes */
	long long		 at_ms;		/* io_now_ms(); 0: never asked */
};

/* The same for the queue directory (the current directory). */
struct tern_config;
int	smtpd_space_check(struct smtpd_space *, const struct tern_config *,
	    const struct smtpd_params *, unsigned long long size);

#endif
