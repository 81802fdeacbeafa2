/*
 * fuzz_local_expand - alias and .forward expansion (deliver/local_expand.c)
 * on hostile values, and the Delivered-To: loop check (local_loop.c) on a
 * hostile header.  Every alias, every .forward and every include file of
 * the fake world holds the input, so the expansion recurses into it as
 * deep as it goes.  Invariants: the answer is one of the three statuses;
 * a failure leaves no targets and names a DSN of its class; success holds
 * at most the list's bound of targets, each with non-empty text, none twice;
 * the loop check answers the same twice.
 */
#include <stdlib.h>
#include <string.h>

#include "deliver/deliver.h"
#include "fuzz.h"

#define FUZZ_TARGETS_MAX	100	/* the list's bound, as deliver's
					   duplicate_filter_limit */

struct world {
	char	*text;
};

static int
w_alias(void *arg, const char *key, const char **value, const char **why)
{
	struct world *w = arg;

	(void)why;
	/* Names starting with 'u' are accounts: the expansion ends. */
	if (key[0] == 'u')
		return 0;
	*value = w->text;
	return 1;
}

static int
w_file(struct world *w, char **text, struct lx_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->uid = 1000;
	*text = strdup(w->text);
	return *text != NULL ? 1 : -1;
}

static int
w_forward(void *arg, const char *name, const char *ext, char **text,
    struct lx_owner *o, size_t *size, const char **why)
{
	struct world *w = arg;

	(void)ext;
	*why = "out of memory";
	*size = strlen(w->text);
	return name[1] == 'f' ? w_file(arg, text, o) : 0;
}

/* Every include file holds the input; its inode is its path's length,
 * so some spellings are one file and some are not. */
static int
w_include(void *arg, const char *path, const struct lx_owner *as,
    struct lx_file *f, const char **why)
{
	(void)arg;
	(void)as;
	(void)why;
	memset(f, 0, sizeof(*f));
	f->dev = 1;
	f->ino = (ino_t)strlen(path);
	f->owner.uid = 1000;
	f->fd = 3;
	return 1;
}

static int
w_include_read(void *arg, struct lx_file *f, char **text, const char **why)
{
	struct world *w = arg;

	FUZZ_ASSERT(f->fd == 3);
	f->fd = -1;
	if (text == NULL)
		return 1;
	*why = "out of memory";
	f->size = strlen(w->text);
	return w_file(arg, text, &f->owner);
}

static int
w_local(void *arg, const char *addr, char *name, size_t len)
{
	const char *at = strchr(addr, '@');

	(void)arg;
	if (at != NULL && strcmp(at, "@here") != 0)
		return 0;
	if ((at != NULL ? (size_t)(at - addr) : strlen(addr)) >= len ||
	    addr[0] == '@')
		return -1;
	memcpy(name, addr, at != NULL ? (size_t)(at - addr) : strlen(addr));
	name[at != NULL ? (size_t)(at - addr) : strlen(addr)] = '\0';
	return 1;
}

static const struct lx_owner nobody = { 65534, 65534, "nobody", "/" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world		 w;
	struct lx_ops		 ops = { w_alias, w_forward, w_include,
	    w_include_read, w_local, NULL, &nobody, '+', NULL, NULL };
	struct lx_result	*res;
	char			 why[LX_WHY_MAX];
	const char		*dsn = NULL;
	enum lx_status		 st;
	int			 i, k;

	if (size > 4096)
		return 0;
	FUZZ_ASSERT(local_loop_seen((const char *)data, size, "a@b") ==
	    local_loop_seen((const char *)data, size, "a@b"));
	if ((w.text = malloc(size + 1)) == NULL ||
	    (res = malloc(sizeof(*res))) == NULL) {
		free(w.text);
		return 0;
	}
	memcpy(w.text, data, size);
	w.text[size] = '\0';
	ops.arg = &w;
	lx_result_init(res, FUZZ_TARGETS_MAX);
	st = local_expand(&ops, "list+x", res, why, &dsn);
	FUZZ_ASSERT(st == LX_OK || st == LX_DEFER || st == LX_BOUNCE);
	if (st != LX_OK) {
		FUZZ_ASSERT(res->n == 0 && dsn != NULL);
		FUZZ_ASSERT(dsn[0] == (st == LX_DEFER ? '4' : '5'));
	}
	FUZZ_ASSERT(res->n >= 0 && res->n <= FUZZ_TARGETS_MAX);
	for (i = 0; i < res->n; i++) {
		FUZZ_ASSERT(res->target[i].text[0] != '\0');
		for (k = 0; k < i; k++)
			FUZZ_ASSERT(res->target[k].kind != res->target[i].kind ||
			    strcmp(res->target[k].text, res->target[i].text) != 0 ||
			    (res->target[k].owner != NULL &&
			    res->target[i].owner != NULL &&
			    res->target[k].owner->uid != res->target[i].owner->uid));
	}
	lx_result_free(res);
	free(res);
	free(w.text);
	return 0;
}
