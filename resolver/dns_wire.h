/*
 * dns_wire - a pure, bounded parser for the few pieces of DNS wire format
 * the resolver reads itself: the rdata of MX, A and AAAA records, as
 * libunbound hands them over (RFC 1035 sections 3.3.9, 3.4.1; RFC 3596).
 *
 * Rdata reaches us already unpacked by libunbound, so names in it are
 * uncompressed (RFC 3597 section 4: MX is decompressed on the way in).  A
 * compression pointer is therefore an error here, as are truncation, a
 * label over 63 octets (which includes the obsolete extended label types),
 * a name over 255 octets and trailing bytes after the rdata.  Only letters, digits, '-' and '_' may
 * occur in a label, so the text form never needs escaping and can be put in
 * a protocol attribute or passed back to libunbound as is.
 */
#ifndef TERN_DNS_WIRE_H
#define TERN_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_LABEL_MAX	63
#define DNS_WIRE_NAME_MAX 255	/* octets of a name in wire format */
#define DNS_NAME_MAX	253	/* characters of its text form, no final dot */
#define DNS_ADDR_TEXT_MAX 46	/* INET6_ADDRSTRLEN */

#define DNS_TYPE_A	1
#define DNS_TYPE_MX	15
#define DNS_TYPE_AAAA	28
#define DNS_CLASS_IN	1

#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_SERVFAIL	2
#define DNS_RCODE_NXDOMAIN	3

enum dns_wire_err {
	DNS_WIRE_OK = 0,
	DNS_WIRE_ETRUNC,	/* rdata ends inside a field */
	DNS_WIRE_ELABEL,	/* label over 63 octets (or 0x40/0x80 type) */
	DNS_WIRE_ENAME,		/* name longer than 255 octets */
	DNS_WIRE_EPTR,		/* compression pointer */
	DNS_WIRE_ECHAR,		/* octet outside [A-Za-z0-9_-] in a label */
	DNS_WIRE_ETRAIL,	/* bytes left after the rdata */
	DNS_WIRE_ELEN,		/* address rdata of the wrong length */
};

struct dns_mx {
	uint16_t pref;
	char	 host[DNS_NAME_MAX + 1];	/* lower case; "." for the root */
};

/* Parse the name at p[*off..len) into out (lower case, no final dot, "."
 * for the root), advancing *off past it.  out must hold DNS_NAME_MAX + 1
 * bytes.  DNS_WIRE_OK or an error; out is "" after an error. */
enum dns_wire_err dns_wire_name(const unsigned char *p, size_t len,
	    size_t *off, char *out, size_t outlen);
/* Parse MX rdata (preference, exchange) that must fill p[0..len) exactly;
 * host is "" after an error. */
enum dns_wire_err dns_wire_mx(const unsigned char *p, size_t len,
	    struct dns_mx *);
/* Print A (rrtype DNS_TYPE_A, 4 octets) or AAAA (DNS_TYPE_AAAA, 16 octets)
 * rdata into out (at least DNS_ADDR_TEXT_MAX bytes). */
enum dns_wire_err dns_wire_addr(int rrtype, const unsigned char *p,
	    size_t len, char *out, size_t outlen);
const char *dns_wire_strerror(enum dns_wire_err);
/* "NOERROR", "SERVFAIL", ... or "RCODE<n>", for log lines and replies. */
const char *dns_rcode_name(int rcode, char *tmp, size_t tmplen);

#endif
