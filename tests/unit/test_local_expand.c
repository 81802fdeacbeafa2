/*
 * Unit tests for deliver/local_expand.c against a fake world (aliases,
 * .forward files, include files, domains): nested aliases, loops and
 * self-references, postmaster and mailer-daemon to root, extensions,
 * .forward privileges, :include: owners, bounds, and failures that defer
 * rather than bounce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/local_expand.h"

struct world {
	const char	*const *aliases;	/* key, value, ..., NULL */
	const char	*const *forwards;	/* name, text, ... */
	const char	*const *includes;	/* path, text, ... */
	int		 alias_fail;
	int		 owner_fail;	/* only the owner- lookups fail */
	int		 max;		/* the list's bound; 0: 1000 */
	const char	*const *links;	/* path, path in includes: the
					   same file */
};

static const char *
pairs_get(const char *const *p, const char *key)
{
	for (; p != NULL && p[0] != NULL; p += 2)
		if (strcmp(p[0], key) == 0)
			return p[1];
	return NULL;
}

static int
fake_alias(void *arg, const char *key, const char **value, const char **why)
{
	struct world *w = arg;

	if (w->alias_fail || (w->owner_fail &&
	    strncmp(key, "owner-", 6) == 0)) {
		*why = "table down";
		return -1;
	}
	*value = pairs_get(w->aliases, key);
	return *value != NULL;
}

static int
fake_forward(void *arg, const char *name, const char *ext, char **text,
    struct lx_owner *owner, size_t *size, const char **why)
{
	struct world	*w = arg;
	char		 key[300];
	const char	*v;

	(void)why;
	snprintf(key, sizeof(key), "%s%s%s", name, ext ? "+" : "",
	    ext ? ext : "");
	if ((v = pairs_get(w->forwards, key)) == NULL)
		return 0;
	*text = strdup(v);
	*size = strlen(v);
	memset(owner, 0, sizeof(*owner));
	owner->uid = 1000;
	snprintf(owner->name, sizeof(owner->name), "%s", name);
	return 1;
}

static long	 include_reads;	/* fake_include_read's reads */
static long	 include_opens;	/* fake_include's calls */

/* path without "//", "/./" and "DIR/../", into out[0..len) (as the
 * kernel sees it, every name a directory, none a symlink). */
static void
fake_canonical(const char *path, char *out, size_t len)
{
	size_t	 n = 0;

	while (*path != '\0' && n + 1 < len) {
		if (path[0] == '/' && (path[1] == '/' || (path[1] == '.' &&
		    path[2] == '/'))) {
			path += path[1] == '/' ? 1 : 2;
			continue;
		}
		if (strncmp(path, "/../", 4) == 0) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			path += 3;
			continue;
		}
		out[n++] = *path++;
	}
	out[n] = '\0';
}

/* The file at path is the pair of includes its text is in (its inode),
 * found through links if path is another name of it. */
static int
fake_include(void *arg, const char *path, const struct lx_owner *as,
    struct lx_file *f, const char **why)
{
	struct world	*w = arg;
	const char	*name;
	char		 canon[4096];
	int		 i;

	(void)as;
	(void)why;
	include_opens++;
	fake_canonical(path, canon, sizeof(canon));
	if ((name = pairs_get(w->links, canon)) == NULL)
		name = canon;
	for (i = 0; w->includes != NULL && w->includes[i] != NULL; i += 2)
		if (strcmp(w->includes[i], name) == 0)
			break;
	if (w->includes == NULL || w->includes[i] == NULL)
		return 0;
	memset(f, 0, sizeof(*f));
	f->dev = 7;
	f->ino = (ino_t)i + 1;
	f->fd = i + 1;
	f->owner.uid = strstr(name, "/home/") != NULL ? 2000 : 0;
	return 1;
}

static int
fake_include_read(void *arg, struct lx_file *f, char **text,
    const char **why)
{
	struct world	*w = arg;

	(void)why;
	assert_true(f->fd > 0);
	if (text != NULL) {
		include_reads++;
		*text = strdup(w->includes[f->fd]);
		f->size = strlen(*text);
	}
	f->fd = -1;
	return 1;
}

