/*
 * local_expand - a local recipient expanded through aliases, .forward and
 * :include: files into its targets (rules and bounds: local_expand.h).
 * Recursive over names, with the chain of names being expanded kept on a
 * bounded stack: that is the loop protection.  Fails closed: the first
 * error ends the expansion, and no partial list is delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "buf.h"
#include "local_expand.h"

struct lx {
	const struct lx_ops	*ops;
	struct lx_result	*res;
	const char		*stack[LX_DEPTH_MAX + 2];
	int			 depth;
	char			 ext[LX_NAME_MAX];	/* the recipient's */
	char			 errors_to[LX_NAME_MAX];	/* owner-NAME
							   now, or "" */
	char			*why;
	const char		*dsn;
	enum lx_status		 st;
	long			 work;	/* names and targets visited */
	char			*seen[LX_SEEN_MAX];	/* include files
						   expanded: "uid\nowner\npath" */
	int			 nseen;
};

static int	lx_name(struct lx *, const char *name);
static int	lx_value(struct lx *, const char *value,
		    const struct lx_owner *);
static int	lx_push(struct lx *, const char *name);

static int
lx_fail(struct lx *x, enum lx_status st, const char *dsn, const char *what,
    const char *detail)
{
	if (x->st == LX_OK) {
		x->st = st;
		x->dsn = dsn;
		snprintf(x->why, LX_WHY_MAX, "%.40s%s%.200s", what,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	}
	return -1;
}

int
local_expand_split(const char *name, char delimiter, char *base, char *ext,
    size_t len)
{
	const char	*d = NULL;
	size_t		 blen;

	if (delimiter != '\0' && name[0] != '\0')
		d = strchr(name + 1, delimiter);
	blen = d != NULL ? (size_t)(d - name) : strlen(name);
	if (blen >= len || (d != NULL && strlen(d + 1) >= len))
		return -1;
	memcpy(base, name, blen);
	base[blen] = '\0';
	snprintf(ext, len, "%s", d != NULL ? d + 1 : "");
	return 0;
}

static int
lx_on_stack(const struct lx *x, const char *name)
{
	int	 i;

	for (i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], name) == 0)
			return 1;
	return 0;
}

static int
lx_add(struct lx *x, enum lx_kind kind, const char *text,
    const struct lx_owner *owner)
{
	char	 max[32];

	if (lx_result_add(x->res, kind, text, x->ext, x->errors_to,
	    owner) >= 0)
		return 0;
	snprintf(max, sizeof(max), "more than %d", x->res->max);
	return lx_fail(x, LX_DEFER, "4.6.0",
	    "alias expansion has too many targets", max);
}

/* One more name or target visited: 0, or -1 past LX_WORK_MAX. */
static int
lx_work(struct lx *x)
{
	if (++x->work <= LX_WORK_MAX)
		return 0;
	return lx_fail(x, LX_DEFER, "4.6.0",
	    "alias expansion visits too many targets", NULL);
}

/* The key of include file path read with as's rights, in key[0..len);
 * "" if it does not fit (then the file is not remembered). */
static void
lx_seen_key(const struct lx *x, const char *path, const struct lx_owner *as,
    char *key, size_t len)
{
	int	 n;

	n = snprintf(key, len, "%lu\n%s\n%s", as != NULL ?
	    (unsigned long)as->uid : 0UL, x->errors_to, path);
	if (n < 0 || (size_t)n >= len)
		key[0] = '\0';
}

static int
lx_seen(const struct lx *x, const char *key)
{
	int	 i;

	for (i = 0; i < x->nseen; i++)
		if (strcmp(x->seen[i], key) == 0)
			return 1;
	return 0;
}

/* Remember an include file expanded (past LX_SEEN_MAX it is not: read
 * again, LX_WORK_MAX still bounds the walk). */
static void
lx_seen_add(struct lx *x, const char *key)
{
	if (x->nseen < LX_SEEN_MAX && !lx_seen(x, key))
		x->seen[x->nseen++] = xstrdup(key);
}

/* Include file path, named with owner's rights. */
static int
lx_include(struct lx *x, const char *path, const struct lx_owner *owner)
{
	struct lx_owner	 fo;
	const char	*why;
	char		*text, key[LX_NAME_MAX + 4096 + 32];
	int		 r, rc;

	lx_seen_key(x, path, owner, key, sizeof(key));
	if (key[0] != '\0' && lx_seen(x, key))
		return 0;	/* its targets are in the list already */
	if ((rc = lx_push(x, path)) < 0)
		return rc;
	r = x->ops->include(x->ops->arg, path, owner, &text, &fo, &why);
	if (r <= 0)
		rc = lx_fail(x, LX_DEFER, "4.3.0", "cannot read include file",
		    r < 0 ? why : "no such file");
	else {
		/* A user's file runs as that user, never with more rights
		 * than who named it. */
		rc = lx_value(x, text, fo.uid != 0 ? &fo : owner);
		free(text);
	}
	x->depth--;
	/* Remembered once done, so that a file including itself still
	 * ends at LX_DEPTH_MAX as a loop. */
	if (rc == 0 && key[0] != '\0')
		lx_seen_add(x, key);
	return rc;
}

static int
lx_push(struct lx *x, const char *name)
{
	if (x->depth >= LX_DEPTH_MAX)
		return lx_fail(x, LX_BOUNCE, "5.4.6",
		    "alias expansion too deep", name);
	x->stack[x->depth++] = name;
	return 0;
}

/* Every target of value (an alias's, a .forward's or an include file's),
 * commands and files with owner's rights. */
