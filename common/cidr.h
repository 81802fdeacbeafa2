/*
 * cidr - IP networks written as an address or address/prefix ("127.0.0.0/8",
 * "::1", "[2001:db8::]/32", "192.0.2.1"), parsed from configuration lists
 * (smtpd_client_event_limit_exceptions) and matched against a client's
 * address.  The text is untrusted only as far as a configuration file is:
 * every form is checked (prefix in range, no bits set beyond it) and a bad
 * one is refused, never guessed at.
 */
#ifndef TERN_CIDR_H
#define TERN_CIDR_H

#include <stdint.h>

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	int		 prefix;	/* 0-32 or 0-128 */
	uint8_t		 addr[16];	/* 4 or 16 bytes used */
};

/* Parse one network.  0, or -1 for anything else (including host bits set
 * beyond the prefix, as "127.0.0.1/8", which is more likely a typo). */
int	cidr_parse(const char *, struct cidr *);
/* Is the address in text form (as inet_ntop writes it; an IPv4-mapped IPv6
 * address counts as IPv4) inside the network? */
int	cidr_match(const struct cidr *, const char *addr);
/* Parse n networks (a configuration list config.c has already checked)
 * into a new array *out (NULL when none parse; free() it).  Returns how
 * many parsed; a bad one is skipped, never guessed at. */
int	cidr_list_parse(char *const *item, int n, struct cidr **out);
/* Is the address inside one of the n networks? */
int	cidr_list_match(const struct cidr *, int n, const char *addr);

#endif
