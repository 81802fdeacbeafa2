/*
 * proto_deliver - the codec of the delivery protocol (proto_deliver.h):
 * requests built by qmgr and checked by every transport, replies built by
 * a transport and read by qmgr.  It is the only code that spells the
 * protocol's attribute names, so a new transport speaks it by linking.
 *
 * The request decoder is the transport's guard against a confused or
 * compromised qmgr: the queue file must be "active/<id>" for the request's
 * own id, so a root transport cannot be made to open some other file, and
 * addresses must be free of control characters, because they are copied
 * into message headers (Return-Path:, Delivered-To:) and a newline there
 * would let the sender forge headers.  The reply decoder is qmgr's guard
 * against a confused transport: nothing unclear ever counts as delivered.
 * Both walk the attributes once, so a thousand recipients cost a thousand
 * steps, not a million.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "decimal.h"
#include "proto_deliver.h"
#include "queue_file.h"

/* Attribute bytes in one frame, and what finish() must still find room
 * for: "nrcpt\0" and up to four digits with their "\0". */
#define FRAME_ROOM	((size_t)IPC_FRAME_MAX - 2)
#define NRCPT_ROOM	(sizeof(DELIVER_A_NRCPT) + sizeof("1000"))
#define REPLY_KINDS	5	/* status, dsn, text, action, mailbox */

/* The request's attributes that must appear exactly once. */
static const char *const request_single[] = {
	DELIVER_A_VERSION, DELIVER_A_ID, DELIVER_A_PATH, DELIVER_A_OFFSET,
	DELIVER_A_SENDER, DELIVER_A_NEXTHOP, DELIVER_A_NRCPT,
};

static int
fail(const char **err, const char *why)
{
	*err = why;
	return -1;
}

/* "<base>.<i>", cut to fit outlen: several per recipient of every request
 * and reply, so no printf. */
static void
attr_name(char *out, size_t outlen, const char *base, int i)
{
	char		 digits[DECIMAL_MAX], *d;
	size_t		 n = 0;

	if (outlen == 0)
		return;
	if (i < 0) {
		/* No such attribute: an empty name, which ipc_msg_add()
		 * refuses, so the message fails as "%s.%d" made it fail. */
		out[0] = '\0';
		return;
	}
	d = decimal_put(digits + sizeof(digits), (unsigned long long)i);
	for (; *base != '\0' && n + 1 < outlen; base++)
		out[n++] = *base;
	if (n + 1 < outlen)
		out[n++] = '.';
	for (; d < digits + sizeof(digits) && n + 1 < outlen; d++)
		out[n++] = *d;
	out[n] = '\0';
}

/* Is name "<base>.<k>"?  0: not of that base; 1: yes, *k in [0,n); -1: of
 * that base but not a canonical index below n. */
static int
attr_index(const char *name, const char *base, int n, int *k)
{
	size_t		 bl = strlen(base);
	const char	*p;
	long		 v = 0;

	if (strncmp(name, base, bl) != 0 || name[bl] != '.')
		return 0;
	p = name + bl + 1;
	if (*p == '\0' || (p[0] == '0' && p[1] != '\0'))
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if ((v = v * 10 + (*p - '0')) >= n)
			return -1;
	}
	*k = (int)v;
	return 1;
}

int
proto_deliver_addr_clean(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] == 0x7f ||
		    n >= QUEUE_ADDR_MAX)
			return 0;
	return 1;
}

/* A next hop is a domain or "[address]:port": no spaces or controls. */
static int
nexthop_clean(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] == 0x7f ||
		    n >= DELIVER_NEXTHOP_MAX)
			return 0;
	return 1;
}

const char *
proto_deliver_status_name(enum deliver_status s)
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

int
proto_deliver_status_parse(const char *word, enum deliver_status *st)
{
	static const enum deliver_status all[] = {
		DELIVER_OK, DELIVER_DEFER, DELIVER_BOUNCE
	};
	size_t	 i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(word, proto_deliver_status_name(all[i])) == 0) {
			*st = all[i];
			return 0;
		}
	return -1;
}