static int
lx_value(struct lx *x, const char *value, const struct lx_owner *owner)
{
	struct alias_target	 t;
	const char		*cur = value, *why;
	char			*buf, name[LX_NAME_MAX];
	size_t			 len = strlen(value) + 1;
	int			 r, rc = 0;

	buf = xmalloc(len);
	while (rc == 0 && (r = alias_target_next(&cur, &t, buf, len,
	    &why)) != 0) {
		if (r < 0) {
			rc = lx_fail(x, LX_BOUNCE, "5.3.5", "bad alias target",
			    why);
			break;
		}
		if ((rc = lx_work(x)) < 0)
			break;
		switch (t.kind) {
		case ALIAS_ADDRESS:
			r = x->ops->local(x->ops->arg, t.text, name,
			    sizeof(name));
			if (r < 0)
				rc = lx_fail(x, LX_BOUNCE, "5.1.3",
				    "bad address in alias", t.text);
			else
				rc = r > 0 ? lx_name(x, name) :
				    lx_add(x, LX_REMOTE, t.text, NULL);
			break;
		case ALIAS_COMMAND:
			rc = lx_add(x, LX_COMMAND, t.text, owner);
			break;
		case ALIAS_FILE:
			rc = lx_add(x, LX_FILE, t.text, owner);
			break;
		case ALIAS_INCLUDE:
			rc = lx_include(x, t.text, owner);
			break;
		}
	}
	free(buf);
	return rc;
}

/* Account base (its .forward, or its mailbox). */
static int
lx_account(struct lx *x, const char *base, const char *ext)
{
	struct lx_owner	 owner;
	const char	*why = NULL;
	char		*text = NULL;
	int		 r = 0, rc;

	if (lx_on_stack(x, base))
		return lx_add(x, LX_MAILBOX, base, NULL);
	if (lx_push(x, base) < 0)
		return -1;
	if (ext[0] != '\0')
		r = x->ops->forward(x->ops->arg, base, ext, &text, &owner,
		    &why);
	if (r == 0)
		r = x->ops->forward(x->ops->arg, base, NULL, &text, &owner,
		    &why);
	if (r < 0)
		rc = lx_fail(x, LX_DEFER, "4.3.0", "cannot read .forward",
		    why);
	else if (r > 0)
		rc = lx_value(x, text, &owner);
	else
		rc = lx_add(x, LX_MAILBOX, base, NULL);
	free(text);
	x->depth--;
	return rc;
}

/* One alias lookup: 1 and a copy of the value in *value, 0, or -1. */
static int
lx_alias(struct lx *x, const char *key, char **value)
{
	const char	*v, *why = NULL;
	int		 r;

	r = x->ops->alias(x->ops->arg, key, &v, &why);
	if (r < 0)
		return lx_fail(x, LX_DEFER, "4.3.0", "alias lookup failed",
		    why);
	if (r > 0)
		*value = xstrdup(v);
	return r;
}

/* Is there an "owner-" alias for the alias key?  1 and its name in
 * owner[0..len), 0, or -1 (the lookup failed: the expansion defers). */
static int
lx_owner_of(struct lx *x, const char *key, char *owner, size_t len)
{
	char	*value = NULL;
	int	 r;

	if ((size_t)snprintf(owner, len, "owner-%s", key) >= len)
		return 0;
	r = lx_alias(x, owner, &value);
	free(value);
	return r;
}

static int
lx_name(struct lx *x, const char *name)
{
	char		 base[LX_NAME_MAX], ext[LX_NAME_MAX], *value = NULL;
	char		 owner[LX_NAME_MAX], saved[LX_NAME_MAX];
	const char	*key = name;
	int		 r, rc;

	if (lx_work(x) < 0)
		return -1;
	if (local_expand_split(name, x->ops->delimiter, base, ext,
	    sizeof(base)) < 0)
		return lx_fail(x, LX_BOUNCE, "5.1.3", "name too long", NULL);
	if (lx_on_stack(x, name) || lx_on_stack(x, base))
		return lx_add(x, LX_MAILBOX, base, NULL);
	r = lx_alias(x, name, &value);
	if (r == 0 && ext[0] != '\0')
		r = lx_alias(x, key = base, &value);
	memcpy(saved, x->errors_to, sizeof(saved));
	if (r > 0 && (rc = lx_owner_of(x, key, owner, sizeof(owner))) != 0) {
		if (rc < 0) {
			free(value);
			return -1;
		}
		memcpy(x->errors_to, owner, sizeof(x->errors_to));
	}
	if (r < 0)
		return -1;
	if (r == 0) {
		if (strcmp(base, "postmaster") == 0 ||
		    strcmp(base, "mailer-daemon") == 0)
			return lx_name(x, "root");
		return lx_account(x, base, ext);
	}
	if ((rc = lx_push(x, name)) == 0) {
		rc = lx_value(x, value, x->ops->default_privs);
		x->depth--;
	}
	memcpy(x->errors_to, saved, sizeof(x->errors_to));
	free(value);
	return rc;
}

enum lx_status
local_expand(const struct lx_ops *ops, const char *name,
    struct lx_result *res, char *why, const char **dsn)
{
	struct lx	 x;
	char		 base[LX_NAME_MAX];

	memset(&x, 0, sizeof(x));
	x.ops = ops;
	x.res = res;
	x.why = why;
	x.st = LX_OK;
	why[0] = '\0';
	if (local_expand_split(name, ops->delimiter, base, x.ext,
	    sizeof(base)) < 0)
		lx_fail(&x, LX_BOUNCE, "5.1.3", "name too long", NULL);
	else
		lx_name(&x, name);
	while (x.nseen > 0)
		free(x.seen[--x.nseen]);
	if (x.st != LX_OK)
		lx_result_free(res);
	*dsn = x.dsn;
	return x.st;
}
