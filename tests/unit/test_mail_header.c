/*
 * Unit tests for common/mail_header.c: where a header ends, walking its
 * fields (continuation lines included), and the addresses of To:/Cc:/Bcc:
 * lists with display names, comments, quotes and groups; random bytes in
 * exact-size buffers so an over-read shows under ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mail_header.h"

static void
test_header_end(void **state)
{
	const char	*m = "A: 1\n\tmore\nB: 2\n\nbody\n";
	const char	*nobl = "A: 1\nnot a field\n";
	const char	*cont = " starts folded\n";
	size_t		 body;

	(void)state;
	assert_int_equal(mail_header_end(m, strlen(m), &body), 16);
	assert_int_equal(body, 17);
	assert_int_equal(mail_header_end(nobl, strlen(nobl), &body), 5);
	assert_int_equal(body, 5);
	assert_int_equal(mail_header_end(cont, strlen(cont), &body), 0);
	assert_int_equal(mail_header_end("", 0, &body), 0);
	assert_int_equal(mail_header_end("X: y", 4, &body), 4);
}

static void
test_fields(void **state)
{
	const char		*m = "To: a,\n b\nSubject: s\n\n";
	struct mail_field	 f;
	size_t			 hlen, body, off = 0;

	(void)state;
	hlen = mail_header_end(m, strlen(m), &body);
	assert_true(mail_header_next(m, hlen, &off, &f));
	assert_true(mail_field_is(&f, "to"));
	assert_int_equal(f.len, 10);
	assert_int_equal(f.valuelen, 6);
	assert_true(mail_header_next(m, hlen, &off, &f));
	assert_true(mail_field_is(&f, "SUBJECT"));
	assert_false(mail_header_next(m, hlen, &off, &f));
}

struct got {
	char	 a[8][64];
	int	 n;
};

static void
collect(void *arg, const char *s, size_t len)
{
	struct got	*g = arg;

	if (g->n < 8)
		snprintf(g->a[g->n++], 64, "%.*s", (int)len, s);
}

static void
test_addrlist(void **state)
{
	const char	*s = "\"Doe, J\" <j@x.org>, k@y.org (Kay, K), "
	    "team: m@z.org, n@z.org;, <o@w.org>, \"q x\"@v.org";
	struct got	 g = { .n = 0 };

	(void)state;
	assert_int_equal(mail_addrlist(s, strlen(s), collect, &g), 6);
	assert_string_equal(g.a[0], "j@x.org");
	assert_string_equal(g.a[1], "k@y.org");
	assert_string_equal(g.a[2], "m@z.org");
	assert_string_equal(g.a[3], "n@z.org");
	assert_string_equal(g.a[4], "o@w.org");
	assert_string_equal(g.a[5], "\"q x\"@v.org");
	g.n = 0;
	assert_int_equal(mail_addrlist("undisclosed-recipients:;", 24,
	    collect, &g), 0);
}

static void
test_random(void **state)
{
	struct mail_field	 f;
	struct got		 g;
	char			*b;
	size_t			 n, hlen, body, off, i;
	int			 r;

	(void)state;
	srand(5);
	for (r = 0; r < 20000; r++) {
		n = (size_t)rand() % 200;
		b = malloc(n ? n : 1);
		for (i = 0; i < n; i++)
			b[i] = "ab:,<>\"()\\ \n\t;@"[rand() % 16];
		hlen = mail_header_end(b, n, &body);
		assert_true(hlen <= body && body <= n);
		off = 0;
		while (mail_header_next(b, hlen, &off, &f))
			assert_true(f.start + f.len <= hlen);
		g.n = 0;
		mail_addrlist(b, n, collect, &g);
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_end),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_addrlist),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
