/*
 * smtpd_commit - the commit worker pool.  Jobs wait in a FIFO under one
 * mutex; a worker takes one, commits it (the only thing the workers ever
 * do: no logging, no libevent, no session state), and moves it to the done
 * list.
 *
 * A job may instead carry a function of its own (smtpd_commit_call): other
 * blocking file system work of the process, such as refilling the pool of
 * free/ names, which must not stall the event loop either.  It runs the
 * same way, and its callback comes back the same way.
 *
 * Committing is group commit.  Each worker fsyncs its own file and renames
 * it into active/ (straight to qmgr: the message's one rename, see
 * QMGR_T_COMMITTED in proto_qmgr.h; into incoming/ while qmgr cannot be
 * told), in parallel with the others; then the job joins the list of
 * renamed files waiting for an fsync of their directory.  If no such fsync
 * is running, the worker takes the whole list and runs one for all of them,
 * closes their files and finishes them, and goes on with the list that grew
 * meanwhile until it is empty; otherwise it leaves its job on the list for
 * the worker in the fsync and takes the next job from the queue (no worker
 * ever waits for another's fsync, and nobody is woken when one ends).  An
 * fsync covers exactly the jobs it took, all renamed before it started, so
 * no message is acknowledged before its directory entry is durable;
 * sessions whose DATA ends together share one directory fsync.  The first
 * job on an empty done list writes one byte to a pipe; the event loop then
 * takes the whole list at once, so a burst of completions costs one
 * wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "log.h"
#include "queue_writer.h"
#include "smtpd_commit.h"

/* fsync needs next to no stack; keep the threads' reservations small. */
#define SMTP_COMMIT_STACK	(256 * 1024)

struct smtpd_commit_job {
	struct smtpd_commit_job	*next;
	struct smtpd_commit_job	*dnext;		/* waiting for the dir fsync */
	struct queue_writer	*w;
	enum queue_dir		 into;		/* active/, or incoming/ */
	int			(*fn)(void *);	/* instead of a commit */
	smtpd_commit_done_fn	 done;
	void			*arg;
	int			 result;
	int			 err;
};

struct smtpd_commit {
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;		/* a job arrived, or stop */
	struct smtpd_commit_job	*head, *tail;	/* waiting, FIFO */
	struct smtpd_commit_job	*done;		/* finished, LIFO */
	struct smtpd_commit_job	*dirwait;	/* renamed, awaiting dir fsync */
	int			 dir_syncing;	/* a worker is in fsync(active/) */
	int			 stop;
	int			 nthreads;
	pthread_t		*threads;
	int			 pipe[2];	/* workers -> event loop */
	struct event		*ev;
	int			 active;	/* active/, open for fsync */
	int			 incoming;	/* incoming/, the same */
};

/* With c->lock held: job is finished; hand it to the event loop.  The
 * first job on an empty done list writes the wake-up byte.  A full pipe
 * already holds a wake-up (EAGAIN), and nothing else can go wrong with a
 * pipe we own while signals are blocked in this thread. */
static void
smtpd_commit_finish(struct smtpd_commit *c, struct smtpd_commit_job *job)
{
	int	 wake = c->done == NULL;

	job->next = c->done;
	c->done = job;
	if (wake && write(c->pipe[1], "", 1) < 0 && errno != EAGAIN)
		abort();
}

/* Close the file of a job whose directory fsync returned r (err): durable,
 * or taken back out of active/ so the temporary error is true.  Once the
 * directory fsync succeeded the message is committed and qmgr may already
 * be delivering it, so a close() error then (the descriptor is released
 * all the same) cannot make it fail: a 451 would only have the client send
 * it again.  The error is kept in job->err for the event loop to log. */
