/*
 * fuzz_proto_resolver - resolver_request_check, what the resolver does
 * with a request on private/resolver (proto_resolver.h).  Input: a message
 * as fuzz_msg.h builds it.  Invariants: a request is accepted only as
 * RESOLVER_T_MX of version 1 with a domain that is valid and short enough
 * for a DNS query, and the domain returned is the request's own; a refusal
 * has a reason that makes a valid IPC_T_ERROR reply; same answer twice.
 */
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_resolver.h"
#include "resolver/resolver.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	struct ipc_msg	 m, reply;
	const char	*domain, *domain2, *err = NULL, *err2 = NULL;
	long long	 v;
	int		 r;

	fuzz_msg_build(&in, &m);
	r = resolver_request_check(&m, &domain, &err);
	FUZZ_ASSERT(resolver_request_check(&m, &domain2, &err2) == r &&
	    domain2 == domain);
	if (r == 0) {
		FUZZ_ASSERT(m.type == RESOLVER_T_MX);
		FUZZ_ASSERT(ipc_msg_get_int(&m, "v", 0, 1000000, &v) == 0 &&
		    v == PROTO_RESOLVER_VERSION);
		FUZZ_ASSERT(domain == ipc_msg_get(&m, "domain"));
		FUZZ_ASSERT(strlen(domain) <= DNS_NAME_MAX &&
		    addr_valid_domain(domain, strlen(domain)));
	} else {
		FUZZ_ASSERT(r == -1 && domain == NULL && err != NULL &&
		    err == err2);
		FUZZ_ASSERT(resolver_reply_error(&reply, err) == 0 &&
		    reply.type == IPC_T_ERROR);
		ipc_msg_free(&reply);
	}
	ipc_msg_free(&m);
	return 0;
}
