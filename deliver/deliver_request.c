/*
 * deliver_request - the deliver side of proto_deliver.h: check a request
 * from qmgr before anything acts on it, and build the reply.
 *
 * qmgr is trusted only as far as the protocol says.  In particular the queue
 * file must be "active/<id>" for the request's own id, so a confused or
 * compromised qmgr cannot make this root process open some other file, and
 * addresses must be free of control characters, because they are copied
 * into message headers (Return-Path:, Delivered-To:) and a newline there
 * would let the sender forge headers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "proto_deliver.h"
#include "deliver.h"

#define REPLY_SHORT_TEXT	48	/* cut texts to this if a reply is big */

static int
request_fail(const char **err, const char *why)
{
	*err = why;
	return -1;
}

/* 1 if s is an address we may copy into a header: at most QUEUE_ADDR_MAX
 * bytes and no control characters (8-bit bytes are left to addr.c). */
int
deliver_addr_clean(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f ||
		    n >= QUEUE_ADDR_MAX)
			return 0;
	return 1;
}

static int
request_check_version(const struct ipc_msg *m, const char **err)
{
	long long	 v;

	if (ipc_msg_get(m, "v") == NULL)
		return request_fail(err, "missing v");
	if (ipc_msg_get_int(m, "v", PROTO_DELIVER_VERSION,
	    PROTO_DELIVER_VERSION, &v) < 0)
		return request_fail(err, "unsupported protocol version");
	return 0;
}

/* The file must be exactly "active/<id>": no other directory, no absolute
 * path, no "..", no other message. */
static int
request_check_path(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	char	 want[QUEUE_PATH_SIZE];

	if ((req->id = ipc_msg_get(m, "id")) == NULL)
		return request_fail(err, "missing id");
	if (!queue_id_valid(req->id))
		return request_fail(err, "bad id");
	if ((req->path = ipc_msg_get(m, "path")) == NULL)
		return request_fail(err, "missing path");
	if (queue_path(want, sizeof(want), QDIR_ACTIVE, req->id) < 0 ||
	    strcmp(req->path, want) != 0)
		return request_fail(err, "path is not active/<id>");
	return 0;
}

/* The message starts after the "data\n" line, so never before byte 6. */
static int
request_check_offset(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	long long	 off;

	if (ipc_msg_get(m, "offset") == NULL)
		return request_fail(err, "missing offset");
	if (ipc_msg_get_int(m, "offset", 6, QUEUE_HEADER_MAX, &off) < 0)
		return request_fail(err, "bad offset");
	req->offset = (off_t)off;
	return 0;
}

static int
request_check_rcpts(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	char		 name[IPC_NAME_MAX + 1];
	long long	 n;
	int		 i;

	if (ipc_msg_get(m, "nrcpt") == NULL)
		return request_fail(err, "missing nrcpt");
	if (ipc_msg_get_int(m, "nrcpt", 1, DELIVER_RCPT_MAX, &n) < 0)
		return request_fail(err, "bad nrcpt");
	req->rcpt = xcalloc((size_t)n, sizeof(*req->rcpt));
	req->nrcpt = (int)n;
	for (i = 0; i < req->nrcpt; i++) {
		snprintf(name, sizeof(name), "rcpt.%d", i);
		if ((req->rcpt[i] = ipc_msg_get(m, name)) == NULL)
			return request_fail(err, "missing rcpt.<i>");
		if (req->rcpt[i][0] == '\0' ||
		    !deliver_addr_clean(req->rcpt[i]))
			return request_fail(err, "bad rcpt.<i>");
	}
	return 0;
}

/* 0 and req filled, or -1 with *err a static reason for IPC_T_ERROR.  Either
 * way the caller calls deliver_request_free(). */
int
deliver_request_parse(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	memset(req, 0, sizeof(*req));
	if (m->type != DELIVER_T_REQUEST)
		return request_fail(err, "not a delivery request");
	if (request_check_version(m, err) < 0 ||
	    request_check_path(m, req, err) < 0 ||
	    request_check_offset(m, req, err) < 0)
		return -1;
	if ((req->sender = ipc_msg_get(m, "sender")) == NULL)
		return request_fail(err, "missing sender");
	if (!deliver_addr_clean(req->sender))
		return request_fail(err, "bad sender");
	return request_check_rcpts(m, req, err);
}

void
deliver_request_free(struct deliver_request *req)
{
	free(req->rcpt);
	memset(req, 0, sizeof(*req));
}

const char *
deliver_status_name(enum deliver_status s)
{
	switch (s) {
	case DELIVER_OK:
		return "ok";
	case DELIVER_DEFER:
		return "defer";
	case DELIVER_BOUNCE:
		return "bounce";
	}
	return "defer";
}

void
deliver_result_set(struct deliver_result *r, enum deliver_status status,
    const char *dsn, const char *fmt, ...)
{
	va_list	 ap;

	r->status = status;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static int
reply_fill(struct ipc_msg *m, const struct deliver_result *res, int n,
    int textmax)
{
	char	 name[IPC_NAME_MAX + 1];
	int	 i;

	ipc_msg_init(m, DELIVER_T_REPLY);
	if (ipc_msg_add_int(m, "nrcpt", n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "status.%d", i);
		if (ipc_msg_add(m, name,
		    deliver_status_name(res[i].status)) < 0)
			return -1;
		snprintf(name, sizeof(name), "dsn.%d", i);
		if (ipc_msg_add(m, name, res[i].dsn) < 0)
			return -1;
		snprintf(name, sizeof(name), "text.%d", i);
		if (ipc_msg_addf(m, name, "%.*s", textmax, res[i].text) < 0)
			return -1;
	}
	return 0;
}

/* The reply for n results, in request order.  A thousand long texts could
 * pass IPC_FRAME_MAX; then the texts are cut short rather than the outcomes
 * lost.  0, or -1 (m is left empty). */
int
deliver_reply_build(struct ipc_msg *m, const struct deliver_result *res, int n)
{
	if (reply_fill(m, res, n, DELIVER_TEXT_SIZE) == 0)
		return 0;
	ipc_msg_free(m);
	if (reply_fill(m, res, n, REPLY_SHORT_TEXT) == 0)
		return 0;
	ipc_msg_free(m);
	ipc_msg_init(m, DELIVER_T_REPLY);
	return -1;
}

void
deliver_error_build(struct ipc_msg *m, const char *text)
{
	ipc_msg_init(m, IPC_T_ERROR);
	if (ipc_msg_add(m, "text", text) < 0)
		log_warn("cannot encode error reply \"%s\"", text);
}

/* One line per recipient and outcome, Postfix style, so that
 * "grep <queue id>" shows where every copy went. */
void
deliver_log(const char *id, const char *rcpt, const char *relay,
    const char *mailbox, const struct deliver_result *r)
{
	static const char *const word[] = {
		[DELIVER_OK] = "sent",
		[DELIVER_DEFER] = "deferred",
		[DELIVER_BOUNCE] = "bounced",
	};

	log_qid(LOG_LEVEL_INFO, id,
	    "to=<%s>, relay=%s%s%s, dsn=%s, status=%s (%s)", rcpt, relay,
	    mailbox != NULL ? ", mailbox=" : "", mailbox != NULL ? mailbox : "",
	    r->dsn, word[r->status], r->text);
}
