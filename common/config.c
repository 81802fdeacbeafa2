/*
 * config - reading tern.conf.  One table lists every key with its type,
 * default and place in struct tern_config; defaults are strings run through
 * the same parsers as the file, so a default can never be a value the file
 * would reject.  Errors name the file and line and parsing goes on, so one
 * run reports every mistake; the caller gets -1 and a freed configuration.
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

enum config_type { CT_STRING, CT_LIST, CT_BOOL, CT_COUNT, CT_SIZE, CT_TIME,
    CT_CHOICE };

#define CF_EMPTY_OK	0x01	/* a string may be empty */
#define CF_EXPAND	0x02	/* $myhostname is expanded */
#define CF_HOSTNAME	0x04	/* must be a valid domain name */
#define CF_NETWORKS	0x08	/* a list of networks (cidr.h) */

struct config_key {
	const char	*name;
	enum config_type type;
	size_t		 off;
	const char	*def;	/* NULL: computed (myhostname, master_config) */
	int		 flags;
	long long	 min;	/* counts, sizes and times */
};

#define O(f)	offsetof(struct tern_config, f)

static const struct config_key config_keys[] = {
	{ "myhostname", CT_STRING, O(myhostname), NULL, CF_HOSTNAME, 0 },
	{ "mydestination", CT_LIST, O(mydestination), "localhost, $myhostname",
	    CF_EXPAND, 0 },
	{ "smtpd_banner", CT_STRING, O(smtpd_banner), "$myhostname ESMTP tern",
	    CF_EXPAND | CF_EMPTY_OK, 0 },
	{ "queue_directory", CT_STRING, O(queue_directory), "/var/spool/tern", 0, 0 },
	{ "daemon_directory", CT_STRING, O(daemon_directory), TERN_LIBEXECDIR, 0, 0 },
	{ "mail_owner", CT_STRING, O(mail_owner), "tern", 0, 0 },
	{ "setgid_group", CT_STRING, O(setgid_group), "terndrop", 0, 0 },
	{ "master_config", CT_STRING, O(master_config), NULL, 0, 0 },
	{ "message_size_limit", CT_SIZE, O(message_size_limit), "10240000", 0, 1 },
	{ "smtpd_recipient_limit", CT_COUNT, O(smtpd_recipient_limit), "1000", 0, 1 },
	{ "smtpd_timeout", CT_TIME, O(smtpd_timeout), "300", 0, 1 },
	{ "smtpd_client_limit", CT_COUNT, O(smtpd_client_limit), "20000", 0, 1 },
	{ "local_recipient_check", CT_BOOL, O(local_recipient_check), "yes", 0, 0 },
	{ "smtpd_forbid_bare_newline", CT_CHOICE, O(smtpd_forbid_bare_newline),
	    "reject", 0, 0 },
	{ "smtpd_junk_command_limit", CT_COUNT, O(smtpd_junk_command_limit),
	    "100", 0, 1 },
	{ "smtpd_min_data_rate", CT_COUNT, O(smtpd_min_data_rate), "500", 0, 1 },
	{ "smtpd_session_time_limit", CT_TIME, O(smtpd_session_time_limit), "1h",
	    0, 0 },
	{ "queue_minfree", CT_SIZE, O(queue_minfree), "0", 0, 0 },
	{ "smtpd_client_connection_count_limit", CT_COUNT,
	    O(smtpd_client_connection_count_limit), "50", 0, 0 },
	{ "smtpd_client_connection_rate_limit", CT_COUNT,
	    O(smtpd_client_connection_rate_limit), "0", 0, 0 },
	{ "smtpd_client_event_limit_exceptions", CT_LIST,
	    O(smtpd_client_event_limit_exceptions), "127.0.0.0/8, ::1",
	    CF_NETWORKS, 0 },
	{ "anvil_rate_time_unit", CT_TIME, O(anvil_rate_time_unit), "60", 0, 1 },
	{ "queue_scan_interval", CT_TIME, O(queue_scan_interval), "60", 0, 1 },
	{ "minimal_backoff_time", CT_TIME, O(minimal_backoff_time), "300", 0, 1 },
	{ "maximal_backoff_time", CT_TIME, O(maximal_backoff_time), "4000", 0, 1 },
	{ "maximal_queue_lifetime", CT_TIME, O(maximal_queue_lifetime), "5d", 0, 0 },
	{ "deliver_concurrency", CT_COUNT, O(deliver_concurrency), "4", 0, 1 },
	{ "home_mailbox", CT_STRING, O(home_mailbox), "Maildir/", 0, 0 },
	{ "resolver_nameservers", CT_LIST, O(resolver_nameservers), "", 0, 0 },
	{ "resolver_timeout", CT_TIME, O(resolver_timeout), "30", 0, 1 },
	{ "verbose", CT_BOOL, O(verbose), "no", 0, 0 },
};

