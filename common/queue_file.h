/*
 * queue_file - the queue file format: parse and write a queue file's
 * header, read one from a buffer or a descriptor, and change a recipient's
 * status in place (outcome records: queue_outcome.h).  Usable on its own by
 * anything that reads queue files; only queue_file_open() knows the queue
 * directories.  Malformed input is refused with a reason, never guessed at.
 *
 * A queue file (QUEUE_FORMAT_VERSION 2) is a text header of records, one per
 * line, each "keyword value" (an empty value may be written "keyword " or
 * "keyword"), in exactly this order; then the message; then outcome records:
 *
 *	tern-queue 2
 *	id <queue id>
 *	time <arrival, seconds since the epoch>
 *	size <message length in bytes: 20 digits, zero-padded>
 *	from <envelope sender, without angle brackets; empty for <>>
 *	client <client IP address, or "local">
 *	helo <HELO/EHLO argument, or "-">
 *	body <empty | 7BIT | 8BITMIME>         MAIL BODY= (RFC 6152)
 *	smtputf8 <0 | 1>                       MAIL SMTPUTF8 (RFC 6531)
 *	ret <empty | FULL | HDRS>              MAIL RET= (RFC 3461)
 *	envid <empty | envelope id>            MAIL ENVID=, xtext-decoded
 *	rcpt <S> <recipient address>           for each recipient these three;
 *	orcpt <empty | type;address>           S = P pending, D delivered,
 *	notify <empty | NEVER | a list>        B bounced; RCPT ORCPT=
 *	                                       (decoded) and NOTIFY=, the list
 *	                                       a subset of SUCCESS,FAILURE,DELAY
 *	                                       in that order; empty: not given
 *	data
 *	<message: exactly "size" bytes; header and body, LF line endings,
 *	 dot-unstuffed>
 *	outcome <i> <A> <time> <code> <host> <text>     zero or more
 *
 * Values never hold a control character (nor DEL) and are at most
 * QUEUE_ADDR_MAX bytes.  The message ends at data_off + data_len, never at
 * the end of the file: every reader of the message must stop there.  The
 * writer writes the size as 20 '-' (the file is unfinished, and readers
 * refuse it), then, before the file's fsync, overwrites it in place with
 * the real length, so the header never moves.
 *
 * An outcome record is one line appended after the message, recording what
 * became of recipient i (0-based, in rcpt order) at an attempt: action A
 * (D delivered, B bounced, T delayed/deferred, R relayed, E expanded: RFC
 * 3464's actions; and the notice markers F, W, S: a failure notice, a
 * delay warning or a success notice about recipient i was queued, so a
 * restart does not send it again), the time, the enhanced status code (RFC 3463, "4.2.0")
 * or "-", the remote host ("mx.example.org[192.0.2.1]", printable ASCII
 * without spaces) or "-", and the diagnostic text (the rest of the line, at
 * most QUEUE_TEXT_MAX bytes; control characters replaced by '?').  Records
 * are only ever appended (queue_outcome_append: a pwrite at the end of the
 * last complete record + fdatasync), so a crash can leave at most one torn
 * record at the end: a reader takes records up to the first line that is
 * not a complete, valid record and ignores the rest, and the next append
 * writes over that rest and cuts the file after itself.  The latest record
 * of a recipient is its current reason; the status byte stays the
 * authority for whether it is done.  Why after the message: an append
 * never moves the header or the message, needs no second file per message
 * and no rewrite, and one fdatasync makes it durable together with the
 * status bytes of the same batch (Postfix appends its records so too).
 * qmgr writes records (qmgr/qmgr_record.c); deliver reads a message from
 * data_off for data_len bytes (deliver/deliver_message.c).
 *
 * The status byte of a rcpt line is the only thing ever changed in place
 * (queue_rcpt_mark: one pwrite + fdatasync; or several queue_rcpt_write and
 * one fdatasync), so an outcome is durable before qmgr acts on it and a crash
 * can at worst repeat a delivery, never lose one.  A delivery agent sets
 * the byte of a recipient it delivered (queue_rcpt_write, no fsync: a
 * process crash keeps it, a power loss may repeat the delivery) before it
 * replies to qmgr (common/queue_mark.c; deliver holds a POSIX write lock
 * on the file while it reads and marks it, deliver/deliver_record.c; the
 * SMTP client marks what the next hop accepted).
 * Everything else about a file is immutable once it leaves tmp/, apart from
 * the outcome records appended after the message.
 *
 * Version 1 files (tern-queue 1: no size, body, smtputf8, ret, envid, orcpt
 * or notify records, the message runs to the end of the file, and no
 * outcome records can be appended) are still read; only version 2 is
 * written.
 */
#ifndef TERN_QUEUE_FILE_H
#define TERN_QUEUE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "queue.h"

#define QUEUE_FORMAT_VERSION	2
#define QUEUE_HEADER_MAX	(4 * 1024 * 1024)
#define QUEUE_ADDR_MAX		1024	/* longest value kept in a header */
#define QUEUE_SIZE_DIGITS	20	/* width of the size value */

#define RCPT_PENDING	'P'
#define RCPT_DELIVERED	'D'
#define RCPT_BOUNCED	'B'

