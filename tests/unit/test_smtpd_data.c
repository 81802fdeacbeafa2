/*
 * Unit tests for smtpd/smtpd_data.c: dot-unstuffing, CRLF to LF, bare CR and
 * LF refused by default (every smuggling sequence: nothing written after
 * them, the real end still found) and kept as content with keep_bare, the
 * end marker recognized only as CRLF.CRLF (SMTP smuggling), every split
 * position of the input, small output buffers, the size limit, and a
 * fixed-seed comparison against a simple whole-buffer reference.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtpd/smtpd_data.h"

struct decoded {
	char	 out[8192];
	size_t	 outlen;
	size_t	 consumed;	/* input bytes used, up to the end marker */
	int	 done;
	int	 too_big;
	int	 bare;
	int	 failed;
	size_t	 size;
};

/*
 * Feed in[0..len) in chunks whose sizes cycle through chunks[], with an
 * output buffer of outcap bytes per call, as the session does.
 */
static void
decode_chunked(const char *in, size_t len, const size_t *chunks, size_t nchunks,
    size_t outcap, size_t limit, int keep, struct decoded *r)
{
	struct smtpd_data	 d;
	char			 tmp[8192];
	size_t			 pos = 0, k = 0, n, used, olen;

	assert_true(outcap <= sizeof(tmp));
	memset(r, 0, sizeof(*r));
	smtpd_data_init(&d, limit);
	d.keep_bare = keep;
	while (pos < len && !d.done) {
		n = chunks[k++ % nchunks];
		if (n > len - pos)
			n = len - pos;
		/* A chunk is fed until it is used up or the marker is seen. */
		while (n > 0 && !d.done) {
			used = smtpd_data_decode(&d, in + pos, n, tmp, outcap, &olen);
			assert_true(olen <= outcap);
			assert_true(used > 0 || olen > 0);
			assert_true(r->outlen + olen <= sizeof(r->out));
			memcpy(r->out + r->outlen, tmp, olen);
			r->outlen += olen;
			pos += used;
			n -= used;
		}
	}
	r->consumed = pos;
	r->done = d.done;
	r->too_big = d.too_big;
	r->bare = d.bare;
	r->failed = smtpd_data_failed(&d);
	r->size = d.size;
}

static void
decode_whole(const char *in, size_t len, int keep, struct decoded *r)
{
	size_t	 whole = len ? len : 1;

	decode_chunked(in, len, &whole, 1, sizeof(r->out), 0, keep, r);
}

/* A message without bare CR or LF, decoded the same in either mode. */
static void
expect_decoded(const char *in, const char *want, int keep)
{
	struct decoded	 r;
	size_t		 wlen = strlen(want);

	decode_whole(in, strlen(in), keep, &r);
	assert_true(r.done);
	assert_int_equal(r.consumed, strlen(in));
	assert_int_equal(r.outlen, wlen);
	assert_memory_equal(r.out, want, wlen);
	assert_int_equal(r.size, wlen);
	if (!keep) {
		assert_int_equal(r.bare, 0);
		assert_false(r.failed);
	}
}

static void
expect_message(const char *in, const char *want)
{
	expect_decoded(in, want, 0);
}

/* smtpd_forbid_bare_newline = no: bare CR and LF are content. */
static void
expect_kept(const char *in, const char *want)
{
	expect_decoded(in, want, 1);
}

static void
test_basic(void **state)
{
	(void)state;
	expect_message(".\r\n", "");
	expect_message("a\r\n.\r\n", "a\n");
	expect_message("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\n\nbody\n");
	expect_message("\r\n.\r\n", "\n");
	/* No final CRLF before the marker is impossible: the marker needs it. */
	expect_message("abc.\r\n.\r\n", "abc.\n");
}

static void
test_unstuffing(void **state)
{
	(void)state;
	expect_message("..\r\n.\r\n", ".\n");
	expect_message("..x\r\n.\r\n", ".x\n");
	expect_message(".x\r\n.\r\n", "x\n");
	expect_message("a\r\n...\r\n.\r\n", "a\n..\n");
	/* Only the first dot of a line is stuffing. */
	expect_message("a.b\r\n. .\r\n.\r\n", "a.b\n .\n");
	/* ".\r" followed by something else: the dot was stuffing. */
	expect_kept(".\rx\r\n.\r\n", "\rx\n");
	expect_kept(".\r\r\n.\r\n", "\r\n");
}

