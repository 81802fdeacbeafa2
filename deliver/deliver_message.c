/*
 * deliver_message - a batch of requests from start to replies: check each,
 * open the queue file it names, let the local transport deliver, and
 * collect the outcomes in request order.
 *
 * The queue file is opened here, as root and before any privilege switch,
 * with O_NOFOLLOW and a regular-file check, so a planted symbolic link or
 * FIFO in active/ cannot point this process elsewhere; and it must belong
 * to the owner of active/ and have no other name, so a hard link to some
 * file of root's (were the queue's owner ever subverted) is not mailed
 * out either.  The message offset from qmgr is checked against the header
 * read from the file under the lock: it must be the offset right after
 * its "data" line, or a qmgr bug would deliver header bytes as mail.  The message ends where the header's
 * size says (outcome records may follow it), or for a version 1 file at
 * the end of the file.
 *
 * The file is opened read-write, for its status bytes (deliver_record.c),
 * and write-locked (fcntl) for as long as this process has it open, so a
 * request qmgr repeats while an earlier delivery of it still runs (qmgr
 * gave up waiting) finds the file busy and is deferred, rather than
 * reading a status byte that is about to change.  The lock goes with the
 * process, so a killed deliver leaves none behind.  A POSIX lock, not
 * flock(): two requests of one batch may name the same file, and a
 * process does not conflict with itself; as closing any descriptor of the
 * file drops the process's lock, every item of a batch is marked before
 * the first is closed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "log.h"
#include "proto_deliver.h"
#include "deliver.h"

/* Lock the file and read its header: it must be the request's message,
 * whose end then bounds the message.  0, or -1 with *why. */
static int
message_read(struct deliver_msg *msg, const char **why)
{
	struct flock	 lk;
	const char	*err = "corrupt";

	memset(&lk, 0, sizeof(lk));
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	if (fcntl(msg->fd, F_SETLK, &lk) < 0) {
		*why = errno == EAGAIN || errno == EACCES ? "busy: another "
		    "delivery of it is under way" : strerror(errno);
		return -1;
	}
	if (queue_file_read_head(msg->fd, &msg->env, &err, &msg->head,
	    &msg->headlen) < 0) {
		*why = errno == EINVAL ? err : strerror(errno);
		return -1;
	}
	msg->loaded = 1;
	if (strcmp(msg->env.id, msg->req->id) != 0) {
		*why = "id does not match the request";
		return -1;
	}
	if (msg->env.data_off != msg->offset) {
		*why = "offset does not follow the data line";
		return -1;
	}
	msg->size = msg->env.data_off + msg->env.data_len;
	deliver_record_match(msg);
	return 0;
}

/* Open req->path, a file of owner's, for reading and for its status
 * bytes.  0, or -1 with *why (msg closed). */
int
deliver_message_open(const struct deliver_request *req,
    struct deliver_msg *msg, uid_t owner, const char **why)
{
	struct stat	 st;

	memset(msg, 0, sizeof(*msg));
	msg->req = req;
	msg->offset = req->offset;
	msg->fd = queue_open_noatime(req->path,
	    O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (msg->fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	if (fstat(msg->fd, &st) < 0)
		*why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_uid != owner)
		*why = "not owned by the owner of active/";
	else if (st.st_nlink != 1)
		*why = "has more than one name";
	else {
		msg->size = st.st_size;
		if (msg->offset > msg->size)
			*why = "offset beyond the end of the queue file";
		else if (message_read(msg, why) == 0)
			return 0;
	}
	deliver_message_close(msg);
	return -1;
}

/* Closing the file releases its lock: after the marks, before the reply. */
void
deliver_message_close(struct deliver_msg *msg)
{
	if (msg->fd >= 0)
		close(msg->fd);
	msg->fd = -1;
	if (msg->loaded)
		queue_envelope_free(&msg->env);
	msg->loaded = 0;
	free(msg->head);
	msg->head = NULL;
	msg->headlen = 0;
	free(msg->line);
	msg->line = NULL;
}

/* Every recipient gets the same temporary failure. */
static void
message_defer_all(const struct deliver_request *req,
    struct deliver_result *result, const char *why)
{
	int	 i;

