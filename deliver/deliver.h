/*
 * deliver - interfaces shared by the modules of the delivery agent, the
 * local transport.
 *
 * One request from qmgr names one queue file and up to DELIVER_RCPT_MAX of
 * its recipients (common/proto_deliver.c checks it).  qmgr routes: deliver
 * is handed recipients in our own domains only, and transport.c checks
 * each once more before the local transport (local.c, maildir.c) fills one
 * deliver_result per recipient, which deliver_request.c turns into the
 * reply.  Nothing here keeps state between requests except the deliver_ctx
 * that main() owns.
 */
#ifndef TERN_DELIVER_H
#define TERN_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "deliver_params.h"
#include "ipc.h"
#include "local_expand.h"
#include "local_recipient.h"
#include "map.h"
#include "proto_deliver.h"
#include "queue.h"
#include "queue_file.h"
#include "virtual.h"

#define DELIVER_DSN_SIZE	16	/* "4.3.0" with room to spare */
#define DELIVER_TEXT_SIZE	256	/* reply and log text; longer is cut */
#define DELIVER_HOST_SIZE	256	/* gethostname() result */
#define DELIVER_PATH_SIZE	4096	/* a home directory or mailbox path */
#define DELIVER_READ_TIMEOUT	(60 * 1000)	/* rest of a frame, ms */
#define DELIVER_WRITE_TIMEOUT	(60 * 1000)	/* a reply, ms */
#define MAILDIR_NAME_SIZE	512	/* a unique name, host included */
#define DELIVER_BATCH_RCPT	100	/* no more requests once a batch has
					   this many recipients */
#define LOCAL_BATCH_USERS	8	/* accounts in one flush */
#define LOCAL_BATCH_JOBS	64	/* deliveries in one flush */
#define LOCAL_MSG_WORK_MAX	(16L * LX_WORK_MAX)	/* expansion work of
					   one message's recipients in a
					   batch: 1000 of user+N, each to
					   3300 targets through :include:
					   files, take 4 million */
/* The reason a recipient defers unexpanded for the message's budget
 * (local_expand_msg); told apart by it from its own expansion's 4.6.0. */
#define LOCAL_WHY_MSG_WORK	"alias expansions of the message's " \
	"recipients do too much work"
#define LOCAL_PEND_TARGETS	65536	/* targets of expanded recipients
					   awaiting their outcome, before a
					   flush (some 20 MiB) */
#define LOCAL_DUP_KEY_MAX	8192	/* a duplicate filter's key; a target
					   with a longer one is not filtered */

/* The outcome of one recipient, as it goes back to qmgr. */
struct deliver_result {
	enum deliver_status	 status;
	char			 dsn[DELIVER_DSN_SIZE];
	char			 text[DELIVER_TEXT_SIZE];
	int			 expanded;	/* ok, to several targets of
						   an alias or .forward: the
						   notice says "expanded" */
	int			 mailbox;	/* ok, into a Maildir by the
						   worker, its only target
						   (the reply's mailbox.<i>) */
};

/* The message as the transports see it: an open queue file, read with
 * pread() only, so every recipient starts from the same place, and
 * written only at its status bytes (deliver_record.c), under a lock. */
struct deliver_msg {
	const struct deliver_request *req;
	int		 fd;		/* queue file, write-locked (fcntl) */
	off_t		 offset;	/* message is bytes [offset, size) */
	off_t		 size;		/* end of the message (data_off +
					   data_len): outcome records follow */
	struct queue_envelope env;	/* as read under the lock; statuses
					   kept current by deliver_record */
	int		 loaded;	/* env is filled */
	char		*head;		/* the file's first headlen bytes, as
					   read with its header under the lock */
	size_t		 headlen;
	int		*line;		/* per request recipient: its rcpt
					   line in env, or -1 */
	/* The message's duplicate filter in the batch (local_dup.c), shared
	 * by every request of the batch for this queue file; NULL: none. */
	struct local_dup *dup;
};

struct buf;
struct local_batch;
struct local_dup;
struct local_memo;
struct local_workers;

