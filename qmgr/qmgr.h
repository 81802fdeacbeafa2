/*
 * qmgr - internal interfaces of the queue manager.
 *
 * One struct qmgr holds all of the daemon's state: the active set of
 * messages and its ready FIFO, the pool of connections to the delivery
 * agents, the clients of the qmgr protocol and the timers.  It is passed to
 * every function; nothing here is a hidden global, so the pure parts can be
 * unit-tested without an event loop.
 */
#ifndef TERN_QMGR_H
#define TERN_QMGR_H

#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "ipc.h"
#include "ipc_event.h"
#include "proto_deliver.h"
#include "queue.h"
#include "queue_file.h"

struct event;
struct event_base;
struct bufferevent;
struct evbuffer;

/* Limits.  Every one of them bounds memory or file descriptors. */
#ifndef QMGR_ACTIVE_MAX			/* (a test build may shrink it) */
#define QMGR_ACTIVE_MAX		10000	/* messages held in memory */
#endif
#define QMGR_KICK_BATCH		256	/* dispatches per loop iteration */
#define QMGR_CLIENT_MAX		512	/* qmgr-protocol clients */
#define QMGR_REQUEST_MAX	4096	/* largest client frame, header incl. */
#define QMGR_CLIENT_OUT_MAX	(16 * 1024) /* unread replies before pausing */
#define QMGR_CLIENT_TIMEOUT	60	/* s to write a reply to a client */
#define QMGR_REPLY_TIMEOUT	600	/* s for deliver to answer a request */
#define QMGR_IDLE_TIMEOUT	60	/* s an unused deliver connection lives */
#define QMGR_BACKLOG_MS		500	/* unanswered this long: not accepted */
#define QMGR_RETRY_MIN		1	/* s, first retry after deliver trouble */
#define QMGR_RETRY_MAX		30	/* s, cap of that retry delay */
#define QMGR_CONN_FAIL_MAX	5	/* crashes on one message before back-off */
#define QMGR_TEXT_MAX		256	/* bytes of peer text put in a log line */

/* ---- qmgr_backoff.c: pure retry-time arithmetic ---------------------- */

/* Seconds to wait before the next attempt of a message that is age seconds
 * old: min doubled once per earlier attempt (estimated from the age,
 * assuming the earlier waits were min, 2*min, 4*min, ...), at most max. */
int	qmgr_backoff(long long age, int min, int max);
/* Has a message of that age outlived its queue lifetime? */
int	qmgr_expired(long long age, int lifetime);
/* Delay before reconnecting to deliver after nfail consecutive failures
 * (nfail >= 1): QMGR_RETRY_MIN doubled per failure, up to QMGR_RETRY_MAX. */
int	qmgr_retry_delay(int nfail);

/* ---- qmgr_text.c: making peer text safe for one log line ------------- */

/* Copy src to dst (size dstlen > 0, always terminated), replacing control
 * characters and non-ASCII bytes with '?', truncating with "...". */
void	qmgr_text_safe(char *dst, size_t dstlen, const char *src);


/* ---- qmgr_request.c: the deliver protocol, both directions ----------- */

enum qmgr_rcpt_status { QMGR_RCPT_OK, QMGR_RCPT_DEFER, QMGR_RCPT_BOUNCE };

struct qmgr_outcome {
	enum qmgr_rcpt_status	 status;
	const char		*dsn;	/* points into the reply, or static */
	const char		*text;
};

/* Build a DELIVER_T_REQUEST for the pending recipients of env from index
 * *cursor on, as many as fit in one request (DELIVER_RCPT_MAX and the frame
 * size).  Their envelope indices go to idx[] (room for DELIVER_RCPT_MAX),
 * their number to *nidx; *cursor moves past the last one taken.  0 on
 * success; *nidx is 0 (and req already freed) when nothing is pending from
 * *cursor on.  -1 (req freed) when the envelope or the first recipient
 * cannot be put in a request at all: the file is then unusable. */
int	qmgr_request_build(const struct queue_envelope *env, int *cursor,
	    struct ipc_msg *req, int *idx, int *nidx);
/* Read a reply to a request of n recipients into out[0..n-1].  Every
 * outcome is filled: recipients the reply does not answer properly are
 * deferred.  0, or -1 with *err when the reply as a whole is unusable (all
 * deferred). */
int	qmgr_reply_parse(const struct ipc_msg *reply, int n,
	    struct qmgr_outcome *out, const char **err);

/* ---- qmgr_listen.c: the qmgr protocol, server side ------------------- */

enum qmgr_req_kind { QMGR_REQ_BAD, QMGR_REQ_NOTIFY, QMGR_REQ_FLUSH };

/* Check a client request; fill reply (initialised here) with IPC_T_OK or
 * IPC_T_ERROR text=....  For NOTIFY, *id points to the queue id inside req. */
enum qmgr_req_kind qmgr_listen_check(const struct ipc_msg *req,
	    struct ipc_msg *reply, const char **id);

/* ---- state ----------------------------------------------------------- */