static int
fake_local(void *arg, const char *addr, char *name, size_t len)
{
	const char	*at = strchr(addr, '@');

	(void)arg;
	if (at != NULL && strcmp(at, "@here") != 0)
		return 0;
	snprintf(name, len, "%.*s", at ? (int)(at - addr) : (int)strlen(addr),
	    addr);
	return 1;
}

static const struct lx_owner nobody = { 65534, 65534, "nobody", "/" };

static enum lx_status
expand(struct world *w, const char *name, struct lx_result *res,
    const char **dsn)
{
	struct lx_ops	 ops = { fake_alias, fake_forward, fake_include,
	    fake_include_read, fake_local, NULL, &nobody, '+', NULL, NULL };
	char		 why[LX_WHY_MAX];

	ops.arg = w;
	lx_result_init(res, w->max > 0 ? w->max : 1000);
	return local_expand(&ops, name, res, why, dsn);
}

/* The targets as "kind:text@uid" joined by spaces; with owners, each
 * followed by ">errors_to". */
static void
expect_targets(struct world *w, const char *name, const char *want,
    int owners)
{
	struct lx_result	*res = malloc(sizeof(*res));
	char			 got[4096] = "";
	const char		*dsn;
	int			 i;

	assert_non_null(res);
	assert_int_equal(expand(w, name, res, &dsn), LX_OK);
	for (i = 0; i < res->n; i++) {
		const struct lx_target *t = &res->target[i];
		char	 one[512];

		snprintf(one, sizeof(one), "%s%c:%s", i ? " " : "",
		    "MCFR"[t->kind], t->text);
		strcat(got, one);
		if (t->kind == LX_COMMAND || t->kind == LX_FILE) {
			assert_non_null(t->owner);
			snprintf(one, sizeof(one), "@%ld", (long)t->owner->uid);
			strcat(got, one);
		}
		if (owners) {
			strcat(got, ">");
			strcat(got, t->errors_to);
		}
	}
	assert_string_equal(got, want);
	lx_result_free(res);
	free(res);
}

static void
expect(struct world *w, const char *name, const char *want)
{
	expect_targets(w, name, want, 0);
}

static void
expect_fail(struct world *w, const char *name, enum lx_status st,
    const char *dsn_want)
{
	struct lx_result	*res = malloc(sizeof(*res));
	const char		*dsn;

	assert_non_null(res);
	assert_int_equal(expand(w, name, res, &dsn), st);
	assert_string_equal(dsn, dsn_want);
	assert_int_equal(res->n, 0);
	lx_result_free(res);
	free(res);
}

/* name expands to n targets, the first "u0" and the last "u<n-1>". */
static void
expect_count(struct world *w, const char *name, int n)
{
	struct lx_result	 res;
	const char		*dsn;
	char			 last[32];

	assert_int_equal(expand(w, name, &res, &dsn), LX_OK);
	assert_int_equal(res.n, n);
	assert_true(res.cap >= n && res.cap <= res.max);
	snprintf(last, sizeof(last), "u%d", n - 1);
	assert_string_equal(res.target[0].text, "u0");
	assert_string_equal(res.target[n - 1].text, last);
	lx_result_free(&res);
	assert_int_equal(res.n, 0);
	assert_null(res.target);
}

static void
test_aliases(void **state)
{
	static const char *const a[] = {
		"root", "alice",
		"staff", "root, bob, carol@far, |/bin/log, /var/log/mail",
		"self", "self, |/bin/copy",
		"ping", "pong", "pong", "ping",
		"dup", "alice, alice, root",
		"owner-x", "\"|/bin/q x\"",
		NULL };
	struct world w = { a, NULL, NULL, 0, 0, 0, NULL };

	(void)state;
	expect(&w, "alice", "M:alice");
	expect(&w, "postmaster", "M:alice");
	expect(&w, "mailer-daemon", "M:alice");
	expect(&w, "staff", "M:alice M:bob R:carol@far C:/bin/log@65534 "
	    "F:/var/log/mail@65534");
	expect(&w, "self", "M:self C:/bin/copy@65534");
	expect(&w, "ping", "M:ping");
	expect(&w, "dup", "M:alice");
	expect(&w, "owner-x", "C:/bin/q x@65534");
}

