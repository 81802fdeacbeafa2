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

/* Move the targets of tmp into x, each once.  0, or -1 if x is full. */
static int
va_merge(struct lx_result *x, struct lx_result *tmp)
{
	struct lx_target	*t;
	int			 i, k, dup;

	for (i = 0; i < tmp->n; i++) {
		t = &tmp->target[i];
		for (k = 0, dup = 0; k < x->n && !dup; k++)
			dup = x->target[k].kind == t->kind &&
			    x->target[k].owner.uid == t->owner.uid &&
			    strcmp(x->target[k].text, t->text) == 0;
		if (dup)
			continue;
		if (x->n == LX_TARGETS_MAX) {
			local_expand_free(tmp);
			return -1;
		}
		x->target[x->n++] = *t;
		t->text = NULL;		/* x has it now */
	}
	local_expand_free(tmp);
	return 0;
}

/* One address kind for x (not a local one). */
static int
va_add(struct lx_result *x, enum lx_kind kind, const char *addr)
{
	int	 k;

	for (k = 0; k < x->n; k++)
		if (x->target[k].kind == kind &&
		    strcmp(x->target[k].text, addr) == 0)
			return 0;
	if (x->n == LX_TARGETS_MAX)
		return -1;
	memset(&x->target[x->n], 0, sizeof(x->target[x->n]));
	x->target[x->n].kind = kind;
	x->target[x->n++].text = xstrdup(addr);
	return 0;
}

/* An address in mydestination, or a bare name: local delivery's
 * expansion of its name, into x. */
static int
va_local(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *addr, struct lx_result *x, struct deliver_result *res)
{
	struct lx_ops		 ops;
	struct lx_result	*tmp = local_lx(ctx, 0);
	const char		*dsn;
	char			 name[LX_NAME_MAX], why[LX_WHY_MAX];
	enum lx_status		 st;

	if (local_recipient_name(addr, name, sizeof(name)) < 0)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.1.1",
		    "bad local address in virtual alias");
	local_world_ops(ctx, &ops);
	st = local_expand(&ops, name, tmp, why, &dsn);
	if (st != LX_OK)
		return va_fail(msg, j, res, st == LX_DEFER ? DELIVER_DEFER :
		    DELIVER_BOUNCE, dsn, why);
	if (va_merge(x, tmp) < 0)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.3.5",
		    "virtual alias expansion has too many targets");
	return 0;
}

/* One final address of the expansion, into x.  0, or -1 with res. */
static int
va_target(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const char *addr, struct lx_result *x, struct deliver_result *res)
{
	const char	*domain = strchr(addr, '@') != NULL ?
			    addr_domain(addr) : NULL;
	int		 kind, r = 0;

	if (domain == NULL || (domain[0] != '[' &&
	    config_is_local_domain(ctx->cfg, domain)))
		return va_local(ctx, msg, j, addr, x, res);
	if ((kind = virtual_domain(&ctx->virt, domain)) < 0)
		return va_fail(msg, j, res, DELIVER_DEFER, "4.3.0",
		    ctx->virt.err);
	if (kind == VIRTUAL_DOMAIN_ALIAS)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.1.1",
		    "virtual alias target unknown in virtual alias table");
	r = va_add(x, kind == VIRTUAL_DOMAIN_MAILBOX ? LX_VIRTUAL :
	    LX_REMOTE, addr);
	if (r < 0)
		return va_fail(msg, j, res, DELIVER_BOUNCE, "5.3.5",
		    "virtual alias expansion has too many targets");
	return 0;
}

/* Recipient j's expansion vx made into targets. */
static void
va_expanded(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const struct virtual_expansion *vx, struct deliver_result *res)
{
	struct lx_result	*x = local_lx(ctx, 1);
	int			 i;

	x->n = 0;
	for (i = 0; i < vx->n; i++)
		if (va_target(ctx, msg, j, vx->addr[i], x, res) < 0)
			break;
	if (i == vx->n && x->n == 0)
		va_fail(msg, j, res, DELIVER_BOUNCE, "5.3.5",
		    "virtual alias has no targets");
	else if (i == vx->n)
		local_deliver_targets(ctx, msg, j, x, res);
	local_expand_free(x);
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
