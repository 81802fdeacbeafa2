/*
 * Unit tests for common/ipc.c: encoding round trips, every rule of the
 * frame format on both the adding and the decoding side, a fixed-seed
 * mutation loop, and the blocking helpers over socket pairs.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "io.h"
#include "ipc.h"

/* Build a raw frame: header with the given version and type, then payload. */
static char *
raw_frame(uint8_t version, uint8_t type, const void *payload, size_t plen,
    size_t *flen)
{
	char		*f = malloc(IPC_HEADER_LEN + plen);
	uint32_t	 len = (uint32_t)(plen + 2);

	assert_non_null(f);
	f[0] = (char)(len >> 24);
	f[1] = (char)(len >> 16);
	f[2] = (char)(len >> 8);
	f[3] = (char)len;
	f[4] = (char)version;
	f[5] = (char)type;
	memcpy(f + IPC_HEADER_LEN, payload, plen);
	*flen = IPC_HEADER_LEN + plen;
	return f;
}

static int
decode_raw(const void *payload, size_t plen)
{
	struct ipc_msg	 m;
	size_t		 flen;
	char		*f = raw_frame(IPC_VERSION, 7, payload, plen, &flen);
	int		 r;

	r = ipc_decode(f, flen, &m);
	ipc_msg_free(&m);
	free(f);
	return r;
}

