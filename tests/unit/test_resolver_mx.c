/*
 * test_resolver_mx - the resolver's set of mail exchangers: sorting by
 * preference with ties shuffled (and every tie order reachable), the
 * RESOLVER_MX_MAX cap that keeps the best hosts, de-duplication, and the
 * per-host address lists with their IPv6-first text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "resolver/mx_set.h"

/* Always the first choice: the shuffle leaves the order as added. */
static uint32_t
rnd_zero(uint32_t bound, void *arg)
{
	(void)bound;
	(void)arg;
	return 0;
}

/* Always the last choice. */
static uint32_t
rnd_last(uint32_t bound, void *arg)
{
	(void)arg;
	return bound - 1;
}

/* A seeded generator, so tie orders vary reproducibly. */
static uint32_t
rnd_lcg(uint32_t bound, void *arg)
{
	uint32_t *seed = arg;

	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % bound;
}

static void
assert_sorted(const struct mx_set *s)
{
	int	 i;

	for (i = 1; i < s->nhost; i++)
		assert_true(s->host[i - 1].pref <= s->host[i].pref);
}

static void
test_sort_by_preference(void **state)
{
	struct mx_set	 s;

	(void)state;
	mx_set_init(&s);
	assert_int_equal(mx_set_add(&s, 20, "mx2.example"), 1);
	assert_int_equal(mx_set_add(&s, 10, "mx1.example"), 1);
	assert_int_equal(mx_set_add(&s, 30, "mx3.example"), 1);
	assert_int_equal(mx_set_add(&s, 0, "mx0.example"), 1);
	mx_set_sort(&s, rnd_zero, NULL);
	assert_int_equal(s.nhost, 4);
	assert_string_equal(s.host[0].name, "mx0.example");
	assert_string_equal(s.host[1].name, "mx1.example");
	assert_string_equal(s.host[2].name, "mx2.example");
	assert_string_equal(s.host[3].name, "mx3.example");
	mx_set_sort(&s, rnd_last, NULL);
	assert_string_equal(s.host[0].name, "mx0.example");
	assert_string_equal(s.host[3].name, "mx3.example");
}

static void
test_sort_empty_and_single(void **state)
{
	struct mx_set	 s;

	(void)state;
	mx_set_init(&s);
	mx_set_sort(&s, rnd_zero, NULL);
	assert_int_equal(s.nhost, 0);
	assert_int_equal(mx_set_add(&s, 7, "only.example"), 1);
	mx_set_sort(&s, rnd_last, NULL);
	assert_int_equal(s.nhost, 1);
	assert_string_equal(s.host[0].name, "only.example");
}

/* Three hosts at preference 10 between one at 5 and one at 20: every one
 * of the three must come first some of the time, the others never move. */
static void
test_ties_shuffled(void **state)
{
	const char	*tie[] = { "a.example", "b.example", "c.example" };
	struct mx_set	 s;
	uint32_t	 seed = 42;
	int		 first[3] = { 0, 0, 0 }, run, i;

	(void)state;
	for (run = 0; run < 300; run++) {
		mx_set_init(&s);
		mx_set_add(&s, 20, "last.example");
		for (i = 0; i < 3; i++)
			mx_set_add(&s, 10, tie[i]);
		mx_set_add(&s, 5, "first.example");
		mx_set_sort(&s, rnd_lcg, &seed);
		assert_sorted(&s);
		assert_string_equal(s.host[0].name, "first.example");
		assert_string_equal(s.host[4].name, "last.example");
		for (i = 0; i < 3; i++)
			if (strcmp(s.host[1].name, tie[i]) == 0)
				first[i]++;
	}
	for (i = 0; i < 3; i++)
		assert_true(first[i] > 50);	/* about 100 each */
	assert_int_equal(first[0] + first[1] + first[2], 300);
}

static void
test_duplicates(void **state)
{
	struct mx_set	 s;

	(void)state;
	mx_set_init(&s);
	assert_int_equal(mx_set_add(&s, 20, "mx.example"), 1);
	assert_int_equal(mx_set_add(&s, 30, "mx.example"), 0);	/* worse */
	assert_int_equal(mx_set_add(&s, 20, "mx.example"), 0);	/* same */
	assert_int_equal(s.nhost, 1);
	assert_int_equal(s.host[0].pref, 20);
	assert_int_equal(mx_set_add(&s, 10, "mx.example"), 1);	/* better */
	assert_int_equal(s.nhost, 1);
	assert_int_equal(s.host[0].pref, 10);
}

