/*
 * transport - what deliver takes from a request: deliver is the local
 * transport, and the virtual one (qmgr routes every recipient, issue 7),
 * so each recipient goes to the virtual domains' delivery if it has a
 * virtual alias or is in a virtual domain (virtual_alias.c), else to the
 * local transport (local.c), or is refused here at once.
 *
 * qmgr hands deliver recipients in our own domains only; the check is made
 * again because deliver runs as root and must never treat a foreign address
 * as an account of ours.  An address that fails RFC 5321 syntax never gets
 * better: it bounces 5.1.3.  A valid address in a domain that is not in
 * mydestination was misrouted: it bounces 5.3.5 rather than landing in the
 * mailbox of a local user who happens to share its local part.  An address
 * without a domain is local (RFC 5321 lets "postmaster" stand alone).
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "deliver.h"

/* 0 if the local transport takes rcpt; -1 with *res set (a bounce) if
 * not. */
int
transport_check(const struct tern_config *cfg, const char *rcpt,
    struct deliver_result *res)
{
	const char	*domain, *why = "bad syntax";

	if (strchr(rcpt, '@') == NULL)
		return 0;
	if (!addr_valid_mailbox(rcpt, strlen(rcpt), &why) ||
	    (domain = addr_domain(rcpt)) == NULL) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.3",
		    "bad recipient address: %s", why);
		return -1;
	}
	if (!config_is_local_domain(cfg, domain)) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.3.5",
		    "misrouted: %s is not a local domain", domain);
		return -1;
	}
	return 0;
}

/* Fill result[0..nrcpt) for msg, in request order.  Every result starts as
 * a deferral so that a path that forgot one cannot report success.  A
 * recipient the queue file already records as delivered is not delivered
 * again (deliver_record.c). */
void
transport_dispatch(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    struct deliver_result *result)
{
	const struct deliver_request	*req = msg->req;
	int				*idx, i, n = 0;

	idx = xcalloc((size_t)req->nrcpt, sizeof(*idx));
	for (i = 0; i < req->nrcpt; i++) {
		deliver_result_set(&result[i], DELIVER_DEFER, "4.3.0",
		    "internal error: no outcome");
		if (deliver_record_done(msg, i)) {
			/* An earlier attempt delivered it and said so in
			 * the queue file, but its reply never reached
			 * qmgr. */
			deliver_result_set(&result[i], DELIVER_OK, "2.0.0",
			    "delivered already (recorded in the queue file)");
			deliver_log(req->id, req->rcpt[i], "local", NULL,
			    &result[i]);
		} else if (virtual_alias_deliver(ctx, msg, i, &result[i]))
			continue;	/* logged there */
		else if (transport_check(ctx->cfg, req->rcpt[i], &result[i]) < 0)
			deliver_log(req->id, req->rcpt[i], "none", NULL,
			    &result[i]);
		else
			idx[n++] = i;
	}
	if (n > 0)
		local_deliver(ctx, msg, idx, n, result);
	free(idx);
}

/* Finish every delivery the local transport left pending for the batch. */
void
transport_flush(struct deliver_ctx *ctx)
{
	local_flush(ctx);
}
