/*
 * map_texthash - the texthash: type: a file in postmap(1)'s input format
 * read into memory (map_table), looked up with bsearch.  Its file is
 * checked for change (one stat) at most once a second (and at once before
 * a "not found": map.c), so a busy daemon
 * does not stat per lookup and an edited table takes effect within a
 * second, without a reload; a bad or unreadable new version leaves the
 * old table in use, with one warning per change.
 */
#include <sys/stat.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "map.h"
#include "map_types.h"

struct texthash {
	char		*path;
	struct map_table *t;
	struct stat	 st;		/* of the file t came from */
	struct stat	 bad;		/* of a version that failed to load */
	time_t		 checked;	/* last stat */
	int		 reported;	/* a bad new version was reported */
};

static struct map_table *
texthash_read(const char *path, struct stat *st, char *err, size_t errlen)
{
	struct map_table	*t;
	char			*text;
	size_t			 len;

	if ((text = map_file_read(path, &len, st, err, errlen)) == NULL)
		return NULL;
	t = map_table_parse(path, text, len, err, errlen);
	free(text);
	return t;
}

static int
texthash_open(const char *name, void **data, char *err, size_t errlen)
{
	struct texthash	*h;
	struct map_table *t;
	struct stat	 st;

	if (name[0] != '/') {
		map_err(err, errlen, "texthash:%s: not an absolute path", name);
		return MAP_OPEN_BAD;
	}
	if ((t = texthash_read(name, &st, err, errlen)) == NULL)
		return MAP_OPEN_LATER;
	h = xcalloc(1, sizeof(*h));
	h->path = xstrdup(name);
	h->t = t;
	h->st = st;
	h->checked = time(NULL);
	*data = h;
	return 0;
}

/* 1 if a new version of the file replaced the table. */
static int
texthash_refresh(struct texthash *h)
{
	struct map_table	*t;
	struct stat		 st;
	char			 err[MAP_ERR_MAX];

	if (!map_file_changed(h->path, &h->st, &h->checked))
		return 0;
	if ((t = texthash_read(h->path, &st, err, sizeof(err))) == NULL) {
		if (!h->reported)
			log_warn("%s; still using the table read before", err);
		h->reported = 1;
		return 0;
	}
	map_table_free(h->t);
	h->t = t;
	h->st = st;
	h->reported = 0;
	return 1;
}

static int
texthash_recheck(void *data)
{
	struct texthash	*h = data;
	struct stat	 now;
	int		 r;

	if ((r = map_file_recheck(h->path, &h->st, &h->bad, &now)) != 1)
		return r;
	h->checked = 0;
	if (texthash_refresh(h) == 1)
		return 1;
	h->bad = now;
	return -1;
}

static int
texthash_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	struct texthash	*h = data;

	(void)err;
	(void)errlen;
	(void)texthash_refresh(h);
	*value = map_table_get(h->t, key);
	return *value != NULL ? MAP_FOUND : MAP_NOTFOUND;
}

static void
texthash_close(void *data)
{
	struct texthash *h = data;

	map_table_free(h->t);
	free(h->path);
	free(h);
}

const struct map_ops map_texthash_ops = {
	"texthash", texthash_open, texthash_lookup, texthash_close,
	texthash_recheck
};
