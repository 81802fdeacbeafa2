/*
 * map - "type:name" lookup tables (see map.h).  The texthash type keeps a
 * sorted array of lower-cased keys and their values, searched with
 * bsearch; its file is checked for change (one stat) at most once a
 * second, so a busy qmgr does not stat per recipient and an edited table
 * takes effect within a second, without a reload.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "map.h"

struct map_pair {
	char	*key;
	char	*value;
	size_t	 line;		/* earlier lines win over later ones */
};

struct map_table {
	struct map_pair	*pair;
	size_t		 n;
};

struct map_ops {
	const char	*type;
	void		*(*open)(const char *name, char *err, size_t errlen);
	int		 (*lookup)(void *, const char *key, const char **value,
			    char *err, size_t errlen);
	void		 (*close)(void *);
};

struct map {
	const struct map_ops	*ops;
	char			*spec;
	void			*data;
};

static void
map_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
map_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- the table: parsing and searching ----------------------------- */

void
map_table_free(struct map_table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->pair[i].key);
		free(t->pair[i].value);
	}
	free(t->pair);
	free(t);
}

static int
map_pair_cmp(const void *a, const void *b)
{
	const struct map_pair *x = a, *y = b;
	int	 c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* One logical line "key value": the key lower-cased. */
static int
map_table_add(struct map_table *t, size_t *cap, const char *line,
    size_t lineno, const char **why)
{
	const char	*k = line, *v;
	size_t		 klen, vlen, i;
	char		*key;

	for (klen = 0; k[klen] != '\0' && !isspace((unsigned char)k[klen]);
	    klen++)
		;
	for (v = k + klen; isspace((unsigned char)*v); v++)
		;
	vlen = strlen(v);
	while (vlen > 0 && isspace((unsigned char)v[vlen - 1]))
		vlen--;
	if (vlen == 0) {
		*why = "expected \"key whitespace value\"";
		return -1;
	}
	if (klen > MAP_KEY_MAX) {
		*why = "key too long";
		return -1;
	}
	if (t->n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 64;
		t->pair = xreallocarray(t->pair, *cap, sizeof(*t->pair));
	}
	key = xstrndup(k, klen);
	for (i = 0; i < klen; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	t->pair[t->n].key = key;
	t->pair[t->n].value = xstrndup(v, vlen);
	t->pair[t->n].line = lineno;
	t->n++;
	return 0;
}

/* Sorted by key, the first line of each key kept. */
static void
map_table_sort(struct map_table *t)
{
	size_t	 i, k = 0;

	if (t->n == 0)
		return;		/* t->pair is NULL: not for qsort */
	qsort(t->pair, t->n, sizeof(*t->pair), map_pair_cmp);
	for (i = 0; i < t->n; i++) {
		if (k > 0 && strcmp(t->pair[k - 1].key, t->pair[i].key) == 0) {
			free(t->pair[i].key);
			free(t->pair[i].value);
			continue;
		}
		t->pair[k++] = t->pair[i];
	}
	t->n = k;
}

static int
map_is_blank(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && isspace((unsigned char)s[i]); i++)
		;
	return i == len || s[i] == '#';
}

/* Physical line s[0..len) (no newline): checked, then started as a
 * logical line or appended to the current one. */
static int
map_table_line(struct buf *logical, size_t *start, const char *s, size_t len,
    size_t lineno, const char **why)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((s[i] == '\0') || ((unsigned char)s[i] < 0x20 &&
		    s[i] != '\t' && !(s[i] == '\r' && i == len - 1))) {
			*why = "control character";
			return -1;
		}
	if (map_is_blank(s, len))
		return 0;
	if (isspace((unsigned char)s[0])) {
		if (logical->len == 0) {
			*why = "continuation line without a line to continue";
			return -1;
		}
		if (buf_append(logical, " ", 1) == -1)
			goto long_line;
	} else
		*start = lineno;
	for (i = 0; i < len && isspace((unsigned char)s[i]); i++)
		;
	if (buf_append(logical, s + i, len - i) == -1)
		goto long_line;
	return 1;
long_line:
	*why = "line too long";
	return -1;
}

static int
map_table_flush(struct map_table *t, size_t *cap, struct buf *logical,
    size_t start, const char **why)
{
	int	 r = 0;

	if (logical->len > 0)
		r = map_table_add(t, cap, buf_str(logical), start, why);
	buf_reset(logical);
	return r;
}

struct map_table *
map_table_parse(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct map_table	*t = xcalloc(1, sizeof(*t));
	struct buf		 logical;
	const char		*p = text, *end = text + len, *nl, *why = NULL;
	size_t			 cap = 0, lineno = 0, start = 0, at = 0;
	int			 r;

	buf_init(&logical, MAP_LINE_MAX);
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (!isspace((unsigned char)*p) && !map_is_blank(p,
		    (size_t)(nl - p)) && map_table_flush(t, &cap, &logical,
		    start, &why) == -1) {
			at = start;
			goto bad;
		}
		r = map_table_line(&logical, &start, p, (size_t)(nl - p),
		    lineno, &why);
		if (r == -1) {
			at = lineno;
			goto bad;
		}
		p = nl + 1;
	}
	if (map_table_flush(t, &cap, &logical, start, &why) == -1) {
		at = start;
		goto bad;
	}
	buf_free(&logical);
	map_table_sort(t);
	return t;
bad:
	map_err(err, errlen, "%s:%zu: %s", name, at, why);
	buf_free(&logical);
	map_table_free(t);
	return NULL;
}

