/*
 * resolver_proto - the resolver protocol of proto_resolver.h, both ways:
 * what makes a request acceptable and how each kind of reply is spelled.
 * Kept apart from the sockets and from libunbound so the exact bytes a
 * client sees can be unit-tested.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "proto_resolver.h"
#include "resolver.h"

const char *
resolver_status_name(enum resolver_status st)
{
	switch (st) {
	case RESOLVER_OK:
		return "ok";
	case RESOLVER_TEMP:
		return "temp";
	case RESOLVER_PERM:
		return "perm";
	}
	return "temp";
}

int
resolver_request_check(const struct ipc_msg *req, const char **domain,
    const char **err)
{
	const char	*d;
	long long	 v;

	*domain = NULL;
	if (req->type != RESOLVER_T_MX) {
		*err = "unknown request type";
		return -1;
	}
	if (ipc_msg_get(req, "v") == NULL) {
		*err = "missing v";
		return -1;
	}
	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) < 0 ||
	    v != PROTO_RESOLVER_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	if ((d = ipc_msg_get(req, "domain")) == NULL) {
		*err = "missing domain";
		return -1;
	}
	/* DNS_NAME_MAX, not ADDR_DOMAIN_MAX: the name must fit in a query. */
	if (strlen(d) > DNS_NAME_MAX || !addr_valid_domain(d, strlen(d))) {
		*err = "invalid domain";
		return -1;
	}
	*domain = d;
	return 0;
}

int
resolver_reply_error(struct ipc_msg *reply, const char *text)
{
	ipc_msg_init(reply, IPC_T_ERROR);
	return ipc_msg_add(reply, "text", text);
}

int
resolver_reply_fail(struct ipc_msg *reply, enum resolver_status st,
    const char *dsn, const char *text)
{
	ipc_msg_init(reply, RESOLVER_T_REPLY);
	if (ipc_msg_add(reply, "status", resolver_status_name(st)) < 0 ||
	    ipc_msg_add(reply, "text", text) < 0 ||
	    ipc_msg_add(reply, "dsn", dsn) < 0)
		return -1;
	return 0;
}

static int
resolver_reply_host(struct ipc_msg *reply, int i, const struct mx_host *h)
{
	char	 name[16];
	char	 addrs[2 * MX_ADDR_MAX * DNS_ADDR_TEXT_MAX];

	snprintf(name, sizeof(name), "mx.%d", i);
	if (ipc_msg_addf(reply, name, "%u %s", (unsigned)h->pref, h->name) < 0)
		return -1;
	/* addrs has room for every address the host can hold. */
	if (mx_host_format_addrs(h, addrs, sizeof(addrs)) < 0)
		return -1;
	snprintf(name, sizeof(name), "addr.%d", i);
	return ipc_msg_add(reply, name, addrs);
}

int
resolver_reply_ok(struct ipc_msg *reply, const struct mx_set *mx,
    int implicit, const char *text)
{
	int	 i;

	ipc_msg_init(reply, RESOLVER_T_REPLY);
	if (ipc_msg_add(reply, "status", "ok") < 0 ||
	    ipc_msg_add(reply, "text", text) < 0 ||
	    ipc_msg_add_int(reply, "implicit", implicit ? 1 : 0) < 0 ||
	    ipc_msg_add_int(reply, "nmx", mx->nhost) < 0)
		return -1;
	for (i = 0; i < mx->nhost; i++)
		if (resolver_reply_host(reply, i, &mx->host[i]) < 0)
			return -1;
	return 0;
}
