/*
 * showq_listen - the server side of the showq protocol (proto_showq.h) on
 * the world-connectable socket the master bound for us.  The shared IPC
 * server bounds every request, caps the clients (and those of one uid,
 * so that one local user cannot take every slot), drops one that does
 * not read its page in time and one idle between requests; here each
 * request is answered at once: a page of the listing read from the queue
 * directories (our working directory), or a flush relayed to qmgr.
 * Anyone may connect, so a request can only ask for what mailq shows
 * everyone, and nothing here writes to the queue.
 */
#include <string.h>
#include <unistd.h>

#include "ipc_server.h"
#include "log.h"
#include "proto_qmgr.h"
#include "proto_showq.h"
#include "showq.h"

static void
sq_error(struct ipc_msg *reply, const char *text)
{
	ipc_msg_free(reply);
	ipc_msg_init(reply, IPC_T_ERROR);
	(void)ipc_msg_add(reply, IPC_A_TEXT, text);
}

/* The page being filled, and the last message that went into it. */
struct sq_fill {
	struct showq_page	 page;
	enum queue_list_queue	 last_q;
	char			 last_id[QUEUE_ID_SIZE];
	int			 full;
};

static int
sq_fill_one(const struct queue_list_msg *m, void *arg)
{
	struct sq_fill	*f = arg;
	int		 rc;

	if ((rc = showq_page_add(&f->page, m)) == 1) {
		f->full = 1;
		return 1;
	}
	if (rc == -1)
		return -1;
	f->last_q = m->queue;
	memcpy(f->last_id, m->id, sizeof(f->last_id));
	return 0;
}

static void
sq_list(const struct ipc_msg *req, struct ipc_msg *reply)
{
	struct sq_fill	 f;
	enum queue_list_queue q, next_q;
	const char	*err;
	char		 after[QUEUE_ID_SIZE], next_id[QUEUE_ID_SIZE];
	int		 rc;

	if (showq_list_check(req, &q, after, &err) == -1) {
		sq_error(reply, err);
		return;
	}
	memset(&f, 0, sizeof(f));
	showq_page_init(&f.page);
	rc = queue_list_scan_from(q, after[0] ? after : NULL, SHOWQ_PAGE_MAX,
	    sq_fill_one, &f, &next_q, next_id);
	if (rc == -1) {
		ipc_msg_free(&f.page.msg);
		log_error("cannot list the queue");
		sq_error(reply, "cannot read the queue");
		return;
	}
	if ((f.full || next_q != QL_COUNT) && f.page.n > 0 &&
	    showq_page_next(&f.page, f.last_q, f.last_id) != 0) {
		ipc_msg_free(&f.page.msg);
		sq_error(reply, "page too large");
		return;
	}
	ipc_msg_free(reply);
	*reply = f.page.msg;
}

/* Relay a flush to qmgr, unless one went less than a moment ago. */
static void
sq_flush(struct showq *s, const struct ipc_msg *req, struct ipc_msg *reply)
{
	struct ipc_msg	 fr, fa;
	long long	 v;
	time_t		 now = time(NULL);
	int		 fd, ok = 0;

	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v != PROTO_SHOWQ_VERSION) {
		sq_error(reply, "unsupported protocol version");
		return;
	}
	if (s->last_flush != 0 && now - s->last_flush < SHOWQ_FLUSH_INTERVAL &&
	    now >= s->last_flush)
		return;		/* the last one covers it: IPC_T_OK */
	if ((fd = ipc_connect(QMGR_SOCKET)) == -1) {
		log_warn("flush: cannot reach qmgr");
		sq_error(reply, "qmgr is not running");
		return;
	}
	ipc_msg_init(&fr, QMGR_T_FLUSH);
	if (ipc_msg_add_int(&fr, "v", PROTO_QMGR_VERSION) == 0 &&
	    ipc_call(fd, &fr, &fa, SHOWQ_QMGR_TIMEOUT_MS) == 0) {
		ok = fa.type == IPC_T_OK;
		ipc_msg_free(&fa);
	}
	ipc_msg_free(&fr);
	close(fd);
	if (!ok) {
		sq_error(reply, "qmgr did not take the flush");
		return;
	}
	s->last_flush = now;
	log_info("flush relayed to qmgr");
}

void
showq_answer(struct showq *s, const struct ipc_msg *req,
    struct ipc_msg *reply)
{
	ipc_msg_init(reply, IPC_T_OK);
	switch (req->type) {
	case SHOWQ_T_LIST:
		sq_list(req, reply);
		break;
	case SHOWQ_T_FLUSH:
		sq_flush(s, req, reply);
		break;
	default:
		sq_error(reply, "unknown request type");
		break;
	}
}

static void
showq_listen_request(void *arg, ipc_client_id client,
    const struct ipc_msg *req)
{
	struct showq	*s = arg;
	struct ipc_msg	 reply;

	showq_answer(s, req, &reply);
	if (reply.type == IPC_T_ERROR)
		log_warn("request type %u refused: %s", (unsigned)req->type,
		    ipc_msg_get(&reply, IPC_A_TEXT));
	(void)ipc_server_reply(s->listener, client, &reply);
	ipc_msg_free(&reply);
}

int
showq_listen_init(struct showq *s, int fd)
{
	const struct ipc_server_conf conf = {
		.client_max = SHOWQ_CLIENT_MAX,
		.frame_max = SHOWQ_REQUEST_MAX,
		.in_max = 2 * SHOWQ_REQUEST_MAX,
		.out_max = SHOWQ_OUT_MAX,
		.pending_max = 0,	/* every reply is immediate */
		.write_timeout = SHOWQ_CLIENT_TIMEOUT,
		.uid_max = SHOWQ_UID_MAX,
		.idle_timeout = SHOWQ_IDLE_TIMEOUT,
		.request = showq_listen_request,
		.gone = NULL,
		.arg = s,
	};

	s->listener = ipc_server_new(s->base, fd, &conf);
	return s->listener != NULL ? 0 : -1;
}

void
showq_listen_free(struct showq *s)
{
	ipc_server_free(s->listener);
	s->listener = NULL;
}
