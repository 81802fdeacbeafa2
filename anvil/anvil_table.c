/*
 * anvil_table - sessions and session rate per ident, in a red-black tree
 * keyed by the ident.  Everything here is a function of its arguments and
 * the time passed in, so the windows, limits and expiry are tested without
 * a clock.  The rate is Postfix anvil's: a fixed time unit that starts at
 * an ident's first session and restarts at the first session after it has
 * passed.  An entry lives while it has sessions or its unit is running;
 * the table holds at most max entries and, when full, first drops the
 * expired ones, then the one without sessions whose unit began first
 * (forgetting its rate: better than counting no new ident at all), and
 * refuses (the caller then counts nothing) only when every entry has
 * sessions, which takes that many sessions really open.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anvil.h"
#include "buf.h"

static int
anvil_entry_cmp(const struct anvil_entry *a, const struct anvil_entry *b)
{
	return strcmp(a->ident, b->ident);
}

/* libbsd's tree.h marks the generated functions __unused, which only BSD's
 * cdefs.h defines. */
#ifndef __unused
#define __unused	__attribute__((unused))
#endif
RB_GENERATE_STATIC(anvil_tree, anvil_entry, node, anvil_entry_cmp)

void
anvil_table_init(struct anvil_table *t, int max, long long unit_ms)
{
	RB_INIT(&t->tree);
	t->n = 0;
	t->max = max;
	t->unit_ms = unit_ms > 0 ? unit_ms : 1;
}

static void
anvil_table_remove(struct anvil_table *t, struct anvil_entry *e)
{
	RB_REMOVE(anvil_tree, &t->tree, e);
	t->n--;
	free(e->ident);
	free(e);
}

void
anvil_table_free(struct anvil_table *t)
{
	struct anvil_entry	*e;

	while ((e = RB_MIN(anvil_tree, &t->tree)) != NULL)
		anvil_table_remove(t, e);
}

static struct anvil_entry *
anvil_table_find(struct anvil_table *t, const char *ident)
{
	struct anvil_entry	 key;

	key.ident = (char *)(uintptr_t)ident;
	return RB_FIND(anvil_tree, &t->tree, &key);
}

static int
anvil_unit_over(const struct anvil_table *t, const struct anvil_entry *e,
    long long now)
{
	return now - e->unit_start >= t->unit_ms || now < e->unit_start;
}

/* Make room by forgetting the oldest rate of an ident without sessions. */
static int
anvil_table_evict(struct anvil_table *t)
{
	struct anvil_entry	*e, *old = NULL;

	RB_FOREACH(e, anvil_tree, &t->tree)
		if (e->count == 0 &&
		    (old == NULL || e->unit_start < old->unit_start))
			old = e;
	if (old == NULL)
		return 0;
	anvil_table_remove(t, old);
	return 1;
}

int
anvil_table_connect(struct anvil_table *t, const char *ident, long long now,
    int *count, int *rate)
{
	struct anvil_entry	*e;

	if ((e = anvil_table_find(t, ident)) == NULL) {
		if (t->n >= t->max && anvil_table_expire(t, now) == 0 &&
		    anvil_table_evict(t) == 0)
			return -1;
		e = xcalloc(1, sizeof(*e));
		e->ident = xstrdup(ident);
		e->unit_start = now;
		RB_INSERT(anvil_tree, &t->tree, e);
		t->n++;
	} else if (anvil_unit_over(t, e, now)) {
		e->unit_start = now;
		e->rate = 0;
	}
	if (e->count < INT_MAX)
		e->count++;
	if (e->rate < INT_MAX)
		e->rate++;
	*count = e->count;
	*rate = e->rate;
	return 0;
}

int
anvil_table_disconnect(struct anvil_table *t, const char *ident,
    long long now, int *count)
{
	struct anvil_entry	*e;

	if ((e = anvil_table_find(t, ident)) == NULL || e->count == 0)
		return -1;
	*count = --e->count;
	if (e->count == 0 && anvil_unit_over(t, e, now))
		anvil_table_remove(t, e);
	return 0;
}

int
anvil_table_expire(struct anvil_table *t, long long now)
{
	struct anvil_entry	*e, *next;
	int			 gone = 0;

	RB_FOREACH_SAFE(e, anvil_tree, &t->tree, next) {
		if (e->count == 0 && anvil_unit_over(t, e, now)) {
			anvil_table_remove(t, e);
			gone++;
		}
	}
	return gone;
}

void
anvil_table_release(struct anvil_table *t, struct anvil_table *sub,
    long long now)
{
	struct anvil_entry	*s, *e;

	while ((s = RB_MIN(anvil_tree, &sub->tree)) != NULL) {
		if ((e = anvil_table_find(t, s->ident)) != NULL) {
			e->count = e->count > s->count ? e->count - s->count : 0;
			if (e->count == 0 && anvil_unit_over(t, e, now))
				anvil_table_remove(t, e);
		}
		anvil_table_remove(sub, s);
	}
}
