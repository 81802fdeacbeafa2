/*
 * deliver - the delivery agent daemon.
 *
 * Several deliver processes share one listening socket (fd 3, bound by the
 * master).  Each accepts one connection from qmgr at a time and serves its
 * requests with the blocking IPC helpers until qmgr closes it; then it
 * accepts the next.  The requests that are waiting when deliver looks form
 * a batch (qmgr pipelines them when it is busy), handled start to finish
 * (deliver_message.c) before anything else is looked at.
 *
 * deliver keeps root: each account's mailbox is written by a worker
 * process that takes the account's ids and is kept from batch to batch
 * (local_worker.c), under a deadline (local_time_limit) that deliver
 * enforces with SIGKILL, so a hung mailbox never blocks deliver itself
 * (local_run.c).  Started by
 * an unprivileged master it runs as that user and can deliver only to it.
 *
 * SIGTERM and SIGINT stay blocked and are read from a signalfd, polled
 * together with the socket we wait on.  So a stop request is seen only
 * between requests, never in the middle of writing a mailbox, and no signal
 * handler or global flag is needed.
 */
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ipc.h"
#include "log.h"
#include "privs.h"
#include "proto_deliver.h"
#include "deliver.h"

/* Block the stop signals and return a descriptor that reports them. */
static int
deliver_signals_open(void)
{
	sigset_t	 set;
	int		 fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		log_fatal("signalfd: %s", strerror(errno));
	return fd;
}

/* Wait, for as long as it takes, until fd is readable (1) or a stop signal
 * arrived (0).  Idle is the normal state of a delivery agent. */
static int
deliver_wait(int fd, int sigfd)
{
	struct pollfd			 pfd[2];
	struct signalfd_siginfo		 si;

	for (;;) {
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sigfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_fatal("poll: %s", strerror(errno));
		}
		if (pfd[1].revents != 0) {
			if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				log_info("signal %u: stopping",
				    (unsigned)si.ssi_signo);
			return 0;
		}
		if (pfd[0].revents != 0)
			return 1;
	}
}

/* Is another request already waiting, read or on the socket?  Never
 * blocks. */
static int
deliver_more_waiting(const struct ipc_reader *rd)
{
	struct pollfd	 pfd;

	if (ipc_reader_held(rd))
		return 1;
	pfd.fd = rd->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1;
}

/* Recipients a request names, for sizing a batch; a malformed request
 * counts as one (it is refused without delivering anything). */
static long long
deliver_request_rcpts(const struct ipc_msg *m)
{
	int	 n = proto_deliver_request_nrcpt(m);

	return n < 0 ? 1 : n;
}

/* Read the request qmgr sent and every further one already waiting, up to
 * DELIVER_BATCH_MAX requests and DELIVER_BATCH_RCPT recipients: they
 * are handled as one batch, and no reply goes out before the whole batch
 * is done, so a batch must stay small enough not to hold the first reply
 * back for long.  The count, or -1 when a frame could not be read: then
 * the connection is over and nothing read from it is acted on, as qmgr
 * will retry all of it. */
static int
deliver_read_batch(struct ipc_reader *rd, struct ipc_msg *req)
{
	long long	 rcpts = 0;
	int		 n = 0, i;

	do {
		/* Idle had no limit; a frame once begun must come soon. */
		if (ipc_reader_read(rd, &req[n], DELIVER_READ_TIMEOUT) < 0) {
			if (errno == ECONNRESET)
				log_debug("qmgr closed the connection");
			else
				log_warn("read request: %s", strerror(errno));
			for (i = 0; i <= n; i++)
				ipc_msg_free(&req[i]);
			return -1;
		}
		rcpts += deliver_request_rcpts(&req[n]);
		n++;
	} while (n < DELIVER_BATCH_MAX && rcpts < DELIVER_BATCH_RCPT &&
	    deliver_more_waiting(rd));
	return n;
}

/* All the batch's replies in one write: qmgr reads them in one go. */
static int
deliver_write_replies(int fd, struct ipc_msg *reply, int n)
{
	int	 i, r = 0;

	if (ipc_write_many(fd, reply, n, DELIVER_WRITE_TIMEOUT) < 0) {
		log_warn("write reply: %s", strerror(errno));
		r = -1;
	}
	for (i = 0; i < n; i++)
		ipc_msg_free(&reply[i]);
	return r;
}

