/*
 * virtual - the virtual domain tables and their rules (see virtual.h):
 * lookup keys in Postfix's order, domain lists, the RCPT answer and the
 * bounded alias expansion.  No state but the open tables; every failure
 * of a table is reported as temporary, with the table's reason in
 * vm->err.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "aliases.h"
#include "buf.h"
#include "virtual.h"

#define VIRTUAL_REF_ALIAS	1	/* "$virtual_alias_maps" */
#define VIRTUAL_REF_MAILBOX	2	/* "$virtual_mailbox_maps" */
#define VIRTUAL_KEY_MAX		(ADDR_PATH_MAX + 2)

static int
virtual_is_table(const char *item)
{
	return item[0] != '$' && strchr(item, ':') != NULL;
}

/* Open the maps of key's list; 0, or -1 with err naming key, so that the
 * log says which setting to mend. */
static int
virtual_open_list(const char *key, char *const *spec, int n,
    struct map_list *maps, char *err, size_t errlen)
{
	char	 why[MAP_ERR_MAX];

	if (map_list_open(maps, spec, n, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", key, why);
	return -1;
}

/* The tables and references of a domain list (key names the list). */
static int
virtual_open_domains(const char *key, const struct config_list *l,
    struct map_list *maps, int *refs, char *err, size_t errlen)
{
	char	*spec[CONFIG_LIST_MAX];
	int	 i, n = 0;

	*refs = 0;
	for (i = 0; i < l->count; i++) {
		if (strcmp(l->item[i], "$virtual_alias_maps") == 0 ||
		    strcmp(l->item[i], "${virtual_alias_maps}") == 0)
			*refs |= VIRTUAL_REF_ALIAS;
		else if (strcmp(l->item[i], "$virtual_mailbox_maps") == 0 ||
		    strcmp(l->item[i], "${virtual_mailbox_maps}") == 0)
			*refs |= VIRTUAL_REF_MAILBOX;
		else if (l->item[i][0] == '$') {
			snprintf(err, errlen, "%s: %s is not supported here "
			    "(only $virtual_alias_maps, $virtual_mailbox_maps)",
			    key, l->item[i]);
			return -1;
		} else if (virtual_is_table(l->item[i]))
			spec[n++] = l->item[i];
	}
	return virtual_open_list(key, spec, n, maps, err, errlen);
}

int
virtual_open(struct virtual_maps *vm, const struct tern_config *cfg,
    char *err, size_t errlen)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	if (virtual_open_list("virtual_alias_maps",
	    cfg->virtual_alias_maps.item, cfg->virtual_alias_maps.count,
	    &vm->alias, err, errlen) < 0)
		return -1;
	if (virtual_open_list("virtual_mailbox_maps",
	    cfg->virtual_mailbox_maps.item, cfg->virtual_mailbox_maps.count,
	    &vm->mailbox, err, errlen) < 0 ||
	    virtual_open_domains("virtual_alias_domains",
	    &cfg->virtual_alias_domains, &vm->alias_dom, &vm->alias_dom_refs,
	    err, errlen) < 0 ||
	    virtual_open_domains("virtual_mailbox_domains",
	    &cfg->virtual_mailbox_domains, &vm->mailbox_dom,
	    &vm->mailbox_dom_refs, err, errlen) < 0) {
		virtual_close(vm);
		return -1;
	}
	return 0;
}

void
virtual_close(struct virtual_maps *vm)
{
	map_list_close(&vm->alias);
	map_list_close(&vm->mailbox);
	map_list_close(&vm->alias_dom);
	map_list_close(&vm->mailbox_dom);
}

static int
virtual_literals(const struct config_list *l)
{
	int	 i;

	for (i = 0; i < l->count; i++)
		if (l->item[i][0] != '$' && !virtual_is_table(l->item[i]))
			return 1;
	return 0;
}

int
virtual_configured(const struct virtual_maps *vm)
{
	return vm->cfg != NULL && (vm->alias.count > 0 ||
	    vm->mailbox.count > 0 || vm->alias_dom.count > 0 ||
	    vm->mailbox_dom.count > 0 ||
	    virtual_literals(&vm->cfg->virtual_alias_domains) ||
	    virtual_literals(&vm->cfg->virtual_mailbox_domains));
}

/* Is domain in one list: 1, 0, -1 (vm->err). */
static int
virtual_domain_in(struct virtual_maps *vm, const struct config_list *l,
    struct map_list *maps, int refs, const char *domain)
{
	const char	*value;
	int		 i, r;

