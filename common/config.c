/*
 * config - reading tern.conf: a generic parser over key tables.  A table
 * lists keys with their type, default and place in the caller's struct (the
 * global table below fills struct tern_config; each daemon has its own, see
 * config.h); defaults are strings run through the same parsers as the file,
 * so a default can never be a value the file would reject.  Errors name the
 * file and line and parsing goes on, so one run reports every mistake; the
 * caller gets -1 and a freed configuration (and freed parts).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "cidr.h"
#include "config.h"
#include "io.h"
#include "log.h"

#ifndef TERN_SYSCONFDIR
#define TERN_SYSCONFDIR	"/etc/tern"
#endif
#ifndef TERN_LIBEXECDIR
#define TERN_LIBEXECDIR	"/usr/local/lib/tern"
#endif

#define CONFIG_FILE_MAX		(1024 * 1024)
#define CONFIG_VALUE_MAX	(64 * 1024)
#define CONFIG_KEY_MAX		64

#define O(f)	offsetof(struct tern_config, f)

static const struct config_key config_global_keys[] = {
	{ "myhostname", CT_STRING, O(myhostname), NULL, CF_HOSTNAME, 0, NULL,
	    NULL },
	{ "mydestination", CT_LIST, O(mydestination), "localhost, $myhostname",
	    CF_EXPAND, 0, NULL, NULL },
	{ "queue_directory", CT_STRING, O(queue_directory), "/var/spool/tern", 0,
	    0, NULL, NULL },
	{ "daemon_directory", CT_STRING, O(daemon_directory), TERN_LIBEXECDIR, 0,
	    0, NULL, NULL },
	{ "mail_owner", CT_STRING, O(mail_owner), "tern", 0, 0, NULL, NULL },
	{ "master_config", CT_STRING, O(master_config), "master.conf",
	    CF_BESIDE, 0, NULL, NULL },
	/* relay control: smtpd's decision, and the routing that follows */
	{ "mynetworks", CT_LIST, O(mynetworks), "127.0.0.0/8, [::1]/128",
	    CF_NETWORKS, 0, NULL, NULL },
	{ "relay_domains", CT_LIST, O(relay_domains), "", CF_EXPAND, 0, NULL,
	    NULL },
	/* how long the resolver waits for DNS, and the SMTP client for it */
	{ "resolver_timeout", CT_TIME, O(resolver_timeout), "30", 0, 1, NULL,
	    NULL },
	/* smtpd, pickup and sendmail all bound a message by it */
	{ "message_size_limit", CT_SIZE, O(message_size_limit), "10240000", 0, 1,
	    NULL, NULL },
	/* the group of maildrop/ and ternpostdrop: the master, sendmail */
	{ "setgid_group", CT_STRING, O(setgid_group), "terndrop", 0, 0, NULL,
	    NULL },
	/* deliver's mailbox deadline, and qmgr's watchdog on deliver */
	{ "local_time_limit", CT_TIME, O(local_time_limit), "1000", 0, 1, NULL,
	    NULL },
	/* the aliases tables: local delivery looks names up in alias_maps,
	 * newaliases builds alias_database (sendmail, ternmap) */
	{ "alias_maps", CT_LIST, O(alias_maps), "hash:/etc/aliases", 0, 0,
	    NULL, NULL },
	{ "alias_database", CT_LIST, O(alias_database), "hash:/etc/aliases", 0,
	    0, NULL, NULL },
	{ "recipient_delimiter", CT_STRING, O(recipient_delimiter), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	/* virtual domains: qmgr routes, smtpd's RCPT check and deliver all
	 * ask them (common/virtual.h); "$virtual_alias_maps" in a domain
	 * list means "the domain is a key of those tables", as in Postfix */
	{ "virtual_alias_maps", CT_LIST, O(virtual_alias_maps), "", 0, 0,
	    NULL, NULL },
	{ "virtual_alias_domains", CT_LIST, O(virtual_alias_domains),
	    "$virtual_alias_maps", 0, 0, NULL, NULL },
	{ "virtual_mailbox_maps", CT_LIST, O(virtual_mailbox_maps), "", 0, 0,
	    NULL, NULL },
	{ "virtual_mailbox_domains", CT_LIST, O(virtual_mailbox_domains),
	    "$virtual_mailbox_maps", 0, 0, NULL, NULL },
	{ "verbose", CT_BOOL, O(verbose), "no", 0, 0, NULL, NULL },
};

