/*
 * resolver_listen - the server side of the resolver protocol
 * (proto_resolver.h) on the socket the master bound for us.  The shared IPC
 * server (ipc_server.h) accepts the clients, bounds and decodes their
 * frames and drops one that sends a malformed frame; here each request is
 * checked and handed to a lookup, whose reply goes back when the DNS has
 * answered.  A client has at most one request in progress; a request it
 * sends early waits in its input buffer until the previous reply has been
 * taken.  A well-framed but unacceptable request gets IPC_T_ERROR.  A
 * client that goes away abandons its lookup.
 */
#include <stdlib.h>

#include "buf.h"
#include "ipc_server.h"
#include "log.h"
#include "resolver.h"

/* One request in progress: the lookup, and whom to answer. */
struct resolver_request {
	struct resolver		*r;
	ipc_client_id		 client;
	struct resolver_lookup	*lookup;
};

static void
resolver_listen_done(const struct ipc_msg *reply, void *arg)
{
	struct resolver_request	*rq = arg;

	(void)ipc_server_set_data(rq->r->listener, rq->client, NULL);
	(void)ipc_server_reply(rq->r->listener, rq->client, reply);
	free(rq);
}

static void
resolver_listen_request(void *arg, ipc_client_id client,
    const struct ipc_msg *req)
{
	struct resolver		*r = arg;
	struct resolver_request	*rq;
	struct ipc_msg		 reply;
	const char		*domain, *err;

	if (resolver_request_check(req, &domain, &err) == 0) {
		rq = xcalloc(1, sizeof(*rq));
		rq->r = r;
		rq->client = client;
		rq->lookup = resolver_lookup_start(r, domain,
		    resolver_listen_done, rq);
		(void)ipc_server_set_data(r->listener, client, rq);
		return;
	}
	log_info("bad request (type 0x%02x): %s", req->type, err);
	if (resolver_reply_error(&reply, err) < 0) {
		log_warn("cannot build a reply: dropping client");
		ipc_server_drop(r->listener, client);
	} else
		(void)ipc_server_reply(r->listener, client, &reply);
	ipc_msg_free(&reply);
}

/* The client went away: its lookup, if any, is abandoned. */
static void
resolver_listen_gone(void *arg, ipc_client_id client, void *data)
{
	struct resolver_request	*rq = data;

	(void)arg;
	(void)client;
	if (rq == NULL)
		return;
	resolver_lookup_cancel(rq->lookup);
	free(rq);
}

int
resolver_listen_init(struct resolver *r, int listen_fd)
{
	const struct ipc_server_conf conf = {
		.client_max = RESOLVER_CLIENT_MAX,
		.frame_max = RESOLVER_REQUEST_MAX,
		/* Stop reading once a whole largest request is buffered. */
		.in_max = RESOLVER_REQUEST_MAX,
		/* The next request waits until the last reply is written:
		 * that keeps both buffers bounded. */
		.out_max = 0,
		.pending_max = 1,
		.write_timeout = RESOLVER_WRITE_TIMEOUT,
		.request = resolver_listen_request,
		.gone = resolver_listen_gone,
		.arg = r,
	};

	r->listener = ipc_server_new(r->base, listen_fd, &conf);
	return r->listener != NULL ? 0 : -1;
}

void
resolver_listen_free(struct resolver *r)
{
	ipc_server_free(r->listener);
	r->listener = NULL;
}
