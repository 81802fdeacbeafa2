/*
 * Unit tests for common/evbuf_io.c: reads onto a buffer (bytes, nothing
 * yet, end of file, the size limit) and flushes out of one (all, and a
 * full socket that takes the rest later), over a non-blocking socketpair.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "common/evbuf_io.h"

static void
pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
}

static void
test_read(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	char		 got[16];
	int		 sv[2];

	(void)state;
	pair(sv);
	assert_int_equal(evbuf_io_read(b, sv[0], 4), 0);	/* nothing yet */
	assert_int_equal(write(sv[1], "hello world", 11), 11);
	assert_int_equal(evbuf_io_read(b, sv[0], 4), 1);	/* at most 4 */
	assert_int_equal(evbuffer_get_length(b), 4);
	assert_int_equal(evbuf_io_read(b, sv[0], 64), 1);
	assert_int_equal(evbuffer_remove(b, got, sizeof(got)), 11);
	assert_memory_equal(got, "hello world", 11);
	close(sv[1]);
	errno = EINVAL;
	assert_int_equal(evbuf_io_read(b, sv[0], 64), -1);	/* end of file */
	assert_int_equal(errno, 0);
	close(sv[0]);
	evbuffer_free(b);
}

static void
test_flush(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	char		 chunk[4096], sink[4096];
	size_t		 total = 0, i;
	int		 sv[2], r;

	(void)state;
	pair(sv);
	evbuffer_add(b, "250 ok\r\n", 8);
	assert_int_equal(evbuf_io_flush(b, sv[0]), 0);
	assert_int_equal(evbuffer_get_length(b), 0);
	assert_int_equal(read(sv[1], sink, sizeof(sink)), 8);
	/* More than the socket holds: the rest waits, nothing is lost. */
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 1024; i++)
		evbuffer_add(b, chunk, sizeof(chunk));
	assert_int_equal(evbuf_io_flush(b, sv[0]), 1);
	assert_true(evbuffer_get_length(b) > 0);
	do {
		ssize_t n;

		while ((n = read(sv[1], sink, sizeof(sink))) > 0)
			total += (size_t)n;
		r = evbuf_io_flush(b, sv[0]);
	} while (r == 1);
	assert_int_equal(r, 0);
	{
		ssize_t n;

		while ((n = read(sv[1], sink, sizeof(sink))) > 0)
			total += (size_t)n;
	}
	assert_int_equal(total, 1024 * sizeof(chunk));
	/* A peer that is gone is an error. */
	close(sv[1]);
	evbuffer_add(b, "x", 1);
	assert_int_equal(evbuf_io_flush(b, sv[0]), -1);
	close(sv[0]);
	evbuffer_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_flush),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
