/*
 * local_dup - the duplicate filter of one message in a batch: the
 * targets made for it so far (remote addresses forwarded, commands run,
 * files and mbox files appended to), each with the outcome of its copy,
 * so that another recipient of the same message whose expansion ends at
 * the same target takes that outcome instead of a second copy (Postfix's
 * local(8) and cleanup keep one such filter per delivery).  Mailboxes
 * delivered by the batch's workers are shared by local.c's own followers
 * and are not kept here.
 *
 * A key says what the copy is, so that equal keys are equal copies: its
 * kind, the ids it is made with (command, file) or the sender it goes
 * from (remote), and the target, a remote address with its domain in
 * lower case.  The filter holds at most its limit (duplicate_filter_limit)
 * keys; beyond it a target is not remembered and is made again for each
 * recipient, as in Postfix: a duplicate, never a loss.  A limit of 0 is
 * none (Postfix's too): the filter is then bounded only by the message's
 * recipients and the bounds of their expansions.  Each copy also names
 * the recipient it was made for, so that a recipient taking copies can
 * say whose they are (local.c logs them in one line).  An open-addressed
 * hash table, grown by doubling, so a thousand recipients with a thousand
 * targets cost lookups, not a quadratic scan.  Being the message's own
 * state in the batch, it also counts the work its recipients' expansions
 * have done (local_expand's units; local.c bounds it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "deliver.h"

struct dup_entry {
	char			*key;
	struct deliver_result	 res;
	const char		*by;	/* the recipient it was made for */
};

struct local_dup {
	struct dup_entry	**slot;		/* [0..cap), NULL: free */
	size_t			 cap, n;
	size_t			 limit;
	long			 work;	/* expansions' units */
};

struct local_dup *
local_dup_new(int limit)
{
	struct local_dup	*d = xcalloc(1, sizeof(*d));

	d->limit = limit > 0 ? (size_t)limit : SIZE_MAX;	/* 0: none */
	return d;
}

void
local_dup_free(struct local_dup *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->cap; i++)
		if (d->slot[i] != NULL) {
			free(d->slot[i]->key);
			free(d->slot[i]);
		}
	free(d->slot);
	free(d);
}

static uint64_t
dup_hash(const char *key)
{
	uint64_t	 h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return h;
}

/* key's slot: its entry, or the free slot where it would go (cap > 0). */
static size_t
dup_slot(const struct local_dup *d, const char *key)
{
	size_t	 i = (size_t)dup_hash(key) & (d->cap - 1);

	while (d->slot[i] != NULL && strcmp(d->slot[i]->key, key) != 0)
		i = (i + 1) & (d->cap - 1);
	return i;
}

const struct deliver_result *
local_dup_find(const struct local_dup *d, const char *key, const char **by)
{
	size_t	 i;

	if (d == NULL || d->cap == 0)
		return NULL;
	i = dup_slot(d, key);
	if (d->slot[i] == NULL)
		return NULL;
	if (by != NULL)
		*by = d->slot[i]->by;
	return &d->slot[i]->res;
}

/* Twice the slots (at least 16), every entry placed again. */
static void
dup_grow(struct local_dup *d)
{
	struct dup_entry	**old = d->slot;
	size_t			 i, oldcap = d->cap;

	d->cap = oldcap > 0 ? oldcap * 2 : 16;
	d->slot = xcalloc(d->cap, sizeof(*d->slot));
	for (i = 0; i < oldcap; i++)
		if (old[i] != NULL)
			d->slot[dup_slot(d, old[i]->key)] = old[i];
	free(old);
}

int
local_dup_add(struct local_dup *d, const char *key,
    const struct deliver_result *res, const char *by)
{
	struct dup_entry	*e;
	size_t			 i;

	if (d == NULL)
		return 0;
	if (d->cap > 0 && d->slot[i = dup_slot(d, key)] != NULL) {
		d->slot[i]->res = *res;
		d->slot[i]->by = by;
		return 1;
	}
	if (d->n >= d->limit)
		return 0;
	if (2 * (d->n + 1) > d->cap)
		dup_grow(d);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->res = *res;
	e->by = by;
	d->slot[dup_slot(d, key)] = e;
	d->n++;
	return 1;
}

/* The remote address's key: the domain in lower case (RFC 5321 leaves
 * the local part's case to its domain). */
static int
dup_key_remote(struct buf *key, const char *sender, const char *addr)
{
	const char	*at = strrchr(addr, '@');
	size_t		 i;

	if (buf_appendf(key, "R\n%s\n", sender) < 0 ||
	    buf_append(key, addr, at != NULL ? (size_t)(at - addr) :
	    strlen(addr)) < 0)
		return -1;
	for (i = 0; at != NULL && at[i] != '\0'; i++)
		if (buf_appendf(key, "%c", at[i] >= 'A' && at[i] <= 'Z' ?
		    at[i] - 'A' + 'a' : at[i]) < 0)
			return -1;
	return 0;
}

int
local_dup_key(struct buf *key, enum lx_kind kind, const char *text,
    uid_t uid, const char *sender)
{
	buf_reset(key);
	switch (kind) {
	case LX_REMOTE:
		return dup_key_remote(key, sender != NULL ? sender : "",
		    text);
	case LX_COMMAND:
		return buf_appendf(key, "C\n%lu\n%s", (unsigned long)uid, text);
	case LX_FILE:
	case LX_MAILBOX:	/* an mbox file: the same file as a /file */
		return buf_appendf(key, "F\n%lu\n%s", (unsigned long)uid, text);
	case LX_VIRTUAL:
		break;
	}
	return -1;
}

long *
local_dup_work(struct local_dup *d)
{
	return d != NULL ? &d->work : NULL;
}
