/*
 * smtpd_command - parse one SMTP command line.  The input is whatever a
 * client sent, so every scan is bounded by an explicit length and nothing is
 * assumed about NUL termination; the grammar is RFC 5321's, with only the
 * tolerance real clients need (one space after "FROM:"/"TO:", source routes
 * accepted and ignored as section 4.1.2 and appendix C require).
 */
#include <string.h>
#include <strings.h>

#include "smtpd_command.h"

static const struct {
	const char	*name;
	enum smtpd_verb	 verb;
} smtpd_verbs[] = {
	{ "HELO", SMTP_VERB_HELO },
	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },
	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },
	{ "VRFY", SMTP_VERB_VRFY },
	{ "HELP", SMTP_VERB_HELP },
	{ "QUIT", SMTP_VERB_QUIT },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
};

#define SMTP_NVERBS	(sizeof(smtpd_verbs) / sizeof(smtpd_verbs[0]))

int
smtpd_fail(struct smtpd_result *res, int code, const char *enhanced,
    const char *text)
{
	res->code = code;
	res->enhanced = enhanced;
	res->text = text;
	return -1;
}

static int
smtpd_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Case-insensitive ASCII prefix test that never reads past len. */
static int
smtpd_has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

static int
smtpd_token_eq(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

void
smtpd_command_split(const char *line, size_t len, struct smtpd_command *cmd)
{
	size_t	 i, vlen;

	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	cmd->verb = SMTP_VERB_UNKNOWN;
	for (i = 0; i < SMTP_NVERBS; i++) {
		if (smtpd_token_eq(line, vlen, smtpd_verbs[i].name)) {
			cmd->verb = smtpd_verbs[i].verb;
			break;
		}
	}
	/* RFC 5321 wants one SP; extra ones cost nothing to forgive here. */
	for (i = vlen; i < len && line[i] == ' '; i++)
		;
	cmd->arg = line + i;
	cmd->arglen = len - i;
}

const char *
smtpd_command_bare(const char *line, size_t len, size_t eol_len)
{
	if (memchr(line, '\r', len) != NULL)
		return "CR";
	return eol_len == 1 ? "LF" : NULL;
}

const char *
smtpd_command_name(enum smtpd_verb verb)
{
	size_t	 i;

	for (i = 0; i < SMTP_NVERBS; i++)
		if (smtpd_verbs[i].verb == verb)
			return smtpd_verbs[i].name;
	return "unknown";
}

/*
 * Offset of the '>' that closes the path starting with '<' at p[0], or 0
 * if there is none.  A Quoted-string local part may contain '>' and
 * backslash escapes, so quotes are followed.
 */
static size_t
smtpd_path_end(const char *p, size_t len)
{
	size_t	 i;
	int	 quoted = 0;

	for (i = 1; i < len; i++) {
		if (quoted && p[i] == '\\')
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
		else if (!quoted && p[i] == '>')
			return i;
	}
	return 0;
}

/* A-d-l = At-domain *( "," At-domain ), At-domain = "@" Domain. */
static int
smtpd_route_valid(const char *s, size_t len)
{
	size_t	 start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (i - start < 2 || s[start] != '@' ||
		    !addr_valid_domain(s + start + 1, i - start - 1))
			return 0;
		start = i + 1;
	}
	return 1;
}

/*
 * The inside of "<...>": an optional source route, then a mailbox.  Only
 * the mailbox is kept: RFC 5321 section 3.3 says servers SHOULD ignore
 * routes.
 */
static int
smtpd_mailbox(const char *s, size_t len, int is_mail, struct smtpd_path *path,
    struct smtpd_result *res)
{
	const char	*bad = is_mail ? "Bad sender address syntax" :
			    "Bad recipient address syntax";
	/* RFC 3463: X.1.7 is the sender's syntax, X.1.3 the recipient's. */
	const char	*dsn = is_mail ? "5.1.7" : "5.1.3";
	const char	*colon;

	if (len > 0 && s[0] == '@') {
		if ((colon = memchr(s, ':', len)) == NULL ||
		    !smtpd_route_valid(s, (size_t)(colon - s)))
			return smtpd_fail(res, 501, dsn, bad);
		len -= (size_t)(colon - s) + 1;
		s = colon + 1;
	}
	if (!is_mail && smtpd_token_eq(s, len, "postmaster"))
		path->postmaster = 1;
	else if (!addr_valid_mailbox(s, len, NULL))
		return smtpd_fail(res, 501, dsn, bad);
	if (len >= sizeof(path->addr))
		return smtpd_fail(res, 501, dsn, bad);
	memcpy(path->addr, s, len);
	path->addr[len] = '\0';
	path->addrlen = len;
	return 0;
}

