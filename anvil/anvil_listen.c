/*
 * anvil_listen - the server side of the anvil protocol (proto_anvil.h) on
 * the socket the master bound for us.  The shared IPC server (ipc_server.h)
 * accepts the clients, bounds and decodes their frames and drops one that
 * sends a malformed frame; here each request is checked and answered at
 * once, so replies go out in request order.  Each client's sessions are
 * also counted in a table of its own, so that when the client goes (its
 * smtpd exited, or gave up on us) they are ended with it, and so that a
 * client can end only sessions it began.  A well-framed but unacceptable
 * request gets IPC_T_ERROR.
 */
#include <stdlib.h>
#include <string.h>

#include "anvil.h"
#include "buf.h"
#include "io.h"
#include "ipc_server.h"
#include "log.h"
#include "proto_anvil.h"

/* What one client has counted. */
struct anvil_peer {
	struct anvil_table	 sessions;
};

int
anvil_request_check(const struct ipc_msg *req, const char **ident,
    const char **err)
{
	long long	 v;
	size_t		 len;

	if (req->type != ANVIL_T_CONNECT && req->type != ANVIL_T_DISCONNECT) {
		*err = "unknown request type";
		return -1;
	}
	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v != PROTO_ANVIL_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	*ident = ipc_msg_get(req, "ident");
	if (*ident == NULL || (len = strlen(*ident)) == 0 ||
	    len > ANVIL_IDENT_MAX) {
		*err = "missing or over-long ident";
		return -1;
	}
	return 0;
}

static struct anvil_peer *
anvil_listen_peer(struct anvil *a, ipc_client_id client)
{
	struct anvil_peer	*p;

	if ((p = ipc_server_data(a->listener, client)) != NULL)
		return p;
	p = xcalloc(1, sizeof(*p));
	anvil_table_init(&p->sessions, ANVIL_ENTRY_MAX, a->table.unit_ms);
	if (ipc_server_set_data(a->listener, client, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Count a session; the reply's attributes. */
static void
anvil_listen_connect(struct anvil *a, ipc_client_id client, const char *ident,
    struct ipc_msg *reply)
{
	struct anvil_peer	*p = anvil_listen_peer(a, client);
	long long		 now = io_now_ms();
	int			 count, rate, mine, unused;

	if (p == NULL || anvil_table_connect(&a->table, ident, now, &count,
	    &rate) < 0) {
		if (!a->full_logged)
			log_warn("table full (%d idents): sessions not "
			    "counted", a->table.n);
		a->full_logged = 1;
		(void)ipc_msg_add(reply, "status", "full");
		return;
	}
	if (anvil_table_connect(&p->sessions, ident, now, &mine, &unused) < 0) {
		(void)anvil_table_disconnect(&a->table, ident, now, &unused);
		(void)ipc_msg_add(reply, "status", "full");
		return;
	}
	(void)ipc_msg_add(reply, "status", "ok");
	(void)ipc_msg_add_int(reply, "count", count);
	(void)ipc_msg_add_int(reply, "rate", rate);
}

static void
anvil_listen_disconnect(struct anvil *a, ipc_client_id client,
    const char *ident, struct ipc_msg *reply)
{
	struct anvil_peer	*p = ipc_server_data(a->listener, client);
	long long		 now = io_now_ms();
	int			 count;

	if (p == NULL ||
	    anvil_table_disconnect(&p->sessions, ident, now, &count) < 0 ||
	    anvil_table_disconnect(&a->table, ident, now, &count) < 0) {
		(void)ipc_msg_add(reply, "status", "unknown");
		return;
	}
	(void)ipc_msg_add(reply, "status", "ok");
	(void)ipc_msg_add_int(reply, "count", count);
}

static void
anvil_listen_request(void *arg, ipc_client_id client, const struct ipc_msg *req)
{
	struct anvil	*a = arg;
	struct ipc_msg	 reply;
	const char	*ident, *err;

	if (anvil_request_check(req, &ident, &err) < 0) {
		log_info("bad request (type 0x%02x): %s", req->type, err);
		ipc_msg_init(&reply, IPC_T_ERROR);
		(void)ipc_msg_add(&reply, "text", err);
	} else {
		ipc_msg_init(&reply, ANVIL_T_REPLY);
		if (req->type == ANVIL_T_CONNECT)
			anvil_listen_connect(a, client, ident, &reply);
		else
			anvil_listen_disconnect(a, client, ident, &reply);
	}
	(void)ipc_server_reply(a->listener, client, &reply);
	ipc_msg_free(&reply);
}

/* The client went away: the sessions it counted end with it. */
static void
anvil_listen_gone(void *arg, ipc_client_id client, void *data)
{
	struct anvil		*a = arg;
	struct anvil_peer	*p = data;

	(void)client;
	if (p == NULL)
		return;
	if (p->sessions.n > 0)
		log_debug("client gone: ending the sessions of %d ident(s)",
		    p->sessions.n);
	anvil_table_release(&a->table, &p->sessions, io_now_ms());
	free(p);
}

int
anvil_listen_init(struct anvil *a, int listen_fd)
{
	const struct ipc_server_conf conf = {
		.client_max = ANVIL_CLIENT_MAX,
		.frame_max = ANVIL_REQUEST_MAX,
		/* A few pipelined requests; the rest wait in the socket. */
		.in_max = 16 * ANVIL_REQUEST_MAX,
		.out_max = ANVIL_OUT_MAX,
		.pending_max = 0,
		.write_timeout = ANVIL_WRITE_TIMEOUT,
		.request = anvil_listen_request,
		.gone = anvil_listen_gone,
		.arg = a,
	};

	a->listener = ipc_server_new(a->base, listen_fd, &conf);
	return a->listener != NULL ? 0 : -1;
}

void
anvil_listen_free(struct anvil *a)
{
	ipc_server_free(a->listener);
	a->listener = NULL;
}
