/*
 * cidr - parsing and matching IP networks (see cidr.h).  Addresses are
 * converted with inet_pton only; a prefix is at most three digits.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#include "cidr.h"

/* Longest text form: an IPv6 address in brackets, "/128", NUL. */
#define CIDR_TEXT_MAX	(INET6_ADDRSTRLEN + 8)

static int
cidr_prefix(const char *s, int max, int *out)
{
	int	 v = 0, n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n == 3)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* No bit set after the prefix. */
static int
cidr_host_bits_clear(const struct cidr *c)
{
	int	 len = c->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		int	 keep = c->prefix - 8 * i;
		uint8_t	 mask = keep >= 8 ? 0xff : keep <= 0 ? 0 :
			    (uint8_t)(0xff << (8 - keep));

		if (c->addr[i] & ~mask)
			return 0;
	}
	return 1;
}

int
cidr_parse(const char *s, struct cidr *c)
{
	char		 text[CIDR_TEXT_MAX];
	char		*slash, *a = text;
	size_t		 len = strlen(s);
	int		 max;

	if (len >= sizeof(text))
		return -1;
	memcpy(text, s, len + 1);
	if ((slash = strchr(text, '/')) != NULL)
		*slash++ = '\0';
	if (a[0] == '[') {
		len = strlen(a);
		if (len < 3 || a[len - 1] != ']')
			return -1;
		a[len - 1] = '\0';
		a++;
		if (strchr(a, ':') == NULL)
			return -1;
	}
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, a, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, a, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	max = c->family == AF_INET ? 32 : 128;
	c->prefix = max;
	if (slash != NULL && cidr_prefix(slash, max, &c->prefix) < 0)
		return -1;
	return cidr_host_bits_clear(c) ? 0 : -1;
}

int
cidr_match(const struct cidr *c, const char *addr)
{
	union {
		uint8_t		 b[16];
		struct in6_addr	 in6;
	}		 u;
	uint8_t		*a = u.b;
	int		 family, i, bits;

	if (inet_pton(AF_INET, addr, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1) {
		family = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&u.in6)) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else
		return 0;
	if (family != c->family)
		return 0;
	for (i = 0, bits = c->prefix; bits > 0; i++, bits -= 8) {
		uint8_t	 mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (c->addr[i] & mask))
			return 0;
	}
	return 1;
}

int
cidr_list_parse(char *const *item, int n, struct cidr **out)
{
	int	 i, k = 0;

	*out = NULL;
	if (n <= 0)
		return 0;
	*out = xreallocarray(NULL, (size_t)n, sizeof(**out));
	for (i = 0; i < n; i++)
		if (cidr_parse(item[i], &(*out)[k]) == 0)
			k++;
	if (k == 0) {
		free(*out);
		*out = NULL;
	}
	return k;
}

int
cidr_list_match(const struct cidr *c, int n, const char *addr)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (cidr_match(&c[i], addr))
			return 1;
	return 0;
}
