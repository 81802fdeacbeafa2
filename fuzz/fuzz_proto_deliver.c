/*
 * fuzz_proto_deliver - both ends of the deliver protocol (proto_deliver.h):
 * proto_deliver_request_decode, which root's deliver runs on qmgr's requests, and
 * qmgr_reply_parse, which qmgr runs on deliver's replies.  Input: byte 0 is
 * the recipient count qmgr expects a reply for, then a message as
 * fuzz_msg.h builds it.  Invariants: an accepted request names exactly
 * active/<its id>, an offset past the header's first line and 1..1000
 * clean recipients; qmgr_request_build on the same envelope produces
 * requests that parse to the same fields and recipients in order (round
 * trip); a reply always yields one well-formed outcome per recipient, all
 * deferred when it is refused, and "mailbox" only with "ok";
 * deliver_reply_build from those outcomes is read back by qmgr with the
 * same statuses, codes and mailbox flags (round trip).
 */
#include <string.h>

#include "deliver/deliver.h"
#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_deliver.h"
#include "qmgr/qmgr.h"

static void
check_request_fields(const struct deliver_request *req)
{
	char	 want[QUEUE_PATH_SIZE];
	int	 i;

	FUZZ_ASSERT(queue_id_valid(req->id));
	FUZZ_ASSERT(queue_path(want, sizeof(want), QDIR_ACTIVE, req->id) == 0);
	FUZZ_ASSERT(strcmp(req->path, want) == 0);
	FUZZ_ASSERT(req->offset >= 6 && req->offset <= QUEUE_HEADER_MAX);
	FUZZ_ASSERT(req->sender != NULL && proto_deliver_addr_clean(req->sender));
	FUZZ_ASSERT(req->nrcpt >= 1 && req->nrcpt <= DELIVER_RCPT_MAX);
	for (i = 0; i < req->nrcpt; i++)
		FUZZ_ASSERT(req->rcpt[i] != NULL && req->rcpt[i][0] != '\0' &&
		    proto_deliver_addr_clean(req->rcpt[i]));
}

/* What qmgr would send for the same message and recipients. */
static void
check_request_round_trip(const struct deliver_request *req)
{
	struct queue_envelope	 env;
	struct deliver_request	 back;
	struct ipc_msg		 out, wire;
	const char		*err;
	char			*frame;
	size_t			 flen;
	int			 idx[DELIVER_RCPT_MAX], nidx, cursor = 0, k, done = 0;

	memset(&env, 0, sizeof(env));
	strlcpy(env.id, req->id, sizeof(env.id));
	env.sender = (char *)req->sender;
	env.data_off = req->offset;
	env.nrcpt = req->nrcpt;
	env.rcpt = calloc((size_t)req->nrcpt, sizeof(*env.rcpt));
	FUZZ_ASSERT(env.rcpt != NULL);
	for (k = 0; k < req->nrcpt; k++) {
		env.rcpt[k].addr = (char *)req->rcpt[k];
		env.rcpt[k].status = RCPT_PENDING;
	}
	while (cursor < env.nrcpt) {
		FUZZ_ASSERT(qmgr_request_build(&env, &cursor, &out, idx,
		    &nidx, req->nexthop) == 0 && nidx > 0);
		FUZZ_ASSERT(ipc_encode(&out, &frame, &flen) == 0);
		FUZZ_ASSERT(flen <= IPC_FRAME_MAX + 4);
		FUZZ_ASSERT(ipc_decode(frame, flen, &wire) == 0);
		free(frame);
		FUZZ_ASSERT(proto_deliver_request_decode(&wire, &back, &err) == 0);
		FUZZ_ASSERT(strcmp(back.id, req->id) == 0 &&
		    strcmp(back.path, req->path) == 0 &&
		    back.offset == req->offset &&
		    strcmp(back.sender, req->sender) == 0);
		FUZZ_ASSERT(back.nrcpt == nidx);
		for (k = 0; k < nidx; k++) {
			FUZZ_ASSERT(idx[k] == done + k);
			FUZZ_ASSERT(strcmp(back.rcpt[k], req->rcpt[idx[k]]) == 0);
		}
		done += nidx;
		proto_deliver_request_free(&back);
		ipc_msg_free(&wire);
		ipc_msg_free(&out);
	}
	FUZZ_ASSERT(done == req->nrcpt);
	free(env.rcpt);
}