	for (i = 0; i < l->count; i++)
		if (l->item[i][0] != '$' && !virtual_is_table(l->item[i]) &&
		    strcasecmp(l->item[i], domain) == 0)
			return 1;
	r = map_list_lookup(maps, domain, &value, vm->err, sizeof(vm->err));
	if (r == MAP_NOTFOUND && (refs & VIRTUAL_REF_ALIAS))
		r = map_list_lookup(&vm->alias, domain, &value, vm->err,
		    sizeof(vm->err));
	if (r == MAP_NOTFOUND && (refs & VIRTUAL_REF_MAILBOX))
		r = map_list_lookup(&vm->mailbox, domain, &value, vm->err,
		    sizeof(vm->err));
	return r;
}

int
virtual_domain(struct virtual_maps *vm, const char *domain)
{
	int	 r;

	if (domain == NULL || domain[0] == '\0' || domain[0] == '[')
		return VIRTUAL_DOMAIN_NONE;
	r = virtual_domain_in(vm, &vm->cfg->virtual_alias_domains,
	    &vm->alias_dom, vm->alias_dom_refs, domain);
	if (r != MAP_NOTFOUND)
		return r < 0 ? -1 : VIRTUAL_DOMAIN_ALIAS;
	r = virtual_domain_in(vm, &vm->cfg->virtual_mailbox_domains,
	    &vm->mailbox_dom, vm->mailbox_dom_refs, domain);
	if (r != MAP_NOTFOUND)
		return r < 0 ? -1 : VIRTUAL_DOMAIN_MAILBOX;
	return VIRTUAL_DOMAIN_NONE;
}

int
virtual_mydestination_conflict(struct virtual_maps *vm, char *out,
    size_t outlen)
{
	const struct config_list *l = &vm->cfg->mydestination;
	int			 i, kind;

	for (i = 0; i < l->count; i++) {
		if ((kind = virtual_domain(vm, l->item[i])) < 0)
			return -1;
		if (kind != VIRTUAL_DOMAIN_NONE) {
			strlcpy(out, l->item[i], outlen);
			return 1;
		}
	}
	return 0;
}

/* One key: MAP_* as map_list_lookup; NOTFOUND for a key that does not
 * fit. */
static int
virtual_try(struct map_list *l, const char **value, char *err,
    size_t errlen, const char *fmt, const char *a, const char *b)
{
	char	 key[VIRTUAL_KEY_MAX];
	int	 n = snprintf(key, sizeof(key), fmt, a, b);

	if (n < 0 || (size_t)n >= sizeof(key))
		return MAP_NOTFOUND;
	return map_list_lookup(l, key, value, err, errlen);
}

int
virtual_addr_find(struct map_list *l, const struct tern_config *cfg,
    const char *addr, int bare_user, const char **value, char *err,
    size_t errlen)
{
	const char	*domain = strchr(addr, '@') != NULL ?
			    addr_domain(addr) : NULL;
	char		 local[ADDR_LOCAL_MAX + 1], base[ADDR_LOCAL_MAX + 1];
	char		 delim = cfg->recipient_delimiter != NULL ?
			    cfg->recipient_delimiter[0] : '\0';
	char		*d = NULL;
	int		 r = MAP_NOTFOUND;

	*value = NULL;
	if (l->count == 0)
		return MAP_NOTFOUND;
	if (domain != NULL ? addr_local_part(addr, local, sizeof(local)) < 0 :
	    strlcpy(local, addr, sizeof(local)) >= sizeof(local))
		return MAP_NOTFOUND;
	strlcpy(base, local, sizeof(base));
	if (delim != '\0' && base[0] != '\0' &&
	    (d = strchr(base + 1, delim)) != NULL)
		*d = '\0';
	if (domain != NULL) {
		r = virtual_try(l, value, err, errlen, "%s@%s", local, domain);
		if (r == MAP_NOTFOUND && d != NULL)
			r = virtual_try(l, value, err, errlen, "%s@%s", base,
			    domain);
	}
	if (r == MAP_NOTFOUND && bare_user && (domain == NULL ||
	    (domain[0] != '[' && config_is_local_domain(cfg, domain)))) {
		r = virtual_try(l, value, err, errlen, "%s%s", local, "");
		if (r == MAP_NOTFOUND && d != NULL)
			r = virtual_try(l, value, err, errlen, "%s%s", base, "");
	}
	if (r == MAP_NOTFOUND && domain != NULL)
		r = virtual_try(l, value, err, errlen, "@%s%s", domain, "");
	return r;
}

int
virtual_alias_find(struct virtual_maps *vm, const char *addr,
    const char **value)
{
	return virtual_addr_find(&vm->alias, vm->cfg, addr, 1, value,
	    vm->err, sizeof(vm->err));
}

int
virtual_mailbox_find(struct virtual_maps *vm, const char *addr,
    const char **value)
{
	return virtual_addr_find(&vm->mailbox, vm->cfg, addr, 0, value,
	    vm->err, sizeof(vm->err));
}

enum virtual_rcpt_status
virtual_recipient(struct virtual_maps *vm, const char *rcpt,
    const char **why)
{
	const char	*domain = strchr(rcpt, '@') != NULL ?
			    addr_domain(rcpt) : NULL;
	const char	*value;
	int		 ours, kind = VIRTUAL_DOMAIN_NONE, r;

	*why = vm->err;
	ours = domain == NULL || (domain[0] != '[' &&
	    config_is_local_domain(vm->cfg, domain));
	if (!ours && (kind = virtual_domain(vm, domain)) < 0)
		return VIRTUAL_RCPT_TEMPFAIL;
	if (!ours && kind == VIRTUAL_DOMAIN_NONE)
		return VIRTUAL_RCPT_NONE;
	if ((r = virtual_alias_find(vm, rcpt, &value)) != MAP_NOTFOUND)
		return r < 0 ? VIRTUAL_RCPT_TEMPFAIL : VIRTUAL_RCPT_FOUND;
	if (ours)
		return VIRTUAL_RCPT_NONE;
	if (kind == VIRTUAL_DOMAIN_ALIAS)
		return VIRTUAL_RCPT_UNKNOWN;
	if ((r = virtual_mailbox_find(vm, rcpt, &value)) != MAP_NOTFOUND)
		return r < 0 ? VIRTUAL_RCPT_TEMPFAIL : VIRTUAL_RCPT_FOUND;
	return VIRTUAL_RCPT_UNKNOWN;
}

/* ------------------------------------------------------------ expansion */

static int
vx_has(const struct virtual_expansion *x, const char *addr)
{
	int	 i;

	for (i = 0; i < x->n; i++)
		if (strcasecmp(x->addr[i], addr) == 0)
			return 1;
	return 0;
}

static void
vx_add(struct virtual_expansion *x, const char *addr)
{
	if (x->n == x->cap) {
		x->cap = x->cap > 0 ? x->cap * 2 : 8;
		x->addr = xreallocarray(x->addr, (size_t)x->cap,
		    sizeof(*x->addr));
	}
	x->addr[x->n++] = xstrdup(addr);
}

void
virtual_expansion_free(struct virtual_expansion *x)
{
	int	 i;

	for (i = 0; i < x->n; i++)
		free(x->addr[i]);
	free(x->addr);
	memset(x, 0, sizeof(*x));
}

/* One target of a value in its canonical spelling (a bare name lower
 * case) in out.  0, or -1 with *why. */
static int
vx_target(const struct alias_target *t, char *out, size_t outlen,
    const char **why)
{
	size_t	 len = strlen(t->text);

	if (t->kind != ALIAS_ADDRESS) {
		*why = "virtual alias target is not an address";
		return -1;
	}
	if (strchr(t->text, '@') != NULL) {
		if (addr_canonical(t->text, len, out, outlen) < 0) {
			*why = "bad address in virtual_alias_maps";
			return -1;
		}
		return 0;
	}
	if (len == 0 || len > ADDR_LOCAL_MAX) {
		*why = "bad local name in virtual_alias_maps";
		return -1;
	}
	addr_lower(t->text, out, outlen);
	return 0;
}

struct vx {
	struct virtual_maps	*vm;
	struct virtual_expansion work, fixed;	/* fixed: mapped to itself */
	int			 elimit;
	char			*why;
	size_t			 whylen;
	const char		*dsn;
};

static enum virtual_expand_status
vx_fail(struct vx *x, enum virtual_expand_status st, const char *dsn,
    const char *what, const char *addr)
{
	x->dsn = dsn;
	snprintf(x->why, x->whylen, "%s%s%.300s", what, addr != NULL ? ": " :
	    "", addr != NULL ? addr : "");
	return st;
}

/* work.addr[i] replaced by the targets of value (the first in its place,
 * the others appended). */
static enum virtual_expand_status
vx_replace(struct vx *x, int i, const char *value)
{
	struct alias_target	 t;
	const char		*cur = value, *why;
	char			*buf, lhs[VIRTUAL_KEY_MAX], out[VIRTUAL_KEY_MAX];
	size_t			 blen = strlen(value) + 1;
	int			 r, k = 0;
	enum virtual_expand_status st = VX_OK;

	strlcpy(lhs, x->work.addr[i], sizeof(lhs));
	buf = xmalloc(blen);
	while (st == VX_OK && (r = alias_target_next(&cur, &t, buf, blen,
	    &why)) != 0) {
		if (r < 0 || vx_target(&t, out, sizeof(out), &why) < 0) {
			st = vx_fail(x, VX_BOUNCE, "5.3.5", why, lhs);
			break;
		}
		if (k++ == 0) {
			free(x->work.addr[i]);
			x->work.addr[i] = xstrdup(out);
		} else if (x->work.n >= x->elimit)
			st = vx_fail(x, VX_DEFER, "4.6.0", "unreasonable "
			    "virtual_alias_maps expansion size for", lhs);
		else
			vx_add(&x->work, out);
		/* An address may expand into itself once. */
		if (st == VX_OK && strcasecmp(lhs, out) == 0 &&
		    !vx_has(&x->fixed, lhs))
			vx_add(&x->fixed, lhs);
	}
	free(buf);
	if (st == VX_OK && k == 0)
		st = vx_fail(x, VX_BOUNCE, "5.3.5", "virtual alias has no "
		    "targets", lhs);
	return st;
}

/* Expand work.addr[i] until it has no entry (or is fixed). */
static enum virtual_expand_status
vx_one(struct vx *x, int i, int rlimit)
{
	const char			*value;
	int				 count, r;
	enum virtual_expand_status	 st;

	for (count = 0;; count++) {
		if (vx_has(&x->fixed, x->work.addr[i]))
			return VX_OK;
		r = virtual_alias_find(x->vm, x->work.addr[i], &value);
		if (r == MAP_NOTFOUND)
			return VX_OK;
		if (r < 0)
			return vx_fail(x, VX_DEFER, "4.3.0",
			    "virtual_alias_maps lookup failed", x->vm->err);
		if (count >= rlimit)
			return vx_fail(x, VX_DEFER, "4.6.0", "unreasonable "
			    "virtual_alias_maps nesting for",
			    x->work.addr[i]);
		if ((st = vx_replace(x, i, value)) != VX_OK)
			return st;
	}
}

enum virtual_expand_status
virtual_alias_expand(struct virtual_maps *vm, const char *addr,
    int recursion_limit, int expansion_limit, struct virtual_expansion *out,
    char *why, size_t whylen, const char **dsn)
{
	struct vx			 x;
	const char			*value;
	enum virtual_expand_status	 st = VX_OK;
	int				 i, r;

	memset(out, 0, sizeof(*out));
	why[0] = '\0';
	*dsn = NULL;
	r = virtual_alias_find(vm, addr, &value);
	if (r == MAP_NOTFOUND)
		return VX_NONE;
	memset(&x, 0, sizeof(x));
	x.vm = vm;
	x.elimit = expansion_limit;
	x.why = why;
	x.whylen = whylen;
	if (r < 0)
		st = vx_fail(&x, VX_DEFER, "4.3.0",
		    "virtual_alias_maps lookup failed", vm->err);
	vx_add(&x.work, addr);
	for (i = 0; st == VX_OK && i < x.work.n; i++)
		st = vx_one(&x, i, recursion_limit);
	for (i = 0; st == VX_OK && i < x.work.n; i++)
		if (!vx_has(out, x.work.addr[i]))
			vx_add(out, x.work.addr[i]);
	virtual_expansion_free(&x.work);
	virtual_expansion_free(&x.fixed);
	*dsn = x.dsn;
	return st;
}

int
virtual_parse_id(const char *value, long *id)
{
	char	*end;

	value += strspn(value, " \t");
	if (!isdigit((unsigned char)*value))
		return -1;
	errno = 0;
	*id = strtol(value, &end, 10);
	end += strspn(end, " \t");
	return errno == 0 && *end == '\0' && *id <= 0x7fffffffL ? 0 : -1;
}
