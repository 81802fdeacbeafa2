/*
 * io - small system-call wrappers that get the edge cases right once:
 * EINTR, short writes, timeouts, and the directory fsync that makes a
 * rename durable.
 */
#ifndef TERN_IO_H
#define TERN_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all of buf; -1 on error (errno set). */
int	io_write_all(int fd, const void *buf, size_t len);
/* Wait until fd is readable/writable or timeout ms (<=0: forever).
 * 1 ready, 0 timed out, -1 error. */
int	io_wait_readable(int fd, int timeout);
int	io_wait_writable(int fd, int timeout);
/* Read exactly len bytes, waiting at most timeout ms overall.
 * 0 ok; -1 with errno (ETIMEDOUT, ECONNRESET for EOF). */
int	io_read_full(int fd, void *buf, size_t len, int timeout);
/* fsync the directory at path (relative to cwd or absolute). */
int	io_fsync_dir(const char *path);
int	io_set_nonblock(int fd, int on);
int	io_set_cloexec(int fd, int on);
/* Milliseconds on the monotonic clock. */
long long io_now_ms(void);

#endif
