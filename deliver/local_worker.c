/*
 * local_worker - long-lived mailbox processes, one per account, that do
 * the maildir work of deliver's flushes (local_run.c keeps the deadline).
 *
 * Forking a child for every account of every flush cost more CPU than the
 * mailbox work it did (a clone, a page table copy and teardown, a pipe,
 * per flush of a few messages).  So deliver forks a worker the first time
 * an account gets mail, and keeps it: the worker takes the account's
 * effective ids once (privs_become, exactly what the per-flush child did;
 * its real and saved uid stay root, so the user can neither signal nor
 * trace it), closes every descriptor but its socket, and then serves one
 * request after the other.  A worker that does not answer by the deadline
 * is killed (SIGKILL) and forgotten, as the per-flush child was; the next
 * mail for that account gets a new one.  The pool is bounded
 * (LOCAL_WORKER_SLOTS, least recently used out) and a worker idle for
 * LOCAL_WORKER_IDLE_MS is closed at the next flush; closing its socket is
 * what ends it (EOF), and a worker whose deliver is gone ends the same way.
 *
 * The wire format is private to one deliver binary and its own forks (both
 * ends are the same program, so structures go as they are), over a
 * SOCK_SEQPACKET socketpair.  Request: one packet per job, each carrying
 * the queue file's descriptor (SCM_RIGHTS; the worker reads it with pread
 * only, and closes it before it replies, so that smtpd may reuse the file
 * once qmgr has let it go) and a struct worker_job followed by the queue
 * id, sender, recipient, home directory and the Maildir under it
 * (home_mailbox, or a virtual mailbox's path under virtual_mailbox_base:
 * one worker serves every mailbox of its ids), each NUL-terminated.  Reply:
 * one packet, a struct local_worker_reply and n deliver_results.  The version
 * field guards against a worker forked from an older binary, which cannot
 * happen today (a new binary is a new deliver process) but costs nothing.
 * The parent checks a reply as it would any process's that ran as a user:
 * the count, each status and NUL-terminated texts, or the jobs are
 * deferred (local_worker_reply_check(), unit-tested).
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "privs.h"
#include "deliver.h"

#define WORKER_VERSION		2
#define LOCAL_WORKER_IDLE_MS	(60 * 1000)	/* closed at the next flush */
#define WORKER_EXIT_IDLE_MS	(10 * 60 * 1000) /* a worker gives up */
#define WORKER_SEND_TIMEOUT_S	5		/* a worker reads at once */
#define WORKER_STRINGS		5	/* qid, sender, rcpt, home, mailbox */
#define WORKER_JOB_MAX		(sizeof(struct worker_job) + QUEUE_ID_SIZE + \
				 2 * (QUEUE_ADDR_MAX + 1) + \
				 2 * DELIVER_PATH_SIZE)

struct worker_job {
	uint32_t	 version;
	uint32_t	 n;		/* jobs in this request */
	uint32_t	 k;		/* this one's index */
	int32_t		 line;		/* rcpt line in the queue file, or -1 */
	int64_t		 offset;	/* the message: [offset, size) */
	int64_t		 size;
	int64_t		 arrival;	/* for the stable name */
	uint32_t	 len[WORKER_STRINGS];	/* with their NULs */
};

struct local_worker {
	pid_t		 pid;
	int		 fd;		/* our end; -1: free slot */
	uid_t		 uid;
	gid_t		 gid;
	long long	 used_ms;
};

struct local_workers {
	struct local_worker	 w[LOCAL_WORKER_SLOTS];
};

/* ------------------------------------------------------------ worker */

/* One job as the worker sees it: the pieces maildir.c reads. */
struct worker_item {
	struct deliver_request	 req;
	struct deliver_msg	 msg;
	struct maildir_job	 job;
	struct deliver_result	 res;
	int			 line;
	const char		*home;
	const char		*mailbox;
	_Alignas(struct worker_job) char buf[WORKER_JOB_MAX];
};

/* The strings after the job header: each within the packet and ending in
 * its NUL.  0 or -1. */