static void
test_bare_cr_lf_kept(void **state)
{
	(void)state;
	expect_kept("a\rb\nc\r\n.\r\n", "a\rb\nc\n");
	expect_kept("a\r\r\n.\r\n", "a\r\n");
	expect_kept("a\n\r\n.\r\n", "a\n\n");
	expect_kept("\r\r\r\n.\r\n", "\r\r\n");
	/* After a bare LF a dot is content, not stuffing. */
	expect_kept("a\n..\r\n.\r\n", "a\n..\n");
}

/* The smuggling vectors: none of these may end the message. */
static void
test_no_smuggling(void **state)
{
	static const char *const fake[] = {
		"a\n.\nMAIL FROM:<x@y>\r\n",
		"a\r.\rMAIL FROM:<x@y>\r\n",
		"a\n.\r\nMAIL FROM:<x@y>\r\n",
		"a\r.\r\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\nMAIL FROM:<x@y>\r\n",
		"a\r\n.\rMAIL FROM:<x@y>\r\n",
		"a\r\n.\r\rMAIL FROM:<x@y>\r\n",
	};
	struct decoded	 r;
	size_t		 i;
	int		 keep;

	(void)state;
	for (keep = 0; keep <= 1; keep++) {
		for (i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
			decode_whole(fake[i], strlen(fake[i]), keep, &r);
			assert_false(r.done);
			assert_int_equal(r.consumed, strlen(fake[i]));
			assert_true(r.bare != 0);
			assert_int_equal(r.failed, !keep);
		}
	}
	expect_kept("first\n.\nMAIL FROM:<evil@example.org>\r\n"
	    "still body\r.\r\nend\r\n.\r\n",
	    "first\n.\nMAIL FROM:<evil@example.org>\nstill body\r.\nend\n");
}

/*
 * By default (smtpd_forbid_bare_newline = reject) every smuggling sequence
 * fails the message: the first bare CR or LF is noted, nothing after it is
 * written, and the decoder still reads to the real CRLF.CRLF, so that the
 * reply comes at the right moment and what follows is the next command.
 */
static void
test_bare_rejected(void **state)
{
	static const struct {
		const char	*seq;
		int		 bare;
		const char	*before;	/* output: all before the bare byte */
	} smuggle[] = {
		{ "\n.\r\n", SMTP_DATA_BARE_LF, "Subject: t\n\nline1" },
		{ "\r\n.\n", SMTP_DATA_BARE_LF, "Subject: t\n\nline1\n" },
		{ "\r.\r", SMTP_DATA_BARE_CR, "Subject: t\n\nline1" },
		{ "\n.\n", SMTP_DATA_BARE_LF, "Subject: t\n\nline1" },
		{ "\r.\r\n", SMTP_DATA_BARE_CR, "Subject: t\n\nline1" },
		{ "\r\n.\r", SMTP_DATA_BARE_CR, "Subject: t\n\nline1\n" },
		{ "\n", SMTP_DATA_BARE_LF, "Subject: t\n\nline1" },
		{ "\r", SMTP_DATA_BARE_CR, "Subject: t\n\nline1" },
	};
	const char	*head = "Subject: t\r\n\r\nline1";
	const char	*tail = "MAIL FROM:<evil@example.org>\r\nbody\r\n.\r\n";
	char		 msg[256];
	struct decoded	 r;
	size_t		 i, len, sizes[] = { 1, 3, 1000 }, k;

	(void)state;
	for (i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
		len = (size_t)snprintf(msg, sizeof(msg), "%s%s%sQUIT\r\n", head,
		    smuggle[i].seq, tail);
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			decode_chunked(msg, len, &sizes[k], 1, sizeof(r.out), 0, 0,
			    &r);
			assert_true(r.done);
			assert_int_equal(r.consumed, len - strlen("QUIT\r\n"));
			assert_int_equal(r.bare, smuggle[i].bare);
			assert_true(r.failed);
			/* Nothing from the bare byte on. */
			assert_int_equal(r.outlen, strlen(smuggle[i].before));
			assert_memory_equal(r.out, smuggle[i].before, r.outlen);
		}
	}

	/* A bare CR in a header line (a second header to some readers). */
	decode_whole("Subject: a\rBcc: x@example.org\r\n\r\nb\r\n.\r\n", 41, 0,
	    &r);
	assert_true(r.done);
	assert_int_equal(r.bare, SMTP_DATA_BARE_CR);
	assert_true(r.failed);
	assert_int_equal(r.outlen, strlen("Subject: a"));

	/* A bare LF right after the 354, and one in a stuffed line. */
	decode_whole("\nx\r\n.\r\n", 7, 0, &r);
	assert_true(r.done && r.failed && r.bare == SMTP_DATA_BARE_LF);
	assert_int_equal(r.outlen, 0);
	decode_whole("a\r\n.\nb\r\n.\r\n", 13, 0, &r);
	assert_true(r.done && r.failed && r.bare == SMTP_DATA_BARE_LF);
	assert_int_equal(r.outlen, 2);

	/* The same with keep_bare: content, the message stands (and the dot
	 * is stuffing, as its line goes on past the bare LF). */
	decode_whole("a\r\n.\nb\r\n.\r\n", 13, 1, &r);
	assert_true(r.done);
	assert_false(r.failed);
	assert_int_equal(r.bare, SMTP_DATA_BARE_LF);
	assert_int_equal(r.outlen, 5);
	assert_memory_equal(r.out, "a\n\nb\n", 5);
}