/* owner-NAME: every target below alias NAME reports its errors there;
 * the nearest alias with an owner wins, one without keeps the outer one;
 * an owner found through the extension's base; a failed owner lookup
 * defers, as any alias lookup. */
static void
test_owner(void **state)
{
	static const char *const a[] = {
		"list", "alice, bob@far, |/bin/x, sub, bare",
		"owner-list", "listmaster",
		"sub", "carol, dave",
		"owner-sub", "subadmin",
		"bare", "erin",
		"plain", "frank, list",
		"news", "gina",
		"owner-news", "nm",
		NULL };
	struct world w = { a, NULL, NULL, 0, 0, 0, NULL };

	(void)state;
	expect_targets(&w, "list", "M:alice>owner-list R:bob@far>owner-list "
	    "C:/bin/x@65534>owner-list M:carol>owner-sub M:dave>owner-sub "
	    "M:erin>owner-list", 1);
	expect_targets(&w, "plain", "M:frank> M:alice>owner-list "
	    "R:bob@far>owner-list C:/bin/x@65534>owner-list "
	    "M:carol>owner-sub M:dave>owner-sub M:erin>owner-list", 1);
	expect_targets(&w, "news+daily", "M:gina>owner-news", 1);
	expect_targets(&w, "alice", "M:alice>", 1);
	expect_targets(&w, "owner-list", "M:listmaster>", 1);
	w.owner_fail = 1;
	expect_fail(&w, "list", LX_DEFER, "4.3.0");
	expect_targets(&w, "alice", "M:alice>", 1);
}

static void
test_extensions(void **state)
{
	static const char *const a[] = { "bob+list", "carol", NULL };
	static const char *const f[] = { "dave+x", "|/bin/x", "dave",
	    "dave, eve@far", NULL };
	struct world w = { a, f, NULL, 0, 0, 0, NULL };

	(void)state;
	expect(&w, "bob+list", "M:carol");
	expect(&w, "bob+other", "M:bob");
	expect(&w, "dave+x", "C:/bin/x@1000");
	expect(&w, "dave+y", "M:dave R:eve@far");
	expect(&w, "dave", "M:dave R:eve@far");
}

static void
test_include(void **state)
{
	static const char *const a[] = {
		"list", ":include:/etc/list",
		"mine", ":include:/home/u/list",
		"missing", ":include:/etc/none",
		"loop", ":include:/etc/loop",
		NULL };
	static const char *const inc[] = {
		"/etc/list", "alice\nbob, |/bin/a",
		"/home/u/list", "|/bin/b, /home/u/file",
		"/etc/loop", ":include:/etc/loop",
		NULL };
	struct world w = { a, NULL, inc, 0, 0, 0, NULL };

	(void)state;
	expect(&w, "list", "M:alice M:bob C:/bin/a@65534");
	expect(&w, "mine", "C:/bin/b@2000 F:/home/u/file@2000");
	expect_fail(&w, "missing", LX_DEFER, "4.3.0");
	expect_fail(&w, "loop", LX_BOUNCE, "5.4.6");
}

static void
test_bounds(void **state)
{
	static char	 chain[40][2][32];
	static const char *a[100];
	static char	 wide[8192];
	static const char *const w2[] = { "wide", wide, NULL };
	struct world	 w = { a, NULL, NULL, 0, 0, 0, NULL };
	size_t		 n = 0;
	int		 i;

	(void)state;
	for (i = 0; i < 39; i++) {
		snprintf(chain[i][0], 32, "n%d", i);
		snprintf(chain[i][1], 32, "n%d", i + 1);
		a[2 * i] = chain[i][0];
		a[2 * i + 1] = chain[i][1];
	}
	a[78] = NULL;
	expect_fail(&w, "n0", LX_BOUNCE, "5.4.6");
	expect(&w, "n30", "M:n39");
	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(wide + n, sizeof(wide) - n, "u%d,", i);
	w.aliases = w2;
	/* 200 targets: within the default bound; over a bound of 150 the
	 * expansion defers (4.6.0), it never bounces */
	expect_count(&w, "wide", 200);
	w.max = 150;
	expect_fail(&w, "wide", LX_DEFER, "4.6.0");
	w.max = 200;
	expect_count(&w, "wide", 200);
	w.max = 0;
	w.alias_fail = 1;
	expect_fail(&w, "alice", LX_DEFER, "4.3.0");
}