/* 1..3 digits, then stop at end (or a dot when dot is set).  The number
 * of bytes taken, or 0. */
static size_t
dsn_digits(const char *s, int dot)
{
	size_t	 n = 0;

	while (n < 4 && s[n] >= '0' && s[n] <= '9')
		n++;
	if (n < 1 || n > 3 || s[n] != (dot ? '.' : '\0'))
		return 0;
	return n;
}

int
proto_deliver_dsn_valid(const char *dsn, enum deliver_status st)
{
	static const char cls[] = { [DELIVER_OK] = '2', [DELIVER_DEFER] = '4',
	    [DELIVER_BOUNCE] = '5' };
	size_t	 n;

	if ((unsigned)st >= sizeof(cls) || dsn[0] != cls[st] || dsn[1] != '.')
		return 0;
	if ((n = dsn_digits(dsn + 2, 1)) == 0)
		return 0;
	return dsn_digits(dsn + 2 + n + 1, 0) != 0;
}

static const char *
default_dsn(enum deliver_status st)
{
	switch (st) {
	case DELIVER_OK:
		return "2.0.0";
	case DELIVER_BOUNCE:
		return "5.0.0";
	default:
		return "4.0.0";
	}
}

/* ---- requests, encoding ---------------------------------------------- */

int
proto_deliver_request_start(struct ipc_msg *m, const struct deliver_request *req)
{
	ipc_msg_init(m, DELIVER_T_REQUEST);
	if (req->id == NULL || req->path == NULL || req->sender == NULL ||
	    req->nexthop == NULL || req->offset < 0 ||
	    ipc_msg_add_int(m, DELIVER_A_VERSION, PROTO_DELIVER_VERSION) < 0 ||
	    ipc_msg_add(m, DELIVER_A_ID, req->id) < 0 ||
	    ipc_msg_add(m, DELIVER_A_PATH, req->path) < 0 ||
	    ipc_msg_add_int(m, DELIVER_A_OFFSET, (long long)req->offset) < 0 ||
	    ipc_msg_add(m, DELIVER_A_SENDER, req->sender) < 0 ||
	    ipc_msg_add(m, DELIVER_A_NEXTHOP, req->nexthop) < 0 ||
	    m->store_len + NRCPT_ROOM > FRAME_ROOM) {
		ipc_msg_free(m);
		return -1;
	}
	return 0;
}

int
proto_deliver_request_add(struct ipc_msg *m, int i, const char *rcpt)
{
	char	 name[IPC_NAME_MAX + 1];

	if (i < 0 || i >= DELIVER_RCPT_MAX || rcpt == NULL)
		return -1;
	attr_name(name, sizeof(name), DELIVER_A_RCPT, i);
	if (strnlen(rcpt, FRAME_ROOM) + strlen(name) + 2 + NRCPT_ROOM >
	    FRAME_ROOM - m->store_len)
		return -1;
	return ipc_msg_add(m, name, rcpt);
}

int
proto_deliver_request_finish(struct ipc_msg *m, int nrcpt)
{
	if (nrcpt < 1 || nrcpt > DELIVER_RCPT_MAX ||
	    ipc_msg_add_int(m, DELIVER_A_NRCPT, nrcpt) < 0) {
		ipc_msg_free(m);
		return -1;
	}
	return 0;
}

int
proto_deliver_request_encode(struct ipc_msg *m, const struct deliver_request *req)
{
	int	 i;

	if (proto_deliver_request_start(m, req) < 0)
		return -1;
	for (i = 0; i < req->nrcpt; i++)
		if (proto_deliver_request_add(m, i, req->rcpt[i]) < 0) {
			ipc_msg_free(m);
			return -1;
		}
	return proto_deliver_request_finish(m, req->nrcpt);
}

/* ---- requests, decoding ---------------------------------------------- */

/* No attribute of request_single twice: a reader taking the last one
 * would see another request than one taking the first. */
