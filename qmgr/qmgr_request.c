/*
 * qmgr_request - the deliver protocol as qmgr speaks it, on the codec in
 * common/proto_deliver.c: one request names a queue file and a batch of its
 * pending recipients; the reply gives one outcome per recipient.  Anything
 * deliver does not answer clearly counts as "defer", so a confused agent
 * can delay mail but never lose it.
 *
 * The next hop comes from routing (qmgr_route.c): every recipient of one
 * request belongs to one destination.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "qmgr.h"

static int
request_start(const struct queue_envelope *env, const char *nexthop,
    struct ipc_msg *req)
{
	struct deliver_request	 head;
	char			 path[QUEUE_PATH_SIZE];

	if (queue_path(path, sizeof(path), QDIR_ACTIVE, env->id) == -1) {
		ipc_msg_init(req, DELIVER_T_REQUEST);
		return -1;
	}
	memset(&head, 0, sizeof(head));
	head.id = env->id;
	head.path = path;
	head.offset = env->data_off;
	head.sender = env->sender ? env->sender : "";
	head.nexthop = nexthop != NULL ? nexthop : "";
	return proto_deliver_request_start(req, &head);
}

int
qmgr_request_build(const struct queue_envelope *env, int *cursor,
    struct ipc_msg *req, int *idx, int *nidx, const char *nexthop)
{
	int	i, n = 0;

	*nidx = 0;
	if (request_start(env, nexthop, req) == -1)
		goto fail;
	for (i = *cursor; i < env->nrcpt && n < DELIVER_RCPT_MAX; i++) {
		if (env->rcpt[i].status != RCPT_PENDING)
			continue;
		if (proto_deliver_request_add(req, n, env->rcpt[i].addr) == -1) {
			if (n == 0)
				goto fail;	/* it will never fit */
			break;			/* next request */
		}
		idx[n++] = i;
	}
	*cursor = i;
	if (n == 0) {
		ipc_msg_free(req);
		return 0;
	}
	if (proto_deliver_request_finish(req, n) == -1)
		return -1;		/* req freed */
	*nidx = n;
	return 0;
fail:
	ipc_msg_free(req);
	*nidx = 0;
	return -1;
}

static enum qmgr_rcpt_status
reply_status(enum deliver_status st)
{
	switch (st) {
	case DELIVER_OK:
		return QMGR_RCPT_OK;
	case DELIVER_BOUNCE:
		return QMGR_RCPT_BOUNCE;
	default:
		return QMGR_RCPT_DEFER;
	}
}

int
qmgr_reply_parse(const struct ipc_msg *reply, int n,
    struct qmgr_outcome *out, const char **err)
{
	struct deliver_outcome	*o;
	int			 i, r;

	o = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*o));
	r = proto_deliver_reply_decode(reply, n, o, err);
	for (i = 0; i < n; i++) {
		out[i].status = reply_status(o[i].status);
		out[i].dsn = o[i].dsn;
		out[i].text = o[i].text;
		out[i].action = o[i].action;
		out[i].mailbox = o[i].mailbox;
	}
	free(o);
	return r < 0 ? -1 : 0;
}