	log_qid(LOG_LEVEL_WARN, req->id, "queue file %s: %s",
	    req->path, why);
	for (i = 0; i < req->nrcpt; i++) {
		deliver_result_set(&result[i], DELIVER_DEFER, "4.3.0",
		    "queue file: %s", why);
		deliver_log(req->id, req->rcpt[i], "none", NULL, &result[i]);
	}
}

/* One request of a batch, from its check to its reply. */
struct batch_item {
	struct deliver_request	 req;
	struct deliver_msg	 msg;
	struct deliver_result	*result;
	const char		*refused;	/* not a valid request: why */
	struct local_dup	*dup;	/* msg.dup, if this item made it */
};

/* The message's duplicate filter: an earlier item's of the same queue
 * file in the batch, else a new one (freed with this item). */
static void
batch_item_dup(struct deliver_ctx *ctx, struct batch_item *items, int i)
{
	struct batch_item	*it = &items[i];
	int			 k;

	for (k = 0; k < i; k++)
		if (items[k].msg.fd >= 0 && items[k].msg.dup != NULL &&
		    strcmp(items[k].req.id, it->req.id) == 0) {
			it->msg.dup = items[k].msg.dup;
			return;
		}
	it->dup = it->msg.dup =
	    local_dup_new(ctx->par->duplicate_filter_limit);
}

/* Check request m (items[i]) and start its deliveries; the local ones
 * wait in the batch until transport_flush(). */
static void
batch_item_start(struct deliver_ctx *ctx, const struct ipc_msg *m,
    uid_t owner, struct batch_item *items, int i)
{
	struct batch_item	*it = &items[i];
	const char		*why;

	it->msg.fd = -1;
	if (proto_deliver_request_decode(m, &it->req, &it->refused) < 0) {
		log_warn("bad request from qmgr: %s", it->refused);
		return;
	}
	it->refused = NULL;
	it->result = xcalloc((size_t)it->req.nrcpt, sizeof(*it->result));
	if (deliver_message_open(&it->req, &it->msg, owner, &why) < 0)
		message_defer_all(&it->req, it->result, why);
	else {
		batch_item_dup(ctx, items, i);
		transport_dispatch(ctx, &it->msg, it->result);
	}
}

static void
batch_item_finish(struct batch_item *it, struct ipc_msg *reply)
{
	const char	*refused = it->refused;

	deliver_message_close(&it->msg);
	if (refused == NULL &&
	    deliver_reply_build(reply, it->result, it->req.nrcpt) < 0) {
		log_qid(LOG_LEVEL_ERROR, it->req.id, "cannot encode the reply");
		refused = "reply too large";
	}
	if (refused != NULL && proto_deliver_error_encode(reply, refused) < 0)
		log_warn("cannot encode error reply \"%s\"", refused);
	free(it->result);
	proto_deliver_request_free(&it->req);
}

/* Turn requests req[0..n) into reply[0..n).  Every delivery of the batch
 * is made and durable before the first reply is built. */
void
deliver_batch(struct deliver_ctx *ctx, const struct ipc_msg *req, int n,
    struct ipc_msg *reply)
{
	struct batch_item	*it;
	struct stat		 active;
	uid_t			 owner;
	int			 i;

	/* No owner to compare with: every queue file is refused below. */
	owner = stat(queue_dir_name(QDIR_ACTIVE), &active) == 0 ?
	    active.st_uid : (uid_t)-1;
	it = xcalloc((size_t)n, sizeof(*it));
	ctx->deadline_ms = io_now_ms() +
	    (long long)ctx->cfg->local_time_limit * 1000;
	ctx->local = local_batch_new();
	ctx->memo = local_memo_new(local_recipient_getpw, NULL);
	for (i = 0; i < n; i++)
		batch_item_start(ctx, &req[i], owner, it, i);
	transport_flush(ctx);
	local_batch_free(ctx->local);
	ctx->local = NULL;
	local_memo_free(ctx->memo);
	ctx->memo = NULL;
	/* Anything not marked at its flush, before any file is closed. */
	for (i = 0; i < n; i++)
		if (it[i].msg.fd >= 0)
			deliver_record_all(&it[i].msg, it[i].result);
	for (i = 0; i < n; i++)
		batch_item_finish(&it[i], &reply[i]);
	for (i = 0; i < n; i++)
		local_dup_free(it[i].dup);
	free(it);
}

/* Turn request m into *reply (DELIVER_T_REPLY or IPC_T_ERROR). */
void
deliver_handle(struct deliver_ctx *ctx, const struct ipc_msg *m,
    struct ipc_msg *reply)
{
	deliver_batch(ctx, m, 1, reply);
}