/* SIZE=<digits>, RFC 1870; the value must fit an unsigned long long. */
static int
smtpd_param_size(const char *v, size_t len, struct smtpd_path *path)
{
	unsigned long long	 n = 0, d;
	size_t			 i;

	if (path->has_size || len == 0 || len > SMTP_SIZE_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		d = (unsigned long long)(v[i] - '0');
		if (n > (~0ULL - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	path->has_size = 1;
	path->size = n;
	return 0;
}

static int
smtpd_param_body(const char *v, size_t len, struct smtpd_path *path)
{
	if (path->body != SMTP_BODY_NONE)
		return -1;
	if (smtpd_token_eq(v, len, "7BIT"))
		path->body = SMTP_BODY_7BIT;
	else if (smtpd_token_eq(v, len, "8BITMIME"))
		path->body = SMTP_BODY_8BITMIME;
	else
		return -1;
	return 0;
}

/*
 * esmtp-param = esmtp-keyword ["=" esmtp-value]
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value = 1*(%d33-60 / %d62-126)
 * Returns the keyword length, or 0 if the syntax is bad; *v and *vlen get the
 * value (NULL, 0 when there is no "=").
 */
static size_t
smtpd_param_split(const char *s, size_t len, const char **v, size_t *vlen)
{
	size_t		 k, i;
	unsigned char	 c;

	if (len == 0 || !smtpd_is_alnum((unsigned char)s[0]))
		return 0;
	for (k = 1; k < len && s[k] != '='; k++)
		if (!smtpd_is_alnum((unsigned char)s[k]) && s[k] != '-')
			return 0;
	*v = NULL;
	*vlen = 0;
	if (k == len)
		return k;
	if (k + 1 == len)
		return 0;
	for (i = k + 1; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '=')
			return 0;
	}
	*v = s + k + 1;
	*vlen = len - k - 1;
	return k;
}

/* RFC 3461: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT, each once; a
 * bad value is a syntax error (501 5.5.4), as RFC 3461 section 5.4 says. */
static int
smtpd_param_dsn(const char *s, size_t klen, const char *v, size_t vlen,
    int is_mail, struct smtpd_path *path, struct smtpd_result *res)
{
	int	 r;

	if (is_mail && smtpd_token_eq(s, klen, "RET")) {
		if (path->ret != 0 || (r = smtpd_dsn_ret(v, vlen)) < 0)
			return smtpd_fail(res, 501, "5.5.4", "Bad RET parameter");
		path->ret = r;
		return 0;
	}
	if (is_mail && smtpd_token_eq(s, klen, "ENVID")) {
		if (path->envid[0] != '\0' || smtpd_dsn_envid(v, vlen,
		    path->envid, sizeof(path->envid)) < 0)
			return smtpd_fail(res, 501, "5.5.4",
			    "Bad ENVID parameter");
		return 0;
	}
	if (!is_mail && smtpd_token_eq(s, klen, "NOTIFY")) {
		if (path->notify != 0 || (r = smtpd_dsn_notify(v, vlen)) < 0)
			return smtpd_fail(res, 501, "5.5.4",
			    "Bad NOTIFY parameter");
		path->notify = r;
		return 0;
	}
	if (!is_mail && smtpd_token_eq(s, klen, "ORCPT")) {
		if (path->orcpt[0] != '\0' || smtpd_dsn_orcpt(v, vlen,
		    path->orcpt, sizeof(path->orcpt)) < 0)
			return smtpd_fail(res, 501, "5.5.4",
			    "Bad ORCPT parameter");
		return 0;
	}
	return smtpd_fail(res, 555, "5.5.4", "Unsupported parameter");
}

static int
smtpd_param(const char *s, size_t len, int is_mail, struct smtpd_path *path,
    struct smtpd_result *res)
{
	const char	*v;
	size_t		 klen, vlen;

	if ((klen = smtpd_param_split(s, len, &v, &vlen)) == 0)
		return smtpd_fail(res, 501, "5.5.4", "Bad parameter syntax");
	if (is_mail && smtpd_token_eq(s, klen, "SIZE")) {
		if (smtpd_param_size(v, vlen, path) < 0)
			return smtpd_fail(res, 501, "5.5.4", "Bad SIZE parameter");
		return 0;
	}
	if (is_mail && smtpd_token_eq(s, klen, "BODY")) {
		if (smtpd_param_body(v, vlen, path) < 0)
			return smtpd_fail(res, 501, "5.5.4", "Bad BODY parameter");
		return 0;
	}
	return smtpd_param_dsn(s, klen, v, vlen, is_mail, path, res);
}

static int
smtpd_params(const char *s, size_t len, int is_mail, struct smtpd_path *path,
    struct smtpd_result *res)
{
	size_t	 i = 0, start;

	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			return 0;
		for (start = i; i < len && s[i] != ' '; i++)
			;
		if (smtpd_param(s + start, i - start, is_mail, path, res) < 0)
			return -1;
	}
}

/* Common to MAIL and RCPT: "<kw>[ ]<path>[ params]". */
static int
smtpd_command_path(const char *arg, size_t len, const char *kw, int is_mail,
    struct smtpd_path *path, struct smtpd_result *res)
{
	const char	*syntax = is_mail ? "Syntax: MAIL FROM:<address>" :
			    "Syntax: RCPT TO:<address>";
	size_t		 end, kwlen = strlen(kw);

	memset(path, 0, sizeof(*path));
	memset(res, 0, sizeof(*res));
	if (!smtpd_has_prefix(arg, len, kw))
		return smtpd_fail(res, 501, "5.5.4", syntax);
	arg += kwlen;
	len -= kwlen;
	if (len > 0 && arg[0] == ' ') {
		arg++;
		len--;
	}
	if (len == 0 || arg[0] != '<' || (end = smtpd_path_end(arg, len)) == 0)
		return smtpd_fail(res, 501, "5.5.4", syntax);
	if (end == 1) {
		if (!is_mail)
			return smtpd_fail(res, 501, "5.1.3",
			    "Bad recipient address syntax");
		path->null = 1;
	} else if (smtpd_mailbox(arg + 1, end - 1, is_mail, path, res) < 0)
		return -1;
	arg += end + 1;
	len -= end + 1;
	if (len > 0 && arg[0] != ' ')
		return smtpd_fail(res, 501, "5.5.4", syntax);
	return smtpd_params(arg, len, is_mail, path, res);
}

int
smtpd_command_mail(const char *arg, size_t len, struct smtpd_path *path,
    struct smtpd_result *res)
{
	return smtpd_command_path(arg, len, "FROM:", 1, path, res);
}

int
smtpd_command_rcpt(const char *arg, size_t len, struct smtpd_path *path,
    struct smtpd_result *res)
{
	return smtpd_command_path(arg, len, "TO:", 0, path, res);
}