/* Include files naming the next one ten times, ten levels: each is read
 * once (an include already expanded with the same rights is skipped),
 * not 10^10 times; the same fan-out through aliases, which are not
 * skipped, ends at LX_WORK_MAX (4.6.0), not in a spin. */
static void
test_fanout(void **state)
{
	static char	 path[11][32], text[10][400], name[8][16], val[7][160];
	static const char *inc[23], *a[20];
	struct world	 w = { NULL, NULL, inc, 0, 0, 0, NULL };
	int		 i, k, n;

	(void)state;
	for (k = 0; k <= 10; k++)
		snprintf(path[k], sizeof(path[k]), "/home/u/inc%d", k);
	for (k = 0; k < 10; k++) {
		for (i = n = 0; i < 10; i++)
			n += snprintf(text[k] + n, sizeof(text[k]) - (size_t)n,
			    ":include:%s\n", path[k + 1]);
		inc[2 * k] = path[k];
		inc[2 * k + 1] = text[k];
	}
	inc[20] = path[10];
	inc[21] = "/home/u/box";
	inc[22] = NULL;
	a[0] = "bomb";
	a[1] = ":include:/home/u/inc0";
	a[2] = NULL;
	w.aliases = a;
	include_reads = 0;
	expect(&w, "bomb", "F:/home/u/box@2000");
	assert_int_equal(include_reads, 11);

	for (k = 0; k <= 7; k++)
		snprintf(name[k], sizeof(name[k]), "f%d", k);
	for (k = 0; k < 7; k++) {
		for (i = n = 0; i < 10; i++)
			n += snprintf(val[k] + n, sizeof(val[k]) - (size_t)n,
			    "%s%s", i ? ", " : "", name[k + 1]);
		a[2 * k] = name[k];
		a[2 * k + 1] = val[k];
	}
	a[14] = "f7";
	a[15] = "/var/box";
	a[16] = NULL;
	expect_fail(&w, "f0", LX_DEFER, "4.6.0");	/* 10^7 > LX_WORK_MAX */
	expect(&w, "f5", "F:/var/box@65534");		/* 10^2: fine */
}

/* One file under many names ("/home/u/leaf", "//home/u/leaf",
 * "/home/./u/leaf", ...) is one file: read once, however it is spelt, and
 * a spelling met again is not even opened.  Read by other rights (an
 * alias, default_privs, and a user's .forward) it is read again, its
 * commands run as each.  Another name (a link) is the same file too. */
static void
test_include_identity(void **state)
{
	static char	 a_text[2 * 290 * 80], leaf[3300 * 20];
	static const char *links[] = { "/home/u/link", "/home/u/leaf", NULL };
	static const char *al[] = { "list", ":include:/home/u/a",
	    "root", ":include:/etc/r",
	    "both", "root, me", NULL };
	static const char *fw[] = { "me", ":include:/etc/r", NULL };
	static const char *inc[7];
	struct world	 w = { al, fw, inc, 0, 0, 10000, links };
	struct lx_result r;
	const char	*dsn;
	size_t		 n = 0;
	int		 i, k;

	(void)state;
	/* 290 spellings, each twice, and the link */
	for (k = 0; k < 2; k++)
		for (i = 0; i < 290; i++)
			n += (size_t)snprintf(a_text + n, sizeof(a_text) - n,
			    ":include:%.*shome/%.*su/leaf\n", i % 29 + 1,
			    "//////////////////////////////", 2 * (i / 29),
			    "./././././././././././././././././././.");
	n += (size_t)snprintf(a_text + n, sizeof(a_text) - n,
	    ":include:/home/u/link\n");
	for (i = 0, k = 0; i < 3300; i++)
		k += snprintf(leaf + k, sizeof(leaf) - (size_t)k,
		    "/home/u/f%d\n", i);
	inc[0] = "/home/u/a";
	inc[1] = a_text;
	inc[2] = "/home/u/leaf";
	inc[3] = leaf;
	inc[4] = "/etc/r";
	inc[5] = "|/bin/r";
	inc[6] = NULL;
	include_reads = include_opens = 0;
	assert_int_equal(expand(&w, "list", &r, &dsn), LX_OK);
	assert_int_equal(r.n, 3300);
	lx_result_free(&r);
	/* the spellings differ only in "//" and "/./": one spelling, one
	 * open */
	assert_int_equal(include_opens, 1 + 1 + 1);
	assert_int_equal(include_reads, 2);
	/* root-owned /etc/r: read as nobody (the alias) and as uid 1000 (me's
	 * .forward), a command for each */
	include_reads = 0;
	expect(&w, "both", "C:/bin/r@65534 C:/bin/r@1000");
	assert_int_equal(include_reads, 2);
}

