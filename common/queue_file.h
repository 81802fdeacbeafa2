/*
 * queue_file - the queue file format: parse and write a queue file's
 * header, read one from a descriptor, and change a recipient's status in
 * place.  Usable on its own (a buffer, a descriptor) by anything that
 * reads queue files; only queue_file_open() knows the queue directories.
 *
 * A queue file (QUEUE_FORMAT_VERSION 1) is a text header of records, one per
 * line, each "keyword value", in this order, followed by the message:
 *
 *	tern-queue 1
 *	id <queue id>
 *	time <arrival, seconds since the epoch>
 *	from <envelope sender, without angle brackets; empty for <>>
 *	client <client IP address, or "local">
 *	helo <HELO/EHLO argument, or "-">
 *	rcpt <S> <recipient address>        one per recipient, S = status:
 *	                                    P pending, D delivered, B bounced
 *	data
 *	<message: header and body, LF line endings, dot-unstuffed>
 *
 * The status byte of a rcpt line is the only thing ever changed in place
 * (queue_rcpt_mark: one pwrite + fdatasync; or several queue_rcpt_write and
 * one fdatasync), so an outcome is durable before qmgr acts on it and a crash
 * can at worst repeat a delivery, never lose one.
 * Everything else about a file is immutable once it leaves tmp/.
 */
#ifndef TERN_QUEUE_FILE_H
#define TERN_QUEUE_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "queue.h"

#define QUEUE_FORMAT_VERSION	1
#define QUEUE_HEADER_MAX	(4 * 1024 * 1024)
#define QUEUE_ADDR_MAX		1024	/* longest address kept in a file */

#define RCPT_PENDING	'P'
#define RCPT_DELIVERED	'D'
#define RCPT_BOUNCED	'B'

struct queue_rcpt {
	char	*addr;
	char	 status;	/* RCPT_* */
	off_t	 status_off;	/* file offset of the status byte */
};

struct queue_envelope {
	char		 id[QUEUE_ID_SIZE];
	long long	 arrival;
	char		*sender;	/* "" for the null sender */
	char		*client;
	char		*helo;
	int		 nrcpt;
	struct queue_rcpt *rcpt;
	off_t		 data_off;	/* offset of the first message byte */
};

/* Parse a header held in memory.  0: complete, env filled, env->data_off set;
 * -1: malformed (or no "data" line within len), *err says why.  Fuzzable:
 * buf need not be NUL-terminated. */
int	queue_envelope_parse(const char *buf, size_t len,
	    struct queue_envelope *, const char **err);
void	queue_envelope_free(struct queue_envelope *);
/* Render a header (up to and including "data\n") into a malloc'd string. */
char	*queue_envelope_format(const struct queue_envelope *, size_t *len);

/* Reader: open <dir>/<id> (flags O_RDONLY or O_RDWR) and parse its header.
 * 0: *fd open, env filled; -1: errno set, or EINVAL with *err when the file
 * is corrupt (then the caller moves it to corrupt/). */
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

#endif
