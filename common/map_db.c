/*
 * map_db - the hash: and btree: types on Berkeley DB 5.3 (map.h), and the
 * writers of their files (map_db.h).  "hash:/etc/aliases" is the file
 * /etc/aliases.db.  A reader opens it read-only without a DB environment
 * or locks (writers only ever rename a finished file into place), stats it
 * at most once a second (and at once before a "not found": map.c) and
 * opens the new file when it has changed; a new
 * file that does not open leaves the old handle in use (it still reads the
 * old, complete file) with one warning.  The file is read, never mapped
 * into memory (DB_NOMMAP): a file some other tool rewrites in place would
 * otherwise kill the reading daemon with SIGBUS.  A file shorter than
 * its header says is refused as broken (Berkeley DB would answer "not
 * found" for the keys on the missing pages).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "map.h"
#include "map_db.h"
#include "map_types.h"

#define MAP_DB_CACHE_MAX	(64 * 1024 * 1024)	/* bytes of cache a map uses */

struct mapdb {
	const char	*type;		/* "hash" or "btree" */
	DBTYPE		 dbtype;
	char		*path;		/* the .db file */
	DB		*db;
	struct stat	 st;		/* of the file db reads */
	struct stat	 bad;		/* of a version that failed to open */
	time_t		 checked;
	int		 reported;
	char		*value;		/* the last value found */
};

static void
map_db_quiet(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	(void)msg;	/* errors are reported from the return codes */
}

static DBTYPE
map_db_dbtype(const char *type)
{
	return strcmp(type, "btree") == 0 ? DB_BTREE : DB_HASH;
}

/* A cache that holds the whole file (up to MAP_DB_CACHE_MAX): the file is
 * read with pread (DB_NOMMAP), and a hash table's lookups touch pages all
 * over it, so a cache smaller than the file costs a system call per miss
 * (with the default 256 KiB, hash: ran at a fifth of btree:'s rate on a
 * 10,000-entry table). */
static void
map_db_cache(DB *db, const char *path)
{
	struct stat	 st;
	off_t		 want;

	if (stat(path, &st) == -1)
		return;
	want = st.st_size + st.st_size / 4 + 64 * 1024;
	if (want > MAP_DB_CACHE_MAX)
		want = MAP_DB_CACHE_MAX;
	if (want > 256 * 1024)
		(void)db->set_cachesize(db, 0, (u_int32_t)want, 1);
}

/* Does the file hold every page its meta page counts?  A hash file cut
 * short (a copy that stopped, a full disk) otherwise opens and answers
 * "not found" for every key on the missing pages. */
static int
map_db_whole(DB *db, DBTYPE dbtype, const struct stat *st)
{
	DB_HASH_STAT	*hs;
	DB_BTREE_STAT	*bs;
	off_t		 need;

	if (dbtype == DB_HASH) {
		if (db->stat(db, NULL, &hs, DB_FAST_STAT) != 0)
			return 0;
		need = (off_t)hs->hash_pagecnt * hs->hash_pagesize;
		free(hs);
	} else {
		if (db->stat(db, NULL, &bs, DB_FAST_STAT) != 0)
			return 0;
		need = (off_t)bs->bt_pagecnt * bs->bt_pagesize;
		free(bs);
	}
	return st->st_size >= need;
}

/* Open path read-only: the handle and *st, or NULL with err.  Only a
 * regular file: a FIFO put in its place would block the daemon in open. */