/* ":include:" and /etc/e spelt through directories p<pre>, q<mid> and
 * r<dots> left by "..", and a newline; its length.  (Spellings that
 * differ only in "//" or "/./" are one spelling: lx_spelling.) */
static size_t
spell(char *buf, size_t len, int pre, int mid, int dots)
{
	size_t	 n;

	n = (size_t)snprintf(buf, len,
	    ":include:/etc/p%d/../q%d/../r%d/../e\n", pre, mid, dots);
	assert_true(n < len);
	return n;
}

/* Work is counted by what it costs: an :include: file opened costs
 * LX_OPEN_COST even when skipped, so naming an expanded file under ever
 * new spellings defers (4.6.0) near LX_WORK_MAX / LX_OPEN_COST opens, and
 * the same spelling over and over is not opened again; a .forward read
 * again for each mention of its account costs its size. */
static void
test_work_costs(void **state)
{
	static char	 big[60 * 1024], fan[6000];
	static char	 mname[10][24], mlist[10 * 20], same[4000 * 17];
	static const char *al[] = { "x", mlist, "s", same, "f", fan, NULL };
	static const char *fw[] = { "fat", big, NULL };
	static const char *inc[2 * 11 + 1];
	struct world	 w = { al, fw, inc, 0, 0, 0, NULL };
	char		*many[10];
	size_t		 n = 0, len = 6000 * 160;
	int		 i, m;

	(void)state;
	/* 10 files each naming /etc/e under 6000 spellings of its own:
	 * 60000 opens unbounded */
	for (m = 0; m < 10; m++) {
		assert_non_null(many[m] = malloc(len));
		for (i = n = 0; i < 6000; i++)
			n += spell(many[m] + n, len - n, m + 1, i % 64 + 1,
			    i / 64);
		snprintf(mname[m], sizeof(mname[m]), "/etc/m%d", m);
		inc[2 * m] = mname[m];
		inc[2 * m + 1] = many[m];
	}
	for (m = n = 0; m < 10; m++)
		n += (size_t)snprintf(mlist + n, sizeof(mlist) - n,
		    ":include:%s\n", mname[m]);
	inc[20] = "/etc/e";
	inc[21] = "/var/box";
	inc[22] = NULL;
	include_opens = 0;
	expect_fail(&w, "x", LX_DEFER, "4.6.0");
	assert_true(include_opens <= LX_WORK_MAX / LX_OPEN_COST + 1);
	assert_true(include_opens > LX_WORK_MAX / LX_OPEN_COST / 2);
	for (m = 0; m < 10; m++)
		free(many[m]);
	/* one spelling 4000 times: one open */
	for (i = n = 0; i < 4000; i++)
		n += (size_t)snprintf(same + n, sizeof(same) - n,
		    ":include:/etc/e,");
	include_opens = 0;
	expect(&w, "s", "F:/var/box@65534");
	assert_int_equal(include_opens, 1);
	/* a 60 KiB .forward of one target mentioned 1200 times: each read
	 * costs about 1000 units, so the expansion defers; mentioned 100
	 * times it is fine */
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big, "/var/fat", 8);
	for (i = n = 0; i < 1200; i++)
		n += (size_t)snprintf(fan + n, sizeof(fan) - n, "%sfat",
		    i ? "," : "");
	expect_fail(&w, "f", LX_DEFER, "4.6.0");
	fan[100 * 4 - 1] = '\0';
	expect(&w, "f", "F:/var/fat@1000");
}

/* The caller's counter gets each expansion's work, failed ones too:
 * deliver bounds a message's expansions by it. */
