/*
 * fuzz_proto_lookup - both ends of the lookup protocol
 * (common/proto_lookup.h): the lookup service's check of a request
 * (lookup_request_decode) and smtpd's reading of a reply
 * (lookup_reply_decode).  smtpd must survive whatever a broken or
 * compromised lookup service sends, and take nothing from it but a clear
 * answer; the service must take only a well-formed question.  Input: one
 * message as fuzz_msg.h builds it, tried as a request and as a reply.
 *
 * Invariants: a decoded reply is TEMPFAIL whenever decoding fails; a found
 * one has a non-empty account without control characters, within
 * RCPT_LOOKUP_ACCOUNT_MAX, and only a found one has an account; the id is
 * within 1..LOOKUP_ID_MAX.  A reply built again from what was decoded
 * decodes to the same.  An accepted request has a valid rcpt, which
 * builds into a request that decodes to the same rcpt and id.  Every
 * answer survives an ipc_encode/ipc_decode round trip and is the same
 * twice.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_lookup.h"

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static void
same_reply(const struct lookup_reply *a, const struct lookup_reply *b)
{
	FUZZ_ASSERT(a->id == b->id && a->status == b->status);
	FUZZ_ASSERT(strcmp(a->account, b->account) == 0);
	FUZZ_ASSERT(strcmp(a->text, b->text) == 0);
}

static int
check_reply(const struct ipc_msg *m, struct lookup_reply *r)
{
	struct lookup_reply	 r2, r3;
	struct ipc_msg		 again, back;
	const char		*err = NULL, *err2 = NULL;
	int			 ret;

	ret = lookup_reply_decode(m, r, &err);
	FUZZ_ASSERT(ret == lookup_reply_decode(m, &r2, &err2));
	same_reply(r, &r2);
	if (ret < 0) {
		FUZZ_ASSERT(err != NULL);
		FUZZ_ASSERT(r->status == RCPT_LOOKUP_TEMPFAIL &&
		    r->account[0] == '\0');
		return ret;
	}
	FUZZ_ASSERT(m->type == LOOKUP_T_REPLY);
	FUZZ_ASSERT(r->id >= 1 && r->id <= LOOKUP_ID_MAX);
	if (r->status == RCPT_LOOKUP_FOUND)
		FUZZ_ASSERT(r->account[0] != '\0' &&
		    strlen(r->account) <= RCPT_LOOKUP_ACCOUNT_MAX &&
		    printable(r->account));
	else
		FUZZ_ASSERT(r->account[0] == '\0');
	FUZZ_ASSERT(printable(r->text) && strlen(r->text) <= LOOKUP_TEXT_MAX);
	/* What the service would send for this answer reads the same. */
	FUZZ_ASSERT(lookup_reply_build(&again, r->id, r->status, r->account,
	    r->text) == 0);
	fuzz_msg_round_trip(&again, &back);
	FUZZ_ASSERT(lookup_reply_decode(&back, &r3, &err) == 0);
	same_reply(r, &r3);
	ipc_msg_free(&back);
	ipc_msg_free(&again);
	return ret;
}

static int
check_request(const struct ipc_msg *m)
{
	struct ipc_msg	 again;
	const char	*rcpt = NULL, *rcpt2 = NULL, *err = NULL;
	long long	 id = 0, id2 = 0;
	int		 ret;

	ret = lookup_request_decode(m, &id, &rcpt, &err);
	FUZZ_ASSERT(ret == lookup_request_decode(m, &id2, &rcpt2, &err));
	if (ret < 0) {
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
		return ret;
	}
	FUZZ_ASSERT(m->type == LOOKUP_T_RCPT && id == id2 && rcpt == rcpt2);
	FUZZ_ASSERT(id >= 1 && id <= LOOKUP_ID_MAX);
	FUZZ_ASSERT(rcpt[0] != '\0' && strlen(rcpt) <= LOOKUP_RCPT_MAX &&
	    printable(rcpt));
	FUZZ_ASSERT(lookup_request_build(&again, id, rcpt) == 0);
	FUZZ_ASSERT(lookup_request_decode(&again, &id2, &rcpt2, &err) == 0);
	FUZZ_ASSERT(id2 == id && strcmp(rcpt2, rcpt) == 0);
	ipc_msg_free(&again);
	return ret;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in		 in = { data, size };
	struct ipc_msg		 m, back;
	struct lookup_reply	 r, r2;
	int			 q, a;

	fuzz_msg_build(&in, &m);
	q = check_request(&m);
	a = check_reply(&m, &r);
	fuzz_msg_round_trip(&m, &back);
	FUZZ_ASSERT(check_request(&back) == q);
	FUZZ_ASSERT(check_reply(&back, &r2) == a);
	same_reply(&r, &r2);
	ipc_msg_free(&back);
	ipc_msg_free(&m);
	return 0;
}
