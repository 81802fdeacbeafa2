/*
 * smtp_policy - smtp_tls_policy_maps: the TLS security level of each next
 * hop, as Postfix's table of the same name.  The key is the next hop as
 * qmgr routed it ("[192.0.2.1]:2525", "example.com", "example.com:587"),
 * then for a domain the domain alone and each parent domain as ".parent";
 * the value is a level (none, may, encrypt, verify, or secure, which is
 * verify here) and optional Postfix attributes ("name=value"), which are
 * checked for form and otherwise ignored.  No entry: smtp_tls_security_level.
 *
 * The value comes from a file the administrator wrote, but it decides how
 * mail is protected, so it is parsed strictly (smtp_policy_parse, pure):
 * a level we do not implement (dane, fingerprint, ...) or a malformed value
 * defers the mail (4.7.5) rather than send it with less protection than
 * asked; a failed lookup defers it too (4.3.0).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "smtp.h"

static const struct {
	const char	*word;
	int		 level;
} policy_levels[] = {
	{ "none", CONFIG_TLS_NONE },
	{ "may", CONFIG_TLS_MAY },
	{ "encrypt", CONFIG_TLS_ENCRYPT },
	{ "verify", CONFIG_TLS_VERIFY },
	{ "secure", CONFIG_TLS_VERIFY },
};

/* One "name=value" attribute of len bytes: a name of letters, digits and
 * '_', then '=', then printable bytes.  1 or 0. */
static int
policy_attr_valid(const char *a, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && a[i] != '='; i++)
		if (!(a[i] == '_' || (a[i] >= 'a' && a[i] <= 'z') ||
		    (a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9')))
			return 0;
	if (i == 0 || i == len)
		return 0;
	for (i++; i < len; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f)
			return 0;
	return 1;
}

int
smtp_policy_parse(const char *v, size_t len, int *level, const char **why)
{
	size_t	 i = 0, w, k;
	int	 found = -1;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (w = i; w < len && v[w] != ' ' && v[w] != '\t'; w++)
		;
	for (k = 0; k < sizeof(policy_levels) / sizeof(policy_levels[0]); k++)
		if (strlen(policy_levels[k].word) == w - i &&
		    strncasecmp(v + i, policy_levels[k].word, w - i) == 0)
			found = policy_levels[k].level;
	if (w == i) {
		*why = "no security level";
		return -1;
	}
	if (found < 0) {
		*why = "unknown or unsupported security level";
		return -1;
	}
	for (i = w; i < len; i = w) {
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (w = i; w < len && v[w] != ' ' && v[w] != '\t'; w++)
			;
		if (w > i && !policy_attr_valid(v + i, w - i)) {
			*why = "malformed attribute (not name=value)";
			return -1;
		}
	}
	*level = found;
	return 0;
}

/* Look key up; 1 found (*level set or *why for a bad value: -1 in *bad),
 * 0 not found, -1 the lookup failed (err). */
static int
policy_lookup(struct map_list *maps, const char *key, int *level, int *bad,
    const char **why, char *err, size_t errlen)
{
	const char	*value;
	int		 r;

	r = map_list_lookup(maps, key, &value, err, errlen);
	if (r != 1)
		return r;
	*bad = smtp_policy_parse(value, strlen(value), level, why);
	return 1;
}

int
smtp_policy_level(struct smtp *s, const char *nexthop,
    const struct smtp_nexthop *nh, struct smtp_result *fail)
{
	char		 err[MAP_ERR_MAX], key[DELIVER_NEXTHOP_MAX + 2];
	const char	*why = "", *d;
	int		 level = s->par->smtp_tls_security_level, bad = 0, r;

	if (s->tls_policy == NULL || s->tls_policy->count == 0)
		return level;
	err[0] = '\0';
	r = policy_lookup(s->tls_policy, nexthop, &level, &bad, &why, err,
	    sizeof(err));
	if (r == 0 && !nh->literal && strcmp(nexthop, nh->host) != 0)
		r = policy_lookup(s->tls_policy, nh->host, &level, &bad, &why,
		    err, sizeof(err));
	for (d = strchr(nh->host, '.'); r == 0 && !nh->literal && d != NULL;
	    d = strchr(d + 1, '.')) {
		snprintf(key, sizeof(key), "%s", d);
		r = policy_lookup(s->tls_policy, key, &level, &bad, &why, err,
		    sizeof(err));
	}
	if (r < 0) {
		snprintf(fail->dsn, sizeof(fail->dsn), "4.3.0");
		snprintf(fail->text, sizeof(fail->text), "TLS policy lookup "
		    "for %.250s failed: %.200s", nexthop, err);
		fail->status = DELIVER_DEFER;
		return -1;
	}
	if (r == 1 && bad) {
		snprintf(fail->dsn, sizeof(fail->dsn), "4.7.5");
		snprintf(fail->text, sizeof(fail->text), "invalid TLS policy "
		    "for %.300s in smtp_tls_policy_maps: %.100s", nexthop, why);
		fail->status = DELIVER_DEFER;
		log_warn("%s", fail->text);
		return -1;
	}
	return level;
}