/* Serve requests on one connection until qmgr closes it (1) or a stop
 * signal arrives (0).  A frame that cannot be read or decoded ends the
 * connection, as ipc.h prescribes; a well-framed but bad request gets
 * IPC_T_ERROR and the connection goes on.  Requests are read through a
 * buffer (one recv for what qmgr pipelined); one already read is served
 * without waiting on the socket. */
static int
deliver_serve(struct deliver_ctx *ctx, int fd, int sigfd)
{
	struct ipc_msg	 req[DELIVER_BATCH_MAX], reply[DELIVER_BATCH_MAX];
	struct ipc_reader rd;
	int		 i, n, r = 1;

	ipc_reader_init(&rd, fd);
	for (;;) {
		if (!ipc_reader_held(&rd) && !deliver_wait(fd, sigfd)) {
			r = 0;
			break;
		}
		if ((n = deliver_read_batch(&rd, req)) < 0)
			break;
		if (n > 1)
			log_debug("%d requests in one batch", n);
		deliver_batch(ctx, req, n, reply);
		for (i = 0; i < n; i++)
			ipc_msg_free(&req[i]);
		/* Before the replies: qmgr's lines about what they report
		 * (removed, deferred) must follow ours in the log. */
		log_flush();
		if (deliver_write_replies(fd, reply, n) < 0)
			break;
	}
	ipc_reader_free(&rd);
	return r;
}

/* A batch's log lines are written together just before its replies go
 * out (deliver_serve): nothing to arrange when the first one is logged. */
static void
deliver_log_wake(void *arg)
{
	(void)arg;
}

/* The listening socket is non-blocking (daemon_setup), because every
 * deliver process wakes up for a new connection and only one gets it. */
static void
deliver_loop(struct deliver_ctx *ctx, int lfd, int sigfd)
{
	int	 fd, go_on;

	for (;;) {
		if (!deliver_wait(lfd, sigfd))
			return;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				continue;
			log_fatal("accept: %s", strerror(errno));
		}
		/* The connection is blocking (Linux accept() does not pass
		 * O_NONBLOCK on); the IPC helpers poll with deadlines. */
		go_on = deliver_serve(ctx, fd, sigfd);
		close(fd);
		if (!go_on)
			return;
	}
}

static void
deliver_ctx_init(struct deliver_ctx *ctx, const struct tern_config *cfg,
    const struct deliver_params *par)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->par = par;
	/* The maildir protocol wants the machine's name, not myhostname,
	 * which several hosts sharing an NFS Maildir may have in common. */
	if (gethostname(ctx->hostname, sizeof(ctx->hostname) - 1) < 0 ||
	    ctx->hostname[0] == '\0')
		strlcpy(ctx->hostname, cfg->myhostname, sizeof(ctx->hostname));
}

int
main(int argc, char **argv)
{
	struct daemon_ctx	 dctx;
	struct deliver_ctx	 ctx;
	struct deliver_params	 par;
	char			 err[MAP_ERR_MAX];
	int			 sigfd;

	daemon_setup(argc, argv, "deliver", &deliver_params_table, &par, &dctx);
	if (dctx.listen_fd < 0)
		log_fatal("no listening socket (-l): master starts deliver");
	/* No privs_drop(): writing each user's mailbox as that user needs
	 * root's ability to take their ids (see maildir.c). */
	if (!privs_is_root())
		log_info("not running as root: delivering only to uid %ld",
		    (long)geteuid());
	deliver_ctx_init(&ctx, &dctx.cfg, &par);
	if (local_world_init(&ctx) < 0)
		log_fatal("default_privs: %s is not a user other than root",
		    par.default_privs);
	if (virtual_deliver_init(&ctx, err, sizeof(err)) < 0) {
		/* Closed first: a sanitizer build would report the open
		 * alias tables as leaked by the exit. */
		map_list_close(&ctx.aliases);
		log_fatal("%s", err);
	}
	/* The kernel reaps the mailbox workers (local_worker.c): one stuck
	 * in a hung file system leaves nothing to wait for. */
	if (signal(SIGCHLD, SIG_IGN) == SIG_ERR)
		log_fatal("signal: %s", strerror(errno));
	sigfd = deliver_signals_open();
	log_batch(deliver_log_wake, NULL);
	deliver_loop(&ctx, dctx.listen_fd, sigfd);
	log_batch(NULL, NULL);
	local_workers_close(&ctx);
	map_list_close(&ctx.aliases);
	virtual_deliver_close(&ctx);
	close(sigfd);
	daemon_cleanup(&dctx);
	return 0;
}
