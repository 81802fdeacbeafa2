/*
 * evbuf_io - plain read(2) into, and writes out of, a libevent buffer (see
 * evbuf_io.h).  EINTR is retried; EAGAIN is "nothing now", never an error.
 */
#include <errno.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "evbuf_io.h"

int
evbuf_io_read(struct evbuffer *buf, int fd, size_t max)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	if (evbuffer_reserve_space(buf, (ev_ssize_t)max, &v, 1) < 1) {
		errno = ENOMEM;
		return -1;
	}
	if (v.iov_len > max)
		v.iov_len = max;
	do
		n = read(fd, v.iov_base, v.iov_len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		if (n == 0)
			errno = 0;
		return -1;
	}
	v.iov_len = (size_t)n;
	if (evbuffer_commit_space(buf, &v, 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 1;
}

int
evbuf_io_flush(struct evbuffer *buf, int fd)
{
	while (evbuffer_get_length(buf) > 0) {
		if (evbuffer_write(buf, fd) >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		return -1;
	}
	return 0;
}
