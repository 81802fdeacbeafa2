/*
 * qmgr_request - the deliver protocol as qmgr speaks it, on the codec in
 * common/proto_deliver.c: one request names a queue file and a batch of its
 * pending recipients; the reply gives one outcome per recipient.  Anything
 * deliver does not answer clearly counts as "defer", so a confused agent
 * can delay mail but never lose it.
 *
 * Until qmgr routes (issue 7, item 1) this file also holds the one routing
 * decision qmgr makes: qmgr_request_remote() says which recipients no
 * transport serves yet, and qmgr_request_bounce_remote() bounces them
 * before a request is built, as deliver's stand-in for remote delivery
 * used to.  Routing replaces both.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "buf.h"
#include "qmgr.h"

/* The domain of rcpt if it can be a next hop (a valid domain or address
 * literal), else NULL. */
static const char *
request_domain(const char *rcpt)
{
	const char	*d = addr_domain(rcpt);
	size_t		 len;

	if (d == NULL)
		return NULL;
	len = strlen(d);
	if (!addr_valid_domain(d, len) && !addr_valid_literal(d, len))
		return NULL;
	return d;
}

/* The next hop of the pending recipients from cursor on that one request
 * can take: their domain if they all share it, else "".  The local
 * transport reads nothing from it; routing will give it meaning. */
static const char *
request_nexthop(const struct queue_envelope *env, int cursor)
{
	const char	*hop = NULL, *d;
	int		 i, n = 0;

	for (i = cursor; i < env->nrcpt && n < DELIVER_RCPT_MAX; i++) {
		if (env->rcpt[i].status != RCPT_PENDING)
			continue;
		n++;
		if ((d = request_domain(env->rcpt[i].addr)) == NULL)
			return "";
		if (hop == NULL)
			hop = d;
		else if (strcasecmp(hop, d) != 0)
			return "";
	}
	return hop != NULL ? hop : "";
}

static int
request_start(const struct queue_envelope *env, int cursor,
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
	head.nexthop = request_nexthop(env, cursor);
	return proto_deliver_request_start(req, &head);
}

int
qmgr_request_build(const struct queue_envelope *env, int *cursor,
    struct ipc_msg *req, int *idx, int *nidx)
{
	int	i, n = 0;

	*nidx = 0;
	if (request_start(env, *cursor, req) == -1)
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
	}
	free(o);
	return r < 0 ? -1 : 0;
}

/* ---- until qmgr routes ----------------------------------------------- */

int
qmgr_request_remote(const struct tern_config *cfg, const char *rcpt)
{
	const char	*domain;

	/* No domain, or bad syntax: deliver's to refuse (5.1.3). */
	if (strchr(rcpt, '@') == NULL ||
	    !addr_valid_mailbox(rcpt, strlen(rcpt), NULL) ||
	    (domain = addr_domain(rcpt)) == NULL)
		return 0;
	return !config_is_local_domain(cfg, domain);
}

int
qmgr_request_bounce_remote(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_outcome	*out;
	int			 i, n = 0;

	for (i = m->cursor; i < m->env.nrcpt && n < DELIVER_RCPT_MAX; i++)
		if (m->env.rcpt[i].status == RCPT_PENDING &&
		    qmgr_request_remote(q->cfg, m->env.rcpt[i].addr))
			m->batch[n++] = i;
	if (n == 0)
		return 0;
	out = xreallocarray(NULL, (size_t)n, sizeof(*out));
	for (i = 0; i < n; i++) {
		out[i].status = QMGR_RCPT_BOUNCE;
		out[i].dsn = "5.1.2";
		out[i].text = "remote delivery not available yet";
	}
	m->nbatch = n;
	qmgr_msg_done(q, m, out);
	free(out);
	return 1;
}