enum queue_body { QUEUE_BODY_NONE, QUEUE_BODY_7BIT, QUEUE_BODY_8BITMIME };
enum queue_ret { QUEUE_RET_NONE, QUEUE_RET_FULL, QUEUE_RET_HDRS };

/* NOTIFY=, a bit set; 0 is "not given" (RFC 3461: FAILURE,DELAY then). */
#define QUEUE_NOTIFY_NEVER	0x1
#define QUEUE_NOTIFY_SUCCESS	0x2
#define QUEUE_NOTIFY_FAILURE	0x4
#define QUEUE_NOTIFY_DELAY	0x8

struct queue_rcpt {
	char	*addr;
	char	 status;	/* RCPT_* */
	off_t	 status_off;	/* file offset of the status byte */
	char	*orcpt;		/* "type;address", or NULL/"" if not given */
	int	 notify;	/* QUEUE_NOTIFY_* bits */
};

struct queue_envelope {
	int		 version;	/* of the file read */
	char		 id[QUEUE_ID_SIZE];
	long long	 arrival;
	char		*sender;	/* "" for the null sender */
	char		*client;
	char		*helo;
	enum queue_body	 body;
	int		 smtputf8;
	enum queue_ret	 ret;
	char		*envid;		/* NULL or "" if not given */
	int		 nrcpt;
	struct queue_rcpt *rcpt;
	off_t		 data_off;	/* offset of the first message byte */
	off_t		 data_len;	/* message bytes; -1: not known yet */
	off_t		 size_off;	/* offset of the size value (version 2) */
	off_t		 outcome_end;	/* after the last outcome record; 0:
					   not known yet */
	int		 outcome_torn;	/* bytes follow outcome_end: cut them */
	off_t		 file_size;	/* queue_file_read(): the size then */
};

/* Parse a header held in memory.  0: complete, env filled (data_off,
 * size_off; data_len from the size record, -1 for version 1 or an
 * unfinished file); -1: malformed (or no "data" line within len), *err
 * says why.  Fuzzable: buf need not be NUL-terminated. */
int	queue_envelope_parse(const char *buf, size_t len,
	    struct queue_envelope *, const char **err);
void	queue_envelope_free(struct queue_envelope *);
/* Render a version 2 header (up to and including "data\n") into a malloc'd
 * string; the size is env->data_len, or the unfinished mark if it is < 0.
 * NULL (EINVAL) for what the reader would refuse. */
char	*queue_envelope_format(const struct queue_envelope *, size_t *len);

/* A whole file held in memory: the header, and the message within len.
 * Also sets data_len for version 1.  0 or -1 with *err (an unfinished or
 * truncated file is refused). */
int	queue_file_parse(const char *buf, size_t len, struct queue_envelope *,
	    const char **err);
/* The same for the file open on fd (read with pread; the offset is left
 * alone).  0; -1 with errno, EINVAL and *err when the file is corrupt. */
int	queue_file_read(int fd, struct queue_envelope *, const char **err);
/* The same, and on success hands over the bytes it read from the start of
 * the file (*head, malloc'd, the caller frees; *headlen bytes: the header
 * and usually the whole message), so a caller that looks at the message's
 * own header needs no read of its own.  *head is NULL after a failure. */
int	queue_file_read_head(int fd, struct queue_envelope *, const char **err,
	    char **head, size_t *headlen);
/* open(2) a queue file without updating its access time where the caller
 * may ask that (it owns the file, or is root): the first read after each
 * write would otherwise dirty the inode, a journalled update nothing here
 * uses; elsewhere (EPERM) a plain open. */
int	queue_open_noatime(const char *path, int flags);
/* Open <dir>/<id> (flags O_RDONLY or O_RDWR) and queue_file_read() it; the
 * id must match the name.  0: *fd open at the message, env filled; -1:
 * errno set, or EINVAL with *err when the file is corrupt (then the caller
 * moves it to corrupt/). */
int	queue_file_open(enum queue_dir, const char *id, int flags,
	    struct queue_envelope *, int *fd, const char **err);

/* Durably set recipient i's status byte: pwrite + fdatasync.  0 or -1. */
int	queue_rcpt_mark(int fd, struct queue_envelope *, int i, char status);
/* Write recipient i's status byte without syncing it, and leave env alone:
 * the caller makes several marks durable with one fdatasync(fd) and only
 * then updates env.  0 or -1 (errno). */
int	queue_rcpt_write(int fd, const struct queue_envelope *, int i,
	    char status);
/* Count recipients with status RCPT_PENDING. */
int	queue_pending_count(const struct queue_envelope *);
/* Write the size value of a version 2 header (at size_off) in place: the
 * writer's last step before its fsync.  0 or -1 (errno). */
int	queue_size_write(int fd, off_t size_off, off_t data_len);
/* The same value into p[0..QUEUE_SIZE_DIGITS), for a writer that still
 * holds the header in memory.  0 or -1 (errno). */
int	queue_size_put(char *p, off_t data_len);
/* Is v[0..n) at most max bytes without a control character or DEL, as
 * every value in a queue file must be?  1 or 0. */
int	queue_text_clean(const char *v, size_t n, size_t max);
/* pwrite all of p at off (EINTR and short writes handled).  0 or -1. */
int	queue_pwrite_all(int fd, const void *p, size_t len, off_t off);

#endif