const char *
map_table_get(const struct map_table *t, const char *key)
{
	size_t	 lo = 0, hi = t->n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(key, t->pair[mid].key);
		if (c == 0)
			return t->pair[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
map_table_size(const struct map_table *t)
{
	return t->n;
}

/* ---- texthash: a file read into a table --------------------------- */

struct texthash {
	char		*path;
	struct map_table *t;
	struct stat	 st;		/* of the file t came from */
	time_t		 checked;	/* last stat */
	int		 reported;	/* a bad new version was reported */
};

static int
texthash_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read path into a new table; *st is the file's. */
static struct map_table *
texthash_read(const char *path, struct stat *st, char *err, size_t errlen)
{
	struct map_table	*t;
	char			*text;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		map_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode) ||
	    st->st_size > MAP_FILE_MAX) {
		map_err(err, errlen, "%s: %s", path, S_ISREG(st->st_mode) ?
		    "too large" : "not a regular file");
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st->st_size + 1);
	while (got < (size_t)st->st_size &&
	    (n = read(fd, text + got, (size_t)st->st_size - got)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			map_err(err, errlen, "%s: %s", path, strerror(errno));
			free(text);
			close(fd);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	t = map_table_parse(path, text, got, err, errlen);
	free(text);
	return t;
}

static void *
texthash_open(const char *name, char *err, size_t errlen)
{
	struct texthash	*h = xcalloc(1, sizeof(*h));

	if (name[0] != '/') {
		map_err(err, errlen, "texthash:%s: not an absolute path", name);
		free(h);
		return NULL;
	}
	h->path = xstrdup(name);
	if ((h->t = texthash_read(name, &h->st, err, errlen)) == NULL) {
		free(h->path);
		free(h);
		return NULL;
	}
	h->checked = time(NULL);
	return h;
}

/* A changed file is read again; a bad or vanished one leaves the old
 * table in use, with one warning per change: a bad edit must not stop the
 * mail. */
static void
texthash_refresh(struct texthash *h)
{
	struct map_table	*t;
	struct stat		 st;
	time_t			 now = time(NULL);
	char			 err[MAP_ERR_MAX];

	if (now == h->checked)
		return;
	h->checked = now;
	if (stat(h->path, &st) == -1 || texthash_same(&st, &h->st))
		return;
	if ((t = texthash_read(h->path, &st, err, sizeof(err))) == NULL) {
		if (!h->reported)
			log_warn("%s; still using the table read before", err);
		h->reported = 1;
		return;
	}
	map_table_free(h->t);
	h->t = t;
	h->st = st;
	h->reported = 0;
}

static int
texthash_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	struct texthash	*h = data;
	char		 lower[MAP_KEY_MAX + 1];
	size_t		 i;

	(void)err;
	(void)errlen;
	texthash_refresh(h);
	for (i = 0; key[i] != '\0'; i++) {
		if (i == MAP_KEY_MAX)
			return 0;	/* longer than any key */
		lower[i] = (char)tolower((unsigned char)key[i]);
	}
	lower[i] = '\0';
	*value = map_table_get(h->t, lower);
	return *value != NULL;
}

static void
texthash_close(void *data)
{
	struct texthash *h = data;

	map_table_free(h->t);
	free(h->path);
	free(h);
}

static const struct map_ops map_types[] = {
	{ "texthash", texthash_open, texthash_lookup, texthash_close },
};

/* ---- the generic interface ---------------------------------------- */

struct map *
map_open(const char *spec, char *err, size_t errlen)
{
	const char	*colon = strchr(spec, ':');
	struct map	*m;
	void		*data;
	size_t		 i, tlen;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		map_err(err, errlen, "%s: expected \"type:name\"", spec);
		return NULL;
	}
	tlen = (size_t)(colon - spec);
	for (i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++) {
		if (strlen(map_types[i].type) != tlen ||
		    strncmp(map_types[i].type, spec, tlen) != 0)
			continue;
		if ((data = map_types[i].open(colon + 1, err, errlen)) == NULL)
			return NULL;
		m = xcalloc(1, sizeof(*m));
		m->ops = &map_types[i];
		m->spec = xstrdup(spec);
		m->data = data;
		return m;
	}
	map_err(err, errlen, "%s: unsupported map type", spec);
	return NULL;
}

int
map_lookup(struct map *m, const char *key, const char **value, char *err,
    size_t errlen)
{
	*value = NULL;
	return m->ops->lookup(m->data, key, value, err, errlen);
}

void
map_close(struct map *m)
{
	if (m == NULL)
		return;
	m->ops->close(m->data);
	free(m->spec);
	free(m);
}

const char *
map_name(const struct map *m)
{
	return m->spec;
}

int
map_list_open(struct map_list *l, char *const *spec, int n, char *err,
    size_t errlen)
{
	int	 i;

	l->count = 0;
	if (n > MAP_LIST_MAX) {
		map_err(err, errlen, "more than %d maps in one list",
		    MAP_LIST_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((l->map[i] = map_open(spec[i], err, errlen)) == NULL) {
			map_list_close(l);
			return -1;
		}
		l->count++;
	}
	return 0;
}

int
map_list_lookup(struct map_list *l, const char *key, const char **value,
    char *err, size_t errlen)
{
	int	 i, r;

	*value = NULL;
	for (i = 0; i < l->count; i++)
		if ((r = map_lookup(l->map[i], key, value, err, errlen)) != 0)
			return r;
	return 0;
}

void
map_list_close(struct map_list *l)
{
	int	 i;

	for (i = 0; i < l->count; i++)
		map_close(l->map[i]);
	l->count = 0;
}
