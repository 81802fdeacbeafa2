/*
 * queue - the on-disk mail queue: file names, directories and the queue file.
 *
 * Every daemon runs with the queue directory as its working directory (it
 * may be chrooted there), so all paths here are relative.  Directories:
 *
 *	tmp/       being written by smtpd; never read by anyone else
 *	incoming/  committed (fsynced, renamed, directory fsynced); qmgr's inbox
 *	active/    qmgr is delivering it
 *	deferred/  waiting for a retry; the file's mtime is the next attempt time
 *	hold/      held by the administrator; qmgr ignores it
 *	corrupt/   unreadable files are moved here, never deleted
 *	free/      files of finished messages, kept for smtpd to write new
 *	           messages into (queue_writer_open_reuse): reusing an inode
 *	           is much cheaper than allocating one, and a busy queue would
 *	           otherwise allocate and free one per message.  Their bytes
 *	           are those of old messages until reused, as a deleted file's
 *	           blocks would be.  Only files up to QUEUE_REUSE_MAX bytes go
 *	           there, and qmgr trims free/ to QUEUE_FREE_MAX files, so it
 *	           holds at most 64 MiB.  A file is reused only if nobody has
 *	           it open (queue_reuse_ok).
 *	private/   UNIX sockets of the daemons
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
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#define QUEUE_FORMAT_VERSION	1
#define QUEUE_ID_SIZE		32	/* buffer size; ids are shorter */
#define QUEUE_PATH_SIZE		64
#define QUEUE_HEADER_MAX	(4 * 1024 * 1024)
#define QUEUE_ADDR_MAX		1024	/* longest address kept in a file */

#define RCPT_PENDING	'P'
#define RCPT_DELIVERED	'D'
#define RCPT_BOUNCED	'B'

enum queue_dir {
	QDIR_TMP, QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD,
	QDIR_CORRUPT, QDIR_FREE, QDIR_COUNT
};

#define QUEUE_FREE_MAX		1024	/* files qmgr leaves in free/ */
#define QUEUE_REUSE_MAX		(64 * 1024)	/* larger files are removed */
#define QUEUE_POOL_BATCH	64	/* names a writer takes per look */
#define QUEUE_POOL_RETRY_MS	100	/* free/ was empty: look again after */

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

const char *queue_dir_name(enum queue_dir);	/* "incoming", ... */
/* Create every queue directory below the current directory (mode 0700);
 * missing ones only.  0 or -1. */
int	queue_dirs_create(void);
/* Ids are 1..(QUEUE_ID_SIZE-1) characters of [0-9A-Z]. */
int	queue_id_valid(const char *);
/* A new id: arrival time in microseconds, the pid and a counter, in
 * upper-case base 32, so ids sort by arrival and differ between processes. */
void	queue_id_new(char id[QUEUE_ID_SIZE]);
/* "<dir>/<id>" into out; -1 if it does not fit or id is invalid. */
int	queue_path(char *out, size_t outlen, enum queue_dir, const char *id);

/* Parse a header held in memory.  0: complete, env filled, env->data_off set;
 * -1: malformed (or no "data" line within len), *err says why.  Fuzzable:
 * buf need not be NUL-terminated. */
int	queue_envelope_parse(const char *buf, size_t len,
	    struct queue_envelope *, const char **err);
void	queue_envelope_free(struct queue_envelope *);
/* Render a header (up to and including "data\n") into a malloc'd string. */
char	*queue_envelope_format(const struct queue_envelope *, size_t *len);

/* Writer: smtpd (and the pickup path) create files with it. */
struct queue_writer {
	int	 fd;
	char	 id[QUEUE_ID_SIZE];
	char	 tmp_path[QUEUE_PATH_SIZE];
	int	 error;		/* errno of the first failure, sticky */
	int	 reused;	/* a file from free/: cut to size at sync */
	off_t	 size;		/* bytes written to the file, header incl. */
	size_t	 data_len;	/* message bytes written */
	size_t	 pending;	/* bytes in wbuf */
	char	 wbuf[64 * 1024];
};

/* Create tmp/<new id> (env->id is ignored and replaced by the new id, which
 * is also copied to w->id) and write the header.  0 or -1 (errno). */
int	queue_writer_open(struct queue_writer *, struct queue_envelope *env);

/* Names of files in free/ that one process may take, refilled from the
 * directory when empty.  Zero it to start. */
struct queue_pool {
	char		 name[QUEUE_POOL_BATCH][QUEUE_ID_SIZE];
	int		 n;
	long long	 retry_ms;	/* no look at free/ before this */
	unsigned int	 seed;		/* for taking names in random order */
};

/* queue_writer_open(), but the file is one from free/ renamed to tmp/<new
 * id> and overwritten, if pool finds one that is a plain file of ours with
 * one name that nobody else has open. */
int	queue_writer_open_reuse(struct queue_writer *,
	    struct queue_envelope *env, struct queue_pool *pool);
/* Move a finished message's file from d/<id> to free/<id>, or remove it
 * if it cannot go there.  0 or -1 (errno; the file is still in d/). */
int	queue_recycle(enum queue_dir d, const char *id);
/* Append message bytes (buffered).  0 or -1; errors are sticky. */
int	queue_writer_write(struct queue_writer *, const void *, size_t);
/* Flush and fsync the file (the expensive part, may run in a worker
 * thread).  0 or -1. */
int	queue_writer_sync(struct queue_writer *);
/* Rename tmp/<id> to incoming/<id> and fsync incoming/.  Only after this
 * returns 0 may the message be acknowledged.  Closes the file. */
int	queue_writer_publish(struct queue_writer *);
/* The two halves of publish, for callers that share one fsync of incoming/
 * among several files (group commit): rename tmp/<id> to incoming/<id>
 * (the file stays open), and close it.  A message may be acknowledged only
 * once an fsync of incoming/ that started after its rename has returned 0.
 * 0 or -1. */
int	queue_writer_rename(struct queue_writer *);
int	queue_writer_close(struct queue_writer *);
/* After queue_writer_rename(), when the fsync of incoming/ failed: take the
 * file back out of incoming/, so that the temporary error the client gets
 * is true and no copy is delivered behind its back.  0, or -1 (errno) if
 * it could not be removed: qmgr may have taken it already, and a retry by
 * the client will then make a duplicate, never a loss. */
int	queue_writer_withdraw(struct queue_writer *);
/* sync + publish. */
int	queue_writer_commit(struct queue_writer *);
/* Close and unlink the tmp file (safe to call after a failure, or twice). */
void	queue_writer_abort(struct queue_writer *);

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
/* rename <from>/<id> to <to>/<id>.  0 or -1 (errno). */
int	queue_move(const char *id, enum queue_dir from, enum queue_dir to);
/* Count recipients with status RCPT_PENDING. */
int	queue_pending_count(const struct queue_envelope *);

#endif