/* Decoding stops right after the marker: the rest is the next command. */
static void
test_stops_after_marker(void **state)
{
	const char	*in = "x\r\n.\r\nQUIT\r\n";
	struct decoded	 r;

	(void)state;
	decode_whole(in, strlen(in), 0, &r);
	assert_true(r.done);
	assert_int_equal(r.consumed, 6);
	assert_int_equal(r.outlen, 2);
	assert_memory_equal(r.out, "x\n", 2);
}

/* Every way of cutting the input into two chunks gives the same result. */
static void
test_every_split(void **state)
{
	static const char *const msgs[] = {
		"Subject: s\r\n\r\n.hidden\r\nline\r\n..\r\nend\r\n.\r\nNOOP\r\n",
		"a\r\n.\r\n",
		".\r\n",
		"x\r\r\n.\rz\r\n\n.\n\r.\r\r\n.\r\n",
		"a\n.\r\nb\r\n.\r\n",
		"a\r\n.\nb\r\n.\r\n",
		"Subject: a\rB: c\r\n\r\nx\r\n.\r\n",
	};
	struct decoded	 whole, part;
	size_t		 m, cut, len, chunks[2];
	int		 keep;

	(void)state;
	for (keep = 0; keep <= 1; keep++)
	for (m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++) {
		len = strlen(msgs[m]);
		decode_whole(msgs[m], len, keep, &whole);
		assert_true(whole.done);
		for (cut = 1; cut < len; cut++) {
			chunks[0] = cut;
			chunks[1] = len;
			decode_chunked(msgs[m], len, chunks, 2, sizeof(part.out), 0,
			    keep, &part);
			assert_true(part.done);
			assert_int_equal(part.consumed, whole.consumed);
			assert_int_equal(part.outlen, whole.outlen);
			assert_memory_equal(part.out, whole.out, whole.outlen);
			assert_int_equal(part.bare, whole.bare);
			assert_int_equal(part.failed, whole.failed);
		}
	}
}

/* The end marker split between chunks at each of its positions, with a
 * long body before it, byte by byte and in odd chunk sizes. */
static void
test_marker_split_everywhere(void **state)
{
	char		 msg[600];
	struct decoded	 r;
	size_t		 body, len, cut, chunks[3], sizes[] = { 1, 2, 3, 7 };
	size_t		 s;

	(void)state;
	memset(msg, 'b', sizeof(msg));
	body = 500;
	msg[body - 2] = '\r';
	msg[body - 1] = '\n';
	memcpy(msg + body, ".\r\n", 3);
	len = body + 3;
	for (cut = body - 3; cut <= len; cut++) {
		chunks[0] = cut;
		chunks[1] = 1;
		chunks[2] = len;
		decode_chunked(msg, len, chunks, 3, sizeof(r.out), 0, 0, &r);
		assert_true(r.done);
		assert_int_equal(r.consumed, len);
		assert_int_equal(r.outlen, body - 1);
		assert_int_equal(r.out[body - 2], '\n');
	}
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		decode_chunked(msg, len, &sizes[s], 1, sizeof(r.out), 0, 0, &r);
		assert_true(r.done);
		assert_int_equal(r.outlen, body - 1);
	}
}

/* Tiny output buffers only slow decoding down. */
static void
test_small_output(void **state)
{
	const char	*in = "ab\r\n..cd\r\n\r\r\r\n.\r\n";
	const char	*want = "ab\n.cd\n\r\r\n";
	struct decoded	 r;
	size_t		 cap, whole = 64;

	(void)state;
	for (cap = 2; cap < 8; cap++) {
		decode_chunked(in, strlen(in), &whole, 1, cap, 0, 1, &r);
		assert_true(r.done);
		assert_int_equal(r.outlen, strlen(want));
		assert_memory_equal(r.out, want, strlen(want));
	}
}