#define NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

/* The words a CT_CHOICE key accepts (case does not matter); its value is
 * the index of the word, as the enum beside the field in config.h says. */
static const struct {
	const char	*key;
	const char	*word[4];	/* NULL after the last */
} config_choices[] = {
	{ "smtpd_forbid_bare_newline", { "no", "reject", NULL } },
};

static const char *const *
config_choice_words(const struct config_key *k)
{
	size_t	 i;

	for (i = 0; i < sizeof(config_choices) / sizeof(config_choices[0]); i++)
		if (strcmp(config_choices[i].key, k->name) == 0)
			return config_choices[i].word;
	return NULL;
}

static int
config_parse_choice(const struct config_key *k, const char *s, int *out)
{
	const char *const	*w = config_choice_words(k);
	int			 i;

	for (i = 0; w != NULL && w[i] != NULL; i++) {
		if (strcasecmp(s, w[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* What one parse run keeps beside the configuration itself. */
struct config_run {
	const char	*name;
	int		 errors;
	int		 line[NKEYS];	/* where each key was set; 0 = default */
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
		n = strcspn(s, sep);
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
config_field(struct tern_config *cf, const struct config_key *k)
{
	return (char *)cf + k->off;
}

static void
config_clear_key(struct tern_config *cf, const struct config_key *k)
{
	void	*f = config_field(cf, k);

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
config_set(struct tern_config *cf, const struct config_key *k, const char *value)
{
	void			*f = config_field(cf, k);
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
		config_clear_key(cf, k);
		*(char **)f = xstrdup(value);
		return 0;
	case CT_LIST:
		if (config_parse_list(value, &l) < 0)
			return -1;
		if ((k->flags & CF_NETWORKS) && config_check_networks(&l) < 0) {
			config_list_free(&l);
			return -1;
		}
		config_clear_key(cf, k);
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
config_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
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

static void
config_defaults_for(struct tern_config *cf, const char *path)
{
	size_t	 i;

	memset(cf, 0, sizeof(*cf));
	for (i = 0; i < NKEYS; i++)
		if (config_keys[i].def != NULL &&
		    config_set(cf, &config_keys[i], config_keys[i].def) < 0)
			log_fatal("config: bad built-in default for %s",
			    config_keys[i].name);
	cf->myhostname = config_default_hostname();
	cf->master_config = config_beside(path, "master.conf");
	cf->path = xstrdup(path);
}

/* Expansion runs after the whole file is read, so myhostname may come after
 * the keys that use it. */
static void
config_expand_all(struct tern_config *cf)
{
	char	*s;
	int	 i;

	s = config_expand(cf->smtpd_banner, cf->myhostname);
	free(cf->smtpd_banner);
	cf->smtpd_banner = s;
	for (i = 0; i < cf->mydestination.count; i++) {
		s = config_expand(cf->mydestination.item[i], cf->myhostname);
		free(cf->mydestination.item[i]);
		cf->mydestination.item[i] = s;
	}
}

void
config_defaults(struct tern_config *cf)
{
	config_defaults_for(cf, TERN_SYSCONFDIR "/tern.conf");
	config_expand_all(cf);
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

/* One complete "key = value" entry, continuation lines already joined. */
static void
config_apply(struct tern_config *cf, struct config_run *run, int line, char *text)
{
	const struct config_key	*k;
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
	if ((k = config_lookup(key)) == NULL) {
		config_err(run, line, "unknown key '%.*s'", CONFIG_KEY_MAX, key);
		return;
	}
	if (run->line[k - config_keys] != 0) {
		config_err(run, line, "duplicate key '%s' (first set on line %d)",
		    k->name, run->line[k - config_keys]);
		return;
	}
	run->line[k - config_keys] = line;
	if (config_set(cf, k, value) == 0) {
		if (k->type == CT_STRING && strcmp(k->name, "master_config") == 0) {
			char *p = config_beside(run->name, value);

			free(cf->master_config);
			cf->master_config = p;
		}
		return;
	}
	snprintf(shown, sizeof(shown), "%s", value);
	for (char *p = shown; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	config_err(run, line, "bad value for %s: '%s'", k->name, shown);
}

/* Rules that involve two keys, checked once the file is complete. */
static void
config_check(struct tern_config *cf, struct config_run *run)
{
	const struct config_key	*k = config_lookup("maximal_backoff_time");
	const struct config_key	*j = config_lookup("minimal_backoff_time");
	int			 line;

	if (cf->minimal_backoff_time > cf->maximal_backoff_time) {
		line = run->line[k - config_keys];
		if (run->line[j - config_keys] > line)
			line = run->line[j - config_keys];
		config_err(run, line, "minimal_backoff_time (%d) is larger than "
		    "maximal_backoff_time (%d)", cf->minimal_backoff_time,
		    cf->maximal_backoff_time);
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
config_entry_end(struct tern_config *cf, struct config_run *run,
    struct config_entry *e)
{
	if (e->line != 0 && !e->skip)
		config_apply(cf, run, e->line, e->text.data);
	buf_reset(&e->text);
	e->line = 0;
	e->skip = 0;
}

/* Add one physical line (already without its newline) to the entries. */
static void
config_line(struct tern_config *cf, struct config_run *run,
    struct config_entry *e, int lineno, const char *p, size_t n)
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
		config_entry_end(cf, run, e);
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
config_lines(struct tern_config *cf, struct config_run *run, const char *text,
    size_t len)
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
		config_line(cf, run, &e, lineno, p, (size_t)(nl - p));
		p = nl < end ? nl + 1 : end;
	}
	config_entry_end(cf, run, &e);
	buf_free(&e.text);
}

int
config_parse(const char *name, const char *text, size_t len,
    struct tern_config *cf)
{
	struct config_run	 run;

	memset(&run, 0, sizeof(run));
	run.name = name != NULL ? name : "(config)";
	config_defaults_for(cf, run.name);
	config_lines(cf, &run, text, len);
	if (run.errors == 0)
		config_check(cf, &run);
	if (run.errors > 0) {
		config_free(cf);
		return -1;
	}
	config_expand_all(cf);
	return 0;
}

int
config_load(const char *path, struct tern_config *cf)
{
	struct stat	 st;
	char		*text;
	ssize_t		 n = 0;
	size_t		 len = 0;
	int		 fd, r;

	if (path == NULL)
		path = TERN_SYSCONFDIR "/tern.conf";
	memset(cf, 0, sizeof(*cf));
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
	r = config_parse(path, text, len, cf);
	free(text);
	return r;
}

void
config_free(struct tern_config *cf)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		config_clear_key(cf, &config_keys[i]);
	free(cf->path);
	memset(cf, 0, sizeof(*cf));
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
config_print_key(const struct tern_config *cf, const struct config_key *k,
    struct buf *b)
{
	const void	*f = (const char *)cf + k->off;
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
		buf_appendf(b, " %s", config_choice_words(k)[*(const int *)f]);
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
config_print(const struct tern_config *cf, int fd)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, SIZE_MAX);
	for (i = 0; i < NKEYS; i++)
		config_print_key(cf, &config_keys[i], &b);
	if (b.len > 0 && io_write_all(fd, b.data, b.len) < 0)
		log_warn("config_print: %s", strerror(errno));
	buf_free(&b);
}
