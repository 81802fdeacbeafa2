/*
 * map - "type:name" lookup tables (see map.h): the type table, keys folded
 * and bounded once for every type, a table that cannot be opened yet kept
 * as a map whose lookups fail temporarily (tried again at most once a
 * second, as Postfix's surrogate tables), a "not found" checked against
 * the file as it is now, and lists of maps.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "map.h"
#include "map_types.h"

static const struct map_ops *const map_types[] = {
	&map_texthash_ops, &map_inline_ops, &map_hash_ops, &map_btree_ops,
	&map_pgsql_ops, &map_static_ops,
};

struct map {
	const struct map_ops	*ops;
	char			*spec;
	const char		*name;		/* in spec, after "type:" */
	void			*data;		/* NULL: not open (yet) */
	time_t			 tried;		/* last open attempt */
	char			 why[MAP_ERR_MAX]; /* why not open */
};

static const struct map_ops *
map_type(const char *spec, size_t tlen)
{
	size_t	 i;

	for (i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (strlen(map_types[i]->type) == tlen &&
		    strncmp(map_types[i]->type, spec, tlen) == 0)
			return map_types[i];
	return NULL;
}

struct map *
map_open(const char *spec, char *err, size_t errlen)
{
	const char		*colon = strchr(spec, ':');
	const struct map_ops	*ops;
	struct map		*m;
	int			 r;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		map_err(err, errlen, "%s: expected \"type:name\"", spec);
		return NULL;
	}
	if ((ops = map_type(spec, (size_t)(colon - spec))) == NULL) {
		map_err(err, errlen, "%s: unsupported map type", spec);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->ops = ops;
	m->spec = xstrdup(spec);
	m->name = m->spec + (colon + 1 - spec);
	m->tried = time(NULL);
	r = ops->open(m->name, &m->data, m->why, sizeof(m->why));
	if (r == MAP_OPEN_BAD) {
		map_err(err, errlen, "%s", m->why);
		free(m->spec);
		free(m);
		return NULL;
	}
	if (r != 0)
		m->data = NULL;
	return m;
}

/* A map not open yet: try again, at most once a second. */
static int
map_reopen(struct map *m, char *err, size_t errlen)
{
	time_t	 now = time(NULL);

	if (now != m->tried) {
		m->tried = now;
		if (m->ops->open(m->name, &m->data, m->why,
		    sizeof(m->why)) != 0)
			m->data = NULL;
	}
	if (m->data != NULL)
		return 0;
	map_err(err, errlen, "%s", m->why);
	return -1;
}

int
map_lookup(struct map *m, const char *key, const char **value, char *err,
    size_t errlen)
{
	char	 lower[MAP_KEY_MAX + 1];
	size_t	 i;
	int	 r;

	*value = NULL;
	for (i = 0; key[i] != '\0'; i++) {
		if (i == MAP_KEY_MAX)
			return MAP_NOTFOUND;	/* longer than any key */
		lower[i] = (char)tolower((unsigned char)key[i]);
	}
	lower[i] = '\0';
	if (m->data == NULL && map_reopen(m, err, errlen) == -1)
		return MAP_TEMPFAIL;
	r = m->ops->lookup(m->data, lower, value, err, errlen);
	/* "Not found" is acted on for good (550, a bounce 5.1.1), so it is
	 * never the answer of a version older than the file: a table that
	 * ternmap just rebuilt must not bounce what smtpd accepted. */
	if (r != MAP_NOTFOUND || m->ops->recheck == NULL)
		return r;
	switch (m->ops->recheck(m->data)) {
	case 1:
		r = m->ops->lookup(m->data, lower, value, err, errlen);
		break;
	case -1:
		/* The file is gone or its new version unreadable: the old
		 * version's "not found" may be wrong, so it is no answer. */
		map_err(err, errlen, "%s: table changed and cannot be read",
		    m->spec);
		r = MAP_TEMPFAIL;
		break;
	}
	return r;
}

void
map_close(struct map *m)
{
	if (m == NULL)
		return;
	if (m->data != NULL)
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
	return MAP_NOTFOUND;
}

void
map_list_close(struct map_list *l)
{
	int	 i;

	for (i = 0; i < l->count; i++)
		map_close(l->map[i]);
	l->count = 0;
}
