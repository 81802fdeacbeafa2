/*
 * bounce_listen - the server side of the bounce protocol (proto_bounce.h)
 * on the socket the master bound for us, through the shared IPC server
 * (ipc_server.h), which bounds and decodes frames and drops a client that
 * sends a malformed one.  Each request is answered when its notice is
 * durable (or refused), before the next is read: composing one notice is a
 * few file reads and one commit.  A request whose client has hung up by
 * the time it is read (qmgr timed out while we were stopped or slow) is
 * not served: qmgr asks again, and serving it too would send the notice
 * twice; the same check runs again after the notice's fsync, right before
 * it is published (bounce_notice.c), for a qmgr that gave up meanwhile.
 */
#include <string.h>

#include "bounce.h"
#include "bounce_params.h"
#include "ipc_server.h"
#include "log.h"

/* The asker of one request: gone once its connection is. */
struct listen_asker {
	struct bounce	*b;
	ipc_client_id	 client;
};

static int
listen_asker_gone(void *arg)
{
	struct listen_asker	*a = arg;

	return ipc_server_client_hung_up(a->b->listener, a->client);
}

static void
bounce_listen_request(void *arg, ipc_client_id client,
    const struct ipc_msg *req)
{
	struct bounce		*b = arg;
	struct ipc_msg		 reply;
	enum bounce_event	 ev;
	const char		*id, *err = NULL;
	char			 notice_id[QUEUE_ID_SIZE];
	long long		 v, until = 0;

	id = ipc_msg_get(req, "id");
	if (req->type != BOUNCE_T_NOTICE)
		err = "unknown request type";
	else if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v != PROTO_BOUNCE_VERSION)
		err = "unsupported protocol version";
	else if (id == NULL || !queue_id_valid(id))
		err = "bad queue id";
	else if (bounce_event_parse(ipc_msg_get(req, "event"), &ev) < 0)
		err = "bad event";
	else if (ipc_msg_get(req, "until") != NULL &&
	    ipc_msg_get_int(req, "until", 0, 1LL << 40, &until) < 0)
		err = "bad until";
	else if (ipc_server_client_hung_up(b->listener, client))
		/* qmgr gave up waiting (we were stopped or slow): it has
		 * not marked the notice and will ask again, so one made
		 * now would be sent twice. */
		err = "qmgr no longer waits for the answer";
	else {
		struct listen_asker	 la = { b, client };
		struct bounce_asker	 asker = { listen_asker_gone, &la };

		(void)bounce_notice_send(b->cfg, b->par, id, ev,
		    ipc_msg_get(req, "rcpts"), until, &asker, notice_id, &err);
	}
	if (err != NULL) {
		log_warn("%s: no notification: %s", id != NULL &&
		    queue_id_valid(id) ? id : "request", err);
		ipc_msg_init(&reply, IPC_T_ERROR);
		(void)ipc_msg_add(&reply, IPC_A_TEXT, err);
	} else {
		ipc_msg_init(&reply, BOUNCE_T_REPLY);
		(void)ipc_msg_add(&reply, "status", notice_id[0] != '\0' ?
		    "sent" : "none");
		if (notice_id[0] != '\0')
			(void)ipc_msg_add(&reply, "id", notice_id);
	}
	(void)ipc_server_reply(b->listener, client, &reply);
	ipc_msg_free(&reply);
}

int
bounce_listen_init(struct bounce *b, int fd)
{
	struct ipc_server_conf	 conf;

	memset(&conf, 0, sizeof(conf));
	conf.client_max = BOUNCE_CLIENT_MAX;
	conf.frame_max = BOUNCE_REQUEST_MAX;
	conf.in_max = BOUNCE_REQUEST_MAX * 2;
	conf.out_max = 16 * 1024;
	conf.pending_max = 1;
	conf.write_timeout = BOUNCE_TIMEOUT;
	conf.request = bounce_listen_request;
	conf.arg = b;
	b->listener = ipc_server_new(b->base, fd, &conf);
	return b->listener != NULL ? 0 : -1;
}

void
bounce_listen_free(struct bounce *b)
{
	ipc_server_free(b->listener);
	b->listener = NULL;
}