/* A mailbox whose worker was killed at a batch's deadline (local_hung.c). */
#define LOCAL_HUNG_MAX	8
struct local_hung {
	uid_t		 uid;
	char		 where[DELIVER_PATH_SIZE];	/* home/mailbox */
	long long	 until_ms;	/* deferred at once until then; 0: free */
};

/* Per-process state, owned by main() and passed down explicitly. */
struct deliver_ctx {
	const struct tern_config *cfg;
	const struct deliver_params *par;
	char		 hostname[DELIVER_HOST_SIZE];	/* for Maildir names */
	unsigned long	 counter;	/* deliveries so far, for names */
	pid_t		 pid;		/* for names; 0 until first needed */
	/* Local deliveries collected for the batch being handled (local.c);
	 * NULL outside deliver_batch(). */
	struct local_batch *local;
	/* Accounts looked up and .forward files found absent in the batch
	 * being handled (local_memo.c); NULL outside deliver_batch(). */
	struct local_memo *memo;
	/* io_now_ms() by which the batch's mailbox work must be done
	 * (local_time_limit from its start); set by deliver_batch(). */
	long long	 deadline_ms;
	/* The mailbox worker processes (local_worker.c); NULL until the
	 * first is started. */
	struct local_workers *workers;
	/* alias_maps, and default_privs's account (local_world.c) */
	struct map_list	 aliases;
	struct lx_owner	 default_privs;
	char		 lx_err[MAP_ERR_MAX];	/* last alias lookup failure */
	/* virtual domains (virtual_alias.c, virtual_mailbox.c) */
	struct virtual_maps virt;
	struct map_list	 virt_uid, virt_gid;	/* virtual_uid/gid_maps */
	/* mailboxes that hung a batch lately (local_hung.c) */
	struct local_hung hung[LOCAL_HUNG_MAX];
};

/* deliver_request.c: outcomes, and the reply and log lines made of them.
 * (The request itself is checked by proto_deliver_request_decode().) */
int	deliver_reply_build(struct ipc_msg *, const struct deliver_result *,
	    int n);