const struct config_table config_global_table =
    CONFIG_TABLE("global", config_global_keys, struct tern_config);

static int
config_parse_choice(const struct config_key *k, const char *s, int *out)
{
	int	 i;

	/* Where empty is allowed it is the first word: Postfix's default
	 * for some choices is an empty value meaning "none". */
	if (*s == '\0' && (k->flags & CF_EMPTY_OK)) {
		*out = 0;
		return 0;
	}
	for (i = 0; k->words != NULL && k->words[i] != NULL; i++) {
		if (strcasecmp(s, k->words[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* One table with the struct it fills and where each key was set. */
struct config_use {
	const struct config_table *table;
	void		*dest;
	int		 scratch;	/* dest is ours: free it at the end */
	int		*line;		/* per key; 0 = default */
};

/* What one parse run keeps beside the configuration itself. */
struct config_run {
	const char	*name;
	int		 errors;
	int		 flags;
	struct config_use *use;		/* [0] is the global table */
	size_t		 nuse;
};

/* Value parsers */

/* Digits with an optional one-letter unit; the unit's multiplier comes from
 * units/mults.  Overflow of max is an error, not a wrap. */
static int
config_parse_unit(const char *s, const char *units, const unsigned long long *mults,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long	 v = 0, mult = 1;
	const char		*u;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (max - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (*s != '\0') {
		if (s[1] != '\0' || units == NULL ||
		    (u = strchr(units, tolower((unsigned char)*s))) == NULL)
			return -1;
		mult = mults[u - units];
	}
	if (mult > 1 && v > max / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int
config_parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "yes") == 0)
		*out = 1;
	else if (strcasecmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
config_parse_count(const char *s, int *out)
{
	unsigned long long	 v;

	if (config_parse_unit(s, NULL, NULL, INT_MAX, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

int
config_parse_size(const char *s, size_t *out)
{
	static const unsigned long long mults[] = { 1024ULL, 1024ULL * 1024,
	    1024ULL * 1024 * 1024 };
	unsigned long long	 v;

	if (config_parse_unit(s, "kmg", mults, SIZE_MAX, &v) < 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

int
config_parse_time(const char *s, int *out)
{
	static const unsigned long long mults[] = { 1, 60, 3600, 86400, 604800 };
	unsigned long long	 v;

	if (config_parse_unit(s, "smhdw", mults, INT_MAX, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

void
config_list_free(struct config_list *l)
{
	int	 i;

	for (i = 0; i < l->count; i++)
		free(l->item[i]);
	memset(l, 0, sizeof(*l));
}

/* The length of the item at s: up to a separator outside braces, so that
 * "inline:{ a = b, c = d }" stays one item, as in Postfix's lists; 0 for
 * unbalanced braces. */
static size_t
config_list_item(const char *s, const char *sep)
{
	size_t	 n;
	int	 depth = 0;

	for (n = 0; s[n] != '\0' && (depth > 0 || strchr(sep, s[n]) == NULL);
	    n++) {
		if (s[n] == '{')
			depth++;
		else if (s[n] == '}' && --depth < 0)
			return 0;
	}
	return depth == 0 ? n : 0;
}

int
config_parse_list(const char *s, struct config_list *l)
{
	static const char	 sep[] = ", \t";
	size_t			 n;

	memset(l, 0, sizeof(*l));
	for (;;) {
		s += strspn(s, sep);
		if (*s == '\0')
			return 0;
		if (l->count == CONFIG_LIST_MAX) {
			config_list_free(l);
			return -1;
		}
		if ((n = config_list_item(s, sep)) == 0) {
			config_list_free(l);
			return -1;
		}
		l->item[l->count++] = xstrndup(s, n);
		s += n;
	}
}

/* $myhostname expansion */

/* Replace each "$myhostname" or "${myhostname}" in s; a longer name such as
 * "$myhostnames" is not this variable and stays as it is. */
static char *
config_expand(const char *s, const char *host)
{
	static const char	 var[] = "myhostname";
	struct buf		 b;
	const char		*p;
	size_t			 vl = sizeof(var) - 1;

	buf_init(&b, SIZE_MAX);
	while ((p = strchr(s, '$')) != NULL) {
		buf_append(&b, s, (size_t)(p - s));
		if (strncmp(p + 1, var, vl) == 0 &&
		    !isalnum((unsigned char)p[1 + vl]) && p[1 + vl] != '_') {
			buf_append_str(&b, host);
			s = p + 1 + vl;
		} else if (p[1] == '{' && strncmp(p + 2, var, vl) == 0 &&
		    p[2 + vl] == '}') {
			buf_append_str(&b, host);
			s = p + 3 + vl;
		} else {
			buf_append(&b, "$", 1);
			s = p + 1;
		}
	}
	buf_append_str(&b, s);
	return b.data != NULL ? b.data : xstrdup("");
}

/* Setting and freeing one key */

static void *
config_field(void *dest, const struct config_key *k)
{
	return (char *)dest + k->off;
}

static void
config_clear_key(void *dest, const struct config_key *k)
{
	void	*f = config_field(dest, k);

	if (k->type == CT_STRING) {
		free(*(char **)f);
		*(char **)f = NULL;
	} else if (k->type == CT_LIST)
		config_list_free(f);
}

static int
config_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 1;
	return 0;
}

static int
config_check_networks(const struct config_list *l)
{
	struct cidr	 c;
	int		 i;

	for (i = 0; i < l->count; i++)
		if (cidr_parse(l->item[i], &c) < 0)
			return -1;
	return 0;
}

/* Parse value into the key's field (replacing what was there); -1 leaves the
 * field unchanged. */
static int
config_set(void *dest, const struct config_key *k, const char *value)
{
	void			*f = config_field(dest, k);
	struct config_list	 l;
	size_t			 sz;
	int			 i;

	if (config_has_ctl(value))
		return -1;
	switch (k->type) {
	case CT_STRING:
		if ((*value == '\0' && !(k->flags & CF_EMPTY_OK)) ||
		    ((k->flags & CF_HOSTNAME) &&
		    !addr_valid_domain(value, strlen(value))))
			return -1;
		config_clear_key(dest, k);
		*(char **)f = xstrdup(value);
		return 0;
	case CT_LIST:
		if (config_parse_list(value, &l) < 0)
			return -1;
		if ((k->flags & CF_NETWORKS) && config_check_networks(&l) < 0) {
			config_list_free(&l);
			return -1;
		}
		config_clear_key(dest, k);
		*(struct config_list *)f = l;
		return 0;
	case CT_BOOL:
		return config_parse_bool(value, f);
	case CT_CHOICE:
		return config_parse_choice(k, value, f);
	case CT_COUNT:
		if (config_parse_count(value, &i) < 0 || i < k->min)
			return -1;
		*(int *)f = i;
		return 0;
	case CT_TIME:
		if (config_parse_time(value, &i) < 0 || i < k->min)
			return -1;
		*(int *)f = i;
		return 0;
	case CT_SIZE:
		if (config_parse_size(value, &sz) < 0 ||
		    (unsigned long long)sz < (unsigned long long)k->min)
			return -1;
		*(size_t *)f = sz;
		return 0;
	}
	return -1;
}

static const struct config_key *
config_lookup(const struct config_table *t, const char *name)
{
	size_t	 i;

	for (i = 0; i < t->nkey; i++)
		if (strcmp(t->key[i].name, name) == 0)
			return &t->key[i];
	return NULL;
}

/* Defaults */

static char *
config_default_hostname(void)
{
	char	 host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

/* "master.conf" in the directory of path; a relative name given in the file
 * is also taken relative to that directory. */
static char *
config_beside(const char *path, const char *file)
{
	const char	*slash;
	struct buf	 b;

	if (file[0] == '/' || path == NULL || (slash = strrchr(path, '/')) == NULL)
		return xstrdup(file);
	buf_init(&b, SIZE_MAX);
	buf_append(&b, path, (size_t)(slash - path) + 1);
	buf_append_str(&b, file);
	return b.data;
}

/* A CF_BESIDE string that was just set is made relative to tern.conf. */
static void
config_set_beside(void *dest, const struct config_key *k, const char *path)
{
	char	**f = config_field(dest, k);
	char	 *p;

	if (!(k->flags & CF_BESIDE))
		return;
	p = config_beside(path, *f);
	free(*f);
	*f = p;
}

static void
config_defaults_table(const struct config_table *t, void *dest,
    const char *path)
{
	size_t	 i;

	memset(dest, 0, t->size);
	for (i = 0; i < t->nkey; i++) {
		if (t->key[i].def == NULL)
			continue;
		if (config_set(dest, &t->key[i], t->key[i].def) < 0)
			log_fatal("config: bad built-in default for %s",
			    t->key[i].name);
		config_set_beside(dest, &t->key[i], path);
	}
}

static void
config_defaults_global(struct tern_config *cf, const char *path)
{
	config_defaults_table(&config_global_table, cf, path);
	cf->myhostname = config_default_hostname();
	cf->path = xstrdup(path);
}

static char *
config_expand_free(char *s, const char *host)
{
	char	*e = config_expand(s, host);

	free(s);
	return e;
}

/* Expansion runs after the whole file is read, so myhostname may come after
 * the keys that use it. */
static void
config_expand_table(const struct config_table *t, void *dest, const char *host)
{
	struct config_list	*l;
	char			**s;
	size_t			 i;
	int			 j;

	for (i = 0; i < t->nkey; i++) {
		if (!(t->key[i].flags & CF_EXPAND))
			continue;
		if (t->key[i].type == CT_STRING) {
			s = config_field(dest, &t->key[i]);
			*s = config_expand_free(*s, host);
		} else if (t->key[i].type == CT_LIST) {
			l = config_field(dest, &t->key[i]);
			for (j = 0; j < l->count; j++)
				l->item[j] = config_expand_free(l->item[j], host);
		}
	}
}

void
config_defaults_parts(struct tern_config *cf, const struct config_part *part,
    size_t nparts)
{
	const char	*path = TERN_SYSCONFDIR "/tern.conf";
	size_t		 i;

	config_defaults_global(cf, path);
	config_expand_table(&config_global_table, cf, cf->myhostname);
	for (i = 0; i < nparts; i++) {
		config_defaults_table(part[i].table, part[i].dest, path);
		config_expand_table(part[i].table, part[i].dest, cf->myhostname);
	}
}

void
config_defaults(struct tern_config *cf)
{
	config_defaults_parts(cf, NULL, 0);
}

/* Parsing */

static void
config_err(struct config_run *run, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
config_err(struct config_run *run, int line, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%d: %s", run->name, line, msg);
	run->errors++;
}

static char *
config_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* The key's table among those of this run; NULL: no table declares it. */
static const struct config_key *
config_find(struct config_run *run, const char *name, struct config_use **use)
{
	const struct config_key	*k;
	size_t			 i;

	for (i = 0; i < run->nuse; i++) {
		if ((k = config_lookup(run->use[i].table, name)) != NULL) {
			*use = &run->use[i];
			return k;
		}
	}
	return NULL;
}

/* One complete "key = value" entry, continuation lines already joined. */
static void
config_apply(struct config_run *run, int line, char *text)
{
	const struct config_key	*k;
	struct config_use	*u;
	int			*set;
	char			*eq, *key, *value;
	char			 shown[80];

	if ((eq = strchr(text, '=')) == NULL) {
		config_err(run, line, "missing '=' in '%.60s'", config_trim(text));
		return;
	}
	*eq = '\0';
	key = config_trim(text);
	value = config_trim(eq + 1);
	if (*key == '\0') {
		config_err(run, line, "missing key before '='");
		return;
	}
	if ((k = config_find(run, key, &u)) == NULL) {
		/* Another program's key: the master's whole-file check has it. */
		if (run->flags & CONFIG_ALL_KEYS)
			config_err(run, line, "unknown key '%.*s'",
			    CONFIG_KEY_MAX, key);
		return;
	}
	set = &u->line[k - u->table->key];
	if (*set != 0) {
		config_err(run, line, "duplicate key '%s' (first set on line %d)",
		    k->name, *set);
		return;
	}
	*set = line;
	if (config_set(u->dest, k, value) == 0) {
		config_set_beside(u->dest, k, run->name);
		return;
	}
	snprintf(shown, sizeof(shown), "%s", value);
	for (char *p = shown; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	config_err(run, line, "bad value for %s: '%s'", k->name, shown);
}

/* Rules that involve two keys (not_above), checked once the file is
 * complete; reported on the later of the two lines. */
static void
config_check_use(struct config_run *run, const struct config_use *u)
{
	const struct config_key	*k, *hi;
	int			 lo_v, hi_v, line;
	size_t			 i;

	for (i = 0; i < u->table->nkey; i++) {
		k = &u->table->key[i];
		if (k->not_above == NULL ||
		    (hi = config_lookup(u->table, k->not_above)) == NULL)
			continue;
		lo_v = *(const int *)config_field(u->dest, k);
		hi_v = *(const int *)config_field(u->dest, hi);
		if (lo_v <= hi_v)
			continue;
		line = u->line[i];
		if (u->line[hi - u->table->key] > line)
			line = u->line[hi - u->table->key];
		config_err(run, line, "%s (%d) is larger than %s (%d)",
		    k->name, lo_v, hi->name, hi_v);
	}
}

/* Trailing blanks (and the CR of a CRLF file) never belong to a value. */
static size_t
config_rtrim_len(const char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	return n;
}

struct config_entry {
	struct buf	 text;
	int		 line;	/* first line of the entry; 0: none open */
	int		 skip;	/* entry was refused; swallow its continuations */
};

static void
config_entry_end(struct config_run *run, struct config_entry *e)
{
	if (e->line != 0 && !e->skip)
		config_apply(run, e->line, e->text.data);
	buf_reset(&e->text);
	e->line = 0;
	e->skip = 0;
}

/* Add one physical line (already without its newline) to the entries. */
static void
config_line(struct config_run *run, struct config_entry *e, int lineno,
    const char *p, size_t n)
{
	size_t	 lead = 0;

	if (memchr(p, '\0', n) != NULL) {
		config_err(run, lineno, "NUL byte in line");
		e->skip = e->line != 0;
		return;
	}
	while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
		lead++;
	n = config_rtrim_len(p, n);
	if (lead >= n || p[lead] == '#')
		return;		/* blank lines and comments end nothing */
	if (lead == 0) {
		config_entry_end(run, e);
		e->line = lineno;
	} else if (e->line == 0) {
		config_err(run, lineno, "continuation line without a key");
		return;
	} else if (e->skip)
		return;
	if ((lead > 0 && buf_append(&e->text, " ", 1) < 0) ||
	    buf_append(&e->text, p + lead, n - lead) < 0) {
		config_err(run, e->line, "entry longer than %d bytes",
		    CONFIG_VALUE_MAX);
		e->skip = 1;
	}
}

static void
config_lines(struct config_run *run, const char *text, size_t len)
{
	struct config_entry	 e;
	const char		*p = text, *end = text + len, *nl;
	int			 lineno = 0;

	buf_init(&e.text, CONFIG_VALUE_MAX);
	e.line = e.skip = 0;
	while (p < end) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		config_line(run, &e, lineno, p, (size_t)(nl - p));
		p = nl < end ? nl + 1 : end;
	}
	config_entry_end(run, &e);
	buf_free(&e.text);
}

/* The global table first, then the parts; a part without dest gets a
 * scratch struct, freed by config_run_end(). */
static void
config_run_start(struct config_run *run, const char *name, int flags,
    struct tern_config *cf, const struct config_part *part, size_t nparts)
{
	struct config_use	*u;
	size_t			 i;

	memset(run, 0, sizeof(*run));
	run->name = name != NULL ? name : "(config)";
	run->flags = flags;
	run->nuse = nparts + 1;
	run->use = xcalloc(run->nuse, sizeof(*run->use));
	for (i = 0; i < run->nuse; i++) {
		u = &run->use[i];
		u->table = i == 0 ? &config_global_table : part[i - 1].table;
		u->dest = i == 0 ? cf : part[i - 1].dest;
		if (u->dest == NULL) {
			u->dest = xcalloc(1, u->table->size);
			u->scratch = 1;
		}
		u->line = xcalloc(u->table->nkey + 1, sizeof(*u->line));
		if (i == 0)
			config_defaults_global(cf, run->name);
		else
			config_defaults_table(u->table, u->dest, run->name);
	}
}

static void
config_run_end(struct config_run *run)
{
	struct config_use	*u;
	size_t			 i;

	for (i = 0; i < run->nuse; i++) {
		u = &run->use[i];
		if (i > 0 && (u->scratch || run->errors > 0))
			config_free_part(u->table, u->dest);
		if (u->scratch)
			free(u->dest);
		free(u->line);
	}
	free(run->use);
}

int
config_parse_parts(const char *name, const char *text, size_t len,
    struct tern_config *cf, const struct config_part *part, size_t nparts,
    int flags)
{
	struct config_run	 run;
	size_t			 i;

	config_run_start(&run, name, flags, cf, part, nparts);
	config_lines(&run, text, len);
	for (i = 0; run.errors == 0 && i < run.nuse; i++)
		config_check_use(&run, &run.use[i]);
	if (run.errors == 0)
		for (i = 0; i < run.nuse; i++)
			config_expand_table(run.use[i].table, run.use[i].dest,
			    cf->myhostname);
	config_run_end(&run);
	if (run.errors > 0) {
		config_free(cf);
		return -1;
	}
	return 0;
}

int
config_parse(const char *name, const char *text, size_t len,
    struct tern_config *cf)
{
	return config_parse_parts(name, text, len, cf, NULL, 0, 0);
}

int
config_load_parts(const char *path, struct tern_config *cf,
    const struct config_part *part, size_t nparts, int flags)
{
	struct stat	 st;
	char		*text;
	ssize_t		 n = 0;
	size_t		 len = 0;
	int		 fd, r;

	if (path == NULL)
		path = TERN_SYSCONFDIR "/tern.conf";
	memset(cf, 0, sizeof(*cf));
	for (r = 0; (size_t)r < nparts; r++)
		if (part[r].dest != NULL)
			memset(part[r].dest, 0, part[r].table->size);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s: %s", path, "not a regular file");
		close(fd);
		return -1;
	}
	text = xmalloc(CONFIG_FILE_MAX + 1);
	/* Read up to the limit, not st_size: the file may be growing. */
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, text + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0 || len > CONFIG_FILE_MAX) {
		log_error("%s: %s", path, n < 0 ? strerror(errno) : "file too large");
		free(text);
		close(fd);
		return -1;
	}
	close(fd);
	r = config_parse_parts(path, text, len, cf, part, nparts, flags);
	free(text);
	return r;
}

int
config_load(const char *path, struct tern_config *cf)
{
	return config_load_parts(path, cf, NULL, 0, 0);
}

void
config_free_part(const struct config_table *t, void *dest)
{
	size_t	 i;

	for (i = 0; i < t->nkey; i++)
		config_clear_key(dest, &t->key[i]);
	memset(dest, 0, t->size);
}

void
config_free(struct tern_config *cf)
{
	free(cf->path);
	config_free_part(&config_global_table, cf);
}

/* Compare two domain names ignoring case and one trailing dot on each. */
static int
config_domain_eq(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && la > 0 && strncasecmp(a, b, la) == 0;
}

int
config_is_local_domain(const struct tern_config *cf, const char *domain)
{
	int	 i;

	if (domain == NULL)
		return 0;
	for (i = 0; i < cf->mydestination.count; i++)
		if (config_domain_eq(cf->mydestination.item[i], domain))
			return 1;
	return 0;
}

static void
config_print_key(const void *dest, const struct config_key *k, struct buf *b)
{
	const void	*f = (const char *)dest + k->off;
	const struct config_list *l;
	int		 i;

	buf_appendf(b, "%s =", k->name);
	switch (k->type) {
	case CT_STRING:
		if (*(char *const *)f != NULL && **(char *const *)f != '\0')
			buf_appendf(b, " %s", *(char *const *)f);
		break;
	case CT_LIST:
		l = f;
		for (i = 0; i < l->count; i++)
			buf_appendf(b, "%s%s", i ? ", " : " ", l->item[i]);
		break;
	case CT_BOOL:
		buf_appendf(b, " %s", *(const int *)f ? "yes" : "no");
		break;
	case CT_CHOICE:
		buf_appendf(b, " %s", k->words[*(const int *)f]);
		break;
	case CT_COUNT:
	case CT_TIME:
		buf_appendf(b, " %d", *(const int *)f);
		break;
	case CT_SIZE:
		buf_appendf(b, " %zu", *(const size_t *)f);
		break;
	}
	buf_append(b, "\n", 1);
}

void
config_print(const struct config_table *t, const void *dest, int fd)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, SIZE_MAX);
	for (i = 0; i < t->nkey; i++)
		config_print_key(dest, &t->key[i], &b);
	if (b.len > 0 && io_write_all(fd, b.data, b.len) < 0)
		log_warn("config_print: %s", strerror(errno));
	buf_free(&b);
}
