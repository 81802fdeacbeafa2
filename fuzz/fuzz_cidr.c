/*
 * fuzz_cidr - IP networks from configuration lists and the client address
 * matched against them (common/cidr.c).  Input: the network text, then
 * optionally a NUL and an address to match.
 *
 * Invariants: an accepted network has a family, a prefix within it, no
 * address bits beyond the prefix and nothing past its address length;
 * written back as inet_ntop text and "/prefix" (and in brackets for IPv6)
 * it parses to the same network; its own address, and that address with
 * the host bits set, match it, and with a bit inside the prefix flipped
 * does not; any address matches as a bit-by-bit reference says (an
 * IPv4-mapped IPv6 address counting as IPv4); every answer is the same
 * twice.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "fuzz.h"

static int
addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int
bit(const uint8_t *a, int i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* The match rule written out bit by bit. */
static int
reference_match(const struct cidr *c, const char *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	uint8_t	 a[16];
	int	 family, i;

	memset(a, 0, sizeof(a));
	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1) {
		family = AF_INET6;
		if (memcmp(a, mapped, 12) == 0) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else
		return 0;
	if (family != c->family)
		return 0;
	for (i = 0; i < c->prefix; i++)
		if (bit(a, i) != bit(c->addr, i))
			return 0;
	return 1;
}

static void
check_match(const struct cidr *c, const char *addr)
{
	int	 m = cidr_match(c, addr);

	FUZZ_ASSERT(m == 0 || m == 1);
	FUZZ_ASSERT(m == cidr_match(c, addr));
	FUZZ_ASSERT(m == reference_match(c, addr));
}

static void
check_same(const struct cidr *a, const char *text)
{
	struct cidr	 b;

	FUZZ_ASSERT(cidr_parse(text, &b) == 0);
	FUZZ_ASSERT(a->family == b.family && a->prefix == b.prefix &&
	    memcmp(a->addr, b.addr, sizeof(a->addr)) == 0);
}

static void
check_network(const struct cidr *c)
{
	char	 ntop[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	uint8_t	 a[16];
	int	 max = addr_len(c->family) * 8, i;

	FUZZ_ASSERT(c->family == AF_INET || c->family == AF_INET6);
	FUZZ_ASSERT(c->prefix >= 0 && c->prefix <= max);
	for (i = c->prefix; i < 128; i++)
		FUZZ_ASSERT(bit(c->addr, i) == 0);
	FUZZ_ASSERT(inet_ntop(c->family, c->addr, ntop, sizeof(ntop)) != NULL);
	snprintf(text, sizeof(text), "%s/%d", ntop, c->prefix);
	check_same(c, text);
	if (c->family == AF_INET6) {
		snprintf(text, sizeof(text), "[%s]/%d", ntop, c->prefix);
		check_same(c, text);
	}
	if (c->prefix == max)
		check_same(c, ntop);
	/* Its own address matches, unless it is an IPv4-mapped IPv6 network,
	 * which no client address can match (they count as IPv4). */
	check_match(c, ntop);
	memcpy(a, c->addr, sizeof(a));
	for (i = c->prefix; i < max; i++)
		a[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	FUZZ_ASSERT(inet_ntop(c->family, a, ntop, sizeof(ntop)) != NULL);
	check_match(c, ntop);
	if (c->prefix > 0) {
		i = c->prefix - 1;
		a[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
		FUZZ_ASSERT(inet_ntop(c->family, a, ntop, sizeof(ntop)) != NULL);
		FUZZ_ASSERT(cidr_match(c, ntop) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr	 c, c2;
	char		*net, *addr;
	int		 r;

	if ((net = malloc(size + 2)) == NULL)
		return 0;
	memcpy(net, data, size);
	net[size] = '\0';
	net[size + 1] = '\0';
	addr = net + strlen(net) + 1;
	r = cidr_parse(net, &c);
	FUZZ_ASSERT(r == 0 || r == -1);
	FUZZ_ASSERT(cidr_parse(net, &c2) == r);
	if (r == 0) {
		FUZZ_ASSERT(memcmp(&c, &c2, sizeof(c)) == 0);
		check_network(&c);
		check_match(&c, addr);
		check_match(&c, net);
	}
	free(net);
	return 0;
}
