/*
 * qmgr_request - the deliver protocol as qmgr speaks it: one request names
 * a queue file and a batch of its pending recipients; the reply gives one
 * outcome per recipient.  Anything deliver does not answer clearly counts
 * as "defer", so a confused agent can delay mail but never lose it.
 */
#include <stdio.h>
#include <string.h>

#include "qmgr.h"

/* Bytes one attribute takes in a frame. */
static size_t
attr_cost(const char *name, const char *value)
{
	return strlen(name) + 1 + strlen(value) + 1;
}

/* Room for attributes in one frame, less what the trailing nrcpt takes. */
#define REQUEST_BUDGET	(IPC_FRAME_MAX - 2 - 32)

static int
request_head(const struct queue_envelope *env, struct ipc_msg *req,
    size_t *used, const char *nexthop)
{
	char	path[QUEUE_PATH_SIZE], offset[32];

	if (queue_path(path, sizeof(path), QDIR_ACTIVE, env->id) == -1)
		return -1;
	snprintf(offset, sizeof(offset), "%lld", (long long)env->data_off);
	if (ipc_msg_add_int(req, "v", PROTO_DELIVER_VERSION) == -1 ||
	    ipc_msg_add(req, "id", env->id) == -1 ||
	    ipc_msg_add(req, "path", path) == -1 ||
	    ipc_msg_add(req, "offset", offset) == -1 ||
	    ipc_msg_add(req, "sender", env->sender ? env->sender : "") == -1)
		return -1;
	*used = attr_cost("v", "2") + attr_cost("id", env->id) +
	    attr_cost("path", path) + attr_cost("offset", offset) +
	    attr_cost("sender", env->sender ? env->sender : "");
	if (nexthop != NULL) {
		if (ipc_msg_add(req, "nexthop", nexthop) == -1)
			return -1;
		*used += attr_cost("nexthop", nexthop);
	}
	return 0;
}

int
qmgr_request_build(const struct queue_envelope *env, int *cursor,
    struct ipc_msg *req, int *idx, int *nidx, const char *nexthop)
{
	char	name[IPC_NAME_MAX + 1];
	size_t	used, cost;
	int	i, n = 0;

	*nidx = 0;
	ipc_msg_init(req, DELIVER_T_REQUEST);
	if (request_head(env, req, &used, nexthop) == -1)
		goto fail;
	for (i = *cursor; i < env->nrcpt && n < DELIVER_RCPT_MAX; i++) {
		if (env->rcpt[i].status != RCPT_PENDING)
			continue;
		snprintf(name, sizeof(name), "rcpt.%d", n);
		cost = attr_cost(name, env->rcpt[i].addr);
		if (used + cost > REQUEST_BUDGET ||
		    ipc_msg_add(req, name, env->rcpt[i].addr) == -1) {
			if (n == 0)
				goto fail;	/* it will never fit */
			break;			/* next request */
		}
		used += cost;
		idx[n++] = i;
	}
	*cursor = i;
	if (n == 0) {
		ipc_msg_free(req);
		return 0;
	}
	if (ipc_msg_add_int(req, "nrcpt", n) == -1)
		goto fail;
	*nidx = n;
	return 0;
fail:
	ipc_msg_free(req);
	*nidx = 0;
	return -1;
}

static const char *
default_dsn(enum qmgr_rcpt_status st)
{
	switch (st) {
	case QMGR_RCPT_OK:
		return "2.0.0";
	case QMGR_RCPT_BOUNCE:
		return "5.0.0";
	default:
		return "4.0.0";
	}
}

static void
reply_one(const struct ipc_msg *reply, int i, struct qmgr_outcome *o)
{
	char		 name[IPC_NAME_MAX + 1];
	const char	*v;

	snprintf(name, sizeof(name), "status.%d", i);
	if ((v = ipc_msg_get(reply, name)) == NULL)
		return;		/* stays deferred */
	if (strcmp(v, "ok") == 0)
		o->status = QMGR_RCPT_OK;
	else if (strcmp(v, "bounce") == 0)
		o->status = QMGR_RCPT_BOUNCE;
	else if (strcmp(v, "defer") == 0)
		o->status = QMGR_RCPT_DEFER;
	else
		return;
	snprintf(name, sizeof(name), "dsn.%d", i);
	v = ipc_msg_get(reply, name);
	o->dsn = v && *v ? v : default_dsn(o->status);
	snprintf(name, sizeof(name), "text.%d", i);
	v = ipc_msg_get(reply, name);
	o->text = v ? v : "";
}

int
qmgr_reply_parse(const struct ipc_msg *reply, int n,
    struct qmgr_outcome *out, const char **err)
{
	long long	nrcpt;
	int		i;

	for (i = 0; i < n; i++) {
		out[i].status = QMGR_RCPT_DEFER;
		out[i].dsn = "4.3.0";
		out[i].text = "malformed reply from the delivery agent";
	}
	if (reply->type == IPC_T_ERROR) {
		*err = ipc_msg_get(reply, "text");
		if (*err == NULL)
			*err = "request refused";
		for (i = 0; i < n; i++)
			out[i].text = "request refused by the delivery agent";
		return -1;
	}
	if (reply->type != DELIVER_T_REPLY) {
		*err = "unexpected message type";
		return -1;
	}
	if (ipc_msg_get_int(reply, "nrcpt", 0, DELIVER_RCPT_MAX, &nrcpt) == -1 ||
	    nrcpt != n) {
		*err = "wrong recipient count";
		return -1;
	}
	for (i = 0; i < n; i++)
		reply_one(reply, i, &out[i]);
	return 0;
}
