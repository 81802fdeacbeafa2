/*
 * queue_writer - create queue files (smtpd, pickup, bounce): the header,
 * the message, and the commit that makes a message durable in incoming/
 * (smtpd: active/) before anyone acknowledges it (write, cut a reused file
 * to length, write the header's size, fsync, rename without replacing
 * anything, fsync the directory; the file flock()ed by its writer until it
 * is closed; a message that fits the buffer is written
 * in one piece after the cut, its size included); with the pool of free/
 * files it writes new messages into instead of allocating an inode per
 * message.  A file
 * from free/ is written over only after the renames that put it there are
 * durable, so no crash can bring back its old name over new bytes.
 */
#ifndef TERN_QUEUE_WRITER_H
#define TERN_QUEUE_WRITER_H

#include <stddef.h>
#include <sys/types.h>

#include "queue.h"
#include "queue_file.h"

#define QUEUE_POOL_BATCH	64	/* names a writer takes per look */
#define QUEUE_POOL_RETRY_MS	100	/* free/ was empty: look again after */

/* Writer: smtpd (and the pickup path) create files with it. */
struct queue_writer {
	int	 fd;
	char	 id[QUEUE_ID_SIZE];
	char	 wpath[QUEUE_PATH_SIZE]; /* its name until the commit: tmp/<id>,
				   or free/<old id> for a file claimed
				   there; empty once it is not ours */
	int	 error;		/* errno of the first failure, sticky */
	int	 reused;	/* a file from free/: cut to size at sync */
	int	 claimed;	/* ... locked in free/, not renamed to tmp/ */
	enum queue_dir into;	/* committed into: incoming/, or active/ */
	int	 unlocked;	/* its lock failed: not for active/ */
	off_t	 reused_size;	/* its length when taken */
	off_t	 size;		/* bytes written to the file, header incl. */
	off_t	 size_off;	/* of the header's size value */
	size_t	 data_len;	/* message bytes written */
	size_t	 pending;	/* bytes in wbuf */
	char	 wbuf[64 * 1024];
};

/* Create tmp/<new id> (env->id is ignored and replaced by the new id, which
 * is also copied to w->id) and write the header.  0 or -1 (errno). */
int	queue_writer_open(struct queue_writer *, struct queue_envelope *env);

/* Names of files in free/ that one process may take, their renames into
 * free/ already durable.  Zero it to start: the writer then refills it from
 * the directory when empty, in line (two directory fsyncs).  With
 * owner_refills set it never does: the owner refills a pool of its own
 * with queue_pool_refill() off its event loop and queue_pool_merge()s it
 * in, and a writer finding the pool empty creates a new file. */
struct queue_pool {
	char		 name[QUEUE_POOL_BATCH][QUEUE_ID_SIZE];
	int		 n;
	long long	 retry_ms;	/* no look at free/ before this */
	unsigned int	 seed;		/* for taking names in random order */
	int		 owner_refills;
	uid_t		 euid;		/* ours, once euid_known */
	int		 euid_known;
};

/* Replace pool's names by a sample of free/, settled (the fsyncs of active/
 * and deferred/ that make their renames into free/ durable).  Blocks; safe
 * in a thread on a pool no other thread touches.  Returns the count. */
int	queue_pool_refill(struct queue_pool *);
/* Add the names of from that pool does not hold, as many as fit. */
void	queue_pool_merge(struct queue_pool *, const struct queue_pool *from);

/* queue_writer_open(), but the file is one from free/, claimed in place
 * (its lock, flock(2), held until the writer closes it; it keeps its old
 * name until the commit renames it to incoming/ or active/<new id>) and
 * overwritten, if pool finds one that is a plain file of ours with one
 * name that nobody else has open.  Whoever takes a file out of free/ locks it first. */
int	queue_writer_open_reuse(struct queue_writer *,
	    struct queue_envelope *env, struct queue_pool *pool);
/* Append message bytes (buffered).  0 or -1; errors are sticky. */
int	queue_writer_write(struct queue_writer *, const void *, size_t);
/* Flush and fsync the file (the expensive part, may run in a worker
 * thread).  0 or -1. */
int	queue_writer_sync(struct queue_writer *);
/* Rename tmp/<id> to incoming/<id> and fsync incoming/.  Only after this
 * returns 0 may the message be acknowledged.  Closes the file (an error
 * of that close, after the message is durable, is only kept in w->error). */
int	queue_writer_publish(struct queue_writer *);
/* The two halves of publish, for callers that share one fsync of a
 * directory among several files (group commit): rename tmp/<id> (or the
 * claimed free/<old id>) to incoming/<id> (the file stays open, locked),
 * and close it.  A message may be acknowledged only once an fsync of that
 * directory that started after its rename has returned 0.
 * 0 or -1. */
int	queue_writer_rename(struct queue_writer *);
/* The same into another directory: smtpd commits into active/ (its one
 * rename per message), and tells qmgr so (QMGR_T_COMMITTED). */
int	queue_writer_rename_to(struct queue_writer *, enum queue_dir into);
int	queue_writer_close(struct queue_writer *);
/* After queue_writer_rename(), when the fsync of its directory failed, and
 * before queue_writer_close(): take the file back out of incoming/ (or
 * where rename_to put it), so that the temporary error the client gets is
 * true and no copy is delivered behind its back.  While the writer holds
 * the file's lock qmgr takes on no file in active/ that nobody told it
 * about; from incoming/ it may have taken it already (-1, errno): a retry
 * by the client then makes a duplicate, never a loss. */
int	queue_writer_withdraw(struct queue_writer *);
/* sync + publish. */
int	queue_writer_commit(struct queue_writer *);
/* Close and unlink the tmp file; a file claimed in free/ is left there,
 * unlocked (safe to call after a failure, or twice). */
void	queue_writer_abort(struct queue_writer *);

#endif
