/*
 * queue - the on-disk mail queue: its directories, queue ids and the moves
 * of a message between directories.  The file format is queue_file.h; the
 * writer that creates files, with its free/ pool, is queue_writer.h.
 *
 * Every daemon runs with the queue directory as its working directory (it
 * may be chrooted there), so all paths here are relative.  Directories:
 *
 *	tmp/       being written by smtpd; never read by anyone else
 *	incoming/  committed (fsynced, renamed, directory fsynced); qmgr's inbox
 *	active/    qmgr is delivering it, or smtpd committed it there and told
 *	           qmgr (QMGR_T_COMMITTED)
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
 *	           it open (queue_reuse_ok), and only once the rename that
 *	           put it there is durable (queue_pool_settle).
 *	private/   UNIX sockets of the daemons
 */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stddef.h>

#define QUEUE_ID_SIZE		32	/* buffer size; ids are shorter */
#define QUEUE_PATH_SIZE		64

enum queue_dir {
	QDIR_TMP, QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD,
	QDIR_CORRUPT, QDIR_FREE, QDIR_COUNT
};

#define QUEUE_FREE_MAX		1024	/* files qmgr leaves in free/ */
#define QUEUE_REUSE_MAX		(64 * 1024)	/* larger files are removed */

const char *queue_dir_name(enum queue_dir);	/* "incoming", ... */
/* Create every queue directory below the current directory (mode 0700);
 * missing ones only.  0 or -1. */
int	queue_dirs_create(void);
/* Ids are 1..(QUEUE_ID_SIZE-1) characters of [0-9A-Z]. */
int	queue_id_valid(const char *);
/* A new id: arrival time in microseconds, the pid and a counter, in
 * upper-case base 32, so ids sort by arrival and differ between processes. */
void	queue_id_new(char id[QUEUE_ID_SIZE]);
/* When queue_id_new() made id, in microseconds since the epoch; -1 for an
 * id of another shape. */
long long queue_id_usec(const char *id);
/* 1 if queue_id_new() in this process could have made id (its pid part is
 * ours), else 0. */
int	queue_id_mine(const char *id);
/* The "delay=" of a log line: seconds since id was made (a queue file is
 * made as its message arrives) as queue_delay_text() writes them, or "0"
 * for an id of another shape or a clock that stepped back. */
void	queue_id_delay(const char *id, char *out, size_t outlen);
/* usec as seconds with two decimals, rounded half up: "1.25" (a negative
 * usec prints "0.00"). */
void	queue_delay_text(long long usec, char *out, size_t outlen);
/* "<dir>/<id>" into out; -1 if it does not fit or id is invalid. */
int	queue_path(char *out, size_t outlen, enum queue_dir, const char *id);
/* Rename from to to, never over an existing name: an id that ever
 * repeated (the clock stepped back, a pid reused) must not replace
 * acknowledged mail.  renameat2(RENAME_NOREPLACE), or link() and unlink()
 * where the file system lacks it.  0 or -1 (errno; EEXIST: to exists, and
 * both files are left as they were). */
int	queue_rename(const char *from, const char *to);
/* A crash between the link() and the unlink() of queue_rename()'s fallback
 * leaves one file with two names (which deliver refuses): for each file
 * with more than one link, remove its names in directories a move could
 * have left (free/, tmp/, incoming/, deferred/, active/, hold/, corrupt/,
 * in that order) when the same file also has one further along.  Run by
 * qmgr at start-up, before its recovery.  How many names went, or -1. */
int	queue_links_repair(void);
/* queue_rename() <from>/<id> to <to>/<id>.  0 or -1 (errno). */
int	queue_move(const char *id, enum queue_dir from, enum queue_dir to);
/* Move a finished message's file from d/<id> to free/<id>, or remove it
 * if it cannot go there (too big, free/<id> exists, or d is not active/
 * or deferred/: the writer makes only those renames durable before it
 * reuses a file).  0 or -1 (errno; the file is still in d/). */
int	queue_recycle(enum queue_dir d, const char *id);
/* The same for a file whose size the caller knows (its own reader and
 * writer since: qmgr): no stat.  size -1: not known. */
int	queue_recycle_sized(enum queue_dir d, const char *id, off_t size);
/* Remove free/<name> (dfd: free/ open), unless a writer has claimed it: a
 * file is taken out of free/ only under its lock (queue_writer.c).  1
 * removed, 0 claimed or gone, -1 (errno). */
int	queue_free_remove(int dfd, const char *name);
/* Does a writer still hold <d>/<id> (queue_writer.c locks each file from
 * its creation or claim until it closes it, after the commit, or after a
 * failed commit has taken it back out)?  1 yes, or cannot tell now (no
 * descriptor, no lock memory); 0 no; -1 not there. */
int	queue_being_written(enum queue_dir d, const char *id);

#endif
