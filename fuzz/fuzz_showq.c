/*
 * fuzz_showq - the showq protocol (proto_showq.h) from both ends: a page
 * as mailq/ternctl decode it from a showq that may be compromised, and a
 * LIST request as showq checks it from any local user.  Input: a message
 * as fuzz_msg.h builds it (type byte, then name/value pairs).  Invariants:
 * every decoded message has a known queue, a valid id, clean texts (no
 * control character can reach a terminal) and bounded counts; a refusal
 * says why; decoding is deterministic; and what was decoded, put on a page
 * again by the server's builder, decodes to the same messages.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_showq.h"
#include "queue_file.h"
#include "queue_outcome.h"

struct fz {
	int			 check;	/* small enough to re-build whole */
	int			 n;
	struct showq_page	 again;	/* the decoded messages, re-built */
	unsigned long		 sum;	/* a digest of what was seen */
};

static int
fz_clean(const char *s, size_t max)
{
	return s != NULL && queue_text_clean(s, strlen(s), max);
}

static unsigned long
fz_digest(const struct queue_list_msg *m)
{
	unsigned long	 h = (unsigned long)m->queue * 31 + m->nrcpt;
	int		 i;

	h = h * 31 + strlen(m->id) + (unsigned long)m->arrival +
	    (unsigned long)m->size + m->uid + m->rcpt_cut;
	if (m->sender != NULL)
		h = h * 31 + strlen(m->sender);
	for (i = 0; i < m->nrcpt; i++)
		h = h * 31 + strlen(m->rcpt[i].addr) +
		    (m->rcpt[i].reason ? strlen(m->rcpt[i].reason) : 7);
	return h;
}

static int
fz_one(const struct queue_list_msg *m, void *arg)
{
	struct fz	*f = arg;
	int		 i;

	FUZZ_ASSERT(m->queue >= 0 && m->queue < QL_COUNT);
	FUZZ_ASSERT(queue_id_valid(m->id));
	FUZZ_ASSERT(m->arrival >= 0 && m->size >= 0 && m->rcpt_cut >= 0);
	FUZZ_ASSERT((m->queue == QL_MAILDROP) == (m->sender == NULL));
	FUZZ_ASSERT(m->sender == NULL || fz_clean(m->sender, QUEUE_ADDR_MAX));
	FUZZ_ASSERT(m->nrcpt >= 0 && m->nrcpt <= QL_RCPT_MAX);
	FUZZ_ASSERT(m->queue != QL_MAILDROP || m->nrcpt == 0);
	for (i = 0; i < m->nrcpt; i++) {
		FUZZ_ASSERT(fz_clean(m->rcpt[i].addr, QUEUE_ADDR_MAX));
		FUZZ_ASSERT(m->rcpt[i].reason == NULL ||
		    fz_clean(m->rcpt[i].reason, QUEUE_TEXT_MAX));
	}
	FUZZ_ASSERT(++f->n <= SHOWQ_PAGE_MAX);
	f->sum = f->sum * 131 + fz_digest(m);
	if (f->check)
		FUZZ_ASSERT(showq_page_add(&f->again, m) == 0);
	return 0;
}

/* Pages up to this size fit the builder's budget whole. */
#define FZ_CHECK_MAX	(SHOWQ_PAGE_BYTES / 4)

static int
fz_decode(const struct ipc_msg *m, struct fz *f, enum queue_list_queue *nq,
    char nid[QUEUE_ID_SIZE], const char **err)
{
	memset(f, 0, sizeof(*f));
	f->check = m->store_len < FZ_CHECK_MAX;
	showq_page_init(&f->again);
	return showq_page_decode(m, fz_one, f, nq, nid, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in		 in = { data, size };
	struct ipc_msg		 m, w;
	struct fz		 f1, f2, f3;
	enum queue_list_queue	 q1, q2, q3;
	const char		*err1, *err2, *err3;
	char			 id1[QUEUE_ID_SIZE], id2[QUEUE_ID_SIZE];
	char			 id3[QUEUE_ID_SIZE], *frame;
	size_t			 flen;
	int			 rc1, rc2;

	fuzz_msg_build(&in, &m);
	rc1 = fz_decode(&m, &f1, &q1, id1, &err1);
	rc2 = fz_decode(&m, &f2, &q2, id2, &err2);
	FUZZ_ASSERT(rc1 == rc2 && f1.n == f2.n && f1.sum == f2.sum);
	FUZZ_ASSERT(rc1 == 0 || rc1 == -1);
	if (rc1 == -1) {
		FUZZ_ASSERT(err1 != NULL && err1[0] != '\0' && q1 == QL_COUNT);
	} else if (f1.check) {
		FUZZ_ASSERT(q1 == QL_COUNT || queue_id_valid(id1));
		/* The server's builder gives back what was decoded. */
		FUZZ_ASSERT(ipc_encode(&f1.again.msg, &frame, &flen) == 0);
		FUZZ_ASSERT(ipc_decode(frame, flen, &w) == 0);
		free(frame);
		FUZZ_ASSERT(fz_decode(&w, &f3, &q3, id3, &err3) == 0);
		FUZZ_ASSERT(f3.n == f1.n && f3.sum == f1.sum);
		ipc_msg_free(&f3.again.msg);
		ipc_msg_free(&w);
	}
	ipc_msg_free(&f1.again.msg);
	ipc_msg_free(&f2.again.msg);
	/* The same bytes as a LIST request, as showq checks it. */
	m.type = SHOWQ_T_LIST;
	if (showq_list_check(&m, &q1, id1, &err1) == 0)
		FUZZ_ASSERT(q1 >= 0 && q1 < QL_COUNT &&
		    (id1[0] == '\0' || queue_id_valid(id1)));
	else
		FUZZ_ASSERT(err1 != NULL);
	ipc_msg_free(&m);
	return 0;
}
