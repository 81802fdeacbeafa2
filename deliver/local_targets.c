/*
 * local_targets - a recipient's targets in a growable, bounded list
 * (local_targets.h).  The array doubles as targets come, never beyond the
 * list's bound; equal targets are found by a linear search, which the
 * bound keeps cheap next to the delivery of each target.  Empty strings
 * are shared, not allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "local_targets.h"

static char	 lx_empty[1];

static char *
lx_strdup(const char *s)
{
	return s == NULL || s[0] == '\0' ? lx_empty : xstrdup(s);
}

static void
lx_strfree(char *s)
{
	if (s != lx_empty)
		free(s);
}

static void
lx_target_free(struct lx_target *t)
{
	free(t->text);
	lx_strfree(t->ext);
	lx_strfree(t->errors_to);
	free(t->owner);
	memset(t, 0, sizeof(*t));
}

void
lx_result_init(struct lx_result *res, int max)
{
	memset(res, 0, sizeof(*res));
	res->max = max > 0 ? max : 1;
}

static int
lx_result_has(const struct lx_result *res, enum lx_kind kind,
    const char *text, const struct lx_owner *owner)
{
	const struct lx_target	*t;
	int			 i;

	for (i = 0; i < res->n; i++) {
		t = &res->target[i];
		if (t->kind == kind && strcmp(t->text, text) == 0 &&
		    (owner == NULL || t->owner == NULL ||
		    t->owner->uid == owner->uid))
			return 1;
	}
	return 0;
}

/* Room for one more: 0, or -1 at the bound. */
static int
lx_result_grow(struct lx_result *res)
{
	int	 cap;

	if (res->n >= res->max)
		return -1;
	if (res->n < res->cap)
		return 0;
	cap = res->cap > 0 ? res->cap * 2 : 8;
	if (cap > res->max)
		cap = res->max;
	res->target = xreallocarray(res->target, (size_t)cap,
	    sizeof(*res->target));
	res->cap = cap;
	return 0;
}

int
lx_result_add(struct lx_result *res, enum lx_kind kind, const char *text,
    const char *ext, const char *errors_to, const struct lx_owner *owner)
{
	struct lx_target	*t;

	if (lx_result_has(res, kind, text, owner))
		return 0;
	if (lx_result_grow(res) < 0)
		return -1;
	t = &res->target[res->n++];
	t->kind = kind;
	t->text = xstrdup(text);
	t->ext = lx_strdup(ext);
	t->errors_to = lx_strdup(errors_to);
	t->owner = NULL;
	if (owner != NULL) {
		t->owner = xmalloc(sizeof(*t->owner));
		*t->owner = *owner;
	}
	return 1;
}

int
lx_result_merge(struct lx_result *to, struct lx_result *from)
{
	struct lx_target	*t;
	int			 i, rc = 0;

	for (i = 0; i < from->n; i++) {
		t = &from->target[i];
		if (rc < 0 || lx_result_has(to, t->kind, t->text, t->owner) ||
		    (rc = lx_result_grow(to)) < 0) {
			lx_target_free(t);
			continue;
		}
		to->target[to->n++] = *t;	/* to has its strings now */
	}
	free(from->target);
	from->target = NULL;
	from->n = from->cap = 0;
	return rc;
}

void
lx_result_free(struct lx_result *res)
{
	int	 i;

	for (i = 0; i < res->n; i++)
		lx_target_free(&res->target[i]);
	free(res->target);
	res->target = NULL;
	res->n = res->cap = 0;
}
