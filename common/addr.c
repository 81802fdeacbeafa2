/*
 * addr - mailbox syntax checks from RFC 5321 section 4.1.2.  Everything here
 * works on a (pointer, length) pair and never reads past it, because the
 * input is whatever a client sent; the checks are strict on purpose, since a
 * refused odd address costs less than one that confuses a later stage.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* RFC 5322 atext, without the ALPHA/DIGIT tested separately. */
static int
addr_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
addr_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* Dot-string = Atom *("." Atom) */
static int
addr_dot_string(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return 0;
		} else if (!addr_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Length of the Quoted-string at s (including both quotes), 0 if none. */
static size_t
addr_quoted_len(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	if (len < 2 || s[0] != '"')
		return 0;
	for (i = 1; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (++i >= len || (unsigned char)s[i] < 32 ||
			    (unsigned char)s[i] > 126)
				return 0;
		} else if (c < 32 || c > 126)
			return 0;
	}
	return 0;
}

int
addr_valid_domain(const char *s, size_t len)
{
	size_t	 i, label = 0;

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			/* A label may not be empty or end with a hyphen. */
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!addr_ldh((unsigned char)s[i]) ||
		    (label == 0 && s[i] == '-') || ++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT 0..255 */
static int
addr_ipv4(const char *s, size_t len)
{
	size_t	 i = 0;
	int	 part, digits, value;

	for (part = 0; part < 4; part++) {
		if (part > 0 && (i >= len || s[i++] != '.'))
			return 0;
		for (digits = 0, value = 0; i < len && s[i] >= '0' && s[i] <= '9';
		    i++) {
			if (++digits > 3)
				return 0;
			value = value * 10 + (s[i] - '0');
		}
		if (digits == 0 || value > 255)
			return 0;
	}
	return i == len;
}

static int
addr_ipv6(const char *s, size_t len)
{
	char		 tmp[INET6_ADDRSTRLEN + 1];
	struct in6_addr	 a;
	size_t		 i;

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	/* inet_pton wants a C string; refuse anything it might stop early on. */
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

int
addr_valid_literal(const char *s, size_t len)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++;
	len -= 2;
	/* The tag is an ABNF string, so case-insensitive. */
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0)
		return addr_ipv6(s + 5, len - 5);
	/* General-address-literal: no other tag is standardized for use. */
	return addr_ipv4(s, len);
}

static int
addr_fail(const char **err, const char *why)
{
	if (err != NULL)
		*err = why;
	return 0;
}

int
addr_valid_mailbox(const char *s, size_t len, const char **err)
{
	size_t	 i, local;

	if (s == NULL || len == 0)
		return addr_fail(err, "empty address");
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return addr_fail(err, "8-bit character");
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return addr_fail(err, "control character");
	}
	/* The path adds "<" and ">" and must fit ADDR_PATH_MAX octets. */
	if (len + 2 > ADDR_PATH_MAX)
		return addr_fail(err, "address too long");
	if (s[0] == '"') {
		if ((local = addr_quoted_len(s, len)) == 0)
			return addr_fail(err, "bad quoted local part");
	} else {
		for (local = 0; local < len && s[local] != '@'; local++)
			;
		if (!addr_dot_string(s, local))
			return addr_fail(err, local == len ? "missing domain" :
			    "bad local part");
	}
	if (local >= len || s[local] != '@')
		return addr_fail(err, "missing domain");
	if (local > ADDR_LOCAL_MAX)
		return addr_fail(err, "local part too long");
	s += local + 1;
	len -= local + 1;
	if (len > 0 && s[0] == '[')
		return addr_valid_literal(s, len) ? 1 :
		    addr_fail(err, "bad address literal");
	if (len > ADDR_DOMAIN_MAX)
		return addr_fail(err, "domain too long");
	return addr_valid_domain(s, len) ? 1 : addr_fail(err, "bad domain");
}

const char *
addr_domain(const char *mailbox)
{
	const char	*at;

	if (mailbox == NULL || (at = strrchr(mailbox, '@')) == NULL)
		return NULL;
	return at + 1;
}

/* The octets a local part stands for: a Quoted-string s[0..len) (quotes
 * included) unquoted and unescaped, anything else as it is.  0, or -1 if
 * they do not fit out[0..outlen) with a NUL. */