static void
test_work_reported(void **state)
{
	static const char *const al[] = { "l", "a, b, |/bin/c", NULL };
	struct world	 w = { al, NULL, NULL, 0, 0, 0, NULL };
	struct lx_ops	 ops = { fake_alias, fake_forward, fake_include,
	    fake_include_read, fake_local, NULL, &nobody, '+', NULL, NULL };
	struct lx_result r;
	const char	*dsn;
	char		 why[LX_WHY_MAX];
	long		 work = 5;

	(void)state;
	ops.arg = &w;
	ops.work = &work;
	lx_result_init(&r, 10);
	assert_int_equal(local_expand(&ops, "l", &r, why, &dsn), LX_OK);
	lx_result_free(&r);
	/* l, a and b (accounts: a .forward looked for), |/bin/c */
	assert_int_equal(work, 5 + 1 + 3 + 2 * LX_OPEN_COST + 2);
	w.alias_fail = 1;
	assert_int_equal(local_expand(&ops, "l", &r, why, &dsn), LX_DEFER);
	lx_result_free(&r);
	assert_int_equal(work, 5 + 1 + 3 + 2 * LX_OPEN_COST + 2 + 1);
}

static long	 fake_ms;	/* fake_cpu_ms's clock */

/* A CPU clock that moves 100 ms at every look. */
static long
fake_cpu_ms(void *arg)
{
	(void)arg;
	return fake_ms += 100;
}

/* Past LX_CPU_MAX_MS of CPU time the expansion defers (4.6.0), however
 * few units it has spent, and charges its message's budget (ops.work) as
 * much as its CPU time: here forty include files, each opened at 100 ms;
 * below it, it does not defer. */
static void
test_cpu_bound(void **state)
{
	static char	 list[40 * 16], *al[] = { "l", list, "s", NULL, NULL };
	static const char *inc[81];
	static char	 path[40][16];
	struct world	 w = { (const char *const *)al, NULL, inc, 0, 0, 0,
	    NULL };
	struct lx_ops	 ops = { fake_alias, fake_forward, fake_include,
	    fake_include_read, fake_local, NULL, &nobody, '+', NULL,
	    fake_cpu_ms };
	struct lx_result r;
	const char	*dsn;
	char		 why[LX_WHY_MAX];
	size_t		 n = 0;
	long		 work = 0;
	int		 i;

	(void)state;
	ops.work = &work;
	for (i = 0; i < 40; i++) {
		snprintf(path[i], sizeof(path[i]), "/i%d", i);
		n += (size_t)snprintf(list + n, sizeof(list) - n,
		    "%s:include:%s", i > 0 ? ", " : "", path[i]);
		inc[2 * i] = path[i];
		inc[2 * i + 1] = "x";
	}
	inc[80] = NULL;
	al[3] = (char *)":include:/i1, :include:/i2";
	ops.arg = &w;
	lx_result_init(&r, 100);
	assert_int_equal(local_expand(&ops, "l", &r, why, &dsn), LX_DEFER);
	assert_string_equal(dsn, "4.6.0");
	assert_non_null(strstr(why, "CPU time"));
	/* few units, but the message's budget is charged the CPU time */
	assert_true(work >= LX_WORK_MAX);
	lx_result_free(&r);
	lx_result_init(&r, 100);
	assert_int_equal(local_expand(&ops, "s", &r, why, &dsn), LX_OK);
	lx_result_free(&r);
}

static void
test_split(void **state)
{
	char	 b[8], e[8];

	(void)state;
	assert_int_equal(local_expand_split("u+t+x", '+', b, e, 8), 0);
	assert_string_equal(b, "u");
	assert_string_equal(e, "t+x");
	assert_int_equal(local_expand_split("+u", '+', b, e, 8), 0);
	assert_string_equal(b, "+u");
	assert_string_equal(e, "");
	assert_int_equal(local_expand_split("u+t", '\0', b, e, 8), 0);
	assert_string_equal(b, "u+t");
	assert_int_equal(local_expand_split("longname", '+', b, e, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_include_identity),
		cmocka_unit_test(test_work_costs),
		cmocka_unit_test(test_work_reported),
		cmocka_unit_test(test_cpu_bound),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
