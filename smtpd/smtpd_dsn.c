/*
 * smtpd_dsn - RFC 3461's MAIL and RCPT parameters (see smtpd_dsn.h).
 * Everything is checked against the grammar and the queue file's rules
 * before it is kept; nothing here allocates.
 */
#include <string.h>
#include <strings.h>

#include "queue_file.h"
#include "smtpd_dsn.h"

static int
dsn_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtpd_xtext_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t		 i, n = 0;
	int		 hi, lo;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= len)
				return -1;
			if ((hi = dsn_hex(s[i + 1])) < 0 ||
			    (lo = dsn_hex(s[i + 2])) < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		if (c < 0x20 || c > 0x7e || n + 1 >= outlen)
			return -1;
		out[n++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}

static int
dsn_word(const char *v, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(v, w, len) == 0;
}

int
smtpd_dsn_ret(const char *v, size_t len)
{
	if (v != NULL && dsn_word(v, len, "FULL"))
		return QUEUE_RET_FULL;
	if (v != NULL && dsn_word(v, len, "HDRS"))
		return QUEUE_RET_HDRS;
	return -1;
}

int
smtpd_dsn_notify(const char *v, size_t len)
{
	size_t	 start = 0, i;
	int	 bits = 0, b;

	if (v == NULL || len == 0)
		return -1;
	if (dsn_word(v, len, "NEVER"))
		return QUEUE_NOTIFY_NEVER;
	for (i = 0; i <= len; i++) {
		if (i < len && v[i] != ',')
			continue;
		if (dsn_word(v + start, i - start, "SUCCESS"))
			b = QUEUE_NOTIFY_SUCCESS;
		else if (dsn_word(v + start, i - start, "FAILURE"))
			b = QUEUE_NOTIFY_FAILURE;
		else if (dsn_word(v + start, i - start, "DELAY"))
			b = QUEUE_NOTIFY_DELAY;
		else
			return -1;	/* NEVER with others, too */
		if (bits & b)
			return -1;
		bits |= b;
		start = i + 1;
	}
	return bits;
}

int
smtpd_dsn_orcpt(const char *v, size_t len, char *out, size_t outlen)
{
	const char	*semi;
	size_t		 tlen, i;

	if (v == NULL || (semi = memchr(v, ';', len)) == NULL)
		return -1;
	tlen = (size_t)(semi - v);
	if (tlen == 0 || tlen > SMTP_ADDRTYPE_MAX || tlen + 2 > outlen)
		return -1;
	for (i = 0; i < tlen; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' &&
		    v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-'))
			return -1;
	memcpy(out, v, tlen);
	out[tlen] = ';';
	i = outlen - tlen - 1;
	if (i > SMTP_ORCPT_MAX + 1)
		i = SMTP_ORCPT_MAX + 1;
	if (smtpd_xtext_decode(semi + 1, len - tlen - 1, out + tlen + 1, i) <= 0)
		return -1;
	return 0;
}

int
smtpd_dsn_envid(const char *v, size_t len, char *out, size_t outlen)
{
	if (outlen > SMTP_ENVID_MAX + 1)
		outlen = SMTP_ENVID_MAX + 1;
	if (v == NULL || smtpd_xtext_decode(v, len, out, outlen) <= 0)
		return -1;
	return 0;
}
