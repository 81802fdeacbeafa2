/*
 * mx_set - the mail exchangers of one domain and their addresses, as the
 * resolver collects them: bounded to RESOLVER_MX_MAX hosts and MX_ADDR_MAX
 * addresses per host and address family, de-duplicated, sorted by
 * preference with ties in random order (RFC 5321 section 5.1).  Pure: the
 * random source is passed in, so tests can pin the order.
 */
#ifndef TERN_MX_SET_H
#define TERN_MX_SET_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"
#include "proto_resolver.h"

#define MX_ADDR_MAX	16	/* addresses kept per host and family */

struct mx_host {
	uint16_t pref;
	char	 name[DNS_NAME_MAX + 1];	/* lower case */
	int	 naddr6;
	int	 naddr4;
	char	 addr6[MX_ADDR_MAX][DNS_ADDR_TEXT_MAX];
	char	 addr4[MX_ADDR_MAX][DNS_ADDR_TEXT_MAX];
};

struct mx_set {
	int		 nhost;
	struct mx_host	 host[RESOLVER_MX_MAX];
};

/* Uniform random number in [0, bound), bound >= 1. */
typedef uint32_t (*mx_random_fn)(uint32_t bound, void *arg);

void	mx_set_init(struct mx_set *);
/* Add a host (name already lower case, at most DNS_NAME_MAX).  A name that
 * is present keeps the lower preference.  When the set is full the entry
 * with the highest preference gives way to a strictly lower one.  Returns
 * 1 if the set changed, 0 if the host was not kept, -1 if name is too long. */
int	mx_set_add(struct mx_set *, uint16_t pref, const char *name);
/* Sort by preference, ties in an order drawn from rnd. */
void	mx_set_sort(struct mx_set *, mx_random_fn rnd, void *arg);
/* Add an address in text form; rrtype is DNS_TYPE_AAAA or DNS_TYPE_A.
 * 0, or -1 when that family of the host is full (the address is dropped). */
int	mx_host_add_addr(struct mx_host *, int rrtype, const char *text);
/* Hosts with at least one address. */
int	mx_set_count_reachable(const struct mx_set *);
/* The host's addresses, IPv6 first, separated by single spaces, into out.
 * 0, or -1 if they do not fit (out is then truncated but terminated). */
int	mx_host_format_addrs(const struct mx_host *, char *out, size_t outlen);

#endif
