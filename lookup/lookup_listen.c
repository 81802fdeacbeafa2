/*
 * lookup_listen - the server side of the lookup protocol (proto_lookup.h)
 * on the socket the master bound for us.  The shared IPC server
 * (ipc_server.h) accepts the clients, bounds and decodes their frames and
 * drops one that sends a malformed frame; here each request is checked and
 * answered at once, so replies go out in request order, as the protocol
 * promises.  A lookup that fails is logged here, with its reason, and
 * answered "tempfail"; a well-framed but unacceptable request gets
 * IPC_T_ERROR.
 */
#include <string.h>

#include "ipc_server.h"
#include "log.h"
#include "lookup.h"

static void
lookup_listen_request(void *arg, ipc_client_id client,
    const struct ipc_msg *req)
{
	struct lookup		*l = arg;
	struct ipc_msg		 reply;
	enum rcpt_lookup_status	 st;
	char			 account[RCPT_LOOKUP_ACCOUNT_MAX + 1];
	const char		*rcpt, *err = NULL, *why = NULL;
	long long		 id;

	if (lookup_request_decode(req, &id, &rcpt, &err) < 0) {
		log_warn("refused a request: %s", err);
		ipc_msg_init(&reply, IPC_T_ERROR);
		(void)ipc_msg_add(&reply, IPC_A_TEXT, err);
	} else {
		st = rcpt_lookup_resolve(&l->rcpt, rcpt, account,
		    sizeof(account), &why);
		if (st == RCPT_LOOKUP_TEMPFAIL)
			log_warn("<%s>: recipient lookup failed: %s", rcpt,
			    why != NULL ? why : "(no reason)");
		else
			log_debug("<%s>: %s %s", rcpt,
			    lookup_status_name(st), account);
		if (lookup_reply_build(&reply, id, st, account, why) < 0) {
			ipc_msg_free(&reply);
			log_warn("<%s>: answer does not fit the protocol", rcpt);
			(void)lookup_reply_build(&reply, id,
			    RCPT_LOOKUP_TEMPFAIL, NULL, "unusable answer");
		}
	}
	(void)ipc_server_reply(l->listener, client, &reply);
	ipc_msg_free(&reply);
}

int
lookup_listen_init(struct lookup *l, int listen_fd)
{
	const struct ipc_server_conf conf = {
		.client_max = LOOKUP_CLIENT_MAX,
		.frame_max = LOOKUP_FRAME_MAX,
		/* A few pipelined requests; the rest wait in the socket. */
		.in_max = 16 * LOOKUP_FRAME_MAX,
		.out_max = LOOKUP_OUT_MAX,
		.pending_max = 0,
		.write_timeout = LOOKUP_WRITE_TIMEOUT,
		.request = lookup_listen_request,
		.arg = l,
	};

	l->listener = ipc_server_new(l->base, listen_fd, &conf);
	return l->listener != NULL ? 0 : -1;
}

void
lookup_listen_free(struct lookup *l)
{
	ipc_server_free(l->listener);
	l->listener = NULL;
}
