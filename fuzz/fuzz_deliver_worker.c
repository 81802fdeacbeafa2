/*
 * fuzz_deliver_worker - a mailbox worker's reply as deliver receives it
 * (deliver/local_worker.c, local_worker_reply_check()).  Input: one byte
 * for the number of jobs deliver expects (0..LOCAL_BATCH_JOBS), then the
 * reply packet.
 *
 * Invariants: a reply is taken only at exactly the size of its count; every
 * result taken has a status of ok, defer or bounce, NUL-terminated texts
 * and an enhanced status code of its class; a refused reply leaves the
 * results untouched; the answer is the same twice.
 */
#include <string.h>

#include "deliver/deliver.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct deliver_result	 res[LOCAL_BATCH_JOBS];
	static struct deliver_result	 again[LOCAL_BATCH_JOBS];
	int				 n, r, k;

	if (size < 1)
		return 0;
	n = data[0] % (LOCAL_BATCH_JOBS + 1);
	memset(res, 0x5a, sizeof(res));
	r = local_worker_reply_check(data + 1, size - 1, n, res);
	FUZZ_ASSERT(r == 0 || r == -1);
	if (r < 0) {
		FUZZ_ASSERT(((const unsigned char *)res)[0] == 0x5a);
		return 0;
	}
	FUZZ_ASSERT(size - 1 == local_worker_reply_size(n));
	for (k = 0; k < n; k++) {
		FUZZ_ASSERT(res[k].status == DELIVER_OK ||
		    res[k].status == DELIVER_DEFER ||
		    res[k].status == DELIVER_BOUNCE);
		FUZZ_ASSERT(memchr(res[k].dsn, '\0', sizeof(res[k].dsn)));
		FUZZ_ASSERT(memchr(res[k].text, '\0', sizeof(res[k].text)));
		FUZZ_ASSERT(proto_deliver_dsn_valid(res[k].dsn, res[k].status));
	}
	FUZZ_ASSERT(local_worker_reply_check(data + 1, size - 1, n, again) == 0);
	FUZZ_ASSERT(memcmp(res, again, (size_t)n * sizeof(res[0])) == 0);
	return 0;
}