void	deliver_result_set(struct deliver_result *, enum deliver_status,
	    const char *dsn, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	deliver_log(const char *id, const char *rcpt, const char *relay,
	    const char *mailbox, const struct deliver_result *);

/* deliver_message.c: a batch of requests (at most DELIVER_BATCH_MAX),
 * each turned into its reply, DELIVER_T_REPLY or IPC_T_ERROR; the replies
 * are built only when every delivery of the batch is durable. */
int	deliver_message_open(const struct deliver_request *,
	    struct deliver_msg *, uid_t owner, const char **why);
void	deliver_message_close(struct deliver_msg *);
void	deliver_batch(struct deliver_ctx *, const struct ipc_msg *req, int n,
	    struct ipc_msg *reply);
void	deliver_handle(struct deliver_ctx *, const struct ipc_msg *,
	    struct ipc_msg *reply);

/* deliver_record.c: recipient j of msg->req as the queue file records
 * it.  match fills msg->line (deliver_message_open does); done: 1 if the
 * file already says delivered; mark: say so now (a pwrite, no fsync),
 * once the delivery is durable and before the reply; all: mark every
 * recipient whose result is DELIVER_OK. */
void	deliver_record_match(struct deliver_msg *);
int	deliver_record_done(const struct deliver_msg *, int j);
void	deliver_record_mark(const struct deliver_msg *, int j);
void	deliver_record_all(const struct deliver_msg *,
	    const struct deliver_result *result);

/* transport.c: every recipient of a request goes to the local transport,
 * or is refused there and then (bad address: 5.1.3; a domain that is not
 * ours, which qmgr should not have sent: 5.3.5). */
int	transport_check(const struct tern_config *, const char *rcpt,
	    struct deliver_result *);
void	transport_dispatch(struct deliver_ctx *, const struct deliver_msg *,
	    struct deliver_result *result);
void	transport_flush(struct deliver_ctx *);

/* local_user.c: recipient -> local account (common/local_recipient.c),
 * as a delivery outcome: 0, or -1 with *res a bounce (5.1.1, no such
 * user) or a deferral (4.3.0, the lookup failed). */
int	local_user_resolve(const char *rcpt, local_recipient_lookup_fn,
	    void *arg, struct local_user *, struct deliver_result *);

/* local.c: the local transport.  deliver_batch() brackets every batch with
 * local_batch_new/free (ctx->local); deliveries wait in it for the flush.
 * local_deliver() must set result[idx[k]] for every k, at once or by the
 * time local_flush() returns; msg stays open until then. */
void	local_deliver(struct deliver_ctx *, const struct deliver_msg *,
	    const int *idx, int n, struct deliver_result *result);
/* Recipient j's targets x (n >= 1) made: a lone mailbox as the
 * recipient's own delivery, else each target, the outcome theirs together
 * (settled at the flush). */
void	local_deliver_targets(struct deliver_ctx *, const struct deliver_msg *,
	    int j, const struct lx_result *x, struct deliver_result *);
/* local_expand() of name (ctx's world) for a recipient of msg, its work
 * counted in the message's (local_dup_work); once the message's
 * recipients have done LOCAL_MSG_WORK_MAX units in the batch (an
 * expansion's CPU time counts as units when it is more), every
 * further expansion defers 4.6.0 at once (retried later with a new
 * count), so one message cannot hold deliver longer than a few
 * expansions' bound however many recipients it has. */
enum lx_status local_expand_msg(struct deliver_ctx *, const struct deliver_msg *,
	    const char *name, struct lx_result *, char *why, const char **dsn);
/* A Maildir delivery of recipient j into u's home/mailbox (virt: a
 * virtual mailbox, for the log), collected for the flush; record: res is
 * the recipient's own outcome (else one target's of several). */
void	local_collect(struct deliver_ctx *, const struct deliver_msg *, int j,
	    const struct local_user *u, const char *mailbox, int virt,
	    struct deliver_result *res, int record);
void	local_flush(struct deliver_ctx *);
struct local_batch *local_batch_new(void);
void	local_batch_free(struct local_batch *);

/* local_dup.c: a message's duplicate filter (at most limit keys).  find:
 * the outcome of the copy made for key, or NULL (none, or d NULL), and in
 * *by (if by is not NULL) the recipient it was made for; add: remember it
 * as made for by (one of the message's recipients in the batch, a string
 * valid as long as the filter is used), 1, or 0 if the filter is full
 * (not remembered).  key: a target's key into *key (reset first): a
 * remote address as sent from sender, a command or file (LX_MAILBOX: an
 * mbox file's path) as uid; 0, or -1 (too long, or a kind without one). */
struct local_dup *local_dup_new(int limit);
void	local_dup_free(struct local_dup *);
const struct deliver_result *local_dup_find(const struct local_dup *,
	    const char *key, const char **by);
int	local_dup_add(struct local_dup *, const char *key,
	    const struct deliver_result *, const char *by);
int	local_dup_key(struct buf *key, enum lx_kind, const char *text,
	    uid_t uid, const char *sender);
/* The message's expansion work so far (units), or NULL if d is. */
long	*local_dup_work(struct local_dup *d);

/* local_pass.c: mailbox_transport.  An account's mailbox delivery handed
 * to that transport's service: local_pass_message() sends items[0..n), all
 * of one message, in one delivery request and sets (and logs) each res;
 * a recipient's own mailbox (record) is marked in the queue file when
 * delivered.  local_pass_parse(): "transport:nexthop" into the service's
 * socket and the next hop; 0, or -1 if malformed or "local". */
struct local_pass_item {
	const struct deliver_msg *msg;
	int			 j;	/* the recipient in msg->req */
	char			*addr;	/* as the transport gets it */
	char			*name;	/* the account: one copy per message */
	struct deliver_result	*res;
	int			 record;	/* res is the recipient's own */
	int			 leader;	/* set by local_pass_message */
};

void	local_pass_message(struct deliver_ctx *, struct local_pass_item *,
	    int n);
int	local_pass_parse(const char *value, char *socket, size_t socketlen,
	    const char **nexthop);
/* local_memo.c: a batch's memory of accounts, in front of the database
 * lookup (local_recipient_getpw in deliver).  getpw: a
 * local_recipient_lookup_fn whose arg is the memo (NULL: none), answering
 * from it or from the database (answers are kept, errors not);
 * no_forward: 1 if the batch found login's ~/.forward absent, which
 * set_no_forward records for an account getpw has looked up. */
struct local_memo *local_memo_new(local_recipient_lookup_fn, void *arg);
void	local_memo_reset(struct local_memo *);
void	local_memo_free(struct local_memo *);
int	local_memo_getpw(const char *name, struct local_user *, void *memo);
int	local_memo_no_forward(struct local_memo *, const char *login);
void	local_memo_set_no_forward(struct local_memo *, const char *login);

/* local_world.c: local_expand's callbacks on the real system; init looks
 * default_privs up (-1: no such user, or root) and opens alias_maps. */
void	local_world_ops(struct deliver_ctx *, struct lx_ops *);
int	local_world_init(struct deliver_ctx *);

/* local_command.c: a |command or /file target of recipient rcpt, made by
 * a helper process with the target owner's ids, by the batch deadline.
 * If *res is the outcome of a copy made already for the message (its
 * duplicate filter), the recipient that copy was made for (one of the
 * message's), else NULL (this one was made). */
const char *local_command_deliver(struct deliver_ctx *,
	    const struct deliver_msg *, const char *rcpt,
	    const struct lx_target *, struct deliver_result *);

/* local_forward.c: recipient j's message queued anew for remote address
 * to (a target of its aliases or .forward), from sender (NULL: the
 * message's own).  failure: the bounce *res of member, a target of
 * recipient j under an alias with an owner, reported to owner (an
 * address) instead: *res becomes ok once the report is queued, or a
 * deferral. */
void	local_forward(struct deliver_ctx *, const struct deliver_msg *, int j,
	    const char *to, const char *sender, struct deliver_result *);
void	local_forward_failure(struct deliver_ctx *, const struct deliver_msg *,
	    int j, const char *owner, const char *member,
	    struct deliver_result *res);
/* The same for to[0..n), all in one new message with n recipients (one
 * queue file); res[i] each one's outcome. */
void	local_forward_list(struct deliver_ctx *, const struct deliver_msg *,
	    int j, char *const *to, int n, struct deliver_result *res);

/* virtual_alias.c: recipient j's virtual aliases expanded and made, or
 * its virtual domain's delivery (a virtual mailbox; an unknown address of
 * a virtual domain bounces 5.1.1).  1 if so (res set now or by the
 * flush), 0 if the recipient is none of these (the local transport's, or
 * misrouted).  init opens the tables (as root). */
int	virtual_alias_deliver(struct deliver_ctx *, const struct deliver_msg *,
	    int j, struct deliver_result *);
/* Open the virtual tables: 0, or -1 with err naming the key (a spec that
 * can never work; nothing left open). */
int	virtual_deliver_init(struct deliver_ctx *, char *err, size_t errlen);
void	virtual_deliver_close(struct deliver_ctx *);

/* virtual_mailbox.c: address addr's virtual mailbox (virtual_mailbox_maps
 * under virtual_mailbox_base; Maildir if the path ends in '/', else an
 * mbox file) gets recipient j's message, as the uid and gid of
 * virtual_uid_maps and virtual_gid_maps; record as local_collect. */
void	virtual_mailbox_deliver(struct deliver_ctx *, const struct deliver_msg *,
	    int j, const char *addr, struct deliver_result *, int record);
/* The path of a virtual mailbox split for maildir.c: base (or "/") in
 * home[0..len), the rest (no leading '/') in box[0..len).  0, or -1 with
 * *why (a ".." component, a relative result, too long). */
int	virtual_mailbox_path(const char *base, const char *value, char *home,
	    char *box, size_t len, const char **why);

/* local_loop.c: 1 if the message already carries "Delivered-To: rcpt"
 * (seen: in the header buf[0..len)), a forwarding loop. */
int	local_loop_seen(const char *buf, size_t len, const char *rcpt);
int	local_loop_check(const struct deliver_msg *, const char *rcpt);

/* mbox.c: append msg to the locked mbox file fd (From_ line, quoting,
 * fsync; cut back on failure).  0, or -1 with *what and errno. */
int	mbox_append(int fd, const struct deliver_msg *, const char *rcpt,
	    const char **what);
int	mbox_from_quote(const char *line, size_t len);

/* maildir.c: Return-Path:, Delivered-To: rcpt and the message, to out.
 * 0, or -1 with *what and errno. */
int	deliver_message_write(int out, const struct deliver_msg *,
	    const char *rcpt, const char **what);

/* maildir.c */
struct maildir_job {
	const struct deliver_msg *msg;
	int			 j;	/* the recipient in msg->req */
	const char		*rcpt;
	struct deliver_result	*res;
	int			 own;	/* res is the recipient's own outcome:
					   this Maildir its only target */
	char			 name[MAILDIR_NAME_SIZE];	/* in new/ */
};

/* local_run.c: one account's maildir jobs in its worker process
 * (local_worker.c), all the accounts of a flush side by side, a worker
 * killed and its jobs deferred (4.3.0 "mailbox delivery timed out") if it
 * is not done by the deadline.  local_run_start() sets every job's result
 * on failure to start; local_run_wait() sets the rest.  busy[] (one byte
 * per worker slot, zeroed for each flush) keeps a flush from taking a
 * worker it already uses. */
struct local_run {
	pid_t			 pid;
	int			 fd;	/* worker's socket; -1 when over */
	struct maildir_job	**jobs;
	int			 n;
	int			 timed_out;	/* killed at the deadline */
	int			 late;		/* ... a late flush's short one */
};

void	local_run_start(struct deliver_ctx *, const struct local_user *,
	    const char *mailbox, struct maildir_job **, int n,
	    unsigned char *busy, struct local_run *);
void	local_run_wait(struct deliver_ctx *, struct local_run *, int nrun,
	    long long batch_ms);
/* A run of n jobs that starts no worker: each job deferred with dsn and
 * text. */
void	local_run_skip(struct maildir_job **, int n, const char *dsn,
	    const char *text, struct local_run *);

/* local_hung.c: the mailboxes (uid and home/mailbox) whose worker was
 * killed at a batch's deadline lately; recent: deliveries into it are to
 * be deferred at once. */
void	local_hung_add(struct deliver_ctx *, uid_t, const char *where);
int	local_hung_recent(const struct deliver_ctx *, uid_t, const char *where);

/* local_worker.c: the pool of per-account mailbox processes.  start: send
 * jobs[0..n) (n <= LOCAL_BATCH_JOBS) to u's worker, forked if it has none;
 * the worker's socket, where its reply will come (one packet of
 * local_worker_reply_size(n) bytes), or -1.  reply_check: a reply as
 * received, checked (count, statuses, texts) into res[0..n); 0 or -1.
 * end: forget the worker on fd, killed first if kill_it (it did not answer
 * in time, or answered nonsense).  expire: close workers idle for a
 * minute.  close: all of them (their sockets' EOF ends them). */
#define LOCAL_WORKER_SLOTS	16
struct local_worker_reply {
	uint32_t	 version;
	uint32_t	 n;
};

int	local_worker_start(struct deliver_ctx *, const struct local_user *,
	    const char *mailbox, struct maildir_job **, int n,
	    unsigned char *busy, pid_t *pid);
size_t	local_worker_reply_size(int n);
int	local_worker_reply_check(const void *buf, size_t len, int n,
	    struct deliver_result *res);
void	local_worker_end(struct deliver_ctx *, int fd, int kill_it);
void	local_workers_expire(struct deliver_ctx *);
void	local_workers_close(struct deliver_ctx *);

int	maildir_unique_name(char *out, size_t outlen, long long sec, long usec,
	    long pid, unsigned long counter, const char *host);
int	maildir_stable_name(char *out, size_t outlen, long long arrival,
	    const char *qid, int line, const char *host);
void	maildir_deliver_many(struct deliver_ctx *, const struct local_user *,
	    const char *mailbox, struct maildir_job **, int n);
void	maildir_deliver_home(struct deliver_ctx *, const struct local_user *,
	    const char *mailbox, struct maildir_job **, int n);
void	maildir_deliver_denied(const struct local_user *,
	    struct maildir_job **, int n);
void	maildir_deliver(struct deliver_ctx *, const struct deliver_msg *,
	    const char *rcpt, const struct local_user *, const char *mailbox,
	    struct deliver_result *);

#endif
