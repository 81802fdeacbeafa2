/*
 * virtual_alias - what deliver does for a recipient that qmgr routed to
 * it for a virtual reason (qmgr_route_virtual): one with a virtual alias,
 * or one in a virtual alias or mailbox domain.
 *
 * A virtual alias is expanded (common/virtual.c: Postfix's lookup order,
 * recursion and expansion limits) into final addresses, and each becomes
 * targets of the recipient, made as local delivery makes an alias's
 * (local.c, local_deliver_targets): an address in mydestination (or a
 * bare name) goes through local delivery's own expansion (aliases,
 * .forward, the account's mailbox); one in a virtual mailbox domain is
 * that virtual mailbox (virtual_mailbox.c); one in a virtual alias domain
 * that has no alias is unknown (the recipient bounces 5.1.1); any other
 * is remote and is queued anew (local_forward.c), with Delivered-To: of
 * the recipient so that a loop through another host is caught.  The
 * recipient's outcome is its targets' together, as for local aliases:
 * deferred if one defers (the whole recipient is tried again; targets
 * already made get a second copy, none is lost), else bounced if one
 * bounces.  The expansion fails closed: a failed lookup or a limit defers
 * the whole recipient, a bad target bounces it, before anything is made.
 * The limits: virtual_alias_expansion_limit for the addresses of the
 * virtual expansion (common/virtual.c) and for the targets of the
 * recipient in all, local aliases of its local addresses included (its
 * target list, local_targets.c); each local expansion within it also
 * local_expansion_limit.  Over a limit is 4.6.0, a deferral with a
 * warning, as in Postfix: a list smtpd accepted is never bounced for its
 * size.
 *
 * Without an alias, an address in a virtual mailbox domain is its virtual
 * mailbox, and one in a virtual alias domain is unknown (5.1.1), which
 * smtpd normally refused at RCPT already.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "deliver.h"

int
virtual_deliver_init(struct deliver_ctx *ctx, char *err, size_t errlen)
{
	char	 why[MAP_ERR_MAX];

	if (virtual_open(&ctx->virt, ctx->cfg, err, errlen) < 0)
		return -1;
	if (map_list_open(&ctx->virt_uid, ctx->par->virtual_uid_maps.item,
	    ctx->par->virtual_uid_maps.count, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "virtual_uid_maps: %s", why);
		virtual_close(&ctx->virt);
		return -1;
	}
	if (map_list_open(&ctx->virt_gid, ctx->par->virtual_gid_maps.item,
	    ctx->par->virtual_gid_maps.count, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "virtual_gid_maps: %s", why);
		virtual_close(&ctx->virt);
		map_list_close(&ctx->virt_uid);
		return -1;
	}
	return 0;
}

void
virtual_deliver_close(struct deliver_ctx *ctx)
{
	virtual_close(&ctx->virt);
	map_list_close(&ctx->virt_uid);
	map_list_close(&ctx->virt_gid);
}

/* A failure of the expansion: the recipient's outcome, logged. */
static int
va_fail(const struct deliver_msg *msg, int j, struct deliver_result *res,
    enum deliver_status st, const char *dsn, const char *why)
{
	deliver_result_set(res, st, dsn, "%s", why);
	deliver_log(msg->req->id, msg->req->rcpt[j], "virtual", NULL, res);
	return -1;
}

/* The recipient's targets are more than its list's bound
 * (virtual_alias_expansion_limit): deferred, as Postfix defers an
 * expansion over that limit. */
static int
va_too_many(const struct deliver_msg *msg, int j, const struct lx_result *x,
    struct deliver_result *res)
{
	char	 why[LX_WHY_MAX];

	snprintf(why, sizeof(why), "virtual alias expansion has more than %d "
	    "targets (virtual_alias_expansion_limit)", x->max);
	log_warn("%s: to=<%s>: %s", msg->req->id, msg->req->rcpt[j], why);
	return va_fail(msg, j, res, DELIVER_DEFER, "4.6.0", why);
}

/* An address in mydestination, or a bare name: local delivery's
 * expansion of its name (bounded by local_expansion_limit), into x. */
static int
va_local(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *addr, struct lx_result *x, struct deliver_result *res)
{
	struct lx_result	 tmp;
	const char		*dsn;
	char			 name[LX_NAME_MAX], why[LX_WHY_MAX];
	enum lx_status		 st;

	if (local_recipient_name(addr, name, sizeof(name)) < 0)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.1.1",
		    "bad local address in virtual alias");
	lx_result_init(&tmp, ctx->par->local_expansion_limit);
	st = local_expand_msg(ctx, msg, name, &tmp, why, &dsn);
	if (st != LX_OK) {
		lx_result_free(&tmp);
		return va_fail(msg, j, res, st == LX_DEFER ? DELIVER_DEFER :
		    DELIVER_BOUNCE, dsn, why);
	}
	if (lx_result_merge(x, &tmp) < 0)	/* tmp emptied either way */
		return va_too_many(msg, j, x, res);
	return 0;
}

