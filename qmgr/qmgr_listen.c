/*
 * qmgr_listen - the server side of the qmgr protocol (proto_qmgr.h) on the
 * socket the master bound for us.  Clients are smtpd and the admin tools;
 * they are trusted only as far as the protocol.  The shared IPC server
 * (ipc_server.h) bounds every frame, drops a client that sends a malformed
 * one, pauses and then drops one that does not read its replies, and caps
 * the number of clients, so no client can make qmgr block or grow without
 * bound.  Here each request is checked and answered at once; a client may
 * pipeline them (smtpd does), up to QMGR_CLIENT_OUT_MAX of unread replies.
 */
#include <stddef.h>

#include "ipc_server.h"
#include "log.h"
#include "proto_qmgr.h"
#include "qmgr.h"

static void
reply_error(struct ipc_msg *reply, const char *text)
{
	ipc_msg_free(reply);
	ipc_msg_init(reply, IPC_T_ERROR);
	(void)ipc_msg_add(reply, "text", text);
}

enum qmgr_req_kind
qmgr_listen_check(const struct ipc_msg *req, struct ipc_msg *reply,
    const char **id)
{
	long long v;

	*id = NULL;
	ipc_msg_init(reply, IPC_T_OK);
	/* Version 1's requests mean what they meant: a client not yet
	 * restarted after an upgrade still gets its notices through. */
	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v < 1 || v > PROTO_QMGR_VERSION ||
	    (v < 2 && req->type == QMGR_T_COMMITTED)) {
		reply_error(reply, "unsupported protocol version");
		return QMGR_REQ_BAD;
	}
	switch (req->type) {
	case QMGR_T_NOTIFY:
	case QMGR_T_COMMITTED:
		*id = ipc_msg_get(req, "id");
		if (*id == NULL || !queue_id_valid(*id)) {
			*id = NULL;
			reply_error(reply, "missing or invalid queue id");
			return QMGR_REQ_BAD;
		}
		return req->type == QMGR_T_NOTIFY ? QMGR_REQ_NOTIFY :
		    QMGR_REQ_COMMITTED;
	case QMGR_T_FLUSH:
		return QMGR_REQ_FLUSH;
	default:
		reply_error(reply, "unknown request type");
		return QMGR_REQ_BAD;
	}
}

/* One request from a client: act on it, and answer at once. */
static void
qmgr_listen_request(void *arg, ipc_client_id client, const struct ipc_msg *req)
{
	struct qmgr	*q = arg;
	struct ipc_msg	 reply;
	const char	*id, *text;

	switch (qmgr_listen_check(req, &reply, &id)) {
	case QMGR_REQ_NOTIFY:
		log_debug("%s: notify", id);
		qmgr_scan_notify(q, id);
		break;
	case QMGR_REQ_COMMITTED:
		log_debug("%s: committed", id);
		qmgr_scan_committed(q, id);
		break;
	case QMGR_REQ_FLUSH:
		log_info("flush requested");
		qmgr_scan_deferred(q, 1);
		break;
	case QMGR_REQ_BAD:
		text = ipc_msg_get(&reply, "text");
		log_warn("client request type %u refused: %s",
		    (unsigned)req->type, text ? text : "");
		break;
	}
	(void)ipc_server_reply(q->listener, client, &reply);
	ipc_msg_free(&reply);
}

int
qmgr_listen_init(struct qmgr *q, int fd)
{
	const struct ipc_server_conf conf = {
		.client_max = QMGR_CLIENT_MAX,
		.frame_max = QMGR_REQUEST_MAX,
		/* Room for a few pipelined requests per read. */
		.in_max = 2 * QMGR_REQUEST_MAX,
		.out_max = QMGR_CLIENT_OUT_MAX,
		.pending_max = 0,	/* every reply is immediate */
		.write_timeout = QMGR_CLIENT_TIMEOUT,
		.request = qmgr_listen_request,
		.gone = NULL,
		.arg = q,
	};

	q->listener = ipc_server_new(q->base, fd, &conf);
	return q->listener != NULL ? 0 : -1;
}

void
qmgr_listen_free(struct qmgr *q)
{
	ipc_server_free(q->listener);
	q->listener = NULL;
}