static void
test_size_limit(void **state)
{
	char		 msg[300];
	struct decoded	 r;
	size_t		 whole = 7;

	(void)state;
	/* 100 decoded bytes: 99 'x' and LF. */
	memset(msg, 'x', 99);
	memcpy(msg + 99, "\r\n.\r\n", 5);
	decode_chunked(msg, 104, &whole, 1, sizeof(r.out), 100, 0, &r);
	assert_true(r.done);
	assert_false(r.too_big);
	assert_int_equal(r.outlen, 100);

	decode_chunked(msg, 104, &whole, 1, sizeof(r.out), 99, 0, &r);
	assert_true(r.done);
	assert_true(r.too_big);
	assert_true(r.outlen <= 99);
	assert_int_equal(r.size, 100);
	assert_int_equal(r.consumed, 104);

	/* Past the limit the marker is still found, even in a long tail. */
	memset(msg, 'y', 280);
	memcpy(msg + 280, "\r\n.\r\nRSET", 9);
	decode_chunked(msg, 289, &whole, 1, sizeof(r.out), 10, 0, &r);
	assert_true(r.done);
	assert_true(r.too_big);
	assert_int_equal(r.consumed, 285);
	assert_true(r.outlen <= 10);
}

/* A direct, whole-buffer statement of the rules, for comparison. */
static size_t
reference(const char *in, size_t len, char *out, int *done, int *bare,
    size_t *bare_at)
{
	size_t	 i = 0, o = 0;
	int	 bol = 1;

	*done = 0;
	*bare = 0;
	while (i < len) {
		if (bol && i + 2 < len && memcmp(in + i, ".\r\n", 3) == 0) {
			*done = 1;
			return o;
		}
		if (bol && in[i] == '.' && i + 1 < len)
			i++;
		else if (bol && in[i] == '.')
			return o;	/* incomplete: cannot tell yet */
		bol = 0;
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
			bol = 1;
		} else if (in[i] == '\r' && i + 1 == len)
			return o;	/* held back */
		else {
			if ((in[i] == '\r' || in[i] == '\n') && !*bare) {
				*bare = 1;
				*bare_at = o;
			}
			out[o++] = in[i++];
		}
	}
	return o;
}

static void
test_random_against_reference(void **state)
{
	static const char	 alphabet[] = { '\r', '\n', '.', 'a', 'b' };
	char			 in[64], want[128];
	struct decoded		 r;
	size_t			 len, wlen, chunks[3], i, round, bare_at = 0;
	unsigned int		 seed = 12345;
	int			 done, bare, keep;

	(void)state;
	for (round = 0; round < 40000; round++) {
		keep = round % 2;
		len = (size_t)(rand_r(&seed) % (int)sizeof(in));
		for (i = 0; i < len; i++)
			in[i] = alphabet[rand_r(&seed) % (int)sizeof(alphabet)];
		wlen = reference(in, len, want, &done, &bare, &bare_at);
		for (i = 0; i < 3; i++)
			chunks[i] = 1 + (size_t)(rand_r(&seed) % 9);
		decode_chunked(in, len, chunks, 3, 2 + (size_t)(rand_r(&seed) % 9),
		    0, keep, &r);
		assert_int_equal(r.done, done);
		assert_int_equal(r.bare != 0, bare);
		if (bare && !keep) {
			/* Refused: exactly what came before the first bare
			 * byte was written, nothing after it. */
			assert_true(r.failed);
			assert_int_equal(r.outlen, bare_at);
			assert_memory_equal(r.out, want, r.outlen);
			continue;
		}
		if (done) {
			assert_int_equal(r.outlen, wlen);
			assert_memory_equal(r.out, want, wlen);
		} else {
			/* Unfinished: the decoder may hold back a CR or a
			 * line-start dot, nothing else. */
			assert_true(r.outlen == wlen);
			assert_memory_equal(r.out, want, wlen);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_unstuffing),
		cmocka_unit_test(test_bare_cr_lf_kept),
		cmocka_unit_test(test_no_smuggling),
		cmocka_unit_test(test_bare_rejected),
		cmocka_unit_test(test_stops_after_marker),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_marker_split_everywhere),
		cmocka_unit_test(test_small_output),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