static int
worker_job_strings(const struct worker_job *h, size_t got, const char **s)
{
	size_t	 off = sizeof(*h);
	int	 i;

	for (i = 0; i < WORKER_STRINGS; i++) {
		if (h->len[i] == 0 || h->len[i] > got - off)
			return -1;
		s[i] = (const char *)h + off;
		if (s[i][h->len[i] - 1] != '\0')
			return -1;
		off += h->len[i];
	}
	return 0;
}

/* Receive job k of a request into it (the descriptor included).  The
 * request's job count, or -1 (EOF, or a packet that is not a job). */
static int
worker_recv_job(int sock, struct worker_item *it, uint32_t k, uint32_t n)
{
	char			 cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec		 iov = { it->buf, sizeof(it->buf) };
	struct msghdr		 mh;
	struct cmsghdr		*c;
	const struct worker_job	*h = (const struct worker_job *)it->buf;
	const char		*s[WORKER_STRINGS];
	ssize_t			 got;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	it->msg.fd = -1;
	do
		got = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&it->msg.fd, CMSG_DATA(c), sizeof(int));
	if (it->msg.fd < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)got < sizeof(*h) || h->version != WORKER_VERSION ||
	    h->k != k || (k > 0 && h->n != n) || h->n == 0 ||
	    h->n > LOCAL_BATCH_JOBS || worker_job_strings(h, (size_t)got, s) < 0)
		return -1;
	it->req.id = s[0];
	it->req.sender = s[1];
	it->job.rcpt = s[2];
	it->home = s[3];
	it->mailbox = s[4];
	it->line = h->line;
	it->msg.req = &it->req;
	it->msg.offset = (off_t)h->offset;
	it->msg.size = (off_t)h->size;
	it->msg.env.arrival = h->arrival;
	it->msg.line = &it->line;
	it->job.msg = &it->msg;
	it->job.j = 0;
	it->job.res = &it->res;
	return (int)h->n;
}

static void
worker_items_close(struct worker_item *it, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		if (it[k].msg.fd >= 0) {
			close(it[k].msg.fd);
			it[k].msg.fd = -1;
		}
}

