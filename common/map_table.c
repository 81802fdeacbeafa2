/*
 * map_table - the in-memory table of texthash: and inline: maps and of
 * ternmap's builds (a sorted array of lower-cased keys, searched with
 * bsearch), the parser of postmap(1)'s text layout that fills it, and the
 * small file helpers every file-based type shares.  A parser error names
 * the file and line; nothing here guesses at a bad line.
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
#include "map.h"
#include "map_types.h"

struct map_pair {
	char	*key;
	char	*value;
	size_t	 line;		/* earlier lines win over later ones */
};

struct map_table {
	struct map_pair	*pair;
	size_t		 n, cap;
	size_t		 dups;		/* repeated keys dropped */
};

void
map_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- the table ----------------------------------------------------- */

struct map_table *
map_table_new(void)
{
	return xcalloc(1, sizeof(struct map_table));
}

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

void
map_table_add(struct map_table *t, const char *key, size_t klen,
    const char *value, size_t vlen, size_t line)
{
	size_t	 i;

	if (t->n == t->cap) {
		t->cap = t->cap != 0 ? t->cap * 2 : 64;
		t->pair = xreallocarray(t->pair, t->cap, sizeof(*t->pair));
	}
	t->pair[t->n].key = xstrndup(key, klen);
	for (i = 0; i < klen; i++)
		t->pair[t->n].key[i] =
		    (char)tolower((unsigned char)t->pair[t->n].key[i]);
	t->pair[t->n].value = xstrndup(value, vlen);
	t->pair[t->n].line = line;
	t->n++;
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

/* Sorted by key, the first line of each key kept. */
void
map_table_done(struct map_table *t)
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
	t->dups += t->n - k;
	t->n = k;
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

size_t
map_table_dups(const struct map_table *t)
{
	return t->dups;
}

void
map_table_pair(const struct map_table *t, size_t i, const char **key,
    const char **value)
{
	*key = t->pair[i].key;
	*value = t->pair[i].value;
}

/* ---- postmap(1)'s text layout -------------------------------------- */

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
map_text_line(struct buf *logical, size_t *start, const char *s, size_t len,
    size_t lineno, const char **why)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (s[i] == '\0') {
			*why = "NUL byte";
			return -1;
		} else if ((unsigned char)s[i] < 0x20 && s[i] != '\t' &&
		    !(s[i] == '\r' && i == len - 1)) {
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
	while (len > i && isspace((unsigned char)s[len - 1]))
		len--;
	if (buf_append(logical, s + i, len - i) == -1)
		goto long_line;
	return 1;
long_line:
	*why = "line too long";
	return -1;
}

int
map_text_lines(const char *name, const char *text, size_t len,
    int (*line)(void *, const char *, size_t, const char **), void *ctx,
    char *err, size_t errlen)
{
	struct buf	 logical;
	const char	*p = text, *end = text + len, *nl, *why = NULL;
	size_t		 lineno = 0, start = 0, at = 0;

	buf_init(&logical, MAP_LINE_MAX);
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (!isspace((unsigned char)*p) && !map_is_blank(p,
		    (size_t)(nl - p)) && logical.len > 0) {
			if (line(ctx, buf_str(&logical), start, &why) == -1) {
				at = start;
				goto bad;
			}
			buf_reset(&logical);
		}
		if (map_text_line(&logical, &start, p, (size_t)(nl - p),
		    lineno, &why) == -1) {
			at = lineno;
			goto bad;
		}
		p = nl + 1;
	}
	if (logical.len > 0 && line(ctx, buf_str(&logical), start, &why) == -1) {
		at = start;
		goto bad;
	}
	buf_free(&logical);
	return 0;
bad:
	map_err(err, errlen, "%s:%zu: %s", name, at, why);
	buf_free(&logical);
	return -1;
}

/* One logical line "key value". */
static int
map_table_line(void *ctx, const char *line, size_t lineno, const char **why)
{
	struct map_table	*t = ctx;
	const char		*v;
	size_t			 klen;

	for (klen = 0; line[klen] != '\0' &&
	    !isspace((unsigned char)line[klen]); klen++)
		;
	for (v = line + klen; isspace((unsigned char)*v); v++)
		;
	if (*v == '\0') {
		*why = "expected \"key whitespace value\"";
		return -1;
	}
	if (klen > MAP_KEY_MAX) {
		*why = "key too long";
		return -1;
	}
	map_table_add(t, line, klen, v, strlen(v), lineno);
	return 0;
}

struct map_table *
map_table_from_lines(const char *name, const char *text, size_t len,
    int (*line)(void *, const char *, size_t, const char **), char *err,
    size_t errlen)
{
	struct map_table	*t = map_table_new();

	if (map_text_lines(name, text, len, line, t, err, errlen) == -1) {
		map_table_free(t);
		return NULL;
	}
	map_table_done(t);
	return t;
}

struct map_table *
map_table_parse(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	return map_table_from_lines(name, text, len, map_table_line, err,
	    errlen);
}

/* ---- files ---------------------------------------------------------- */

static int
map_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int
map_file_changed(const char *path, const struct stat *st, time_t *checked)
{
	struct stat	 now_st;
	time_t		 now = time(NULL);

	if (now == *checked)
		return 0;
	*checked = now;
	if (stat(path, &now_st) == -1)
		return 0;
	return !map_same_file(&now_st, st);
}

int
map_file_recheck(const char *path, const struct stat *st,
    const struct stat *bad, struct stat *now)
{
	if (stat(path, now) == -1)
		return -1;
	if (map_same_file(now, st))
		return 0;
	return map_same_file(now, bad) ? -1 : 1;
}

char *
map_file_read(const char *path, size_t *len, struct stat *st, char *err,
    size_t errlen)
{
	char	*text;
	size_t	 got = 0;
	ssize_t	 n;
	int	 fd;

	/* O_NONBLOCK: a FIFO in place of the file must not hang the open
	 * (it is refused below); a regular file's reads ignore the flag. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		map_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, st) == -1) {
		map_err(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st->st_mode) || st->st_size > MAP_FILE_MAX) {
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
	text[got] = '\0';
	*len = got;
	return text;
}
