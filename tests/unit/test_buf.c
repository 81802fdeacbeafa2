/*
 * Unit tests for common/buf.c: the hard limit, NUL termination, formatted
 * appends and consumption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void
test_empty(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 16);
	assert_null(b.data);
	assert_string_equal(buf_str(&b), "");
	buf_reset(&b);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	buf_free(&b);
}

static void
test_append_limit(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "abcd"), 0);
	assert_int_equal(buf_append_str(&b, "efgh"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "abcdefgh");
	/* One byte over: refused, buffer unchanged. */
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "abcdefgh");
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(buf_appendf(&b, "%d", 1), -1);
	assert_string_equal(buf_str(&b), "abcdefgh");
	buf_free(&b);

	buf_init(&b, 0);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void
test_binary(void **state)
{
	struct buf	 b;
	const char	 bin[] = { 'a', 0, 'b', 0, (char)0xff };

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_append(&b, bin, sizeof(bin)), 0);
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
}

static void
test_grow(void **state)
{
	struct buf	 b;
	char		 chunk[1000];
	int		 i;

	(void)state;
	memset(chunk, 'z', sizeof(chunk));
	buf_init(&b, 100000);
	for (i = 0; i < 100; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap >= b.len + 1);
	assert_int_equal(b.data[b.len], '\0');
	assert_int_equal(buf_append(&b, "z", 1), -1);
	buf_free(&b);
}

static void
test_appendf(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 32);
	assert_int_equal(buf_appendf(&b, "%s=%d", "n", 42), 0);
	assert_int_equal(buf_appendf(&b, ";%05.1f", 2.5), 0);
	assert_string_equal(buf_str(&b), "n=42;002.5");
	/* Exactly to the limit works, one past does not. */
	buf_reset(&b);
	assert_int_equal(buf_appendf(&b, "%32s", "x"), 0);
	assert_int_equal(b.len, 32);
	buf_reset(&b);
	assert_int_equal(buf_appendf(&b, "%33s", "x"), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_consume(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 64);
	buf_append_str(&b, "hello world");
	buf_consume(&b, 6);
	assert_string_equal(buf_str(&b), "world");
	assert_int_equal(b.len, 5);
	buf_consume(&b, 0);
	assert_string_equal(buf_str(&b), "world");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	/* Memory is kept and reused. */
	assert_non_null(b.data);
	buf_append_str(&b, "again");
	assert_string_equal(buf_str(&b), "again");
	buf_free(&b);
}

static void
test_xalloc(void **state)
{
	char	*p;

	(void)state;
	p = xstrndup("abcdef", 3);
	assert_string_equal(p, "abc");
	free(p);
	p = xstrndup("ab", 10);
	assert_string_equal(p, "ab");
	free(p);
	p = xstrdup("");
	assert_string_equal(p, "");
	free(p);
	p = xmalloc(0);
	assert_non_null(p);
	free(p);
	p = xreallocarray(NULL, 10, 4);
	memset(p, 0, 40);
	free(p);
	p = xcalloc(0, 0);
	assert_non_null(p);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append_limit),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_appendf),
		cmocka_unit_test(test_consume),
		cmocka_unit_test(test_xalloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