static void
smtpd_commit_close(struct smtpd_commit_job *job, int r, int err)
{
	if (r < 0) {
		/* Out of the directory before the lock goes with the close:
		 * qmgr leaves a locked file alone (queue_being_written). */
		(void)queue_writer_withdraw(job->w);
		(void)queue_writer_close(job->w);
		job->result = -1;
		job->err = err;
		return;
	}
	job->result = 0;
	job->err = queue_writer_close(job->w) < 0 ? errno : 0;
}

/* fsync the directories the jobs of list were renamed into: [1] active/,
 * [0] incoming/ (only while qmgr cannot be told: smtpd_notify_ready()). */
static void
dir_fsync(struct smtpd_commit *c, struct smtpd_commit_job *list, int r[2],
    int err[2])
{
	struct smtpd_commit_job	*j;
	int			 need[2] = { 0, 0 }, i;

	for (j = list; j != NULL; j = j->dnext)
		need[j->into == QDIR_ACTIVE] = 1;
	for (i = 0; i < 2; i++) {
		r[i] = need[i] ? fsync(i ? c->active : c->incoming) : 0;
		err[i] = r[i] < 0 ? errno : 0;
	}
}

/* With c->lock held: job's file is renamed into active/ and is finished
 * by the first fsync of active/ that starts after now.  A worker already
 * in such an fsync runs the next one too, so this worker goes back to the
 * queue at once; otherwise it runs fsyncs until no renamed job is left. */
static void
smtpd_commit_dir_sync(struct smtpd_commit *c, struct smtpd_commit_job *job)
{
	struct smtpd_commit_job	*take, *j, *next;
	int			 r[2], err[2];

	job->dnext = c->dirwait;
	c->dirwait = job;
	if (c->dir_syncing)
		return;
	c->dir_syncing = 1;
	while ((take = c->dirwait) != NULL) {
		c->dirwait = NULL;
		pthread_mutex_unlock(&c->lock);
		dir_fsync(c, take, r, err);
		for (j = take; j != NULL; j = j->dnext)
			smtpd_commit_close(j, r[j->into == QDIR_ACTIVE],
			    err[j->into == QDIR_ACTIVE]);
		pthread_mutex_lock(&c->lock);
		for (j = take; j != NULL; j = next) {
			next = j->dnext;
			smtpd_commit_finish(c, j);
		}
	}
	c->dir_syncing = 0;
}

/* Run a job up to the fsync of active/: 1 when that is still needed
 * (the file is renamed), 0 when the job is finished (its own function, or
 * a failure, with job->err). */
static int
smtpd_commit_run(struct smtpd_commit_job *job)
{
	job->err = 0;
	if (job->fn != NULL) {
		errno = 0;
		job->result = job->fn(job->arg);
		job->err = errno;
		return 0;
	}
	if (queue_writer_sync(job->w) < 0 ||
	    queue_writer_rename_to(job->w, job->into) < 0) {
		job->result = -1;
		job->err = errno;
		return 0;
	}
	return 1;
}

static void *
smtpd_commit_worker(void *arg)
{
	struct smtpd_commit	*c = arg;
	struct smtpd_commit_job	*job;
	int			 renamed;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		/* On stop, the queue is still drained: every job finishes,
		 * and a worker in the directory fsync finishes every renamed
		 * job before it leaves. */
		if ((job = c->head) == NULL)
			break;
		if ((c->head = job->next) == NULL)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);
		renamed = smtpd_commit_run(job);
		pthread_mutex_lock(&c->lock);
		if (renamed)
			smtpd_commit_dir_sync(c, job);
		else
			smtpd_commit_finish(c, job);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Run the callbacks of every finished job, oldest first. */
static void
smtpd_commit_complete(struct smtpd_commit *c)
{
	struct smtpd_commit_job	*list, *job, *rev = NULL;

	pthread_mutex_lock(&c->lock);
	list = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->lock);
	while ((job = list) != NULL) {
		list = job->next;
		job->next = rev;
		rev = job;
	}
	while ((job = rev) != NULL) {
		rev = job->next;
		/* Workers do not log: a commit that stands despite an error
		 * (smtpd_commit_close) is reported here. */
		if (job->w != NULL && job->result == 0 && job->err != 0)
			log_warn("%s: queue file close after its commit: %s",
			    job->w->id, strerror(job->err));
		job->done(job->arg, job->result, job->err);
		free(job);
	}
}

