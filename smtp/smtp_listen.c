/*
 * smtp_listen - the server side of the delivery protocol (proto_deliver.h)
 * for the SMTP transport, on the socket the master bound for us.  The
 * shared IPC server (ipc_server.h) accepts qmgr's connections and bounds
 * and decodes their frames; here each request is checked by the codec and
 * becomes one SMTP session, whose outcomes go back as the reply.  A
 * connection has one request in progress at a time (pending_max 1), so
 * replies stay in request order; qmgr opens several connections for
 * parallel deliveries, and one process serves them all.  A connection
 * that goes away abandons its session.
 */
#include <stdlib.h>

#include "buf.h"
#include "log.h"
#include "smtp.h"

struct smtp_request {
	struct smtp		*s;
	ipc_client_id		 client;
	struct smtp_session	*sess;
};

static void
listen_done(void *arg, const struct smtp_result *res, int n)
{
	struct smtp_request	*rq = arg;
	struct deliver_outcome	*out;
	struct ipc_msg		 reply;
	int			 i;

	out = xcalloc((size_t)n, sizeof(*out));
	for (i = 0; i < n; i++) {
		out[i].status = res[i].status;
		out[i].dsn = res[i].dsn;
		out[i].text = res[i].text;
		out[i].action = res[i].action;
	}
	(void)ipc_server_set_data(rq->s->listener, rq->client, NULL);
	if (proto_deliver_reply_encode(&reply, out, n) < 0) {
		log_warn("cannot encode a reply: dropping the client");
		ipc_server_drop(rq->s->listener, rq->client);
	} else
		(void)ipc_server_reply(rq->s->listener, rq->client, &reply);
	ipc_msg_free(&reply);
	free(out);
	free(rq);
}

static void
listen_request(void *arg, ipc_client_id client, const struct ipc_msg *m)
{
	struct smtp		*s = arg;
	struct deliver_request	 req;
	struct smtp_request	*rq;
	struct ipc_msg		 reply;
	const char		*err;

	if (m->type != DELIVER_T_REQUEST) {
		err = "unexpected message type";
		req.rcpt = NULL;
	} else if (proto_deliver_request_decode(m, &req, &err) == 0) {
		rq = xcalloc(1, sizeof(*rq));
		rq->s = s;
		rq->client = client;
		(void)ipc_server_set_data(s->listener, client, rq);
		rq->sess = smtp_session_start(s, &req, listen_done, rq);
		proto_deliver_request_free(&req);
		return;
	}
	if (m->type == DELIVER_T_REQUEST)
		proto_deliver_request_free(&req);
	log_warn("request refused: %s", err);
	if (proto_deliver_error_encode(&reply, err) < 0)
		ipc_server_drop(s->listener, client);
	else
		(void)ipc_server_reply(s->listener, client, &reply);
	ipc_msg_free(&reply);
}

static void
listen_gone(void *arg, ipc_client_id client, void *data)
{
	struct smtp_request	*rq = data;

	(void)arg;
	(void)client;
	if (rq == NULL)
		return;
	smtp_session_cancel(rq->sess);
	free(rq);
}

int
smtp_listen_init(struct smtp *s, int listen_fd)
{
	const struct ipc_server_conf conf = {
		.client_max = SMTP_CLIENT_MAX,
		.frame_max = SMTP_REQUEST_MAX,
		.in_max = SMTP_REQUEST_MAX,
		.out_max = 0,
		.pending_max = 1,	/* replies in request order */
		.write_timeout = SMTP_WRITE_TIMEOUT,
		.request = listen_request,
		.gone = listen_gone,
		.arg = s,
	};

	s->listener = ipc_server_new(s->base, listen_fd, &conf);
	return s->listener != NULL ? 0 : -1;
}

void
smtp_listen_free(struct smtp *s)
{
	ipc_server_free(s->listener);
	s->listener = NULL;
}
