/*
 * dns_wire - reading MX, A and AAAA rdata.  These bytes come from the
 * network through libunbound, so they are treated as hostile: every read is
 * checked against the rdata length first, every output is bounded, and
 * anything unusual is an error rather than something to repair.  No state,
 * no allocation: the functions can be fed arbitrary bytes by the tests.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "dns_wire.h"

/* The only octets a mail exchanger's name needs (RFC 5321 section 2.3.5
 * plus '_', which is common in practice); nothing that would need escaping
 * in text form. */
static int
dns_wire_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static char
dns_wire_lower(unsigned char c)
{
	return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* Copy one label of n octets to out[*olen..], after a '.' unless first. */
static enum dns_wire_err
dns_wire_label(const unsigned char *src, size_t n, char *out, size_t outlen,
    size_t *olen)
{
	size_t	 i;

	/* The label, its separating dot unless first, the final NUL. */
	if (n + 1 + (*olen > 0) > outlen - *olen)
		return DNS_WIRE_ENAME;
	if (*olen > 0)
		out[(*olen)++] = '.';
	for (i = 0; i < n; i++) {
		if (!dns_wire_char_ok(src[i]))
			return DNS_WIRE_ECHAR;
		out[(*olen)++] = dns_wire_lower(src[i]);
	}
	out[*olen] = '\0';
	return DNS_WIRE_OK;
}

static enum dns_wire_err
dns_wire_name_walk(const unsigned char *p, size_t len, size_t *off, char *out,
    size_t outlen)
{
	enum dns_wire_err err;
	size_t		 pos = *off, wire = 0, olen = 0, n;

	for (;;) {
		if (pos >= len)
			return DNS_WIRE_ETRUNC;
		n = p[pos];
		/* 0xc0 is a pointer; 0x40 and 0x80 (obsolete extended label
		 * types) read as lengths over 63. */
		if ((n & 0xc0) == 0xc0)
			return DNS_WIRE_EPTR;
		if (n > DNS_LABEL_MAX)
			return DNS_WIRE_ELABEL;
		/* The length octet and the label count against 255. */
		if ((wire += n + 1) > DNS_WIRE_NAME_MAX)
			return DNS_WIRE_ENAME;
		pos++;
		if (n == 0)
			break;
		if (n > len - pos)
			return DNS_WIRE_ETRUNC;
		if ((err = dns_wire_label(p + pos, n, out, outlen, &olen)) != 0)
			return err;
		pos += n;
	}
	if (olen == 0) {
		if (outlen < 2)
			return DNS_WIRE_ENAME;
		memcpy(out, ".", 2);
	}
	*off = pos;
	return DNS_WIRE_OK;
}

enum dns_wire_err
dns_wire_name(const unsigned char *p, size_t len, size_t *off, char *out,
    size_t outlen)
{
	enum dns_wire_err err;

	if (outlen == 0)
		return DNS_WIRE_ENAME;
	out[0] = '\0';
	if ((err = dns_wire_name_walk(p, len, off, out, outlen)) != DNS_WIRE_OK)
		out[0] = '\0';
	return err;
}

enum dns_wire_err
dns_wire_mx(const unsigned char *p, size_t len, struct dns_mx *mx)
{
	enum dns_wire_err err;
	size_t		 off = 2;

	memset(mx, 0, sizeof(*mx));
	if (p == NULL || len < 2)
		return DNS_WIRE_ETRUNC;
	mx->pref = (uint16_t)(p[0] << 8 | p[1]);
	if ((err = dns_wire_name(p, len, &off, mx->host, sizeof(mx->host))) != 0)
		return err;
	if (off != len) {
		mx->host[0] = '\0';
		return DNS_WIRE_ETRAIL;
	}
	return DNS_WIRE_OK;
}

enum dns_wire_err
dns_wire_addr(int rrtype, const unsigned char *p, size_t len, char *out,
    size_t outlen)
{
	int	 af;
	size_t	 want;

	if (outlen > 0)
		out[0] = '\0';
	if (rrtype == DNS_TYPE_AAAA) {
		af = AF_INET6;
		want = 16;
	} else if (rrtype == DNS_TYPE_A) {
		af = AF_INET;
		want = 4;
	} else
		return DNS_WIRE_ELEN;
	if (p == NULL || len != want)
		return DNS_WIRE_ELEN;
	if (outlen > DNS_ADDR_TEXT_MAX)
		outlen = DNS_ADDR_TEXT_MAX;
	if (inet_ntop(af, p, out, (socklen_t)outlen) == NULL) {
		if (outlen > 0)
			out[0] = '\0';
		return DNS_WIRE_ENAME;
	}
	return DNS_WIRE_OK;
}

const char *
dns_wire_strerror(enum dns_wire_err err)
{
	switch (err) {
	case DNS_WIRE_OK:
		return "ok";
	case DNS_WIRE_ETRUNC:
		return "truncated rdata";
	case DNS_WIRE_ELABEL:
		return "label longer than 63 octets";
	case DNS_WIRE_ENAME:
		return "name too long";
	case DNS_WIRE_EPTR:
		return "compression pointer in rdata";
	case DNS_WIRE_ECHAR:
		return "bad character in host name";
	case DNS_WIRE_ETRAIL:
		return "trailing bytes after rdata";
	case DNS_WIRE_ELEN:
		return "bad address length";
	}
	return "unknown error";
}

const char *
dns_rcode_name(int rcode, char *tmp, size_t tmplen)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE",
	};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(tmp, tmplen, "RCODE%d", rcode);
	return tmp;
}