static void
smtpd_commit_readable(evutil_socket_t fd, short what, void *arg)
{
	char	 drain[64];

	(void)what;
	/* Only the first job on an empty done list writes a byte, so one
	 * read takes them all; a read that would only say EAGAIN is not
	 * made. */
	while (read(fd, drain, sizeof(drain)) == (ssize_t)sizeof(drain))
		;
	smtpd_commit_complete(arg);
}

static void
smtpd_commit_start(struct smtpd_commit *c)
{
	pthread_attr_t	 attr;
	sigset_t	 all, old;
	int		 i, r;

	/* Signals belong to the event loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SMTP_COMMIT_STACK);
	for (i = 0; i < c->nthreads; i++)
		if ((r = pthread_create(&c->threads[i], &attr, smtpd_commit_worker,
		    c)) != 0)
			log_fatal("pthread_create: %s", strerror(r));
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Open once: the group commit fsyncs it for every message. */
static int
open_dir(enum queue_dir d)
{
	int	 fd;

	fd = open(queue_dir_name(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_fatal("%s: %s", queue_dir_name(d), strerror(errno));
	return fd;
}

struct smtpd_commit *
smtpd_commit_new(struct event_base *base, int nthreads)
{
	struct smtpd_commit	*c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		log_fatal("pipe: %s", strerror(errno));
	c->active = open_dir(QDIR_ACTIVE);
	c->incoming = open_dir(QDIR_INCOMING);
	c->ev = event_new(base, c->pipe[0], EV_READ | EV_PERSIST,
	    smtpd_commit_readable, c);
	if (c->ev == NULL || event_add(c->ev, NULL) < 0)
		log_fatal("cannot watch the commit pipe");
	c->nthreads = nthreads > 0 ? nthreads : 1;
	c->threads = xcalloc((size_t)c->nthreads, sizeof(*c->threads));
	smtpd_commit_start(c);
	return c;
}

/* Queue a commit of w, or a call of fn, for the next free worker. */
static void
smtpd_commit_queue(struct smtpd_commit *c, struct queue_writer *w,
    enum queue_dir into, int (*fn)(void *), smtpd_commit_done_fn done,
    void *arg)
{
	struct smtpd_commit_job	*job = xcalloc(1, sizeof(*job));

	job->w = w;
	job->into = into;
	job->fn = fn;
	job->done = done;
	job->arg = arg;
	pthread_mutex_lock(&c->lock);
	if (c->tail != NULL)
		c->tail->next = job;
	else
		c->head = job;
	c->tail = job;
	pthread_mutex_unlock(&c->lock);
	/* After the unlock: a worker woken while the loop still held the
	 * lock would at once sleep again on it (two more futex calls). */
	pthread_cond_signal(&c->wake);
}

void
smtpd_commit_submit(struct smtpd_commit *c, struct queue_writer *w,
    enum queue_dir into, smtpd_commit_done_fn done, void *arg)
{
	smtpd_commit_queue(c, w, into, NULL, done, arg);
}

void
smtpd_commit_call(struct smtpd_commit *c, int (*fn)(void *),
    smtpd_commit_done_fn done, void *arg)
{
	smtpd_commit_queue(c, NULL, QDIR_ACTIVE, fn, done, arg);
}

void
smtpd_commit_free(struct smtpd_commit *c)
{
	int	 i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	smtpd_commit_complete(c);
	event_free(c->ev);
	close(c->pipe[0]);
	close(c->pipe[1]);
	close(c->active);
	close(c->incoming);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->threads);
	free(c);
}
