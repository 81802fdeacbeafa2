/*
 * qmgr_oldest - the oldest queue ids of a directory pass, in bounded
 * memory.  Queue ids sort by arrival (queue_id_new()), so the oldest are
 * the smallest.  During a pass every id is offered; a max-heap of at most
 * `cap' ids keeps the smallest seen so far and drops the rest, saying so,
 * so that the caller knows another pass is needed for them.  After the
 * pass the kept ids are sorted and handed out oldest first.  Memory grows
 * with what is kept (doubling, up to cap ids) and is given back by
 * qmgr_oldest_reset(), however many files the directory holds.  Pure and
 * unit-tested; nothing here fails but the allocation, which is fatal
 * (xreallocarray).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "qmgr.h"

void
qmgr_oldest_init(struct qmgr_oldest *o, int cap)
{
	memset(o, 0, sizeof(*o));
	o->cap = cap > 0 ? cap : 1;
}

static int
oldest_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
oldest_swap(struct qmgr_oldest *o, int i, int j)
{
	char tmp[QUEUE_ID_SIZE];

	memcpy(tmp, o->id[i], sizeof(tmp));
	memcpy(o->id[i], o->id[j], sizeof(tmp));
	memcpy(o->id[j], tmp, sizeof(tmp));
}

static void
oldest_up(struct qmgr_oldest *o, int i)
{
	while (i > 0 && strcmp(o->id[(i - 1) / 2], o->id[i]) < 0) {
		oldest_swap(o, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
oldest_down(struct qmgr_oldest *o, int i)
{
	int c;

	while ((c = 2 * i + 1) < o->n) {
		if (c + 1 < o->n && strcmp(o->id[c + 1], o->id[c]) > 0)
			c++;
		if (strcmp(o->id[i], o->id[c]) >= 0)
			return;
		oldest_swap(o, i, c);
		i = c;
	}
}

int
qmgr_oldest_offer(struct qmgr_oldest *o, const char *id)
{
	if (strlen(id) >= QUEUE_ID_SIZE)
		return 0;
	if (o->n < o->cap) {
		if (o->n == o->size) {
			o->size = o->size == 0 ? 64 : o->size * 2;
			if (o->size > o->cap)
				o->size = o->cap;
			o->id = xreallocarray(o->id, (size_t)o->size,
			    sizeof(*o->id));
		}
		strlcpy(o->id[o->n], id, sizeof(o->id[0]));
		oldest_up(o, o->n++);
		return 1;
	}
	o->dropped++;
	if (strcmp(id, o->id[0]) >= 0)
		return 0;	/* newer than every id kept */
	strlcpy(o->id[0], id, sizeof(o->id[0]));	/* the newest goes */
	oldest_down(o, 0);
	return 1;
}

void
qmgr_oldest_sort(struct qmgr_oldest *o)
{
	if (o->n > 1)
		qsort(o->id, (size_t)o->n, sizeof(*o->id), oldest_cmp);
	o->next = 0;
	o->sorted = 1;
}

const char *
qmgr_oldest_next(struct qmgr_oldest *o)
{
	if (!o->sorted || o->next >= o->n)
		return NULL;
	return o->id[o->next++];
}

int
qmgr_oldest_left(const struct qmgr_oldest *o)
{
	return o->sorted ? o->n - o->next : 0;
}

void
qmgr_oldest_reset(struct qmgr_oldest *o)
{
	free(o->id);
	qmgr_oldest_init(o, o->cap);
}