/* Read one whole request; its job count, or -1 when the worker is done. */
static int
worker_recv(int sock, struct worker_item *it)
{
	struct pollfd	 pfd = { sock, POLLIN, 0 };
	int		 n, k, r;

	do
		r = poll(&pfd, 1, WORKER_EXIT_IDLE_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	if ((n = worker_recv_job(sock, &it[0], 0, 0)) < 0) {
		worker_items_close(it, 1);
		return -1;
	}
	for (k = 1; k < n; k++)
		if (worker_recv_job(sock, &it[k], (uint32_t)k,
		    (uint32_t)n) < 0) {
			worker_items_close(it, k + 1);
			return -1;
		}
	return n;
}

static int
worker_reply(int sock, struct worker_item *it, int n)
{
	struct {
		struct local_worker_reply	 h;
		struct deliver_result	 res[LOCAL_BATCH_JOBS];
	} r;
	size_t	 len = sizeof(r.h) + (size_t)n * sizeof(r.res[0]);
	int	 k;

	memset(&r.h, 0, sizeof(r.h));
	r.h.version = WORKER_VERSION;
	r.h.n = (uint32_t)n;
	for (k = 0; k < n; k++)
		r.res[k] = it[k].res;
	return send(sock, &r, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The worker: serve requests until deliver closes the socket (or dies),
 * or nothing came for WORKER_EXIT_IDLE_MS.  Never returns to the caller's
 * code: it runs in a fork of deliver. */
static void __attribute__((noreturn))
worker_main(struct deliver_ctx *ctx, const struct local_user *u, int sock)
{
	static struct worker_item	 it[LOCAL_BATCH_JOBS];
	struct maildir_job		*jobs[LOCAL_BATCH_JOBS];
	struct local_user		 me = *u;
	int				 n, k, denied = 0;

	/* Nothing of deliver's but the socket: not the listening socket,
	 * not qmgr's connection, and above all no queue file, which smtpd
	 * must find closed to reuse it. */
	if (sock > 3)
		close_range(3, (unsigned int)sock - 1, 0);
	close_range((unsigned int)sock + 1, ~0U, 0);
	log_reopen();
	ctx->pid = 0;	/* Maildir names carry the worker's own pid */
	if (privs_become(me.uid, me.gid) < 0)
		denied = errno != 0 ? errno : EPERM;
	while ((n = worker_recv(sock, it)) > 0) {
		for (k = 0; k < n; k++)
			jobs[k] = &it[k].job;
		/* The home directory may have changed since the fork. */
		strlcpy(me.home, it[0].home, sizeof(me.home));
		if (denied == 0)
			maildir_deliver_home(ctx, &me, it[0].mailbox, jobs, n);
		else {
			errno = denied;
			maildir_deliver_denied(&me, jobs, n);
		}
		worker_items_close(it, n);
		if (worker_reply(sock, it, n) < 0)
			break;
	}
	_exit(0);
}

/* ------------------------------------------------------------ parent */

static struct local_workers *
workers_of(struct deliver_ctx *ctx)
{
	int	 i;

	if (ctx->workers == NULL) {
		ctx->workers = xmalloc(sizeof(*ctx->workers));
		for (i = 0; i < LOCAL_WORKER_SLOTS; i++)
			ctx->workers->w[i].fd = -1;
	}
	return ctx->workers;
}

static void
worker_forget(struct local_worker *w, int kill_it)
{
	if (w->fd < 0)
		return;
	if (kill_it)
		kill(w->pid, SIGKILL);
	close(w->fd);
	w->fd = -1;
}

/* Start a worker for u in slot w.  0 or -1. */
static int
worker_spawn(struct deliver_ctx *ctx, const struct local_user *u,
    struct local_worker *w)
{
	struct timeval	 tv = { WORKER_SEND_TIMEOUT_S, 0 };
	int		 sv[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_warn("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(ctx, u, sv[1]);
	}
	close(sv[1]);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	w->pid = pid;
	w->fd = sv[0];
	w->uid = u->uid;
	w->gid = u->gid;
	return 0;
}

/* The slot for u's worker: its own, else a free one, else the least
 * recently used one not busy in this flush (busy[] by slot), emptied. */
static struct local_worker *
worker_slot(struct local_workers *ws, const struct local_user *u,
    const unsigned char *busy)
{
	struct local_worker	*free_w = NULL, *old = NULL, *w;
	int			 i;

	for (i = 0; i < LOCAL_WORKER_SLOTS; i++) {
		w = &ws->w[i];
		if (w->fd >= 0 && w->uid == u->uid && w->gid == u->gid)
			return w;
		if (w->fd < 0) {
			if (free_w == NULL)
				free_w = w;
		} else if (!busy[i] && (old == NULL ||
		    w->used_ms < old->used_ms))
			old = w;
	}
	if (free_w != NULL)
		return free_w;
	if (old != NULL)
		worker_forget(old, 0);
	return old;
}

/* Send job k of n to w.  0 or -1 (errno). */
static int
worker_send_job(struct local_worker *w, const struct local_user *u,
    const char *mailbox, struct maildir_job *job, int k, int n)
{
	const struct deliver_msg	*msg = job->msg;
	const char			*s[WORKER_STRINGS];
	char				 buf[WORKER_JOB_MAX];
	char				 cbuf[CMSG_SPACE(sizeof(int))];
	struct worker_job		 h;
	struct iovec			 iov;
	struct msghdr			 mh;
	struct cmsghdr			*c;
	size_t				 off = sizeof(h);
	int				 i;

	memset(&h, 0, sizeof(h));
	h.version = WORKER_VERSION;
	h.n = (uint32_t)n;
	h.k = (uint32_t)k;
	h.line = msg->line != NULL ? msg->line[job->j] : -1;
	h.offset = (int64_t)msg->offset;
	h.size = (int64_t)msg->size;
	h.arrival = (int64_t)msg->env.arrival;
	s[0] = msg->req->id;
	s[1] = msg->req->sender;
	s[2] = job->rcpt;
	s[3] = u->home;
	s[4] = mailbox;
	for (i = 0; i < WORKER_STRINGS; i++) {
		h.len[i] = (uint32_t)strlen(s[i]) + 1;
		if (h.len[i] > sizeof(buf) - off) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(buf + off, s[i], h.len[i]);
		off += h.len[i];
	}
	memcpy(buf, &h, sizeof(h));
	iov.iov_base = buf;
	iov.iov_len = off;
	memset(&mh, 0, sizeof(mh));
	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &msg->fd, sizeof(int));
	return sendmsg(w->fd, &mh, MSG_NOSIGNAL) == (ssize_t)off ? 0 : -1;
}

static int
worker_send(struct local_worker *w, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n)
{
	int	 k;

	for (k = 0; k < n; k++)
		if (worker_send_job(w, u, mailbox, jobs[k], k, n) < 0)
			return -1;
	return 0;
}

int
local_worker_start(struct deliver_ctx *ctx, const struct local_user *u,
    const char *mailbox, struct maildir_job **jobs, int n,
    unsigned char *busy, pid_t *pid)
{
	struct local_workers	*ws = workers_of(ctx);
	struct local_worker	*w;
	int			 tries;

	if (n > LOCAL_BATCH_JOBS) {
		errno = E2BIG;
		return -1;
	}
	/* A worker found gone (it gave up idling, or died) is replaced
	 * once. */
	for (tries = 0; tries < 2; tries++) {
		if ((w = worker_slot(ws, u, busy)) == NULL) {
			errno = EAGAIN;
			return -1;
		}
		if (w->fd < 0 && worker_spawn(ctx, u, w) < 0)
			return -1;
		busy[w - ws->w] = 1;
		if (worker_send(w, u, mailbox, jobs, n) == 0) {
			w->used_ms = io_now_ms();
			*pid = w->pid;
			return w->fd;
		}
		log_warn("mailbox process %ld: send: %s", (long)w->pid,
		    strerror(errno));
		worker_forget(w, 1);
	}
	return -1;
}

/* The buffer as received need not be aligned for the structures: every
 * piece is copied out before it is looked at. */
int
local_worker_reply_check(const void *buf, size_t len, int n,
    struct deliver_result *res)
{
	struct local_worker_reply	 h;
	struct deliver_result		 r[LOCAL_BATCH_JOBS];
	const char			*p = buf;
	int				 k;

	if (n < 0 || n > LOCAL_BATCH_JOBS || len != sizeof(h) +
	    (size_t)n * sizeof(r[0]))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.version != WORKER_VERSION || h.n != (uint32_t)n)
		return -1;
	if (n > 0)
		memcpy(r, p + sizeof(h), (size_t)n * sizeof(r[0]));
	for (k = 0; k < n; k++) {
		if ((r[k].status != DELIVER_OK && r[k].status != DELIVER_DEFER &&
		    r[k].status != DELIVER_BOUNCE) ||
		    memchr(r[k].dsn, '\0', sizeof(r[k].dsn)) == NULL ||
		    memchr(r[k].text, '\0', sizeof(r[k].text)) == NULL ||
		    !proto_deliver_dsn_valid(r[k].dsn, r[k].status))
			return -1;
	}
	for (k = 0; k < n; k++)
		res[k] = r[k];
	return 0;
}

size_t
local_worker_reply_size(int n)
{
	return sizeof(struct local_worker_reply) +
	    (size_t)n * sizeof(struct deliver_result);
}

void
local_worker_end(struct deliver_ctx *ctx, int fd, int kill_it)
{
	int	 i;

	if (ctx->workers == NULL)
		return;
	for (i = 0; i < LOCAL_WORKER_SLOTS; i++)
		if (ctx->workers->w[i].fd == fd) {
			worker_forget(&ctx->workers->w[i], kill_it);
			return;
		}
}

void
local_workers_expire(struct deliver_ctx *ctx)
{
	long long	 now = io_now_ms();
	int		 i;

	if (ctx->workers == NULL)
		return;
	for (i = 0; i < LOCAL_WORKER_SLOTS; i++)
		if (ctx->workers->w[i].fd >= 0 &&
		    now - ctx->workers->w[i].used_ms > LOCAL_WORKER_IDLE_MS)
			worker_forget(&ctx->workers->w[i], 0);
}

void
local_workers_close(struct deliver_ctx *ctx)
{
	int	 i;

	if (ctx->workers == NULL)
		return;
	for (i = 0; i < LOCAL_WORKER_SLOTS; i++)
		worker_forget(&ctx->workers->w[i], 0);
	free(ctx->workers);
	ctx->workers = NULL;
}
