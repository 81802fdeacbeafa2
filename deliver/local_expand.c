/*
 * local_expand - a local recipient expanded through aliases, .forward and
 * :include: files into its targets (rules and bounds: local_expand.h).
 * Recursive over names, with the chain of names being expanded kept on a
 * bounded stack: that is the loop protection.  The include files already
 * expanded are remembered in a hash set keyed by the file's identity (and
 * by each spelling of its path opened), its reader's uid and owner-NAME,
 * so a skip costs a lookup, or an open and a lookup for a new spelling,
 * never a read or a search of a list.  Fails closed: the first error ends
 * the expansion, and no partial list is delivered.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "buf.h"
#include "local_expand.h"
#include "siphash.h"

struct lx {
	const struct lx_ops	*ops;
	struct lx_result	*res;
	const char		*stack[LX_DEPTH_MAX + 2];
	int			 depth;
	char			 ext[LX_NAME_MAX];	/* the recipient's */
	char			 errors_to[LX_NAME_MAX];	/* owner-NAME
							   now, or "" */
	char			*why;
	const char		*dsn;
	enum lx_status		 st;
	long			 work;	/* units (local_expand.h) */
	long			 work_clock;	/* work at the last look
						   at the CPU clock */
	long			 cpu_start;	/* its reading, in ms, at
						   the start */
	struct lx_seen		*seen;	/* [0..seen_cap), a power of two,
					   at most half full */
	int			 nseen, seen_cap;
};

/* An include file expanded: which file (its identity; or, path not
 * NULL, a spelling of its path opened before), read by whom, under which
 * owner-NAME (errors_to NULL: none).  used 0: a free slot. */
struct lx_seen {
	dev_t		 dev;
	ino_t		 ino;
	uid_t		 uid;
	uint32_t	 hash;
	int		 used;
	char		*errors_to;
	char		*path;
};

static int	lx_name(struct lx *, const char *name);
static int	lx_value(struct lx *, const char *value,
		    const struct lx_owner *);
static int	lx_push(struct lx *, const char *name);

static int
lx_fail(struct lx *x, enum lx_status st, const char *dsn, const char *what,
    const char *detail)
{
	if (x->st == LX_OK) {
		x->st = st;
		x->dsn = dsn;
		snprintf(x->why, LX_WHY_MAX, "%.40s%s%.200s", what,
		    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	}
	return -1;
}

int
local_expand_split(const char *name, char delimiter, char *base, char *ext,
    size_t len)
{
	const char	*d = NULL;
	size_t		 blen;

	if (delimiter != '\0' && name[0] != '\0')
		d = strchr(name + 1, delimiter);
	blen = d != NULL ? (size_t)(d - name) : strlen(name);
	if (blen >= len || (d != NULL && strlen(d + 1) >= len))
		return -1;
	memcpy(base, name, blen);
	base[blen] = '\0';
	strlcpy(ext, d != NULL ? d + 1 : "", len);
	return 0;
}

static int
lx_on_stack(const struct lx *x, const char *name)
{
	int	 i;

	for (i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], name) == 0)
			return 1;
	return 0;
}

static int
lx_add(struct lx *x, enum lx_kind kind, const char *text,
    const struct lx_owner *owner)
{
	char	 max[32];

	if (lx_result_add(x->res, kind, text, x->ext, x->errors_to,
	    owner) >= 0)
		return 0;
	snprintf(max, sizeof(max), "more than %d", x->res->max);
	return lx_fail(x, LX_DEFER, "4.6.0", LX_WHY_TARGETS, max);
}

