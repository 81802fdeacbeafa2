/*
 * deliver - interfaces shared by the modules of the delivery agent.
 *
 * One request from qmgr names one queue file and up to DELIVER_RCPT_MAX of
 * its recipients (deliver_request.c checks it).  The dispatcher
 * (transport.c) groups the recipients by transport, local Maildir delivery
 * today and remote SMTP later, and each transport fills one deliver_result
 * per recipient, which deliver_request.c turns into the reply.  Nothing here
 * keeps state between requests except the deliver_ctx that main() owns.
 */
#ifndef TERN_DELIVER_H
#define TERN_DELIVER_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "ipc.h"
#include "queue.h"
#include "queue_file.h"

#define DELIVER_DSN_SIZE	16	/* "4.3.0" with room to spare */
#define DELIVER_TEXT_SIZE	256	/* reply and log text; longer is cut */
#define DELIVER_HOST_SIZE	256	/* gethostname() result */
#define DELIVER_USER_SIZE	256	/* a login name */
#define DELIVER_PATH_SIZE	4096	/* a home directory or mailbox path */
#define DELIVER_READ_TIMEOUT	(60 * 1000)	/* rest of a frame, ms */
#define DELIVER_WRITE_TIMEOUT	(60 * 1000)	/* a reply, ms */
#define MAILDIR_NAME_SIZE	512	/* a unique name, host included */
#define DELIVER_BATCH_RCPT	100	/* no more requests once a batch has
					   this many recipients */

enum deliver_status {
	DELIVER_OK,		/* durably in the mailbox */
	DELIVER_DEFER,		/* try again later */
	DELIVER_BOUNCE		/* never */
};

/* The outcome of one recipient, as it goes back to qmgr. */
struct deliver_result {
	enum deliver_status	 status;
	char			 dsn[DELIVER_DSN_SIZE];
	char			 text[DELIVER_TEXT_SIZE];
};

/* A validated request.  Strings point into the ipc_msg it came from, so it
 * lives no longer than that message. */
struct deliver_request {
	const char	 *id;
	const char	 *path;		/* "active/<id>" */
	off_t		  offset;	/* first message byte in the file */
	const char	 *sender;	/* "" for the null sender */
	int		  nrcpt;
	const char	**rcpt;		/* nrcpt entries, allocated */
};

/* The message as the transports see it: an open queue file, read with
 * pread() only, so every recipient starts from the same place. */
struct deliver_msg {
	const struct deliver_request *req;
	int		 fd;		/* queue file, read-only */
	off_t		 offset;	/* message is bytes [offset, size) */
	off_t		 size;		/* file size when it was opened */
};

struct local_batch;

/* Per-process state, owned by main() and passed down explicitly. */
struct deliver_ctx {
	const struct tern_config *cfg;
	char		 hostname[DELIVER_HOST_SIZE];	/* for Maildir names */
	unsigned long	 counter;	/* deliveries so far, for names */
	pid_t		 pid;		/* for names; 0 until first needed */
	/* Local deliveries collected for the batch being handled (local.c);
	 * NULL outside deliver_batch(). */
	struct local_batch *local;
};

/* deliver_request.c */
int	deliver_request_parse(const struct ipc_msg *, struct deliver_request *,
	    const char **err);
void	deliver_request_free(struct deliver_request *);
int	deliver_reply_build(struct ipc_msg *, const struct deliver_result *,
	    int n);
void	deliver_error_build(struct ipc_msg *, const char *text);
int	deliver_addr_clean(const char *);
void	deliver_result_set(struct deliver_result *, enum deliver_status,
	    const char *dsn, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
const char *deliver_status_name(enum deliver_status);
void	deliver_log(const char *id, const char *rcpt, const char *relay,
	    const char *mailbox, const struct deliver_result *);

/* deliver_message.c: a batch of requests (at most DELIVER_PIPELINE_MAX),
 * each turned into its reply, DELIVER_T_REPLY or IPC_T_ERROR; the replies
 * are built only when every delivery of the batch is durable. */
int	deliver_message_open(const struct deliver_request *,
	    struct deliver_msg *, uid_t owner, const char **why);
void	deliver_batch(struct deliver_ctx *, const struct ipc_msg *req, int n,
	    struct ipc_msg *reply);
void	deliver_handle(struct deliver_ctx *, const struct ipc_msg *,
	    struct ipc_msg *reply);

/* transport.c */
struct transport {
	const char	*name;	/* "local", later "smtp"; for logs */
	/* Deliver msg to the recipients req->rcpt[idx[0..n)], writing
	 * result[idx[k]] for each; must set every one of them, at once or
	 * by the time flush returns.  msg stays open until then. */
	void	(*deliver)(struct deliver_ctx *, const struct deliver_msg *,
		    const int *idx, int n, struct deliver_result *result);
	/* Finish what deliver left pending, or NULL. */
	void	(*flush)(struct deliver_ctx *);
};

const struct transport *transport_select(const struct tern_config *,
	    const char *rcpt);
void	transport_dispatch(struct deliver_ctx *, const struct deliver_msg *,
	    struct deliver_result *result);
void	transport_flush(struct deliver_ctx *);

/* local_user.c: recipient -> local account.  Aliases and .forward files
 * will be expanded here, in front of the passwd lookup. */
struct local_user {
	char	 name[DELIVER_USER_SIZE];	/* the account, e.g. "root" */
	uid_t	 uid;
	gid_t	 gid;
	char	 home[DELIVER_PATH_SIZE];
};

/* A passwd lookup: 1 found (*u filled), 0 no such user, -1 error (errno).
 * A parameter so the tests can replace the system's user database. */
typedef int (*local_user_lookup_fn)(const char *name, struct local_user *u,
	    void *arg);

int	local_user_resolve(const char *rcpt, local_user_lookup_fn, void *arg,
	    struct local_user *, struct deliver_result *);
int	local_user_getpw(const char *name, struct local_user *, void *arg);

/* local.c: the local transport.  deliver_batch() brackets every batch with
 * local_batch_new/free (ctx->local); deliveries wait in it for the flush. */
extern const struct transport transport_local;
struct local_batch *local_batch_new(void);
void	local_batch_free(struct local_batch *);

/* maildir.c */
struct maildir_job {
	const struct deliver_msg *msg;
	const char		*rcpt;
	struct deliver_result	*res;
	char			 name[MAILDIR_NAME_SIZE];	/* in new/ */
};

int	maildir_unique_name(char *out, size_t outlen, long long sec, long usec,
	    long pid, unsigned long counter, const char *host);
void	maildir_deliver_many(struct deliver_ctx *, const struct local_user *,
	    const char *mailbox, struct maildir_job **, int n);
void	maildir_deliver(struct deliver_ctx *, const struct deliver_msg *,
	    const char *rcpt, const struct local_user *, const char *mailbox,
	    struct deliver_result *);

#endif