static void
test_round_trip(void **state)
{
	struct ipc_msg	 m, d;
	char		*frame;
	size_t		 len;
	long long	 v;

	(void)state;
	ipc_msg_init(&m, 0x21);
	assert_int_equal(ipc_msg_add(&m, "id", "0ABC"), 0);
	assert_int_equal(ipc_msg_add(&m, "sender", ""), 0);
	assert_int_equal(ipc_msg_add_int(&m, "nrcpt", 3), 0);
	assert_int_equal(ipc_msg_addf(&m, "rcpt.0", "<%s@%s>", "a", "b"), 0);
	assert_int_equal(ipc_msg_add(&m, "id", "second"), 0);
	assert_int_equal(ipc_msg_add_int(&m, "neg", LLONG_MIN), 0);
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(ipc_frame_length((unsigned char *)frame, len), (long)len);
	assert_int_equal(len, IPC_HEADER_LEN + m.store_len);

	assert_int_equal(ipc_decode(frame, len, &d), 0);
	assert_int_equal(d.type, 0x21);
	assert_int_equal(d.nattr, 6);
	assert_string_equal(ipc_msg_get(&d, "id"), "0ABC");	/* first wins */
	assert_string_equal(ipc_msg_get(&d, "sender"), "");
	assert_string_equal(ipc_msg_get(&d, "rcpt.0"), "<a@b>");
	assert_null(ipc_msg_get(&d, "nothere"));
	assert_int_equal(ipc_msg_get_int(&d, "nrcpt", 1, 1000, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(ipc_msg_get_int(&d, "nrcpt", 4, 1000, &v), -1);
	assert_int_equal(ipc_msg_get_int(&d, "neg", LLONG_MIN, 0, &v), 0);
	assert_true(v == LLONG_MIN);
	assert_int_equal(ipc_msg_get_int(&d, "id", 0, 10, &v), -1);
	assert_int_equal(ipc_msg_get_int(&d, "nothere", 0, 10, &v), -1);
	free(frame);
	ipc_msg_free(&d);
	ipc_msg_free(&m);

	/* No attributes at all. */
	ipc_msg_init(&m, 1);
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(len, IPC_HEADER_LEN);
	assert_memory_equal(frame, "\0\0\0\2\1\1", 6);
	assert_int_equal(ipc_decode(frame, len, &d), 0);
	assert_int_equal(d.nattr, 0);
	assert_int_equal(d.type, 1);
	free(frame);
	ipc_msg_free(&d);
	ipc_msg_free(&m);
}

static void
test_wire_bytes(void **state)
{
	struct ipc_msg	 m;
	char		*frame;
	size_t		 len;
	const char	 want[] = "\0\0\0\x0b\x01\x10" "id\0" "AB\0" "x\0" "\0";

	(void)state;
	ipc_msg_init(&m, 0x10);
	ipc_msg_add(&m, "id", "AB");
	ipc_msg_add(&m, "x", "");
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(frame, want, len);
	free(frame);
	ipc_msg_free(&m);
}

static void
test_get_int_strict(void **state)
{
	static const char *const bad[] = { "", "-", "+1", " 1", "1 ", "1a",
	    "0x1", "9223372036854775808", "-9223372036854775809", "1.0" };
	struct ipc_msg	 m;
	long long	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ipc_msg_init(&m, 1);
		ipc_msg_add(&m, "n", bad[i]);
		if (ipc_msg_get_int(&m, "n", LLONG_MIN, LLONG_MAX, &v) != -1)
			fail_msg("accepted integer '%s'", bad[i]);
		ipc_msg_free(&m);
	}
	ipc_msg_init(&m, 1);
	ipc_msg_add(&m, "n", "9223372036854775807");
	assert_int_equal(ipc_msg_get_int(&m, "n", 0, LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);
	ipc_msg_free(&m);
}

/* ipc_msg_add_int writes plain decimal (no printf behind it): the ends of
 * the range survive a round trip, and ipc_msg_addn cuts the value. */
static void
test_add_int_addn(void **state)
{
	static const long long vals[] = { 0, 1, -1, 9, 10, -10, 4328,
	    LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
	static const char *const text[] = { "0", "1", "-1", "9", "10", "-10",
	    "4328", "9223372036854775807", "-9223372036854775808",
	    "-9223372036854775807" };
	struct ipc_msg	 m;
	long long	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ipc_msg_init(&m, 1);
		assert_int_equal(ipc_msg_add_int(&m, "n", vals[i]), 0);
		assert_string_equal(ipc_msg_get(&m, "n"), text[i]);
		assert_int_equal(ipc_msg_get_int(&m, "n", LLONG_MIN, LLONG_MAX,
		    &v), 0);
		assert_true(v == vals[i]);
		ipc_msg_free(&m);
	}
	ipc_msg_init(&m, 1);
	assert_int_equal(ipc_msg_addn(&m, "a", "abcdef", 3), 0);
	assert_int_equal(ipc_msg_addn(&m, "b", "ab", 5), 0);
	assert_int_equal(ipc_msg_addn(&m, "c", "abc", 0), 0);
	assert_int_equal(ipc_msg_add(&m, "d", "x"), 0);
	assert_string_equal(ipc_msg_get(&m, "a"), "abc");
	assert_string_equal(ipc_msg_get(&m, "b"), "ab");
	assert_string_equal(ipc_msg_get(&m, "c"), "");
	assert_string_equal(ipc_msg_get(&m, "d"), "x");
	ipc_msg_free(&m);
}

static void
test_add_rules(void **state)
{
	struct ipc_msg	 m;
	char		 name[IPC_NAME_MAX + 2];
	char		*big;
	int		 i;

	(void)state;
	ipc_msg_init(&m, 1);
	assert_int_equal(ipc_msg_add(&m, "", "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "Upper", "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "a-b", "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "a b", "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "\xc3\xa9", "v"), -1);
	assert_int_equal(ipc_msg_add(&m, NULL, "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "a", NULL), -1);
	memset(name, 'n', sizeof(name));
	name[IPC_NAME_MAX] = '\0';
	assert_int_equal(ipc_msg_add(&m, name, "v"), 0);
	name[IPC_NAME_MAX] = 'n';
	name[IPC_NAME_MAX + 1] = '\0';
	assert_int_equal(ipc_msg_add(&m, name, "v"), -1);
	assert_int_equal(ipc_msg_add(&m, "a.b_9", "v"), 0);

	big = malloc(IPC_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, 'v', IPC_VALUE_MAX + 1);
	big[IPC_VALUE_MAX + 1] = '\0';
	assert_int_equal(ipc_msg_add(&m, "big", big), -1);
	big[IPC_VALUE_MAX] = '\0';
	assert_int_equal(ipc_msg_add(&m, "big", big), 0);
	assert_int_equal(m.nattr, 3);
	ipc_msg_free(&m);

	/* The frame limit: values of IPC_VALUE_MAX fit only so many times. */
	ipc_msg_init(&m, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(ipc_msg_add(&m, "big", big), 0);
	assert_int_equal(ipc_msg_add(&m, "big", big), -1);
	assert_true(m.store_len + 2 <= IPC_FRAME_MAX);
	/* Pointers stay right across the store's growth. */
	assert_int_equal(strlen(m.attr[2].value), IPC_VALUE_MAX);
	ipc_msg_free(&m);
	free(big);

	/* The attribute count limit. */
	ipc_msg_init(&m, 1);
	for (i = 0; i < IPC_ATTR_MAX; i++)
		assert_int_equal(ipc_msg_add(&m, "a", ""), 0);
	assert_int_equal(ipc_msg_add(&m, "a", ""), -1);
	assert_string_equal(m.attr[IPC_ATTR_MAX - 1].name, "a");
	ipc_msg_free(&m);
}

static void
test_frame_length(void **state)
{
	unsigned char	 h[4] = { 0, 0, 0, 2 };

	(void)state;
	assert_int_equal(ipc_frame_length(h, 4), 6);
	assert_int_equal(ipc_frame_length(h, 3), -1);
	h[3] = 1;
	assert_int_equal(ipc_frame_length(h, 4), -1);
	h[3] = 0;
	assert_int_equal(ipc_frame_length(h, 4), -1);
	/* IPC_FRAME_MAX = 0x40000 */
	h[1] = 0x04;
	assert_int_equal(ipc_frame_length(h, 4), IPC_FRAME_MAX + 4);
	h[3] = 1;
	assert_int_equal(ipc_frame_length(h, 4), -1);
	h[0] = 0xff;
	assert_int_equal(ipc_frame_length(h, 4), -1);
}

static void
test_decode_truncated(void **state)
{
	struct ipc_msg	 m, d;
	char		*frame, *copy;
	size_t		 len, i;

	(void)state;
	ipc_msg_init(&m, 5);
	ipc_msg_add(&m, "abc", "value");
	ipc_msg_add(&m, "x", "");
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	/* Every prefix is rejected; each copy is exactly sized so an
	 * over-read shows under ASan. */
	for (i = 0; i < len; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, frame, i);
		if (ipc_decode(copy, i, &d) != -1)
			fail_msg("accepted a %zu-byte prefix", i);
		assert_int_equal(d.nattr, 0);
		free(copy);
	}
	/* Trailing garbage after a complete frame. */
	copy = malloc(len + 1);
	memcpy(copy, frame, len);
	copy[len] = 'x';
	assert_int_equal(ipc_decode(copy, len + 1, &d), -1);
	free(copy);
	assert_int_equal(ipc_decode(NULL, 0, &d), -1);
	assert_int_equal(ipc_decode(frame, len, &d), 0);
	ipc_msg_free(&d);
	free(frame);
	ipc_msg_free(&m);
}

static void
test_decode_bad(void **state)
{
	struct ipc_msg	 d;
	char		*f, *p;
	size_t		 flen, n, i;

	(void)state;
	/* Wrong version. */
	f = raw_frame(2, 1, "a\0b", 4, &flen);
	assert_int_equal(ipc_decode(f, flen, &d), -1);
	free(f);
	f = raw_frame(0, 1, "", 0, &flen);
	assert_int_equal(ipc_decode(f, flen, &d), -1);
	free(f);
	/* Length field that disagrees with the buffer. */
	f = raw_frame(1, 1, "a\0b", 4, &flen);
	f[3] = 5;
	assert_int_equal(ipc_decode(f, flen, &d), -1);
	f[3] = 7;
	assert_int_equal(ipc_decode(f, flen, &d), -1);
	f[3] = 6;
	assert_int_equal(ipc_decode(f, flen, &d), 0);
	ipc_msg_free(&d);
	free(f);

	assert_int_equal(decode_raw("a\0b\0", 4), 0);
	assert_int_equal(decode_raw("a\0b", 3), -1);		/* value no NUL */
	assert_int_equal(decode_raw("a", 1), -1);		/* name no NUL */
	assert_int_equal(decode_raw("a\0", 2), -1);		/* no value */
	assert_int_equal(decode_raw("\0b\0", 3), -1);		/* empty name */
	assert_int_equal(decode_raw("A\0b\0", 4), -1);		/* upper case */
	assert_int_equal(decode_raw("a-b\0b\0", 6), -1);	/* bad char */
	assert_int_equal(decode_raw("a\xff\0b\0", 5), -1);	/* 8-bit name */
	assert_int_equal(decode_raw("a\0\xff\x01\0", 5), 0);	/* values: any */
	assert_int_equal(decode_raw("a\0b\0c", 5), -1);		/* trailing */
	assert_int_equal(decode_raw("\0", 1), -1);

	/* Names: 32 bytes fine, 33 not. */
	p = malloc(IPC_NAME_MAX + 4);
	memset(p, 'n', IPC_NAME_MAX);
	memcpy(p + IPC_NAME_MAX, "\0v\0", 3);
	assert_int_equal(decode_raw(p, IPC_NAME_MAX + 3), 0);
	memset(p, 'n', IPC_NAME_MAX + 1);
	memcpy(p + IPC_NAME_MAX + 1, "\0\0", 2);
	assert_int_equal(decode_raw(p, IPC_NAME_MAX + 3), -1);
	free(p);

	/* Values: IPC_VALUE_MAX fine, one more not. */
	n = 2 + IPC_VALUE_MAX + 2;
	p = malloc(n);
	memcpy(p, "v\0", 2);
	memset(p + 2, 'x', IPC_VALUE_MAX + 1);
	p[n - 1] = '\0';
	assert_int_equal(decode_raw(p, n), -1);
	p[n - 2] = '\0';
	assert_int_equal(decode_raw(p, n - 1), 0);
	free(p);

	/* Attribute count: IPC_ATTR_MAX fine, one more not. */
	n = (IPC_ATTR_MAX + 1) * 3;
	p = malloc(n);
	for (i = 0; i < IPC_ATTR_MAX + 1; i++)
		memcpy(p + i * 3, "a\0\0", 3);
	assert_int_equal(decode_raw(p, n - 3), 0);
	assert_int_equal(decode_raw(p, n), -1);
	free(p);
}

/* Invariants of anything ipc_decode() accepts: it re-encodes to the very
 * same bytes and every name follows the rules. */
static void
check_decoded(const char *frame, size_t len, const struct ipc_msg *d)
{
	char	*again;
	size_t	 alen;
	int	 i;

	for (i = 0; i < d->nattr; i++) {
		assert_true(strlen(d->attr[i].name) >= 1);
		assert_true(strlen(d->attr[i].name) <= IPC_NAME_MAX);
		assert_true(strspn(d->attr[i].name,
		    "abcdefghijklmnopqrstuvwxyz0123456789_.") ==
		    strlen(d->attr[i].name));
		assert_true(strlen(d->attr[i].value) <= IPC_VALUE_MAX);
	}
	assert_int_equal(ipc_encode(d, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, frame, len);
	free(again);
}

static void
test_fuzz(void **state)
{
	struct ipc_msg	 m, d;
	char		*frame, *mut;
	size_t		 len, mlen;
	int		 round, k, accepted = 0;
	uint32_t	 l;

	(void)state;
	srandom(20240601);
	ipc_msg_init(&m, 0x20);
	ipc_msg_add(&m, "v", "1");
	ipc_msg_add(&m, "id", "0F3A9Z");
	ipc_msg_add(&m, "rcpt.0", "user@example.org");
	ipc_msg_add(&m, "text.0", "some longer value with spaces");
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	for (round = 0; round < 200000; round++) {
		mlen = len;
		if (random() % 4 == 0)
			mlen = (size_t)random() % (len + 8);
		mut = malloc(mlen ? mlen : 1);
		for (k = 0; k < (int)mlen; k++)
			mut[k] = k < (int)len ? frame[k] : (char)random();
		for (k = random() % 4; k >= 0 && mlen > 0; k--)
			mut[random() % mlen] = (char)random();
		/* Often keep the length field honest so the body is parsed. */
		if (mlen >= 6 && random() % 2 == 0) {
			l = (uint32_t)(mlen - 4);
			mut[0] = (char)(l >> 24);
			mut[1] = (char)(l >> 16);
			mut[2] = (char)(l >> 8);
			mut[3] = (char)l;
			mut[4] = IPC_VERSION;
		}
		if (ipc_decode(mut, mlen, &d) == 0) {
			check_decoded(mut, mlen, &d);
			accepted++;
		}
		ipc_msg_free(&d);
		free(mut);
	}
	/* The loop must have exercised both outcomes. */
	assert_true(accepted > 100);
	assert_true(accepted < 200000);
	free(frame);
	ipc_msg_free(&m);
}

static void
test_blocking(void **state)
{
	struct ipc_msg	 m, d;
	int		 sv[2];
	char		*frame;
	size_t		 len;
	long long	 t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_msg_init(&m, 0x11);
	ipc_msg_add(&m, "v", "1");
	assert_int_equal(ipc_write(sv[0], &m, 1000), 0);
	assert_int_equal(ipc_read(sv[1], &d, 1000), 0);
	assert_int_equal(d.type, 0x11);
	assert_string_equal(ipc_msg_get(&d, "v"), "1");
	ipc_msg_free(&d);

	/* Nothing to read: times out close to the asked time. */
	t0 = io_now_ms();
	assert_int_equal(ipc_read(sv[1], &d, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(io_now_ms() - t0 >= 90);

	/* A frame cut short by the peer's death: reset, then EOF. */
	ipc_encode(&m, &frame, &len);
	assert_int_equal(write(sv[0], frame, len - 1), (ssize_t)len - 1);
	assert_int_equal(ipc_read(sv[1], &d, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	free(frame);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[0]);
	assert_int_equal(ipc_read(sv[1], &d, 100), -1);
	assert_int_equal(errno, ECONNRESET);
	close(sv[1]);

	/* Bad frames: out-of-range length and wrong version. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "\xff\0\0\0", 4), 4);
	assert_int_equal(ipc_read(sv[1], &d, 100), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(write(sv[0], "\0\0\0\2\2\1", 6), 6);
	assert_int_equal(ipc_read(sv[1], &d, 100), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[0]);
	close(sv[1]);

	/* ipc_call: the reply is already waiting in the socket. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_msg_init(&d, 0x01);
	assert_int_equal(ipc_write(sv[1], &d, 0), 0);
	ipc_msg_free(&d);
	assert_int_equal(ipc_call(sv[0], &m, &d, 1000), 0);
	assert_int_equal(d.type, 0x01);
	ipc_msg_free(&d);
	assert_int_equal(ipc_read(sv[1], &d, 1000), 0);
	assert_int_equal(d.type, 0x11);
	ipc_msg_free(&d);
	/* Writing to a closed peer: EPIPE, and no SIGPIPE kills us. */
	close(sv[1]);
	assert_int_equal(ipc_write(sv[0], &m, 100), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	ipc_msg_free(&m);
}

/* Several frames in one write; a pipe (not a socket) takes the write()
 * path; a full socket makes the writer wait, and time out. */
static void
test_write_many(void **state)
{
	struct ipc_msg	 m[3], d;
	char		 big[IPC_VALUE_MAX - 1];
	int		 sv[2], i, n, sent;

	(void)state;
	for (i = 0; i < 3; i++) {
		ipc_msg_init(&m[i], (uint8_t)(0x20 + i));
		ipc_msg_add_int(&m[i], "k", i);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ipc_write_many(sv[0], m, 3, 1000), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ipc_read(sv[1], &d, 1000), 0);
		assert_int_equal(d.type, 0x20 + i);
		assert_string_equal(ipc_msg_get(&d, "k"), i == 0 ? "0" :
		    i == 1 ? "1" : "2");
		ipc_msg_free(&d);
	}
	assert_int_equal(ipc_write_many(sv[0], m, 0, 1000), 0);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(pipe(sv), 0);
	assert_int_equal(ipc_write_many(sv[1], m, 2, 1000), 0);
	assert_int_equal(ipc_read(sv[0], &d, 1000), 0);
	assert_int_equal(d.type, 0x20);
	ipc_msg_free(&d);
	assert_int_equal(ipc_read(sv[0], &d, 1000), 0);
	assert_int_equal(d.type, 0x21);
	ipc_msg_free(&d);
	close(sv[0]);
	close(sv[1]);

	/* Nobody reads: the socket fills, and the write times out. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ipc_msg_add(&m[0], "big", big);
	for (n = 0, sent = 0; n < 1000 && sent == 0; n++)
		sent = ipc_write(sv[0], &m[0], 100);
	assert_int_equal(sent, -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(n > 1);
	close(sv[0]);
	close(sv[1]);
	for (i = 0; i < 3; i++)
		ipc_msg_free(&m[i]);
}

/* The buffered reader: several frames from one recv, one split across
 * writes, a frame bigger than its first buffer, then timeout, bad frames
 * and EOF as ipc_read() reports them. */
static void
test_reader(void **state)
{
	struct ipc_reader rd;
	struct ipc_msg	 m[3], d;
	char		*frame, *big;
	size_t		 len;
	int		 sv[2], i;
	long long	 t0;

	(void)state;
	for (i = 0; i < 3; i++) {
		ipc_msg_init(&m[i], (uint8_t)(0x30 + i));
		ipc_msg_add_int(&m[i], "k", i);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_reader_init(&rd, sv[1]);
	assert_int_equal(ipc_reader_held(&rd), 0);
	assert_int_equal(ipc_write_many(sv[0], m, 3, 1000), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ipc_reader_read(&rd, &d, 1000), 0);
		assert_int_equal(d.type, 0x30 + i);
		/* The first read took all three frames. */
		assert_int_equal(ipc_reader_held(&rd), i < 2);
		ipc_msg_free(&d);
	}

	/* A frame in two writes: the reader waits for its rest. */
	assert_int_equal(ipc_encode(&m[1], &frame, &len), 0);
	assert_int_equal(write(sv[0], frame, 3), 3);
	assert_int_equal(ipc_reader_read(&rd, &d, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(ipc_reader_held(&rd), 1);
	assert_int_equal(write(sv[0], frame + 3, len - 3), (ssize_t)len - 3);
	assert_int_equal(ipc_reader_read(&rd, &d, 1000), 0);
	assert_int_equal(d.type, 0x31);
	assert_int_equal(ipc_reader_held(&rd), 0);
	ipc_msg_free(&d);
	free(frame);

	/* Bigger than the first buffer, behind a small frame. */
	big = malloc(IPC_VALUE_MAX);
	assert_non_null(big);
	memset(big, 'y', IPC_VALUE_MAX - 1);
	big[IPC_VALUE_MAX - 1] = '\0';
	ipc_msg_add(&m[2], "big", big);
	assert_int_equal(ipc_write_many(sv[0], m, 3, 1000), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ipc_reader_read(&rd, &d, 1000), 0);
		assert_int_equal(d.type, 0x30 + i);
		if (i == 2)
			assert_int_equal(strlen(ipc_msg_get(&d, "big")),
			    IPC_VALUE_MAX - 1);
		ipc_msg_free(&d);
	}
	free(big);

	/* Nothing there: times out. */
	t0 = io_now_ms();
	assert_int_equal(ipc_reader_read(&rd, &d, 100), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(io_now_ms() - t0 >= 90);

	/* A good frame, then an out-of-range length: the first is handed
	 * out, the second refused. */
	assert_int_equal(ipc_write(sv[0], &m[0], 1000), 0);
	assert_int_equal(write(sv[0], "\xff\0\0\0", 4), 4);
	assert_int_equal(ipc_reader_read(&rd, &d, 1000), 0);
	assert_int_equal(d.type, 0x30);
	ipc_msg_free(&d);
	assert_int_equal(ipc_reader_read(&rd, &d, 100), -1);
	assert_int_equal(errno, EPROTO);
	ipc_reader_free(&rd);
	close(sv[0]);
	close(sv[1]);

	/* A wrong version, then the peer's end. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_reader_init(&rd, sv[1]);
	assert_int_equal(write(sv[0], "\0\0\0\2\2\1", 6), 6);
	assert_int_equal(ipc_reader_read(&rd, &d, 100), -1);
	assert_int_equal(errno, EPROTO);
	close(sv[0]);
	assert_int_equal(ipc_reader_read(&rd, &d, 100), -1);
	assert_int_equal(errno, ECONNRESET);
	ipc_reader_free(&rd);
	close(sv[1]);
	for (i = 0; i < 3; i++)
		ipc_msg_free(&m[i]);
}

static void
test_connect(void **state)
{
	char			 dir[] = "/tmp/tern-ipc-XXXXXX", path[128], longp[200];
	struct sockaddr_un	 sun;
	struct ipc_msg		 m, d;
	int			 ls, cs, as;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	assert_int_equal(ipc_connect(path), -1);
	assert_int_equal(errno, ENOENT);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(ipc_connect(longp), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(ls, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(ls, 5), 0);
	cs = ipc_connect(path);
	assert_true(cs >= 0);
	assert_true(fcntl(cs, F_GETFD) & FD_CLOEXEC);
	as = accept(ls, NULL, NULL);
	assert_true(as >= 0);
	ipc_msg_init(&m, 0x30);
	ipc_msg_add(&m, "name", "example.org");
	assert_int_equal(ipc_write(cs, &m, 1000), 0);
	assert_int_equal(ipc_read(as, &d, 1000), 0);
	assert_string_equal(ipc_msg_get(&d, "name"), "example.org");
	ipc_msg_free(&d);
	ipc_msg_free(&m);
	close(as);
	close(cs);
	close(ls);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wire_bytes),
		cmocka_unit_test(test_get_int_strict),
		cmocka_unit_test(test_add_int_addn),
		cmocka_unit_test(test_add_rules),
		cmocka_unit_test(test_frame_length),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_blocking),
		cmocka_unit_test(test_write_many),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