/* The CPU time this thread has used, in ms. */
static long
lx_cpu_ms(const struct lx *x)
{
	struct timespec	 ts;

	if (x->ops->cpu_ms != NULL)
		return x->ops->cpu_ms(x->ops->arg);
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* units more of work: 0, or -1 past LX_WORK_MAX, or past LX_CPU_MAX_MS
 * of CPU time (looked at after a file opened or LX_CPU_CHECK units). */
static int
lx_work_add(struct lx *x, long units)
{
	char	 max[32];

	if ((x->work += units) > LX_WORK_MAX)
		return lx_fail(x, LX_DEFER, "4.6.0", LX_WHY_WORK, NULL);
	if (units < LX_OPEN_COST && x->work - x->work_clock < LX_CPU_CHECK)
		return 0;
	x->work_clock = x->work;
	if (lx_cpu_ms(x) - x->cpu_start <= LX_CPU_MAX_MS)
		return 0;
	snprintf(max, sizeof(max), "more than %d ms", LX_CPU_MAX_MS);
	return lx_fail(x, LX_DEFER, "4.6.0", LX_WHY_CPU, max);
}

/* One more name or target visited. */
static int
lx_work(struct lx *x)
{
	return lx_work_add(x, 1);
}

/* A file of size bytes read, opened before. */
static int
lx_work_read(struct lx *x, size_t size)
{
	return lx_work_add(x, (long)(size / LX_READ_UNIT));
}

static uint32_t
lx_seen_hash(const struct lx_seen *k)
{
	uint64_t	 v[3] = { (uint64_t)k->dev, (uint64_t)k->ino,
	    (uint64_t)k->uid };
	struct siphash	 h;

	/* keyed (siphash.c): spellings and names chosen to collide cost
	 * what they are charged */
	siphash_init(&h, siphash_process_key());
	siphash_update(&h, v, sizeof(v));
	if (k->errors_to != NULL)
		siphash_update(&h, k->errors_to, strlen(k->errors_to) + 1);
	else
		siphash_update(&h, "", 1);
	if (k->path != NULL)
		siphash_update(&h, k->path, strlen(k->path));
	return (uint32_t)siphash_final(&h);
}

/* k's slot in the set (seen_cap > 0): its entry, or the free slot where
 * it would go. */
static struct lx_seen *
lx_seen_slot(const struct lx *x, const struct lx_seen *k)
{
	struct lx_seen	*s;
	uint32_t	 mask = (uint32_t)x->seen_cap - 1, i;

	for (i = k->hash & mask; ; i = (i + 1) & mask) {
		s = &x->seen[i];
		if (!s->used || (s->hash == k->hash && s->dev == k->dev &&
		    s->ino == k->ino && s->uid == k->uid &&
		    (s->path == NULL) == (k->path == NULL) &&
		    strcmp(s->path != NULL ? s->path : "",
		    k->path != NULL ? k->path : "") == 0 &&
		    strcmp(s->errors_to != NULL ? s->errors_to : "",
		    k->errors_to != NULL ? k->errors_to : "") == 0))
			return s;
	}
}

/* The key of file f (NULL: of its spelling path) read with as's rights
 * under the owner-NAME now. */
static void
lx_seen_key(struct lx *x, const struct lx_file *f, const char *path,
    const struct lx_owner *as, struct lx_seen *k)
{
	memset(k, 0, sizeof(*k));
	if (f != NULL) {
		k->dev = f->dev;
		k->ino = f->ino;
	} else
		k->path = (char *)path;	/* copied when added */
	k->uid = as != NULL ? as->uid : 0;
	k->errors_to = x->errors_to[0] != '\0' ? x->errors_to : NULL;
	k->hash = lx_seen_hash(k);
	k->used = 1;
}

static int
lx_seen(const struct lx *x, const struct lx_seen *k)
{
	return x->seen_cap > 0 && lx_seen_slot(x, k)->used;
}

/* Remember an include file expanded.  Every key remembered is of a file
 * opened, which cost LX_OPEN_COST, three keys each (its identity, its
 * spelling and its lx_spelling), so LX_WORK_MAX holds
 * the set within LX_SEEN_MAX; the check is a second guard (past it a
 * file is opened or read again, and the work bound still holds). */
static void
lx_seen_add(struct lx *x, const struct lx_seen *k)
{
	struct lx_seen	*old = x->seen, *s;
	int		 i, cap = x->seen_cap;

	if (x->nseen >= LX_SEEN_MAX || lx_seen(x, k))
		return;
	if (2 * (x->nseen + 1) > x->seen_cap) {
		x->seen_cap = cap > 0 ? cap * 2 : 16;
		x->seen = xcalloc((size_t)x->seen_cap, sizeof(*x->seen));
		for (i = 0; i < cap; i++)
			if (old[i].used)
				*lx_seen_slot(x, &old[i]) = old[i];
		free(old);
	}
	s = lx_seen_slot(x, k);
	*s = *k;
	if (k->errors_to != NULL)
		s->errors_to = xstrdup(k->errors_to);
	if (k->path != NULL)
		s->path = xstrdup(k->path);
	x->nseen++;
}

static void
lx_seen_free(struct lx *x)
{
	int	 i;

	for (i = 0; i < x->seen_cap; i++)
		if (x->seen[i].used) {
			free(x->seen[i].errors_to);
			free(x->seen[i].path);
		}
	free(x->seen);
	x->seen = NULL;
	x->nseen = x->seen_cap = 0;
}

/* Include file f, opened, named with owner's rights at path. */
static int
lx_include_read(struct lx *x, const char *path, struct lx_file *f,
    const struct lx_owner *owner)
{
	const char	*why = "";
	char		*text;
	int		 rc;

	if ((rc = lx_push(x, path)) < 0) {
		x->ops->include_read(x->ops->arg, f, NULL, &why);
		return rc;
	}
	if (x->ops->include_read(x->ops->arg, f, &text, &why) < 0)
		rc = lx_fail(x, LX_DEFER, "4.3.0", "cannot read include file",
		    why);
	else {
		/* A user's file runs as that user, never with more rights
		 * than who named it. */
		if ((rc = lx_work_read(x, f->size)) == 0)
			rc = lx_value(x, text, f->owner.uid != 0 ? &f->owner :
			    owner);
		free(text);
	}
	x->depth--;
	return rc;
}

/* path with every run of "/" one "/" and every "/./" one "/": the same
 * file for the kernel (each component but the last is a directory either
 * way), so spellings differing only there are one spelling and opened
 * once.  Malloc'ed. */
static char *
lx_spelling(const char *path)
{
	char	*out = xstrdup(path), *o = out;

	for (; *path != '\0'; path++) {
		if (*path == '/' && o > out && o[-1] == '/')
			continue;
		if (*path == '.' && o > out && o[-1] == '/' &&
		    path[1] == '/')
			continue;	/* "/./": its "/" is skipped next */
		*o++ = *path;
	}
	*o = '\0';
	return out;
}

/* Include file path (lx_spelling's) opened, named with owner's rights:
 * skipped if that file was expanded already, else read and its identity
 * remembered once it is done. */
static int
lx_include_open(struct lx *x, const char *path, const struct lx_owner *owner)
{
	struct lx_file	 f;
	struct lx_seen	 k;
	const char	*why = "";
	int		 r, rc;

	memset(&f, 0, sizeof(f));
	r = x->ops->include(x->ops->arg, path, owner, &f, &why);
	if (r <= 0)
		return lx_fail(x, LX_DEFER, "4.3.0", "cannot read include file",
		    r < 0 ? why : "no such file");
	lx_seen_key(x, &f, NULL, owner, &k);
	if (lx_seen(x, &k)) {
		/* its targets are in the list already */
		x->ops->include_read(x->ops->arg, &f, NULL, &why);
		return 0;
	}
	rc = lx_include_read(x, path, &f, owner);
	/* Remembered once done, so that a file including itself still
	 * ends at LX_DEPTH_MAX as a loop. */
	if (rc == 0)
		lx_seen_add(x, &k);
	return rc;
}

/* Include file path, named with owner's rights: skipped if this spelling
 * of it was expanded already (no system call).  Else it costs an open,
 * and is opened (lx_include_open) unless its lx_spelling was: spellings
 * differing only in "//" and "/./" are one walk of the kernel's, but
 * each is charged, so that naming a file under ever new spellings still
 * ends at the work bound.  The spellings are remembered once it is
 * done. */
static int
lx_include(struct lx *x, const char *path, const struct lx_owner *owner)
{
	struct lx_seen	 kr, kn;
	char		*spelled;
	int		 rc = 0;

	lx_seen_key(x, NULL, path, owner, &kr);
	if (lx_seen(x, &kr))
		return 0;
	if (lx_work_add(x, LX_OPEN_COST) < 0)
		return -1;
	spelled = lx_spelling(path);
	lx_seen_key(x, NULL, spelled, owner, &kn);
	if (!lx_seen(x, &kn))
		rc = lx_include_open(x, spelled, owner);
	if (rc == 0) {
		lx_seen_add(x, &kn);
		lx_seen_add(x, &kr);
	}
	free(spelled);
	return rc;
}

static int
lx_push(struct lx *x, const char *name)
{
	if (x->depth >= LX_DEPTH_MAX)
		return lx_fail(x, LX_BOUNCE, "5.4.6",
		    "alias expansion too deep", name);
	x->stack[x->depth++] = name;
	return 0;
}

/* Every target of value (an alias's, a .forward's or an include file's),
 * commands and files with owner's rights. */
static int
lx_value(struct lx *x, const char *value, const struct lx_owner *owner)
{
	struct alias_target	 t;
	const char		*cur = value, *why;
	char			*buf, name[LX_NAME_MAX];
	size_t			 len = strlen(value) + 1;
	int			 r, rc = 0;

	buf = xmalloc(len);
	while (rc == 0 && (r = alias_target_next(&cur, &t, buf, len,
	    &why)) != 0) {
		if (r < 0) {
			rc = lx_fail(x, LX_BOUNCE, "5.3.5", "bad alias target",
			    why);
			break;
		}
		if ((rc = lx_work(x)) < 0)
			break;
		switch (t.kind) {
		case ALIAS_ADDRESS:
			r = x->ops->local(x->ops->arg, t.text, name,
			    sizeof(name));
			if (r < 0)
				rc = lx_fail(x, LX_BOUNCE, "5.1.3",
				    "bad address in alias", t.text);
			else
				rc = r > 0 ? lx_name(x, name) :
				    lx_add(x, LX_REMOTE, t.text, NULL);
			break;
		case ALIAS_COMMAND:
			rc = lx_add(x, LX_COMMAND, t.text, owner);
			break;
		case ALIAS_FILE:
			rc = lx_add(x, LX_FILE, t.text, owner);
			break;
		case ALIAS_INCLUDE:
			rc = lx_include(x, t.text, owner);
			break;
		}
	}
	free(buf);
	return rc;
}

/* Account base (its .forward, or its mailbox). */
static int
lx_account(struct lx *x, const char *base, const char *ext)
{
	struct lx_owner	 owner;
	const char	*why = NULL;
	char		*text = NULL;
	size_t		 size = 0;
	int		 r = 0, rc;

	if (lx_on_stack(x, base))
		return lx_add(x, LX_MAILBOX, base, NULL);
	/* its .forward looked for: a file opened (or remembered absent) */
	if (lx_work_add(x, LX_OPEN_COST) < 0 || lx_push(x, base) < 0)
		return -1;
	if (ext[0] != '\0')
		r = x->ops->forward(x->ops->arg, base, ext, &text, &owner,
		    &size, &why);
	if (r == 0)
		r = x->ops->forward(x->ops->arg, base, NULL, &text, &owner,
		    &size, &why);
	if (r < 0)
		rc = lx_fail(x, LX_DEFER, "4.3.0", "cannot read .forward",
		    why);
	else if (r > 0) {
		if ((rc = lx_work_read(x, size)) == 0)
			rc = lx_value(x, text, &owner);
	} else
		rc = lx_add(x, LX_MAILBOX, base, NULL);
	free(text);
	x->depth--;
	return rc;
}

/* One alias lookup: 1 and a copy of the value in *value, 0, or -1. */
static int
lx_alias(struct lx *x, const char *key, char **value)
{
	const char	*v, *why = NULL;
	int		 r;

	r = x->ops->alias(x->ops->arg, key, &v, &why);
	if (r < 0)
		return lx_fail(x, LX_DEFER, "4.3.0", "alias lookup failed",
		    why);
	if (r > 0)
		*value = xstrdup(v);
	return r;
}

/* Is there an "owner-" alias for the alias key?  1 and its name in
 * owner[0..len), 0, or -1 (the lookup failed: the expansion defers). */
static int
lx_owner_of(struct lx *x, const char *key, char *owner, size_t len)
{
	char	*value = NULL;
	int	 r;

	if ((size_t)snprintf(owner, len, "owner-%s", key) >= len)
		return 0;
	r = lx_alias(x, owner, &value);
	free(value);
	return r;
}

static int
lx_name(struct lx *x, const char *name)
{
	char		 base[LX_NAME_MAX], ext[LX_NAME_MAX], *value = NULL;
	char		 owner[LX_NAME_MAX], saved[LX_NAME_MAX];
	const char	*key = name;
	int		 r, rc;

	if (lx_work(x) < 0)
		return -1;
	if (local_expand_split(name, x->ops->delimiter, base, ext,
	    sizeof(base)) < 0)
		return lx_fail(x, LX_BOUNCE, "5.1.3", "name too long", NULL);
	if (lx_on_stack(x, name) || lx_on_stack(x, base))
		return lx_add(x, LX_MAILBOX, base, NULL);
	r = lx_alias(x, name, &value);
	if (r == 0 && ext[0] != '\0')
		r = lx_alias(x, key = base, &value);
	memcpy(saved, x->errors_to, sizeof(saved));
	if (r > 0 && (rc = lx_owner_of(x, key, owner, sizeof(owner))) != 0) {
		if (rc < 0) {
			free(value);
			return -1;
		}
		memcpy(x->errors_to, owner, sizeof(x->errors_to));
	}
	if (r < 0)
		return -1;
	if (r == 0) {
		if (strcmp(base, "postmaster") == 0 ||
		    strcmp(base, "mailer-daemon") == 0)
			return lx_name(x, "root");
		return lx_account(x, base, ext);
	}
	if ((rc = lx_push(x, name)) == 0) {
		rc = lx_value(x, value, x->ops->default_privs);
		x->depth--;
	}
	memcpy(x->errors_to, saved, sizeof(x->errors_to));
	free(value);
	return rc;
}

/* What an expansion costs its message's budget: its units, or its CPU
 * time at LX_WORK_MAX units per LX_CPU_MAX_MS if that is more, so that
 * expansions that are slow per unit (opens through long symlink chains)
 * exhaust the message's budget as fast as their CPU time says, not only
 * each recipient's own. */
static long
lx_work_charged(const struct lx *x)
{
	long	 ms = lx_cpu_ms(x) - x->cpu_start;
	long	 by_cpu = ms > 0 ?
	    ms * (LX_WORK_MAX / LX_CPU_MAX_MS) : 0;

	return by_cpu > x->work ? by_cpu : x->work;
}

enum lx_status
local_expand(const struct lx_ops *ops, const char *name,
    struct lx_result *res, char *why, const char **dsn)
{
	struct lx	 x;
	char		 base[LX_NAME_MAX];

	memset(&x, 0, sizeof(x));
	x.ops = ops;
	x.res = res;
	x.why = why;
	x.st = LX_OK;
	x.cpu_start = lx_cpu_ms(&x);
	why[0] = '\0';
	if (local_expand_split(name, ops->delimiter, base, x.ext,
	    sizeof(base)) < 0)
		lx_fail(&x, LX_BOUNCE, "5.1.3", "name too long", NULL);
	else
		lx_name(&x, name);
	lx_seen_free(&x);
	if (ops->work != NULL)
		*ops->work += lx_work_charged(&x);
	if (x.st != LX_OK)
		lx_result_free(res);
	*dsn = x.dsn;
	return x.st;
}
