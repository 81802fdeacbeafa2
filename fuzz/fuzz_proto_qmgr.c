/*
 * fuzz_proto_qmgr - qmgr_listen_check, what qmgr does with a request on
 * private/qmgr (proto_qmgr.h) from smtpd or an admin tool.  Input: a
 * message as fuzz_msg.h builds it.  Invariants: the verdict agrees with
 * the type and version; NOTIFY yields a valid queue id that is the
 * request's own "id"; every refusal is an IPC_T_ERROR with a text and
 * every acceptance an IPC_T_OK; the reply encodes; same answer twice.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_qmgr.h"
#include "qmgr/qmgr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in		 in = { data, size };
	struct ipc_msg		 m, reply, reply2;
	enum qmgr_req_kind	 k;
	const char		*id, *id2, *text;
	char			*frame;
	size_t			 flen;
	long long		 v;

	fuzz_msg_build(&in, &m);
	k = qmgr_listen_check(&m, &reply, &id);
	FUZZ_ASSERT(qmgr_listen_check(&m, &reply2, &id2) == k && id2 == id);
	if (k == QMGR_REQ_BAD) {
		FUZZ_ASSERT(id == NULL && reply.type == IPC_T_ERROR);
		FUZZ_ASSERT((text = ipc_msg_get(&reply, "text")) != NULL &&
		    text[0] != '\0');
	} else {
		FUZZ_ASSERT(reply.type == IPC_T_OK && reply.nattr == 0);
		FUZZ_ASSERT(ipc_msg_get_int(&m, "v", 0, 1000000, &v) == 0 &&
		    (v == PROTO_QMGR_VERSION ||
		    (v == 1 && m.type != QMGR_T_COMMITTED)));
		FUZZ_ASSERT(k == (m.type == QMGR_T_NOTIFY ? QMGR_REQ_NOTIFY :
		    m.type == QMGR_T_COMMITTED ? QMGR_REQ_COMMITTED :
		    QMGR_REQ_FLUSH));
		FUZZ_ASSERT(m.type == QMGR_T_NOTIFY || m.type == QMGR_T_FLUSH ||
		    m.type == QMGR_T_COMMITTED);
		if (k == QMGR_REQ_NOTIFY || k == QMGR_REQ_COMMITTED)
			FUZZ_ASSERT(id == ipc_msg_get(&m, "id") &&
			    queue_id_valid(id));
		else
			FUZZ_ASSERT(id == NULL);
	}
	FUZZ_ASSERT(ipc_encode(&reply, &frame, &flen) == 0);
	free(frame);
	ipc_msg_free(&reply);
	ipc_msg_free(&reply2);
	ipc_msg_free(&m);
	return 0;
}