static void
check_request(const struct ipc_msg *m)
{
	struct deliver_request	 req;
	const char		*err = NULL;

	if (proto_deliver_request_decode(m, &req, &err) == 0) {
		check_request_fields(&req);
		check_request_round_trip(&req);
	} else
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
	proto_deliver_request_free(&req);
}

static enum deliver_status
to_deliver(enum qmgr_rcpt_status s)
{
	return s == QMGR_RCPT_OK ? DELIVER_OK : s == QMGR_RCPT_BOUNCE ?
	    DELIVER_BOUNCE : DELIVER_DEFER;
}

/* deliver's own reply for those outcomes, as qmgr reads it. */
static void
check_reply_round_trip(const struct qmgr_outcome *out, int n)
{
	struct deliver_result	*res = calloc((size_t)n + 1, sizeof(*res));
	struct qmgr_outcome	*back = calloc((size_t)n + 1, sizeof(*back));
	struct ipc_msg		 reply, wire;
	const char		*err;
	char			*frame;
	size_t			 flen;
	int			 i;

	FUZZ_ASSERT(res != NULL && back != NULL);
	for (i = 0; i < n; i++) {
		deliver_result_set(&res[i], to_deliver(out[i].status),
		    out[i].dsn, "%s", out[i].text);
		res[i].mailbox = out[i].mailbox;
	}
	FUZZ_ASSERT(deliver_reply_build(&reply, res, n) == 0);
	FUZZ_ASSERT(ipc_encode(&reply, &frame, &flen) == 0);
	FUZZ_ASSERT(ipc_decode(frame, flen, &wire) == 0);
	FUZZ_ASSERT(qmgr_reply_parse(&wire, n, back, &err) == 0);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(back[i].status == out[i].status);
		FUZZ_ASSERT(back[i].mailbox == out[i].mailbox);
		if (strlen(out[i].dsn) < DELIVER_DSN_SIZE)
			FUZZ_ASSERT(strcmp(back[i].dsn, out[i].dsn) == 0);
		/* Texts may be cut short, never changed. */
		FUZZ_ASSERT(strncmp(back[i].text, out[i].text,
		    strlen(back[i].text)) == 0);
	}
	free(frame);
	ipc_msg_free(&wire);
	ipc_msg_free(&reply);
	free(res);
	free(back);
}

static void
check_reply(const struct ipc_msg *m, int n)
{
	struct qmgr_outcome	*out = calloc((size_t)n + 1, sizeof(*out));
	const char		*err = NULL;
	int			 i, r;

	FUZZ_ASSERT(out != NULL);
	r = qmgr_reply_parse(m, n, out, &err);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(out[i].status == QMGR_RCPT_OK ||
		    out[i].status == QMGR_RCPT_DEFER ||
		    out[i].status == QMGR_RCPT_BOUNCE);
		FUZZ_ASSERT(out[i].dsn != NULL && out[i].dsn[0] != '\0' &&
		    out[i].text != NULL);
		/* One Maildir is said of a delivered recipient only. */
		FUZZ_ASSERT(!out[i].mailbox || out[i].status == QMGR_RCPT_OK);
		if (r < 0)
			FUZZ_ASSERT(out[i].status == QMGR_RCPT_DEFER);
	}
	if (r < 0)
		FUZZ_ASSERT(r == -1 && err != NULL);
	else {
		FUZZ_ASSERT(r == 0 && m->type == DELIVER_T_REPLY);
		check_reply_round_trip(out, n);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	struct ipc_msg	 m;
	unsigned	 c = fuzz_byte(&in);
	int		 n;

	/* 0..199 as they are, then up to DELIVER_RCPT_MAX in steps. */
	n = c < 200 ? (int)c : 200 + (int)(c - 200) * 16;
	if (n > DELIVER_RCPT_MAX)
		n = DELIVER_RCPT_MAX;
	fuzz_msg_build(&in, &m);
	check_request(&m);
	check_reply(&m, n);
	ipc_msg_free(&m);
	return 0;
}
