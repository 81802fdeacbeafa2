/*
 * transport - which transport delivers to which recipient, and the loop
 * that hands each transport its share of a request.
 *
 * Recipients are grouped per transport and every transport gets its whole
 * group in one call, so the remote SMTP transport (a later addition) can
 * send one transaction per destination with many RCPT commands; the local
 * transport simply walks its group.  transport_select() is the one place
 * that decides local versus remote, and the stand-in for the remote
 * transport lives here until the real one replaces it.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "deliver.h"

/* An address that fails RFC 5321 syntax never gets better: bounce. */
static void
transport_error_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const int *idx, int n, struct deliver_result *result)
{
	const char	*rcpt, *why;
	int		 k;

	(void)ctx;
	for (k = 0; k < n; k++) {
		rcpt = msg->req->rcpt[idx[k]];
		why = "bad syntax";
		addr_valid_mailbox(rcpt, strlen(rcpt), &why);
		deliver_result_set(&result[idx[k]], DELIVER_BOUNCE, "5.1.3",
		    "bad recipient address: %s", why);
		deliver_log(msg->req->id, rcpt, "none", NULL, &result[idx[k]]);
	}
}

/* Stand-in for remote SMTP delivery, which does not exist yet. */
static void
transport_remote_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const int *idx, int n, struct deliver_result *result)
{
	int	 k;

	(void)ctx;
	for (k = 0; k < n; k++) {
		deliver_result_set(&result[idx[k]], DELIVER_BOUNCE, "5.1.2",
		    "remote delivery not available yet");
		deliver_log(msg->req->id, msg->req->rcpt[idx[k]], "none", NULL,
		    &result[idx[k]]);
	}
}

static const struct transport transport_error = {
	"error", transport_error_deliver, NULL
};
static const struct transport transport_remote = {
	"smtp", transport_remote_deliver, NULL
};

/* Every transport that may leave deliveries pending. */
static const struct transport *const transport_all[] = {
	&transport_local, &transport_error, &transport_remote
};

/* The transport for rcpt.  An address without a domain is local: RFC 5321
 * lets "postmaster" stand alone. */
const struct transport *
transport_select(const struct tern_config *cfg, const char *rcpt)
{
	const char	*domain;

	if (strchr(rcpt, '@') == NULL)
		return &transport_local;
	if (!addr_valid_mailbox(rcpt, strlen(rcpt), NULL) ||
	    (domain = addr_domain(rcpt)) == NULL)
		return &transport_error;
	if (config_is_local_domain(cfg, domain))
		return &transport_local;
	return &transport_remote;
}

/* Fill result[0..nrcpt) for msg, in request order.  Every result starts as
 * a deferral so that a transport that forgot one cannot report success. */
void
transport_dispatch(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    struct deliver_result *result)
{
	const struct deliver_request	 *req = msg->req;
	const struct transport		**sel, *t;
	int				 *idx, i, j, n;

	sel = xcalloc((size_t)req->nrcpt, sizeof(*sel));
	idx = xcalloc((size_t)req->nrcpt, sizeof(*idx));
	for (i = 0; i < req->nrcpt; i++) {
		deliver_result_set(&result[i], DELIVER_DEFER, "4.3.0",
		    "internal error: no outcome");
		sel[i] = transport_select(ctx->cfg, req->rcpt[i]);
	}
	for (i = 0; i < req->nrcpt; i++) {
		if ((t = sel[i]) == NULL)
			continue;
		for (n = 0, j = i; j < req->nrcpt; j++)
			if (sel[j] == t) {
				idx[n++] = j;
				sel[j] = NULL;
			}
		t->deliver(ctx, msg, idx, n, result);
	}
	free(idx);
	free(sel);
}

/* Finish every delivery the transports left pending for the batch. */
void
transport_flush(struct deliver_ctx *ctx)
{
	size_t	 i;

	for (i = 0; i < sizeof(transport_all) / sizeof(transport_all[0]); i++)
		if (transport_all[i]->flush != NULL)
			transport_all[i]->flush(ctx);
}
