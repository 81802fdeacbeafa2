/*
 * drop_file - the format of a message that a local user hands to the
 * pickup service through the maildrop/ directory (sendmail writes it,
 * ternpostdrop stores it, pickup reads it).  Version 1, text lines, then
 * the message:
 *
 *	tern-drop 1
 *	uid N                    the submitter (pickup checks it against the
 *	                         file's owner, which no user can forge)
 *	from ADDR                the envelope sender; empty: the null sender
 *	fullname TEXT            optional (sendmail -F)
 *	body 7BIT|8BITMIME       optional (-B)
 *	ret FULL|HDRS            optional (-R)
 *	envid TEXT               optional (-V, xtext)
 *	notify N                 optional (-N, QUEUE_NOTIFY_* bits)
 *	rcpt ADDR                1..DROP_RCPT_MAX of them
 *	size N                   message bytes after "data"
 *	data
 *	<exactly N bytes of message, LF line endings>
 *
 * Every other line, a repeated key (but rcpt), a line longer than
 * DROP_LINE_MAX, a control character in a value, a missing record or a
 * message that is not exactly N bytes makes the file malformed.  The file
 * comes from an untrusted user: the parser takes a buffer and a length,
 * never reads past them and needs no NUL, so it can be fuzzed.
 */
#ifndef TERN_DROP_FILE_H
#define TERN_DROP_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "queue_file.h"

#define DROP_VERSION	1
#define DROP_DIR	"maildrop"	/* below the queue directory */
#define DROP_LINE_MAX	1024		/* one header line, LF included */
#define DROP_RCPT_MAX	1000		/* recipients per message */

struct drop_envelope {
	long long	 uid;
	char		*sender;	/* "" for the null sender */
	char		*fullname;	/* NULL if not given */
	enum queue_body	 body;
	enum queue_ret	 ret;
	char		*envid;		/* NULL if not given */
	int		 notify;	/* QUEUE_NOTIFY_* bits, 0: not given */
	int		 nrcpt;
	char		**rcpt;
	size_t		 data_off;	/* first message byte in the buffer */
	size_t		 data_len;
};

/* Parse a whole drop file held in buf[0..len).  0, env filled (free it
 * with drop_envelope_free); -1 with *err a short reason, env empty. */
int	drop_parse(const char *buf, size_t len, struct drop_envelope *env,
	    const char **err);
void	drop_envelope_free(struct drop_envelope *);
/* The header (up to and including "data\n") for env and a message of
 * env->data_len bytes, malloc'd, its length in *len.  NULL (EINVAL) if
 * drop_parse() would refuse it. */
char	*drop_format(const struct drop_envelope *env, size_t *len);
/* Does s hold only what a record value may hold (no control bytes)? */
int	drop_value_ok(const char *s, size_t len);

#endif
