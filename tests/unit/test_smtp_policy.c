/*
 * Unit tests for smtp/smtp_policy.c's value parser: the levels of
 * smtp_tls_policy_maps in Postfix's syntax (any case, surrounding white
 * space), attributes that are accepted and ignored, and what must defer
 * rather than weaken the protection: unsupported levels, malformed
 * attributes, empty values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp/smtp.h"

static int
parse(const char *v, int *level)
{
	const char	*why = NULL;
	int		 r;

	*level = -1;
	r = smtp_policy_parse(v, strlen(v), level, &why);
	if (r < 0)
		assert_non_null(why);
	return r;
}

static void
test_levels(void **state)
{
	static const struct {
		const char	*v;
		int		 level;
	} ok[] = {
		{ "none", CONFIG_TLS_NONE },
		{ "may", CONFIG_TLS_MAY },
		{ "encrypt", CONFIG_TLS_ENCRYPT },
		{ "verify", CONFIG_TLS_VERIFY },
		{ "secure", CONFIG_TLS_VERIFY },
		{ "ENCRYPT", CONFIG_TLS_ENCRYPT },
		{ "  may\t", CONFIG_TLS_MAY },
		{ "encrypt protocols=!SSLv2,!SSLv3 ciphers=high",
		    CONFIG_TLS_ENCRYPT },
		{ "verify match=hostname:nexthop", CONFIG_TLS_VERIFY },
	};
	size_t	 i;
	int	 level;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse(ok[i].v, &level) != 0)
			fail_msg("refused \"%s\"", ok[i].v);
		assert_int_equal(level, ok[i].level);
	}
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", "   ", "dane", "dane-only", "fingerprint", "maybe",
		"encrypt2", "may ciphers", "may =x", "may ci phers=x y",
		"verify match=a\001b", "may-",
	};
	size_t	 i;
	int	 level;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &level) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

/* The value need not be NUL-terminated: only len bytes count. */
static void
test_length(void **state)
{
	const char	*why;
	int		 level;

	(void)state;
	assert_int_equal(smtp_policy_parse("mayhem", 3, &level, &why), 0);
	assert_int_equal(level, CONFIG_TLS_MAY);
	assert_int_equal(smtp_policy_parse("encrypt", 3, &level, &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
