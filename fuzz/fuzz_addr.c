/*
 * fuzz_addr - RFC 5321 mailbox syntax (common/addr.c), the check every
 * address from a client passes, and the local-part extraction deliver
 * relies on.  Invariants: an accepted mailbox is within the length limits,
 * free of control and 8-bit bytes, and splits into a local part that
 * unquotes and a domain (or literal) that is valid on its own; re-quoting
 * the unquoted local part gives a valid mailbox with the same local part
 * (round trip); a login name is only ever [a-z0-9._-]; a valid domain is
 * LDH labels of 1..63 octets; every answer is the same twice.
 * addr_canonical: it accepts exactly the valid mailboxes and a bare
 * "postmaster" in any case; its result is no longer than the input, a
 * valid mailbox again, its own canonical form (idempotent), has the same
 * unquoted local part and the domain in lower case (the same address),
 * is the same for the re-quoted spelling, and needs exactly its length
 * plus the NUL: one byte less is refused with an empty result.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "fuzz.h"

static int
is_login_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	    c == '_' || c == '-';
}

/* The domain rule written out again, independently. */
static int
domain_ok(const char *s, size_t len)
{
	size_t	 i, start = 0;

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-')
				return 0;
			if ((unsigned char)s[i] >= 0x80)
				return 0;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

static void
check_domain(const char *s, size_t len)
{
	char	 low[ADDR_DOMAIN_MAX + 1];
	int	 ok = addr_valid_domain(s, len);
	size_t	 i;

	FUZZ_ASSERT(ok == addr_valid_domain(s, len));
	FUZZ_ASSERT(ok == domain_ok(s, len));
	if (ok) {
		for (i = 0; i < len; i++)
			low[i] = (char)tolower((unsigned char)s[i]);
		FUZZ_ASSERT(addr_valid_domain(low, len));
	}
}

/* Quote a local part again, escaping only what must be escaped. */
static size_t
requote(const char *local, const char *domain, char *out, size_t outlen)
{
	size_t	 n = 0;
	const char *p;

	out[n++] = '"';
	for (p = local; *p != '\0'; p++) {
		if (n + 4 >= outlen)
			return 0;
		if (*p == '"' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	if (n + 2 + strlen(domain) >= outlen)
		return 0;
	out[n++] = '"';
	out[n++] = '@';
	memcpy(out + n, domain, strlen(domain) + 1);
	return n + strlen(domain);
}

static void	check_canonical(const char *, size_t, const char *, size_t);

static void
check_mailbox(const char *s, size_t len)
{
	char		 copy[ADDR_PATH_MAX + 1], local[ADDR_LOCAL_MAX + 1];
	char		 again[ADDR_LOCAL_MAX + 1], q[2 * ADDR_PATH_MAX + 8];
	char		 user[ADDR_LOCAL_MAX + 1];
	const char	*err = NULL, *domain;
	size_t		 i, qlen;
	int		 ok;

	ok = addr_valid_mailbox(s, len, &err);
	FUZZ_ASSERT(ok == addr_valid_mailbox(s, len, NULL));
	if (!ok) {
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
		check_canonical(s, len, NULL, 0);
		return;
	}
	FUZZ_ASSERT(len + 2 <= ADDR_PATH_MAX);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT((unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f);
	memcpy(copy, s, len);
	copy[len] = '\0';
	FUZZ_ASSERT((domain = addr_domain(copy)) != NULL);
	FUZZ_ASSERT(addr_valid_domain(domain, strlen(domain)) ||
	    addr_valid_literal(domain, strlen(domain)));
	FUZZ_ASSERT((size_t)(domain - copy) - 1 <= ADDR_LOCAL_MAX);
	FUZZ_ASSERT(addr_local_part(copy, local, sizeof(local)) == 0);
	FUZZ_ASSERT(strlen(local) <= (size_t)(domain - copy) - 1);
	/* Round trip through the quoted form. */
	FUZZ_ASSERT((qlen = requote(local, domain, q, sizeof(q))) > 0);
	if (addr_valid_mailbox(q, qlen, NULL)) {
		FUZZ_ASSERT(addr_local_part(q, again, sizeof(again)) == 0);
		FUZZ_ASSERT(strcmp(local, again) == 0);
	} else
		/* Only a length limit may refuse it: quotes make it longer. */
		FUZZ_ASSERT(qlen - strlen(domain) - 1 > ADDR_LOCAL_MAX ||
		    qlen + 2 > ADDR_PATH_MAX);
	check_canonical(s, len, q, qlen);
	if (addr_local_user(copy, user, sizeof(user)) == 0) {
		FUZZ_ASSERT(user[0] != '\0' && user[0] != '.' && user[0] != '-');
		for (i = 0; user[i] != '\0'; i++)
			FUZZ_ASSERT(is_login_char(user[i]));
		FUZZ_ASSERT(strlen(user) == strlen(local));
	}
}

/* The canonical spelling of s[0..len) (see addr.h); q[0..qlen) is another
 * spelling of it when qlen > 0. */
static void
check_canonical(const char *s, size_t len, const char *q, size_t qlen)
{
	char	 out[ADDR_PATH_MAX + 1], again[ADDR_PATH_MAX + 1];
	char	 copy[ADDR_PATH_MAX + 1], l1[ADDR_LOCAL_MAX + 1];
	char	 l2[ADDR_LOCAL_MAX + 1], low[ADDR_PATH_MAX + 1];
	int	 r, pm = len == 10 && strncasecmp(s, "postmaster", 10) == 0;
	size_t	 n;

	r = addr_canonical(s, len, out, sizeof(out));
	FUZZ_ASSERT(r == 0 || r == -1);
	FUZZ_ASSERT((r == 0) == (pm || addr_valid_mailbox(s, len, NULL)));
	if (r < 0) {
		FUZZ_ASSERT(out[0] == '\0');
		return;
	}
	n = strlen(out);
	FUZZ_ASSERT(n <= len);
	FUZZ_ASSERT(addr_canonical(out, n, again, sizeof(again)) == 0 &&
	    strcmp(out, again) == 0);
	/* Exactly n + 1 bytes of room are needed. */
	FUZZ_ASSERT(addr_canonical(s, len, again, n + 1) == 0 &&
	    strcmp(out, again) == 0);
	FUZZ_ASSERT(addr_canonical(s, len, again, n) == -1 && again[0] == '\0');
	if (pm) {
		FUZZ_ASSERT(strcmp(out, "postmaster") == 0);
		return;
	}
	FUZZ_ASSERT(addr_valid_mailbox(out, n, NULL));
	memcpy(copy, s, len);
	copy[len] = '\0';
	FUZZ_ASSERT(addr_local_part(copy, l1, sizeof(l1)) == 0);
	FUZZ_ASSERT(addr_local_part(out, l2, sizeof(l2)) == 0);
	FUZZ_ASSERT(strcmp(l1, l2) == 0);
	addr_lower(addr_domain(copy), low, sizeof(low));
	FUZZ_ASSERT(strcmp(addr_domain(out), low) == 0);
	if (qlen > 0 && addr_valid_mailbox(q, qlen, NULL)) {
		FUZZ_ASSERT(addr_canonical(q, qlen, again, sizeof(again)) == 0);
		FUZZ_ASSERT(strcmp(out, again) == 0);
	}
}

/* Any C string may reach addr_local_user (a queue file's rcpt line). */
static void
check_local_user(const char *s, size_t len)
{
	char	*str = malloc(len + 1);
	char	 user[ADDR_LOCAL_MAX + 1], user2[ADDR_LOCAL_MAX + 1];
	char	 small[4];
	int	 r;
	size_t	 i;

	if (str == NULL)
		return;
	memcpy(str, s, len);
	str[len] = '\0';
	r = addr_local_user(str, user, sizeof(user));
	FUZZ_ASSERT(r == addr_local_user(str, user2, sizeof(user2)));
	if (r == 0) {
		FUZZ_ASSERT(strcmp(user, user2) == 0);
		FUZZ_ASSERT(user[0] != '\0' && user[0] != '.' && user[0] != '-');
		for (i = 0; user[i] != '\0'; i++)
			FUZZ_ASSERT(is_login_char(user[i]));
		if (addr_local_user(str, small, sizeof(small)) == 0)
			FUZZ_ASSERT(strlen(small) < sizeof(small));
	}
	addr_lower(str, user, sizeof(user));
	FUZZ_ASSERT(strlen(user) < sizeof(user));
	for (i = 0; user[i] != '\0'; i++)
		FUZZ_ASSERT(!isupper((unsigned char)user[i]));
	free(str);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;

	check_mailbox(s, size);
	check_domain(s, size);
	(void)addr_valid_literal(s, size);
	FUZZ_ASSERT(addr_valid_literal(s, size) == addr_valid_literal(s, size));
	if (addr_valid_literal(s, size))
		FUZZ_ASSERT(size >= 3 && s[0] == '[' && s[size - 1] == ']');
	check_local_user(s, size);
	return 0;
}
