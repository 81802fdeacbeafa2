/*
 * smtp_nexthop - where a delivery goes: the next hop qmgr names (a domain
 * for an MX lookup, or "[address]" / "[address]:port" for none; for LMTP
 * also "unix:/path" and "inet:host:port", never an MX lookup) and the
 * list of addresses a session tries in turn.  The next hop comes from
 * qmgr's routing (transport_maps, relayhost), so it is checked, not
 * trusted: a malformed one is refused, never guessed at.
 */
#include <sys/types.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "addr.h"
#include "smtp.h"

static int
nexthop_port(const char *s, int *port)
{
	char	*end;
	long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* "domain", "domain:port", "[host]" or "[host]:port"; port defport
 * when none is given. */
static int
nexthop_parse(const char *s, struct smtp_nexthop *nh, int defport)
{
	const char	*close, *colon;
	size_t		 len;

	memset(nh, 0, sizeof(*nh));
	nh->port = defport;
	if (s == NULL || *s == '\0')
		return -1;
	if (*s == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		len = (size_t)(close - s - 1);
		if (len == 0 || len > sizeof(nh->host) - 1)
			return -1;
		memcpy(nh->host, s + 1, len);
		nh->host[len] = '\0';
		nh->literal = 1;
		if (close[1] == ':')
			return nexthop_port(close + 2, &nh->port);
		return close[1] == '\0' ? 0 : -1;
	}
	colon = strrchr(s, ':');
	len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	if (len == 0 || len > sizeof(nh->host) - 1)
		return -1;
	memcpy(nh->host, s, len);
	nh->host[len] = '\0';
	if (!addr_valid_domain(nh->host, len))
		return -1;
	return colon != NULL ? nexthop_port(colon + 1, &nh->port) : 0;
}

int
smtp_nexthop_parse(const char *s, struct smtp_nexthop *nh)
{
	return nexthop_parse(s, nh, 25);
}

int
smtp_nexthop_parse_lmtp(const char *s, struct smtp_nexthop *nh)
{
	struct sockaddr_un	 sun;
	size_t			 len;

	if (s != NULL && strncmp(s, "unix:", 5) == 0) {
		memset(nh, 0, sizeof(*nh));
		len = strlen(s + 5);
		if (len == 0 || len >= sizeof(sun.sun_path) ||
		    len >= sizeof(nh->host))
			return -1;
		memcpy(nh->host, s + 5, len + 1);
		nh->unix_path = 1;
		nh->literal = 1;
		nh->lmtp = 1;
		return 0;
	}
	if (s != NULL && strncmp(s, "inet:", 5) == 0)
		s += 5;
	if (nexthop_parse(s, nh, SMTP_LMTP_PORT) < 0)
		return -1;
	/* RFC 2033 section 5: LMTP is not for the MX set of a domain. */
	nh->literal = 1;
	nh->lmtp = 1;
	return 0;
}

/* One address in text form; 0, or -1 if it is not an IP address. */
static int
addr_fill(struct smtp_addr *a, const char *host, const char *ip, int port)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&a->sa;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&a->sa;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		a->salen = sizeof(*s6);
	} else if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		a->salen = sizeof(*s4);
	} else
		return -1;
	snprintf(a->host, sizeof(a->host), "%s", host);
	snprintf(a->ip, sizeof(a->ip), "%s", ip);
	return 0;
}

int
smtp_addr_add_list(struct smtp_addr *a, int *n, int max, const char *host,
    const char *text, int port)
{
	char		 ip[64];
	const char	*p = text, *e;
	size_t		 len;
	int		 added = 0;

	while (*n < max && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		len = (size_t)(e - p);
		if (len < sizeof(ip)) {
			memcpy(ip, p, len);
			ip[len] = '\0';
			if (strncasecmp(ip, "IPv6:", 5) == 0)
				memmove(ip, ip + 5, len - 4);
			if (addr_fill(&a[*n], host, ip, port) == 0) {
				(*n)++;
				added++;
			}
		}
		p = e;
	}
	return added;
}

int
smtp_nexthop_addrs(const struct smtp_nexthop *nh, const char *myhostname,
    struct smtp_addr *a, int *n, int max)
{
	struct sockaddr_un	*sun;
	size_t			 len = strlen(nh->host);

	if (nh->unix_path) {
		if (*n >= max)
			return 0;
		sun = (struct sockaddr_un *)&a[*n].sa;
		if (len >= sizeof(sun->sun_path) || len >= sizeof(a[*n].ip))
			return 0;
		memset(&a[*n], 0, sizeof(a[*n]));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, nh->host, len + 1);
		a[*n].salen = sizeof(*sun);
		/* Postfix's form: "myhostname[socket path]". */
		snprintf(a[*n].host, sizeof(a[*n].host), "%s", myhostname);
		memcpy(a[*n].ip, nh->host, len + 1);
		(*n)++;
		return 1;
	}
	/* No DNS for a name that means this machine. */
	if (nh->lmtp && strcasecmp(nh->host, "localhost") == 0)
		return smtp_addr_add_list(a, n, max, nh->host, "127.0.0.1 ::1",
		    nh->port);
	return smtp_addr_add_list(a, n, max, nh->host, nh->host, nh->port);
}

int
smtp_addr_is_local(const struct smtp_addr *a)
{
	struct ifaddrs	*ifa, *i;
	int		 found = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i != NULL && !found; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
		    a->sa.ss_family)
			continue;
		if (a->sa.ss_family == AF_INET)
			found = memcmp(&((struct sockaddr_in *)i->ifa_addr)->
			    sin_addr, &((const struct sockaddr_in *)&a->sa)->
			    sin_addr, sizeof(struct in_addr)) == 0;
		else
			found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->
			    sin6_addr, &((const struct sockaddr_in6 *)&a->sa)->
			    sin6_addr, sizeof(struct in6_addr)) == 0;
	}
	freeifaddrs(ifa);
	return found;
}