/* More hosts than RESOLVER_MX_MAX, worst first: the best ones stay. */
static void
test_cap_keeps_best(void **state)
{
	struct mx_set	 s;
	char		 name[32];
	int		 i, n = RESOLVER_MX_MAX + 10;

	(void)state;
	mx_set_init(&s);
	for (i = n; i > 0; i--) {
		snprintf(name, sizeof(name), "mx%d.example", i);
		mx_set_add(&s, (uint16_t)i, name);
	}
	assert_int_equal(s.nhost, RESOLVER_MX_MAX);
	mx_set_sort(&s, rnd_zero, NULL);
	for (i = 0; i < RESOLVER_MX_MAX; i++) {
		snprintf(name, sizeof(name), "mx%d.example", i + 1);
		assert_int_equal(s.host[i].pref, i + 1);
		assert_string_equal(s.host[i].name, name);
	}
	/* Full: a host no better than the worst is not kept. */
	assert_int_equal(mx_set_add(&s, RESOLVER_MX_MAX, "late.example"), 0);
	assert_int_equal(mx_set_add(&s, 0, "best.example"), 1);
	mx_set_sort(&s, rnd_zero, NULL);
	assert_string_equal(s.host[0].name, "best.example");
	assert_int_equal(s.host[RESOLVER_MX_MAX - 1].pref, RESOLVER_MX_MAX - 1);
}

static void
test_bad_names(void **state)
{
	struct mx_set	 s;
	char		 longname[DNS_NAME_MAX + 2];

	(void)state;
	mx_set_init(&s);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(mx_set_add(&s, 1, longname), -1);
	assert_int_equal(mx_set_add(&s, 1, ""), -1);
	longname[DNS_NAME_MAX] = '\0';
	assert_int_equal(mx_set_add(&s, 1, longname), 1);
	assert_int_equal(strlen(s.host[0].name), DNS_NAME_MAX);
}

static void
test_addresses(void **state)
{
	struct mx_set	 s;
	char		 out[64];

	(void)state;
	mx_set_init(&s);
	mx_set_add(&s, 10, "a.example");
	mx_set_add(&s, 20, "b.example");
	assert_int_equal(mx_set_count_reachable(&s), 0);
	assert_int_equal(mx_host_format_addrs(&s.host[0], out, sizeof(out)), 0);
	assert_string_equal(out, "");

	/* IPv4 arrives first, IPv6 is still listed first. */
	assert_int_equal(mx_host_add_addr(&s.host[0], DNS_TYPE_A, "192.0.2.1"), 0);
	assert_int_equal(mx_host_add_addr(&s.host[0], DNS_TYPE_AAAA, "2001:db8::1"), 0);
	assert_int_equal(mx_host_add_addr(&s.host[0], DNS_TYPE_A, "192.0.2.2"), 0);
	assert_int_equal(mx_host_add_addr(&s.host[0], DNS_TYPE_MX, "x"), -1);
	assert_int_equal(mx_set_count_reachable(&s), 1);
	assert_int_equal(mx_host_format_addrs(&s.host[0], out, sizeof(out)), 0);
	assert_string_equal(out, "2001:db8::1 192.0.2.1 192.0.2.2");

	/* Too small: -1, and still a terminated string. */
	assert_int_equal(mx_host_format_addrs(&s.host[0], out, 16), -1);
	assert_true(strlen(out) < 16);
	assert_int_equal(mx_host_format_addrs(&s.host[0], out, 0), -1);
}

static void
test_address_cap(void **state)
{
	struct mx_host	 h;
	char		 a[DNS_ADDR_TEXT_MAX], out[2048];
	char		 toolong[DNS_ADDR_TEXT_MAX + 1];
	int		 i;

	(void)state;
	memset(&h, 0, sizeof(h));
	for (i = 0; i < MX_ADDR_MAX; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i);
		assert_int_equal(mx_host_add_addr(&h, DNS_TYPE_A, a), 0);
	}
	assert_int_equal(mx_host_add_addr(&h, DNS_TYPE_A, "192.0.2.250"), -1);
	assert_int_equal(h.naddr4, MX_ADDR_MAX);
	/* The other family has its own room. */
	assert_int_equal(mx_host_add_addr(&h, DNS_TYPE_AAAA, "::1"), 0);
	memset(toolong, '1', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	assert_int_equal(mx_host_add_addr(&h, DNS_TYPE_AAAA, toolong), -1);
	assert_int_equal(mx_host_format_addrs(&h, out, sizeof(out)), 0);
	assert_true(strncmp(out, "::1 192.0.2.0 192.0.2.1 ", 24) == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_by_preference),
		cmocka_unit_test(test_sort_empty_and_single),
		cmocka_unit_test(test_ties_shuffled),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_cap_keeps_best),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_address_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
