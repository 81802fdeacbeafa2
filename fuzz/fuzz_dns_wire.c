/*
 * fuzz_dns_wire - the resolver's rdata readers (resolver/dns_wire.c) for
 * MX, A and AAAA records, whose bytes come from the network through
 * libunbound, and what the resolver makes of an MX host (mx_set, reply).
 * Input: byte 0 picks the output room for names and addresses, the rest
 * is rdata.  Invariants: an accepted MX host is lower case, at most 253
 * characters of [a-z0-9_-] labels (or "."), and encoding it again gives
 * the input with its letters lowered (round trip); a failure leaves ""; a
 * name never overruns the room it was given; an address prints to text
 * that inet_pton turns back into the same bytes (round trip); the
 * resolver's reply for the host encodes and reads back.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "resolver/dns_wire.h"
#include "resolver/mx_set.h"
#include "resolver/resolver.h"

/* The host name back in wire format; its length. */
static size_t
encode_name(const char *host, unsigned char *out)
{
	size_t	 n = 0, len;
	const char *p = host, *dot;

	if (strcmp(host, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	for (;;) {
		dot = strchr(p, '.');
		len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		out[n++] = (unsigned char)len;
		memcpy(out + n, p, len);
		n += len;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	out[n++] = 0;
	return n;
}

static void
check_reply(const struct dns_mx *mx)
{
	struct mx_set	 set;
	struct ipc_msg	 reply, back;
	char		*frame, want[DNS_NAME_MAX + 16];
	size_t		 flen;

	mx_set_init(&set);
	FUZZ_ASSERT(mx_set_add(&set, mx->pref, mx->host) == 1);
	FUZZ_ASSERT(mx_host_add_addr(&set.host[0], DNS_TYPE_A, "192.0.2.1") == 0);
	FUZZ_ASSERT(resolver_reply_ok(&reply, &set, 0, "ok") == 0);
	FUZZ_ASSERT(ipc_encode(&reply, &frame, &flen) == 0);
	FUZZ_ASSERT(ipc_decode(frame, flen, &back) == 0);
	snprintf(want, sizeof(want), "%u %s", (unsigned)mx->pref, mx->host);
	FUZZ_ASSERT(strcmp(ipc_msg_get(&back, "mx.0"), want) == 0);
	FUZZ_ASSERT(strcmp(ipc_msg_get(&back, "addr.0"), "192.0.2.1") == 0);
	free(frame);
	ipc_msg_free(&back);
	ipc_msg_free(&reply);
}

static void
check_mx(const unsigned char *p, size_t len)
{
	struct dns_mx	 mx;
	unsigned char	 wire[DNS_WIRE_NAME_MAX + 8];
	size_t		 i, n, hlen;

	if (dns_wire_mx(p, len, &mx) != DNS_WIRE_OK) {
		FUZZ_ASSERT(mx.host[0] == '\0');
		return;
	}
	hlen = strlen(mx.host);
	FUZZ_ASSERT(hlen >= 1 && hlen <= DNS_NAME_MAX);
	FUZZ_ASSERT(mx.pref == (p[0] << 8 | p[1]));
	if (strcmp(mx.host, ".") != 0) {
		FUZZ_ASSERT(mx.host[0] != '.' && mx.host[hlen - 1] != '.' &&
		    strstr(mx.host, "..") == NULL);
		for (i = 0; i < hlen; i++)
			FUZZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyz"
			    "0123456789-_.", mx.host[i]) != NULL);
	}
	n = encode_name(mx.host, wire);
	FUZZ_ASSERT(n == len - 2);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(wire[i] == tolower(p[2 + i]));
	if (strcmp(mx.host, ".") != 0)
		check_reply(&mx);
}

/* dns_wire_name with exactly room bytes of output, anywhere in p. */
static void
check_name(const unsigned char *p, size_t len, size_t room, size_t start)
{
	char		*out = malloc(room > 0 ? room : 1);
	size_t		 off = start;
	enum dns_wire_err err;

	FUZZ_ASSERT(out != NULL);
	err = dns_wire_name(p, len, &off, out, room);
	if (err == DNS_WIRE_OK) {
		FUZZ_ASSERT(off > start && off <= len);
		FUZZ_ASSERT(strlen(out) < room && strlen(out) <= DNS_NAME_MAX);
	} else {
		FUZZ_ASSERT(off == start);
		if (room > 0)
			FUZZ_ASSERT(out[0] == '\0');
		FUZZ_ASSERT(strcmp(dns_wire_strerror(err), "unknown error") != 0);
	}
	free(out);
}

static void
check_addr(int rrtype, const unsigned char *p, size_t len, size_t room)
{
	char		*out = malloc(room > 0 ? room : 1);
	unsigned char	 bin[16];

	FUZZ_ASSERT(out != NULL);
	if (dns_wire_addr(rrtype, p, len, out, room) == DNS_WIRE_OK) {
		FUZZ_ASSERT(len == (rrtype == DNS_TYPE_A ? 4u : 16u));
		FUZZ_ASSERT(strlen(out) < room);
		FUZZ_ASSERT(inet_pton(rrtype == DNS_TYPE_A ? AF_INET : AF_INET6,
		    out, bin) == 1 && memcmp(bin, p, len) == 0);
	} else if (room > 0)
		FUZZ_ASSERT(out[0] == '\0');
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	size_t		 room = fuzz_byte(&in);
	char		 tmp[16];

	check_mx(in.p, in.n);
	check_name(in.p, in.n, DNS_NAME_MAX + 1, 0);
	check_name(in.p, in.n, room, 0);
	if (in.n > 0)
		check_name(in.p, in.n, DNS_NAME_MAX + 1, room % in.n);
	check_addr(DNS_TYPE_A, in.p, in.n, DNS_ADDR_TEXT_MAX);
	check_addr(DNS_TYPE_AAAA, in.p, in.n, DNS_ADDR_TEXT_MAX);
	check_addr(DNS_TYPE_AAAA, in.p, in.n, room);
	check_addr(DNS_TYPE_MX, in.p, in.n, room);
	FUZZ_ASSERT(dns_rcode_name((int)room - 8, tmp, sizeof(tmp)) != NULL);
	return 0;
}
