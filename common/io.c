/*
 * io - system-call wrappers.  Each retries on EINTR, treats a timeout as an
 * overall deadline rather than per call (a slow peer that trickles one byte
 * at a time still times out), and preserves errno on its error paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

long long
io_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: none), at least 0. */
static int
io_left(long long deadline)
{
	long long	 left;

	if (deadline < 0)
		return -1;
	left = deadline - io_now_ms();
	if (left < 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static int
io_wait(int fd, short events, int timeout)
{
	struct pollfd	 pfd;
	long long	 deadline = timeout > 0 ? io_now_ms() + timeout : -1;
	int		 r;

	for (;;) {
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, io_left(deadline));
		if (r > 0)
			return 1;	/* errors and hang-ups show in the next call */
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
io_wait_readable(int fd, int timeout)
{
	return io_wait(fd, POLLIN, timeout);
}

int
io_wait_writable(int fd, int timeout)
{
	return io_wait(fd, POLLOUT, timeout);
}

int
io_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* A non-blocking fd: wait rather than fail. */
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    io_wait_writable(fd, 0) >= 0)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* On a socket, recv(MSG_DONTWAIT): bytes that have already arrived need
 * no poll() first.  Anything else is read(2), after a poll() when there is
 * a deadline; the first try on it fails with EAGAIN to get that poll. */
static ssize_t
io_read_now(int fd, void *buf, size_t len, int *not_socket)
{
	ssize_t	 n;

	if (*not_socket)
		return read(fd, buf, len);
	n = recv(fd, buf, len, MSG_DONTWAIT);
	if (n < 0 && errno == ENOTSOCK) {
		*not_socket = 1;
		errno = EAGAIN;
	}
	return n;
}

int
io_read_full(int fd, void *buf, size_t len, int timeout)
{
	char		*p = buf;
	long long	 deadline = timeout > 0 ? io_now_ms() + timeout : -1;
	ssize_t		 n;
	int		 r, not_socket = deadline < 0, wait = 0;

	while (len > 0) {
		if (deadline >= 0 && (wait || not_socket)) {
			r = io_left(deadline);
			if (r == 0 || (r = io_wait_readable(fd, r)) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			if (r < 0)
				return -1;
		}
		n = io_read_now(fd, p, len, &not_socket);
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			wait = 1;
			/* Non-blocking fd; with a deadline the loop re-polls. */
			if (deadline < 0 && io_wait_readable(fd, 0) < 0)
				return -1;
			continue;
		}
		wait = 0;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
io_fsync_dir(const char *path)
{
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
io_set_nonblock(int fd, int on)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -1 : 0;
}

int
io_set_cloexec(int fd, int on)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) < 0)
		return -1;
	fl = on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC;
	return fcntl(fd, F_SETFD, fl) < 0 ? -1 : 0;
}