/* One final address of the expansion, into x.  0, or -1 with res. */
static int
va_target(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *addr, struct lx_result *x, struct deliver_result *res)
{
	const char	*domain = strchr(addr, '@') != NULL ?
			    addr_domain(addr) : NULL;
	int		 kind;

	if (domain == NULL || (domain[0] != '[' &&
	    config_is_local_domain(ctx->cfg, domain)))
		return va_local(ctx, msg, j, addr, x, res);
	if ((kind = virtual_domain(&ctx->virt, domain)) < 0)
		return va_fail(msg, j, res, DELIVER_DEFER, "4.3.0",
		    ctx->virt.err);
	if (kind == VIRTUAL_DOMAIN_ALIAS)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.1.1",
		    "virtual alias target unknown in virtual alias table");
	if (lx_result_add(x, kind == VIRTUAL_DOMAIN_MAILBOX ? LX_VIRTUAL :
	    LX_REMOTE, addr, NULL, NULL, NULL) < 0)
		return va_too_many(msg, j, x, res);
	return 0;
}

/* Recipient j's expansion vx made into targets, at most
 * virtual_alias_expansion_limit of them (local aliases of its local
 * addresses included). */
static void
va_expanded(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const struct virtual_expansion *vx, struct deliver_result *res)
{
	struct lx_result	 x;
	int			 i;

	lx_result_init(&x, ctx->par->virtual_alias_expansion_limit);
	for (i = 0; i < vx->n; i++)
		if (va_target(ctx, msg, j, vx->addr[i], &x, res) < 0)
			break;
	if (i == vx->n && x.n == 0)
		va_fail(msg, j, res, DELIVER_BOUNCE, "5.3.5",
		    "virtual alias has no targets");
	else if (i == vx->n)
		local_deliver_targets(ctx, msg, j, &x, res);
	lx_result_free(&x);
}

/* No alias: the recipient's virtual domain decides.  1 or 0 as
 * virtual_alias_deliver. */
static int
va_domain(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    struct deliver_result *res)
{
	const char	*rcpt = msg->req->rcpt[j];
	const char	*domain = addr_domain(rcpt);
	int		 kind;

	if (domain == NULL || config_is_local_domain(ctx->cfg, domain))
		return 0;
	if ((kind = virtual_domain(&ctx->virt, domain)) < 0) {
		va_fail(msg, j, res, DELIVER_DEFER, "4.3.0", ctx->virt.err);
		return 1;
	}
	if (kind == VIRTUAL_DOMAIN_NONE)
		return 0;
	if (kind == VIRTUAL_DOMAIN_ALIAS)
		va_fail(msg, j, res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown in virtual alias table");
	else if (local_loop_check(msg, rcpt))
		va_fail(msg, j, res, DELIVER_BOUNCE, "5.4.6",
		    "mail forwarding loop");
	else
		virtual_mailbox_deliver(ctx, msg, j, rcpt, res, 1);
	return 1;
}

int
virtual_alias_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, struct deliver_result *res)
{
	const struct deliver_params	*par = ctx->par;
	const char			*rcpt = msg->req->rcpt[j], *dsn;
	struct virtual_expansion	 vx;
	char				 why[LX_WHY_MAX];
	enum virtual_expand_status	 st;

	if (!virtual_configured(&ctx->virt) || strchr(rcpt, '@') == NULL ||
	    !addr_valid_mailbox(rcpt, strlen(rcpt), NULL))
		return 0;
	st = virtual_alias_expand(&ctx->virt, rcpt,
	    par->virtual_alias_recursion_limit,
	    par->virtual_alias_expansion_limit, &vx, why, sizeof(why), &dsn);
	switch (st) {
	case VX_NONE:
		return va_domain(ctx, msg, j, res);
	case VX_DEFER:
	case VX_BOUNCE:
		log_warn("%s: to=<%s>: %s", msg->req->id, rcpt, why);
		va_fail(msg, j, res, st == VX_DEFER ? DELIVER_DEFER :
		    DELIVER_BOUNCE, dsn, why);
		break;
	case VX_OK:
		if (local_loop_check(msg, rcpt))
			va_fail(msg, j, res, DELIVER_BOUNCE, "5.4.6",
			    "mail forwarding loop");
		else
			va_expanded(ctx, msg, j, &vx, res);
		break;
	}
	virtual_expansion_free(&vx);
	return 1;
}