static int
addr_unquote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 i, n = 0;

	if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
		s++;
		len -= 2;
	} else {
		/* A Dot-string is copied as it is. */
		if (len >= outlen)
			return -1;
		memcpy(out, s, len);
		out[len] = '\0';
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		if (n + 1 >= outlen)
			return -1;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return 0;
}

int
addr_local_part(const char *mailbox, char *out, size_t outlen)
{
	const char	*at;

	if (mailbox == NULL || outlen == 0 ||
	    (at = strrchr(mailbox, '@')) == NULL)
		return -1;
	return addr_unquote(mailbox, (size_t)(at - mailbox), out, outlen);
}

/* Append s[0..len) to out at *n, keeping room for the NUL; -1 if full. */
static int
addr_put(char *out, size_t outlen, size_t *n, const char *s, size_t len)
{
	if (len >= outlen - *n)
		return -1;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
	return 0;
}

/* The shortest spelling of the local part whose octets are raw[0..len):
 * bare when they form a Dot-string, else quoted with only '"' and '\\'
 * escaped, which is all that qtextSMTP lacks (RFC 5321 section 4.1.2). */
static int
addr_put_local(char *out, size_t outlen, size_t *n, const char *raw,
    size_t len)
{
	size_t	 i;

	if (addr_dot_string(raw, len))
		return addr_put(out, outlen, n, raw, len);
	if (addr_put(out, outlen, n, "\"", 1) < 0)
		return -1;
	for (i = 0; i < len; i++)
		if (((raw[i] == '"' || raw[i] == '\\') &&
		    addr_put(out, outlen, n, "\\", 1) < 0) ||
		    addr_put(out, outlen, n, raw + i, 1) < 0)
			return -1;
	return addr_put(out, outlen, n, "\"", 1);
}

/* addr_canonical of a valid mailbox whose local part is s[0..local). */
static int
addr_canonical_put(const char *s, size_t len, size_t local, char *out,
    size_t outlen)
{
	char	 raw[ADDR_LOCAL_MAX + 1], c;
	size_t	 i, n = 0;

	if (addr_unquote(s, local, raw, sizeof(raw)) < 0 ||
	    addr_put_local(out, outlen, &n, raw, strlen(raw)) < 0 ||
	    addr_put(out, outlen, &n, "@", 1) < 0)
		return -1;
	for (i = local + 1; i < len; i++) {
		c = (char)tolower((unsigned char)s[i]);
		if (addr_put(out, outlen, &n, &c, 1) < 0)
			return -1;
	}
	return 0;
}

int
addr_canonical(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 local, n = 0;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (s == NULL)
		return -1;
	if (len == 10 && strncasecmp(s, "postmaster", 10) == 0)
		return addr_put(out, outlen, &n, "postmaster", 10);
	if (!addr_valid_mailbox(s, len, NULL))
		return -1;
	/* Valid, so the local part ends at the quote or at the first '@'. */
	if (s[0] == '"')
		local = addr_quoted_len(s, len);
	else
		for (local = 0; s[local] != '@'; local++)
			;
	if (addr_canonical_put(s, len, local, out, outlen) < 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

char *
addr_lower(const char *s, char *out, size_t outlen)
{
	size_t	 i;

	if (outlen == 0)
		return out;
	for (i = 0; i + 1 < outlen && s[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
	return out;
}

/* Login names that could exist.  Anything else is unknown without asking:
 * the name comes from the network and the passwd lookup may reach an NSS
 * back end (LDAP, SQL) that is less careful about odd bytes than we are. */
static int
addr_login_name_ok(const char *name)
{
	const char	*p;

	if (*name == '\0' || *name == '.' || *name == '-')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

int
addr_local_name(const char *rcpt, char *out, size_t outlen)
{
	char	 local[ADDR_LOCAL_MAX + 1];

	if (strchr(rcpt, '@') == NULL) {
		if (strlen(rcpt) >= sizeof(local))
			return -1;
		strlcpy(local, rcpt, sizeof(local));
	} else if (addr_local_part(rcpt, local, sizeof(local)) < 0)
		return -1;
	if (strlen(local) >= outlen)
		return -1;
	addr_lower(local, out, outlen);
	return 0;
}

int
addr_local_user(const char *rcpt, char *out, size_t outlen)
{
	if (addr_local_name(rcpt, out, outlen) < 0)
		return -1;
	return addr_login_name_ok(out) ? 0 : -1;
}
