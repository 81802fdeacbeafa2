/*
 * Unit tests for common/drop_file.c: the maildrop file format that pickup
 * reads from untrusted local users.  A good file parses; every cut, every
 * unknown, repeated or malformed record, a wrong size and random bytes (in
 * exact-size buffers, so an over-read shows under ASan) are refused; what
 * drop_format writes parses back to the same envelope.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drop_file.h"

static const char good[] =
    "tern-drop 1\nuid 1001\nfrom alice\nfullname Alice A\nbody 8BITMIME\n"
    "ret HDRS\nenvid abc123\nnotify 6\nrcpt bob@example.org\nrcpt carol\n"
    "size 11\ndata\nSubject: x\n";

static int
parse(const char *s, size_t n, struct drop_envelope *env, const char **err)
{
	char	*copy = malloc(n ? n : 1);
	int	 r;

	memcpy(copy, s, n);
	r = drop_parse(copy, n, env, err);
	free(copy);
	return r;
}

static void
test_good(void **state)
{
	struct drop_envelope	 env;
	const char		*err;

	(void)state;
	assert_int_equal(drop_parse(good, strlen(good), &env, &err), 0);
	assert_int_equal(env.uid, 1001);
	assert_string_equal(env.sender, "alice");
	assert_string_equal(env.fullname, "Alice A");
	assert_int_equal(env.body, QUEUE_BODY_8BITMIME);
	assert_int_equal(env.ret, QUEUE_RET_HDRS);
	assert_string_equal(env.envid, "abc123");
	assert_int_equal(env.notify, QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE);
	assert_int_equal(env.nrcpt, 2);
	assert_string_equal(env.rcpt[1], "carol");
	assert_int_equal(env.data_len, 11);
	assert_memory_equal(good + env.data_off, "Subject: x\n", 11);
	drop_envelope_free(&env);
}

static void
test_every_cut_refused(void **state)
{
	struct drop_envelope	 env;
	const char		*err;
	size_t			 n;

	(void)state;
	for (n = 0; n < strlen(good); n++) {
		assert_int_equal(parse(good, n, &env, &err), -1);
		assert_non_null(err);
	}
}

static void
test_bad_records(void **state)
{
	static const char *const bad[] = {
		"tern-drop 2\nuid 1\nfrom a\nrcpt b\nsize 0\ndata\n",
		"uid 1\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\ndata\n",
		"tern-drop 1\nuid 1\nuid 1\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid -1\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 01\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 99999999999\nfrom a\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nsize 1\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nsize 0\ndata\nx",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b c\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt \nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\tb\nrcpt b\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nbody 9BIT\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nret ALL\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nnotify 3\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nnotify 16\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nenvid a b\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nbcc x\nsize 0\ndata\n",
		"tern-drop 1\nuid 1\nfrom a\nrcpt b\nsize\ndata\n",
	};
	struct drop_envelope	 env;
	const char		*err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (parse(bad[i], strlen(bad[i]), &env, &err) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
	}
}

static void
test_bounds(void **state)
{
	struct drop_envelope	 env;
	const char		*err;
	char			*b, *p;
	int			 i;

	(void)state;
	/* A line longer than DROP_LINE_MAX. */
	b = calloc(1, 4 * DROP_LINE_MAX);
	strcpy(b, "tern-drop 1\nuid 1\nfrom ");
	memset(b + strlen(b), 'a', 2 * DROP_LINE_MAX);
	strcat(b, "\nrcpt b\nsize 0\ndata\n");
	assert_int_equal(parse(b, strlen(b), &env, &err), -1);
	assert_string_equal(err, "header line too long");
	free(b);
	/* One recipient more than DROP_RCPT_MAX. */
	b = calloc(1, 16 * (DROP_RCPT_MAX + 8));
	p = b + sprintf(b, "tern-drop 1\nuid 1\nfrom a\n");
	for (i = 0; i <= DROP_RCPT_MAX; i++)
		p += sprintf(p, "rcpt r%d\n", i);
	strcpy(p, "size 0\ndata\n");
	assert_int_equal(parse(b, strlen(b), &env, &err), -1);
	assert_string_equal(err, "too many recipients");
	free(b);
}

static void
test_random(void **state)
{
	struct drop_envelope	 env;
	const char		*err;
	char			 buf[300];
	size_t			 n, j, k;
	int			 i;

	(void)state;
	srand(11);
	for (i = 0; i < 20000; i++) {
		n = (size_t)rand() % sizeof(buf);
		memcpy(buf, good, n < sizeof(good) - 1 ? n : sizeof(good) - 1);
		for (j = (size_t)rand() % 4, k = 0; k < j && n > 0; k++)
			buf[(size_t)rand() % n] = (char)rand();
		if (parse(buf, n, &env, &err) == 0)
			drop_envelope_free(&env);
	}
}

static void
test_format_round_trip(void **state)
{
	struct drop_envelope	 env, back;
	char			*rcpt[] = { "x@example.org", "y" };
	char			*hdr, *whole;
	const char		*err;
	size_t			 len;

	(void)state;
	memset(&env, 0, sizeof(env));
	env.uid = 7;
	env.sender = "";
	env.body = QUEUE_BODY_7BIT;
	env.nrcpt = 2;
	env.rcpt = rcpt;
	env.data_len = 3;
	hdr = drop_format(&env, &len);
	assert_non_null(hdr);
	whole = malloc(len + 3);
	memcpy(whole, hdr, len);
	memcpy(whole + len, "hi\n", 3);
	assert_int_equal(drop_parse(whole, len + 3, &back, &err), 0);
	assert_string_equal(back.sender, "");
	assert_int_equal(back.nrcpt, 2);
	assert_string_equal(back.rcpt[0], "x@example.org");
	assert_null(back.fullname);
	drop_envelope_free(&back);
	free(whole);
	free(hdr);
	/* What the reader would refuse is not written. */
	env.sender = "a\nrcpt evil";
	assert_null(drop_format(&env, &len));
	env.sender = "a";
	env.nrcpt = 0;
	assert_null(drop_format(&env, &len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_every_cut_refused),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
