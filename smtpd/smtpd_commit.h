/*
 * smtpd_commit - a small pool of threads that make queue files durable
 * (fsync the file, rename it into active/ or incoming/, fsync the
 * directory).  An fsync
 * can take milliseconds; done here it never stalls the event loop and the
 * other sessions, and fsyncs that run at the same time share one journal
 * commit in the file system.  Files committed together share one fsync of
 * that directory (group commit, see smtpd_commit.c).  Completions come back to the
 * event loop through a pipe, and their callbacks run there, never in a
 * worker thread.  The workers also run other blocking work of the process
 * (smtpd_commit_call: the refill of the free/ pool).
 */
#ifndef TERN_SMTPD_COMMIT_H
#define TERN_SMTPD_COMMIT_H

#include "queue.h"

struct event_base;
struct queue_writer;
struct smtpd_commit;

#define SMTP_COMMIT_THREADS	8

/* Called on the event loop: result 0 (durable; a commit's err is then that
 * of a close() after it, already logged, and changes nothing) or -1 with
 * err the errno of the failure. */
typedef void	(*smtpd_commit_done_fn)(void *arg, int result, int err);

/* Start nthreads workers; exits through log_fatal on failure. */
struct smtpd_commit *smtpd_commit_new(struct event_base *, int nthreads);
/* Commit w into into (active/ or incoming/) in a worker, then call
 * done(arg, ...).  w must stay valid and untouched until then. */
void	smtpd_commit_submit(struct smtpd_commit *, struct queue_writer *w,
	    enum queue_dir into, smtpd_commit_done_fn done, void *arg);
/* Run fn(arg) in a worker, then call done(arg, its result, errno after it)
 * on the event loop: other blocking file system work (fn touches nothing
 * the event loop uses until done runs). */
void	smtpd_commit_call(struct smtpd_commit *, int (*fn)(void *),
	    smtpd_commit_done_fn done, void *arg);
/* Finish every submitted commit, run the callbacks, stop the workers. */
void	smtpd_commit_free(struct smtpd_commit *);

#endif