static int
request_check_single(const struct ipc_msg *m, const char **err)
{
	size_t	 s;
	int	 i, seen;

	for (s = 0; s < sizeof(request_single) / sizeof(request_single[0]);
	    s++) {
		for (seen = 0, i = 0; i < m->nattr; i++)
			if (strcmp(m->attr[i].name, request_single[s]) == 0)
				seen++;
		if (seen > 1)
			return fail(err, "repeated attribute");
	}
	return 0;
}

static int
request_check_version(const struct ipc_msg *m, const char **err)
{
	long long	 v;

	if (ipc_msg_get(m, DELIVER_A_VERSION) == NULL)
		return fail(err, "missing v");
	if (ipc_msg_get_int(m, DELIVER_A_VERSION, PROTO_DELIVER_VERSION_MIN,
	    PROTO_DELIVER_VERSION, &v) < 0)
		return fail(err, "unsupported protocol version");
	return 0;
}

/* The file must be exactly "active/<id>": no other directory, no absolute
 * path, no "..", no other message. */
static int
request_check_path(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	char	 want[QUEUE_PATH_SIZE];

	if ((req->id = ipc_msg_get(m, DELIVER_A_ID)) == NULL)
		return fail(err, "missing id");
	if (!queue_id_valid(req->id))
		return fail(err, "bad id");
	if ((req->path = ipc_msg_get(m, DELIVER_A_PATH)) == NULL)
		return fail(err, "missing path");
	if (queue_path(want, sizeof(want), QDIR_ACTIVE, req->id) < 0 ||
	    strcmp(req->path, want) != 0)
		return fail(err, "path is not active/<id>");
	return 0;
}

/* The message starts after the "data\n" line, so never before byte 6. */
static int
request_check_offset(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	long long	 off;

	if (ipc_msg_get(m, DELIVER_A_OFFSET) == NULL)
		return fail(err, "missing offset");
	if (ipc_msg_get_int(m, DELIVER_A_OFFSET, 6, QUEUE_HEADER_MAX, &off) < 0)
		return fail(err, "bad offset");
	req->offset = (off_t)off;
	return 0;
}

static int
request_check_sender(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	if ((req->sender = ipc_msg_get(m, DELIVER_A_SENDER)) == NULL)
		return fail(err, "missing sender");
	if (!proto_deliver_addr_clean(req->sender))
		return fail(err, "bad sender");
	if ((req->nexthop = ipc_msg_get(m, DELIVER_A_NEXTHOP)) == NULL)
		return fail(err, "missing nexthop");
	if (!nexthop_clean(req->nexthop))
		return fail(err, "bad nexthop");
	return 0;
}

/* Exactly rcpt.0 .. rcpt.<nrcpt-1>, each once, each a clean address. */
static int
request_check_rcpts(const struct ipc_msg *m, struct deliver_request *req,
    const char **err)
{
	long long	 n;
	int		 i, k, r;

	if (ipc_msg_get(m, DELIVER_A_NRCPT) == NULL)
		return fail(err, "missing nrcpt");
	if (ipc_msg_get_int(m, DELIVER_A_NRCPT, 1, DELIVER_RCPT_MAX, &n) < 0)
		return fail(err, "bad nrcpt");
	req->rcpt = xcalloc((size_t)n, sizeof(*req->rcpt));
	req->nrcpt = (int)n;
	for (i = 0; i < m->nattr; i++) {
		if ((r = attr_index(m->attr[i].name, DELIVER_A_RCPT,
		    req->nrcpt, &k)) == 0)
			continue;
		if (r < 0)
			return fail(err, "unannounced rcpt.<i>");
		if (req->rcpt[k] != NULL)
			return fail(err, "repeated rcpt.<i>");
		req->rcpt[k] = m->attr[i].value;
	}
	for (k = 0; k < req->nrcpt; k++) {
		if (req->rcpt[k] == NULL)
			return fail(err, "missing rcpt.<i>");
		if (req->rcpt[k][0] == '\0' ||
		    !proto_deliver_addr_clean(req->rcpt[k]))
			return fail(err, "bad rcpt.<i>");
	}
	return 0;
}