enum qmgr_msg_state {
	QMGR_MSG_READY,		/* in the ready FIFO */
	QMGR_MSG_BUSY,		/* a request for it is out on a connection */
	QMGR_MSG_PARKED,	/* a file operation failed; retried each scan */
};

struct qmgr_msg {
	char			 id[QUEUE_ID_SIZE];
	enum qmgr_msg_state	 state;
	TAILQ_ENTRY(qmgr_msg)	 all;		/* every message in memory */
	TAILQ_ENTRY(qmgr_msg)	 ready;		/* ready FIFO or parked list */
	int			 cursor;	/* next recipient this round */
	int			 conn_fail;	/* deliver died on it, in a row */
	int			 loaded;	/* fd and env are valid */
	int			 announced;	/* "from=..." has been logged */
	int			 fd;
	struct queue_envelope	 env;
	int			*batch;		/* env indices sent, while loaded */
	int			 nbatch;
	int			 batch_start;	/* cursor before this batch */
};
TAILQ_HEAD(qmgr_msg_list, qmgr_msg);

struct qmgr_conn;
TAILQ_HEAD(qmgr_conn_list, qmgr_conn);
struct qmgr_client;
TAILQ_HEAD(qmgr_client_list, qmgr_client);

struct qmgr {
	struct event_base	*base;
	const struct tern_config *cfg;

	/* the active set (qmgr_active.c) */
	struct qmgr_msg_list	 msgs;		/* all of them */
	struct qmgr_msg_list	 fifo;		/* ready, in pickup order */
	struct qmgr_msg_list	 parked;
	int			 nactive;
	int			 active_max;
	int			 backlog;	/* a scan left files for later */
	struct event		*kick_ev;	/* run the dispatcher soon */
	struct event		*rescan_ev;	/* scan again, there is room */

	/* scanning (qmgr_scan.c) */
	struct event		*scan_ev;	/* every queue_scan_interval */

	/* the deliver pool (qmgr_deliver.c) */
	struct qmgr_conn_list	 conns;
	int			 nconns;
	int			 nfail;		/* consecutive failures */
	int			 backing_off;	/* no new connections now */
	struct event		*backoff_ev;
	struct event		*waitcheck_ev;	/* requests stuck in backlog? */

	/* qmgr protocol clients (qmgr_listen.c) */
	int			 listen_fd;
	struct event		*accept_ev;
	struct event		*accept_pause;	/* out of descriptors: wait */
	struct qmgr_client_list	 clients;
	int			 nclients;
};

/* qmgr_active.c */
void	qmgr_active_init(struct qmgr *);
void	qmgr_active_free(struct qmgr *);
int	qmgr_active_room(const struct qmgr *);
/* Take a file that is in active/ into memory and schedule it. */
void	qmgr_active_add(struct qmgr *, const char *id);
/* Ask for the dispatcher (and, if room appeared, a rescan) to run soon. */
void	qmgr_active_kick(struct qmgr *);
/* Pop the oldest ready message, or NULL. */
struct qmgr_msg *qmgr_active_next(struct qmgr *);
/* Put a message back in the FIFO (at the head: it keeps its turn). */
void	qmgr_active_requeue(struct qmgr *, struct qmgr_msg *);
/* Move parked messages back to the FIFO (called from the scan timer). */
void	qmgr_active_unpark(struct qmgr *);
/* Open the file and choose the next batch.  1: req is built and m is
 * BUSY; 0: nothing to send, m was finished and freed (or parked). */
int	qmgr_msg_load(struct qmgr *, struct qmgr_msg *, struct ipc_msg *req);
/* The request could not go out (or the connection died before the reply):
 * forget the batch and retry it later from the FIFO. */
void	qmgr_msg_retry(struct qmgr *, struct qmgr_msg *, int crashed);
/* Record deliver's outcome for the batch, then continue or finish. */
void	qmgr_msg_done(struct qmgr *, struct qmgr_msg *,
	    const struct qmgr_outcome *);

/* A file in tmp/ this old (seconds) is a reception that smtpd abandoned. */
#define QMGR_TMP_MAX_AGE	(24 * 60 * 60)

/* qmgr_scan.c */
void	qmgr_scan_init(struct qmgr *);
void	qmgr_scan_recover(struct qmgr *);	/* active/ at start-up */
void	qmgr_scan_incoming(struct qmgr *);
void	qmgr_scan_deferred(struct qmgr *, int flush);
void	qmgr_scan_tmp(struct qmgr *);		/* abandoned receptions */
void	qmgr_scan_trim_free(struct qmgr *);	/* free/ over QUEUE_FREE_MAX */
/* NOTIFY: move incoming/<id> to active/ if there is room. */
void	qmgr_scan_notify(struct qmgr *, const char *id);
void	qmgr_scan_free(struct qmgr *);

/* qmgr_deliver.c */
void	qmgr_deliver_init(struct qmgr *);
/* Hand ready messages to free connections. */
void	qmgr_deliver_dispatch(struct qmgr *);
void	qmgr_deliver_free(struct qmgr *);

/* qmgr_listen.c */
int	qmgr_listen_init(struct qmgr *, int fd);
void	qmgr_listen_free(struct qmgr *);

#endif
