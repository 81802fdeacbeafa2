/*
 * fuzz_smtp_nexthop - the next hop of a delivery request as the SMTP and
 * LMTP clients parse it (smtp/smtp_nexthop.c): "domain[:port]",
 * "[address][:port]", and for LMTP "unix:path" and "inet:...".  The next
 * hop comes from qmgr's routing of transport_maps, an administrator's
 * file, so it is semi-trusted.  Invariants: an accepted one has a
 * NUL-terminated host within its buffer and a port of 1-65535 (none for a
 * socket); a socket's path is shorter than sun_path and is what follows
 * "unix:"; an LMTP next hop never asks for an MX lookup; the addresses
 * made from an accepted literal are within the array, each with a family
 * that matches its kind; parsing is deterministic.
 */
#include <sys/un.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp/smtp.h"

static void
check(const char *s, int lmtp)
{
	struct smtp_nexthop	 nh, again;
	struct smtp_addr	 a[4];
	struct sockaddr_un	 sun;
	int			 r, n = 0, k, i;

	r = lmtp ? smtp_nexthop_parse_lmtp(s, &nh) : smtp_nexthop_parse(s, &nh);
	FUZZ_ASSERT(r == 0 || r == -1);
	if (r != 0)
		return;
	FUZZ_ASSERT(memchr(nh.host, '\0', sizeof(nh.host)) != NULL);
	FUZZ_ASSERT(nh.host[0] != '\0');
	if (nh.unix_path) {
		FUZZ_ASSERT(lmtp && strncmp(s, "unix:", 5) == 0);
		FUZZ_ASSERT(strcmp(nh.host, s + 5) == 0);
		FUZZ_ASSERT(strlen(nh.host) < sizeof(sun.sun_path));
	} else
		FUZZ_ASSERT(nh.port >= 1 && nh.port <= 65535);
	if (lmtp)
		FUZZ_ASSERT(nh.literal && nh.lmtp);
	else
		FUZZ_ASSERT(!nh.lmtp && !nh.unix_path);
	r = lmtp ? smtp_nexthop_parse_lmtp(s, &again) :
	    smtp_nexthop_parse(s, &again);
	FUZZ_ASSERT(r == 0 && memcmp(&nh, &again, sizeof(nh)) == 0);
	if (!nh.literal)
		return;
	k = smtp_nexthop_addrs(&nh, "fuzz.example", a, &n, 4);
	FUZZ_ASSERT(k == n && n >= 0 && n <= 4);
	for (i = 0; i < n; i++) {
		if (nh.unix_path)
			FUZZ_ASSERT(a[i].sa.ss_family == AF_UNIX);
		else
			FUZZ_ASSERT(a[i].sa.ss_family == AF_INET ||
			    a[i].sa.ss_family == AF_INET6);
		FUZZ_ASSERT(memchr(a[i].ip, '\0', sizeof(a[i].ip)) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	/* The delivery protocol's next hop: a string without NUL. */
	if (size > DELIVER_NEXTHOP_MAX || memchr(data, '\0', size) != NULL)
		return 0;
	s = malloc(size + 1);
	FUZZ_ASSERT(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	check(s, 0);
	check(s, 1);
	free(s);
	return 0;
}