int
proto_deliver_request_decode(const struct ipc_msg *m,
    struct deliver_request *req, const char **err)
{
	memset(req, 0, sizeof(*req));
	if (m->type != DELIVER_T_REQUEST)
		return fail(err, "not a delivery request");
	if (request_check_single(m, err) < 0 ||
	    request_check_version(m, err) < 0 ||
	    request_check_path(m, req, err) < 0 ||
	    request_check_offset(m, req, err) < 0 ||
	    request_check_sender(m, req, err) < 0)
		return -1;
	return request_check_rcpts(m, req, err);
}

void
proto_deliver_request_free(struct deliver_request *req)
{
	free(req->rcpt);
	memset(req, 0, sizeof(*req));
}

int
proto_deliver_request_nrcpt(const struct ipc_msg *m)
{
	long long	 n;

	if (ipc_msg_get_int(m, DELIVER_A_NRCPT, 1, DELIVER_RCPT_MAX, &n) < 0)
		return -1;
	return (int)n;
}

/* ---- replies --------------------------------------------------------- */

static int
reply_fill(struct ipc_msg *m, const struct deliver_outcome *out, int n,
    int textmax)
{
	char	 name[IPC_NAME_MAX + 1];
	int	 i;

	ipc_msg_init(m, DELIVER_T_REPLY);
	if (ipc_msg_add_int(m, DELIVER_A_NRCPT, n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		attr_name(name, sizeof(name), DELIVER_A_STATUS, i);
		if (ipc_msg_add(m, name,
		    proto_deliver_status_name(out[i].status)) < 0)
			return -1;
		attr_name(name, sizeof(name), DELIVER_A_DSN, i);
		if (ipc_msg_add(m, name, out[i].dsn ? out[i].dsn : "") < 0)
			return -1;
		attr_name(name, sizeof(name), DELIVER_A_TEXT, i);
		if (ipc_msg_addn(m, name, out[i].text ? out[i].text : "",
		    textmax > 0 ? (size_t)textmax : 0) < 0)
			return -1;
		if (out[i].status != DELIVER_OK)
			continue;
		attr_name(name, sizeof(name), DELIVER_A_MAILBOX, i);
		if (out[i].mailbox && ipc_msg_add(m, name, "1") < 0)
			return -1;
		if (out[i].action == DELIVER_ACTION_DELIVERED)
			continue;
		attr_name(name, sizeof(name), DELIVER_A_ACTION, i);
		if (ipc_msg_add(m, name, out[i].action ==
		    DELIVER_ACTION_RELAYED ? "relayed" : out[i].action ==
		    DELIVER_ACTION_EXPANDED ? "expanded" : "passed") < 0)
			return -1;
	}
	return 0;
}

/* A thousand long texts could pass IPC_FRAME_MAX; then the texts are cut
 * short rather than the outcomes lost. */
int
proto_deliver_reply_encode(struct ipc_msg *m, const struct deliver_outcome *out,
    int n)
{
	ipc_msg_init(m, DELIVER_T_REPLY);
	if (n < 1 || n > DELIVER_RCPT_MAX)
		return -1;
	if (reply_fill(m, out, n, INT_MAX) == 0)
		return 0;
	ipc_msg_free(m);
	if (reply_fill(m, out, n, DELIVER_REPLY_SHORT_TEXT) == 0)
		return 0;
	ipc_msg_free(m);
	ipc_msg_init(m, DELIVER_T_REPLY);
	return -1;
}

/* The attributes of the five per-recipient kinds, each index at most
 * once and below n, into v[kind * n + i].  0, or -1 with *err. */
static int
reply_collect(const struct ipc_msg *m, int n, const char **v,
    const char **err)
{
	static const char *const kind[] = {
		DELIVER_A_STATUS, DELIVER_A_DSN, DELIVER_A_TEXT,
		DELIVER_A_ACTION, DELIVER_A_MAILBOX
	};
	int	 i, j, k, r;

	for (i = 0; i < m->nattr; i++)
		for (j = 0; j < REPLY_KINDS; j++) {
			if ((r = attr_index(m->attr[i].name, kind[j], n,
			    &k)) == 0)
				continue;
			if (r < 0)
				return fail(err, "outcome for a recipient not "
				    "in the request");
			if (v[j * n + k] != NULL)
				return fail(err, "outcome given twice");
			v[j * n + k] = m->attr[i].value;
		}
	return 0;
}

/* Fill out from its status, dsn and text values; 1 if any was unclear. */
static int
reply_one(const char *status, const char *dsn, const char *text,
    struct deliver_outcome *out)
{
	enum deliver_status	 st;

	if (status == NULL || proto_deliver_status_parse(status, &st) < 0)
		return 1;		/* stays deferred */
	out->status = st;
	out->text = text != NULL ? text : "";
	if (dsn == NULL || dsn[0] == '\0') {
		out->dsn = default_dsn(st);
		return 0;
	}
	if (!proto_deliver_dsn_valid(dsn, st)) {
		out->dsn = default_dsn(st);
		return 1;
	}
	out->dsn = dsn;
	return 0;
}

/* action.<i>: only with "ok"; an unknown word or one with another status
 * is unclear and ignored (the outcome stands, as "delivered"). */
static int
reply_action(const char *action, struct deliver_outcome *out)
{
	out->action = DELIVER_ACTION_DELIVERED;
	if (action == NULL)
		return 0;
	if (out->status != DELIVER_OK)
		return 1;
	if (strcmp(action, "relayed") == 0)
		out->action = DELIVER_ACTION_RELAYED;
	else if (strcmp(action, "passed") == 0)
		out->action = DELIVER_ACTION_PASSED;
	else if (strcmp(action, "expanded") == 0)
		out->action = DELIVER_ACTION_EXPANDED;
	else
		return 1;
	return 0;
}

/* mailbox.<i>: "1", only with "ok"; anything else is unclear and
 * ignored (the outcome stands, its mailbox not known). */
static int
reply_mailbox(const char *mailbox, struct deliver_outcome *out)
{
	out->mailbox = 0;
	if (mailbox == NULL)
		return 0;
	if (out->status != DELIVER_OK || strcmp(mailbox, "1") != 0)
		return 1;
	out->mailbox = 1;
	return 0;
}

static int
reply_check_head(const struct ipc_msg *m, int n, struct deliver_outcome *out,
    const char **err)
{
	long long	 nrcpt;
	int		 i;

	if (m->type == IPC_T_ERROR) {
		if ((*err = ipc_msg_get(m, IPC_A_TEXT)) == NULL)
			*err = "request refused";
		for (i = 0; i < n; i++)
			out[i].text = "request refused by the delivery agent";
		return -1;
	}
	if (m->type != DELIVER_T_REPLY)
		return fail(err, "unexpected message type");
	if (n < 1 || n > DELIVER_RCPT_MAX ||
	    ipc_msg_get_int(m, DELIVER_A_NRCPT, 0, DELIVER_RCPT_MAX,
	    &nrcpt) < 0 || nrcpt != n)
		return fail(err, "wrong recipient count");
	return 0;
}

int
proto_deliver_reply_decode(const struct ipc_msg *m, int n,
    struct deliver_outcome *out, const char **err)
{
	const char	**v;
	int		  i, unclear = 0;

	for (i = 0; i < n; i++) {
		out[i].status = DELIVER_DEFER;
		out[i].dsn = "4.3.0";
		out[i].text = "malformed reply from the delivery agent";
		out[i].action = DELIVER_ACTION_DELIVERED;
		out[i].mailbox = 0;
	}
	if (reply_check_head(m, n, out, err) < 0)
		return -1;
	v = xcalloc((size_t)n * REPLY_KINDS, sizeof(*v));
	if (reply_collect(m, n, v, err) < 0) {
		free(v);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unclear += reply_one(v[i], v[n + i], v[2 * n + i], &out[i]);
		unclear += reply_action(v[3 * n + i], &out[i]);
		unclear += reply_mailbox(v[4 * n + i], &out[i]);
	}
	free(v);
	return unclear;
}

int
proto_deliver_error_encode(struct ipc_msg *m, const char *text)
{
	ipc_msg_init(m, IPC_T_ERROR);
	return ipc_msg_add(m, IPC_A_TEXT, text);
}
