/*
 * local_targets - a recipient's targets in a growable, bounded list
 * (local_targets.h).  The array doubles as targets come, never beyond the
 * list's bound; equal targets are found through a hash index beside it
 * (open addressing, linear probing), which is rebuilt at twice the size
 * whenever it would be more than half full, so it stays within four slots
 * per target of the bound.  Equality is what it was with a search of the
 * list: same kind and text, and the same owner uid when both targets
 * have an owner; the owner is therefore left out of the hash, and a probe
 * steps over an equal text with another owner.  Empty strings are
 * shared, not allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "siphash.h"
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

/* Keyed (siphash.c, the process's key): a sender who cannot guess the
 * key cannot choose targets that collide, so the index stays linear. */
uint32_t
lx_target_hash(enum lx_kind kind, const char *text)
{
	struct siphash	 h;
	unsigned char	 k = (unsigned char)kind;

	siphash_init(&h, siphash_process_key());
	siphash_update(&h, &k, 1);
	siphash_update(&h, text, strlen(text));
	return (uint32_t)siphash_final(&h);
}

static int
lx_target_equal(const struct lx_target *t, enum lx_kind kind,
    const char *text, const struct lx_owner *owner)
{
	return t->kind == kind && strcmp(t->text, text) == 0 &&
	    (owner == NULL || t->owner == NULL || t->owner->uid == owner->uid);
}

static int
lx_result_has(const struct lx_result *res, uint32_t h, enum lx_kind kind,
    const char *text, const struct lx_owner *owner)
{
	const struct lx_slot	*s;
	int			 i, mask = res->nslot - 1;

	if (res->nslot == 0)
		return 0;
	for (i = (int)(h & (uint32_t)mask); ; i = (i + 1) & mask) {
		s = &res->slot[i];
		if (s->at == 0)
			return 0;	/* never full: at most half */
		if (s->hash == h && lx_target_equal(&res->target[s->at - 1],
		    kind, text, owner))
			return 1;
	}
}

static void
lx_index_put(struct lx_slot *slot, int nslot, uint32_t h, int at)
{
	int	 i, mask = nslot - 1;

	for (i = (int)(h & (uint32_t)mask); slot[i].at != 0;
	    i = (i + 1) & mask)
		;
	slot[i].hash = h;
	slot[i].at = at;
}

/* Index target[n] (hash h), the index grown first if it would be more
 * than half full. */
static void
lx_index_add(struct lx_result *res, uint32_t h)
{
	struct lx_slot	*slot;
	int		 i, nslot;

	if (2 * (res->n + 1) > res->nslot) {
		nslot = res->nslot > 0 ? res->nslot * 2 : 16;
		slot = xcalloc((size_t)nslot, sizeof(*slot));
		for (i = 0; i < res->nslot; i++)
			if (res->slot[i].at != 0)
				lx_index_put(slot, nslot, res->slot[i].hash,
				    res->slot[i].at);
		free(res->slot);
		res->slot = slot;
		res->nslot = nslot;
	}
	lx_index_put(res->slot, res->nslot, h, res->n + 1);
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
	uint32_t		 h = lx_target_hash(kind, text);

	if (lx_result_has(res, h, kind, text, owner))
		return 0;
	if (lx_result_grow(res) < 0)
		return -1;
	lx_index_add(res, h);
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
	uint32_t		 h;
	int			 i, rc = 0;

	for (i = 0; i < from->n; i++) {
		t = &from->target[i];
		h = lx_target_hash(t->kind, t->text);
		if (rc < 0 || lx_result_has(to, h, t->kind, t->text,
		    t->owner) || (rc = lx_result_grow(to)) < 0) {
			lx_target_free(t);
			continue;
		}
		lx_index_add(to, h);
		to->target[to->n++] = *t;	/* to has its strings now */
	}
	free(from->target);
	free(from->slot);
	from->target = NULL;
	from->slot = NULL;
	from->n = from->cap = from->nslot = 0;
	return rc;
}

void
lx_result_free(struct lx_result *res)
{
	int	 i;

	for (i = 0; i < res->n; i++)
		lx_target_free(&res->target[i]);
	free(res->target);
	free(res->slot);
	res->target = NULL;
	res->slot = NULL;
	res->n = res->cap = res->nslot = 0;
}
