/*
 * evbuf_io - a libevent buffer filled from, and emptied into, a
 * non-blocking descriptor with plain read(2) and writev(2), for event
 * loops that manage their own events (smtpd's sessions and its qmgr
 * notifier): libevent's own reader asks FIONREAD before every read, a
 * system call per read, and a bufferevent arms and disarms its write
 * event around every write.  Neither function blocks or arms anything.
 */
#ifndef TERN_EVBUF_IO_H
#define TERN_EVBUF_IO_H

#include <stddef.h>

struct evbuffer;

/* One read(2) of at most max bytes from fd onto the end of buf.  1: bytes
 * were read; 0: nothing to read now; -1: end of file (errno 0) or an error
 * (errno). */
int	evbuf_io_read(struct evbuffer *buf, int fd, size_t max);
/* Write what buf holds to fd, as far as fd takes it now (what is written
 * is drained).  0: all written; 1: fd is full, the rest waits; -1: an
 * error (errno). */
int	evbuf_io_flush(struct evbuffer *buf, int fd);

#endif
