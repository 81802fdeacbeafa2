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
 * it into incoming/, in parallel with the others; then the job joins the
 * list of renamed files waiting for an fsync of incoming/.  If no such fsync
 * is running, the worker takes the whole list and runs one for all of them;
 * otherwise it waits for the running one to finish and then, if its file
 * was renamed too late to be covered by it, for the next.  An fsync covers
 * exactly the jobs it took, all renamed before it started, so no message is
 * acknowledged before its directory entry is durable; sessions whose DATA
 * ends together share one directory fsync.  The first job on an empty done list writes one byte to
 * a pipe; the event loop then takes the whole list at once, so a burst of
 * completions costs one wake-up.
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
	struct smtpd_commit_job	*dnext;		/* waiting for incoming/ fsync */
	int			 dir_done;
	int			 dir_result;
	int			 dir_err;
	struct queue_writer	*w;
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
	int			 dir_syncing;	/* a worker is in fsync(incoming/) */
	pthread_cond_t		 dir_synced;	/* a dir fsync finished */
	int			 stop;
	int			 nthreads;
	pthread_t		*threads;
	int			 pipe[2];	/* workers -> event loop */
	struct event		*ev;
	int			 incoming;	/* incoming/, open for fsync */
};

/* With c->lock held: return once an fsync of incoming/ that started after
 * job's rename has finished, running it if nobody else is. */
static void
smtpd_commit_dir_sync(struct smtpd_commit *c, struct smtpd_commit_job *job)
{
	struct smtpd_commit_job	*take, *j;
	int			 r, err;

	job->dir_done = 0;
	job->dnext = c->dirwait;
	c->dirwait = job;
	while (!job->dir_done) {
		if (c->dir_syncing) {
			pthread_cond_wait(&c->dir_synced, &c->lock);
			continue;
		}
		take = c->dirwait;
		c->dirwait = NULL;
		c->dir_syncing = 1;
		pthread_mutex_unlock(&c->lock);
		r = fsync(c->incoming);
		err = r < 0 ? errno : 0;
		pthread_mutex_lock(&c->lock);
		for (j = take; j != NULL; j = j->dnext) {
			j->dir_result = r;
			j->dir_err = err;
			j->dir_done = 1;
		}
		c->dir_syncing = 0;
		pthread_cond_broadcast(&c->dir_synced);
	}
}

/* fsync the file, rename it into incoming/, fsync incoming/ (shared), close
 * it.  0, or -1 with job->err. */
static int
smtpd_commit_run(struct smtpd_commit *c, struct smtpd_commit_job *job)
{
	if (queue_writer_sync(job->w) < 0 || queue_writer_rename(job->w) < 0) {
		job->err = errno;
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	smtpd_commit_dir_sync(c, job);
	pthread_mutex_unlock(&c->lock);
	if (job->dir_result < 0) {
		(void)queue_writer_close(job->w);
		(void)queue_writer_withdraw(job->w);
		job->err = job->dir_err;
		return -1;
	}
	if (queue_writer_close(job->w) < 0) {
		job->err = errno;
		return -1;
	}
	return 0;
}

static void *
smtpd_commit_worker(void *arg)
{
	struct smtpd_commit	*c = arg;
	struct smtpd_commit_job	*job;
	int			 wake;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->wake, &c->lock);
		/* On stop, the queue is still drained: every job finishes. */
		if ((job = c->head) == NULL)
			break;
		if ((c->head = job->next) == NULL)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);

		job->err = 0;
		if (job->fn != NULL) {
			errno = 0;
			job->result = job->fn(job->arg);
			job->err = errno;
		} else
			job->result = smtpd_commit_run(c, job);

		pthread_mutex_lock(&c->lock);
		wake = c->done == NULL;
		job->next = c->done;
		c->done = job;
		/* A full pipe already holds a wake-up (EAGAIN), and nothing
		 * else can go wrong with a pipe we own while signals are
		 * blocked in this thread. */
		if (wake && write(c->pipe[1], "", 1) < 0 && errno != EAGAIN)
			abort();
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
		job->done(job->arg, job->result, job->err);
		free(job);
	}
}

static void
smtpd_commit_readable(evutil_socket_t fd, short what, void *arg)
{
	char	 drain[64];

	(void)what;
	while (read(fd, drain, sizeof(drain)) > 0)
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

struct smtpd_commit *
smtpd_commit_new(struct event_base *base, int nthreads)
{
	struct smtpd_commit	*c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->dir_synced, NULL);
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		log_fatal("pipe: %s", strerror(errno));
	/* Open once: the group commit fsyncs it for every message. */
	c->incoming = open(queue_dir_name(QDIR_INCOMING),
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->incoming < 0)
		log_fatal("%s: %s", queue_dir_name(QDIR_INCOMING),
		    strerror(errno));
	c->ev = event_new(base, c->pipe[0], EV_READ | EV_PERSIST,
	    smtpd_commit_readable, c);
	if (c->ev == NULL || event_add(c->ev, NULL) < 0)
		log_fatal("cannot watch the commit pipe");
	c->nthreads = nthreads > 0 ? nthreads : 1;
	c->threads = xcalloc((size_t)c->nthreads, sizeof(*c->threads));
	smtpd_commit_start(c);
	return c;
}

static void
smtpd_commit_queue(struct smtpd_commit *c, struct smtpd_commit_job *job)
{
	pthread_mutex_lock(&c->lock);
	if (c->tail != NULL)
		c->tail->next = job;
	else
		c->head = job;
	c->tail = job;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

void
smtpd_commit_submit(struct smtpd_commit *c, struct queue_writer *w,
    smtpd_commit_done_fn done, void *arg)
{
	struct smtpd_commit_job	*job = xcalloc(1, sizeof(*job));

	job->w = w;
	job->done = done;
	job->arg = arg;
	smtpd_commit_queue(c, job);
}

void
smtpd_commit_call(struct smtpd_commit *c, int (*fn)(void *),
    smtpd_commit_done_fn done, void *arg)
{
	struct smtpd_commit_job	*job = xcalloc(1, sizeof(*job));

	job->fn = fn;
	job->done = done;
	job->arg = arg;
	smtpd_commit_queue(c, job);
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
	close(c->incoming);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->dir_synced);
	pthread_mutex_destroy(&c->lock);
	free(c->threads);
	free(c);
}