static DB *
map_db_handle(const char *type, const char *path, struct stat *st, char *err,
    size_t errlen)
{
	DB	*db;
	int	 r, fd;

	if (stat(path, st) == 0 && !S_ISREG(st->st_mode)) {
		map_err(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	if ((r = db_create(&db, NULL, 0)) != 0) {
		map_err(err, errlen, "%s:%s: %s", type, path, db_strerror(r));
		return NULL;
	}
	db->set_errcall(db, map_db_quiet);
	map_db_cache(db, path);
	if ((r = db->open(db, NULL, path, NULL, map_db_dbtype(type),
	    DB_RDONLY | DB_NOMMAP, 0)) != 0 || (r = db->fd(db, &fd)) != 0) {
		map_err(err, errlen, "%s: %s", path, r == EINVAL ?
		    "not a Berkeley DB file of this type" : db_strerror(r));
		db->close(db, 0);
		return NULL;
	}
	if (fstat(fd, st) == -1) {
		map_err(err, errlen, "%s: %s", path, strerror(errno));
		db->close(db, 0);
		return NULL;
	}
	if (!map_db_whole(db, map_db_dbtype(type), st)) {
		map_err(err, errlen, "%s: truncated (fewer pages than its "
		    "header counts)", path);
		db->close(db, 0);
		return NULL;
	}
	return db;
}

static int
map_db_open(const char *type, const char *name, void **data, char *err,
    size_t errlen)
{
	struct mapdb	*m;
	struct stat	 st;
	char		*path;
	DB		*db;

	if (name[0] != '/') {
		map_err(err, errlen, "%s:%s: not an absolute path", type, name);
		return MAP_OPEN_BAD;
	}
	if (strlen(name) > 4096) {
		map_err(err, errlen, "%s: path too long", type);
		return MAP_OPEN_BAD;
	}
	path = xmalloc(strlen(name) + 4);
	snprintf(path, strlen(name) + 4, "%s.db", name);
	if ((db = map_db_handle(type, path, &st, err, errlen)) == NULL) {
		free(path);
		return MAP_OPEN_LATER;
	}
	m = xcalloc(1, sizeof(*m));
	m->type = type;
	m->dbtype = map_db_dbtype(type);
	m->path = path;
	m->db = db;
	m->st = st;
	m->checked = time(NULL);
	*data = m;
	return 0;
}

static int
map_hash_open(const char *name, void **data, char *err, size_t errlen)
{
	return map_db_open("hash", name, data, err, errlen);
}

static int
map_btree_open(const char *name, void **data, char *err, size_t errlen)
{
	return map_db_open("btree", name, data, err, errlen);
}

/* 1 if a new version of the file replaced the handle. */
static int
map_db_refresh(struct mapdb *m)
{
	struct stat	 st;
	char		 err[MAP_ERR_MAX];
	DB		*db;

	if (!map_file_changed(m->path, &m->st, &m->checked))
		return 0;
	if ((db = map_db_handle(m->type, m->path, &st, err,
	    sizeof(err))) == NULL) {
		if (!m->reported)
			log_warn("%s; still using the table opened before",
			    err);
		m->reported = 1;
		return 0;
	}
	m->db->close(m->db, 0);
	m->db = db;
	m->st = st;
	m->reported = 0;
	return 1;
}

static int
map_db_recheck(void *data)
{
	struct mapdb	*m = data;
	struct stat	 now;
	int		 r;

	if ((r = map_file_recheck(m->path, &m->st, &m->bad, &now)) != 1)
		return r;
	m->checked = 0;
	if (map_db_refresh(m) == 1)
		return 1;
	m->bad = now;
	return -1;
}

static int
map_db_lookup(void *data, const char *key, const char **value, char *err,
    size_t errlen)
{
	struct mapdb	*m = data;
	DBT		 k, v;
	size_t		 len;
	int		 r;

	(void)map_db_refresh(m);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key) + 1;
	if ((r = m->db->get(m->db, NULL, &k, &v, 0)) == DB_NOTFOUND) {
		k.size--;
		r = m->db->get(m->db, NULL, &k, &v, 0);
	}
	if (r == DB_NOTFOUND)
		return MAP_NOTFOUND;
	if (r != 0) {
		map_err(err, errlen, "%s: %s", m->path, db_strerror(r));
		return MAP_TEMPFAIL;
	}
	len = v.size;
	if (len > 0 && ((char *)v.data)[len - 1] == '\0')
		len--;
	if (len > MAP_VALUE_MAX || memchr(v.data, '\0', len) != NULL) {
		map_err(err, errlen, "%s: value of \"%.64s\" %s", m->path, key,
		    len > MAP_VALUE_MAX ? "too long" : "holds a NUL byte");
		return MAP_TEMPFAIL;
	}
	free(m->value);
	m->value = xstrndup(v.data, len);
	*value = m->value;
	return MAP_FOUND;
}

static void
map_db_close(void *data)
{
	struct mapdb	*m = data;

	m->db->close(m->db, 0);
	free(m->value);
	free(m->path);
	free(m);
}

const struct map_ops map_hash_ops = {
	"hash", map_hash_open, map_db_lookup, map_db_close, map_db_recheck
};
const struct map_ops map_btree_ops = {
	"btree", map_btree_open, map_db_lookup, map_db_close, map_db_recheck
};

/* ---- writers ------------------------------------------------------- */

int
map_db_spec(const char *spec, const char **path)
{
	if (strncmp(spec, "hash:", 5) == 0)
		*path = spec + 5;
	else if (strncmp(spec, "btree:", 6) == 0)
		*path = spec + 6;
	else
		return 0;
	return 1;
}

/* A new database: created in a fresh temporary file beside dbpath. */
struct map_db_new {
	DB	*db;
	char	 tmp[4200];
};

static int
map_db_create(struct map_db_new *n, const char *type, const char *dbpath,
    char *err, size_t errlen)
{
	int	 fd, r;

	n->db = NULL;
	if ((size_t)snprintf(n->tmp, sizeof(n->tmp), "%s.XXXXXX", dbpath) >=
	    sizeof(n->tmp)) {
		map_err(err, errlen, "%s: path too long", dbpath);
		return -1;
	}
	/* A free name; DB_EXCL then refuses a file someone made since. */
	if ((fd = mkstemp(n->tmp)) == -1) {
		map_err(err, errlen, "%s: %s", n->tmp, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(n->tmp);
	if ((r = db_create(&n->db, NULL, 0)) == 0) {
		n->db->set_errcall(n->db, map_db_quiet);
		r = n->db->open(n->db, NULL, n->tmp, NULL, map_db_dbtype(type),
		    DB_CREATE | DB_EXCL, 0600);
	}
	if (r != 0) {
		map_err(err, errlen, "%s: %s", n->tmp, db_strerror(r));
		if (n->db != NULL)
			n->db->close(n->db, 0);
		n->db = NULL;
		unlink(n->tmp);
		return -1;
	}
	return 0;
}

static int
map_db_put(struct map_db_new *n, const void *key, size_t klen,
    const void *value, size_t vlen, char *err, size_t errlen)
{
	DBT	 k, v;
	int	 r;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)klen;
	v.data = (void *)value;
	v.size = (u_int32_t)vlen;
	if ((r = n->db->put(n->db, NULL, &k, &v, 0)) != 0) {
		map_err(err, errlen, "%s: %s", n->tmp, db_strerror(r));
		return -1;
	}
	return 0;
}

static int
map_db_put_table(struct map_db_new *n, const struct map_table *t, char *err,
    size_t errlen)
{
	const char	*k, *v;
	size_t		 i;

	for (i = 0; t != NULL && i < map_table_size(t); i++) {
		map_table_pair(t, i, &k, &v);
		if (map_db_put(n, k, strlen(k) + 1, v, strlen(v) + 1, err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

static void
map_db_abort(struct map_db_new *n)
{
	if (n->db != NULL)
		n->db->close(n->db, 0);
	n->db = NULL;
	unlink(n->tmp);
}

static int
map_db_fsync_dir(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd, r = -1;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		r = fsync(fd);
		close(fd);
	}
	free(copy);
	return r;
}

/* Close, set mode (and owner, when st is given), fsync, rename over
 * dbpath, fsync the directory.  Mode and owner are set through the
 * descriptor the database was written by, never by name: in a directory
 * another user can write, the name may meanwhile be a link to some other
 * file, which root would chmod and chown. */
static int
map_db_commit(struct map_db_new *n, const char *dbpath, mode_t mode,
    const struct stat *owner, char *err, size_t errlen)
{
	int	 r, dbfd, fd = -1;

	if ((r = n->db->fd(n->db, &dbfd)) == 0 &&
	    (fd = fcntl(dbfd, F_DUPFD_CLOEXEC, 0)) == -1)
		r = errno;
	if (n->db->close(n->db, 0) != 0 && r == 0)
		r = EIO;
	n->db = NULL;
	if (r != 0) {
		map_err(err, errlen, "%s: %s", n->tmp, db_strerror(r));
		if (fd != -1)
			close(fd);
		unlink(n->tmp);
		return -1;
	}
	r = fchmod(fd, mode & 0666) == -1 || (owner != NULL &&
	    geteuid() == 0 && fchown(fd, owner->st_uid, owner->st_gid) == -1) ||
	    fsync(fd) == -1 ? errno : 0;
	if (close(fd) == -1 && r == 0)
		r = errno;
	if (r != 0 || rename(n->tmp, dbpath) == -1) {
		map_err(err, errlen, "%s: %s", n->tmp, strerror(r != 0 ? r :
		    errno));
		unlink(n->tmp);
		return -1;
	}
	if (map_db_fsync_dir(dbpath) == -1) {
		map_err(err, errlen, "%s: fsync of its directory: %s", dbpath,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int	map_db_lock(const char *, struct stat *, char *, size_t);

static char *
map_db_path(const char *spec, const char **type)
{
	const char	*path;
	char		*dbpath;
	size_t		 len;

	if (!map_db_spec(spec, &path) || path[0] != '/')
		return NULL;
	*type = spec[0] == 'h' ? "hash" : "btree";
	len = strlen(path) + 4;
	dbpath = xmalloc(len);
	snprintf(dbpath, len, "%s.db", path);
	return dbpath;
}

int
map_db_write(const char *spec, const struct map_table *t, mode_t mode,
    char *err, size_t errlen)
{
	struct map_db_new	 n;
	struct stat		 st;
	const char		*type;
	char			*dbpath;
	int			 lock, r = -1;

	if ((dbpath = map_db_path(spec, &type)) == NULL) {
		map_err(err, errlen, "%s: not hash:/path or btree:/path", spec);
		return -1;
	}
	/* Under the lock a change (map_db_change) holds, so that it does not
	 * rename its copy of the old file over this new one. */
	if ((lock = map_db_lock(dbpath, &st, err, errlen)) != -1 &&
	    map_db_create(&n, type, dbpath, err, errlen) == 0) {
		if (map_db_put_table(&n, t, err, errlen) == 0)
			r = map_db_commit(&n, dbpath, mode, NULL, err, errlen);
		else
			map_db_abort(&n);
	}
	if (lock >= 0)
		close(lock);
	free(dbpath);
	return r;
}

/* Lock the file at dbpath (exclusive flock), making sure the file locked
 * is still the one under that name (a writer may have renamed a new one
 * over it meanwhile).  The descriptor, -2 no such file, or -1 with err. */
static int
map_db_lock(const char *dbpath, struct stat *st, char *err, size_t errlen)
{
	struct stat	 now;
	int		 fd, tries;

	for (tries = 0; tries < 100; tries++) {
		if ((fd = open(dbpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK)) == -1) {
			if (errno == ENOENT)
				return -2;
			break;
		}
		if (flock(fd, LOCK_EX) == -1 || fstat(fd, st) == -1) {
			close(fd);
			break;
		}
		if (stat(dbpath, &now) == 0 && now.st_dev == st->st_dev &&
		    now.st_ino == st->st_ino)
			return fd;
		close(fd);
	}
	map_err(err, errlen, "%s: cannot lock: %s", dbpath, strerror(errno));
	return -1;
}

static int
map_db_deleted(const char *key, size_t klen, char *const *del, size_t ndel,
    int *hit)
{
	size_t	 i;

	if (klen > 0 && key[klen - 1] == '\0')
		klen--;
	for (i = 0; i < ndel; i++)
		if (strlen(del[i]) == klen && memcmp(del[i], key, klen) == 0) {
			hit[i] = 1;
			return 1;
		}
	return 0;
}

static int
map_db_replaced(const char *key, size_t klen, const struct map_table *add)
{
	char	 k[MAP_KEY_MAX + 1];

	if (add == NULL)
		return 0;
	if (klen > 0 && key[klen - 1] == '\0')
		klen--;
	if (klen > MAP_KEY_MAX || memchr(key, '\0', klen) != NULL)
		return 0;
	memcpy(k, key, klen);
	k[klen] = '\0';
	return map_table_get(add, k) != NULL;
}

/* Copy the entries of old into n, but the deleted and the replaced. */
static int
map_db_copy(DB *old, struct map_db_new *n, const struct map_table *add,
    char *const *del, size_t ndel, int *hit, char *err, size_t errlen)
{
	DBC	*c;
	DBT	 k, v;
	int	 r;

	if ((r = old->cursor(old, NULL, &c, 0)) != 0) {
		map_err(err, errlen, "cursor: %s", db_strerror(r));
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((r = c->get(c, &k, &v, DB_NEXT)) == 0) {
		if (map_db_deleted(k.data, k.size, del, ndel, hit) ||
		    map_db_replaced(k.data, k.size, add))
			continue;
		if (map_db_put(n, k.data, k.size, v.data, v.size, err,
		    errlen) == -1) {
			c->close(c);
			return -1;
		}
	}
	c->close(c);
	if (r != DB_NOTFOUND) {
		map_err(err, errlen, "reading: %s", db_strerror(r));
		return -1;
	}
	return 0;
}

int
map_db_change(const char *spec, const struct map_table *add,
    char *const *del, size_t ndel, size_t *ndeleted, char *err, size_t errlen)
{
	struct map_db_new	 n;
	struct stat		 st, ost;
	const char		*type;
	char			*dbpath, why[MAP_ERR_MAX];
	int			*hit, lock, r = -1;
	size_t			 i;
	DB			*old = NULL;

	*ndeleted = 0;
	if ((dbpath = map_db_path(spec, &type)) == NULL) {
		map_err(err, errlen, "%s: not hash:/path or btree:/path", spec);
		return -1;
	}
	if ((lock = map_db_lock(dbpath, &st, err, errlen)) == -1) {
		free(dbpath);
		return -1;
	}
	if (lock >= 0 && (old = map_db_handle(type, dbpath, &ost, why,
	    sizeof(why))) == NULL) {
		map_err(err, errlen, "%s", why);
		goto done;
	}
	hit = xcalloc(ndel + 1, sizeof(*hit));
	if (map_db_create(&n, type, dbpath, err, errlen) == 0) {
		if ((old == NULL || map_db_copy(old, &n, add, del, ndel, hit,
		    err, errlen) == 0) &&
		    map_db_put_table(&n, add, err, errlen) == 0)
			r = map_db_commit(&n, dbpath, lock >= 0 ? st.st_mode :
			    0644, lock >= 0 ? &st : NULL, err, errlen);
		else
			map_db_abort(&n);
	}
	for (i = 0; i < ndel; i++)
		*ndeleted += (size_t)hit[i];
	free(hit);
done:
	if (old != NULL)
		old->close(old, 0);
	if (lock >= 0)
		close(lock);
	free(dbpath);
	return r;
}
