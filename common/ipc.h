/*
 * ipc - the framed request/reply messages that tern daemons exchange over
 * UNIX-domain stream sockets.
 *
 * Wire format (IPC_VERSION 1), all integers big-endian:
 *
 *	u32  length     bytes that follow this field (2 .. IPC_FRAME_MAX)
 *	u8   version    IPC_VERSION; a peer that sees another value closes
 *	u8   type       message type, defined by each protocol header
 *	...  attributes zero or more "name\0value\0" pairs
 *
 * Names are 1..IPC_NAME_MAX bytes of [a-z0-9_.]; values are any bytes except
 * NUL, at most IPC_VALUE_MAX.  At most IPC_ATTR_MAX attributes per message.
 * A frame that breaks any rule is rejected whole by ipc_decode(); the
 * receiving daemon logs it and drops the connection.  Each protocol
 * (proto_qmgr.h, proto_deliver.h, proto_resolver.h) names its message types
 * and attributes; unknown attributes are ignored so protocols can grow.
 *
 * The blocking helpers (ipc_connect/ipc_write/ipc_read/ipc_call) serve
 * simple clients; event-driven daemons frame with ipc_frame_length() and
 * ipc_decode() on their own buffers.
 */
#ifndef TERN_IPC_H
#define TERN_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_VERSION	1
#define IPC_FRAME_MAX	(256 * 1024)	/* bytes after the length field */
#define IPC_HEADER_LEN	6		/* length + version + type */
#define IPC_NAME_MAX	32
#define IPC_VALUE_MAX	(64 * 1024)
#define IPC_ATTR_MAX	4096

struct ipc_attr {
	const char *name;
	const char *value;
};

/* A decoded or to-be-encoded message.  Decoded name/value pointers point
 * into the message's own storage and live until ipc_msg_free(). */
struct ipc_msg {
	uint8_t		 type;
	int		 nattr;
	struct ipc_attr	*attr;
	int		 attr_cap;
	char		*store;		/* owned copy of the frame payload */
	size_t		 store_len;
	size_t		 store_cap;
};

void	ipc_msg_init(struct ipc_msg *, uint8_t type);
void	ipc_msg_free(struct ipc_msg *);
/* Add an attribute (copied).  -1 if the name or value breaks the rules or
 * the message would exceed IPC_FRAME_MAX / IPC_ATTR_MAX. */
int	ipc_msg_add(struct ipc_msg *, const char *name, const char *value);
/* The same with value cut to at most max bytes (a max above IPC_VALUE_MAX
 * lets a longer value fail, as ipc_msg_add does). */
int	ipc_msg_addn(struct ipc_msg *, const char *name, const char *value,
	    size_t max);
int	ipc_msg_addf(struct ipc_msg *, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	ipc_msg_add_int(struct ipc_msg *, const char *name, long long value);
/* First value of name, or NULL. */
const char *ipc_msg_get(const struct ipc_msg *, const char *name);
/* Integer value of name in [min,max]; -1 if missing or malformed. */
int	ipc_msg_get_int(const struct ipc_msg *, const char *name,
	    long long min, long long max, long long *out);

/* Encode to a freshly allocated frame (length field included). */
int	ipc_encode(const struct ipc_msg *, char **frame, size_t *framelen);
/* Given at least 4 bytes, the total frame size (length field included),
 * or -1 if the announced length is out of range. */
long	ipc_frame_length(const unsigned char *p, size_t avail);
/* Decode one complete frame (length field included).  0 or -1. */
int	ipc_decode(const void *frame, size_t framelen, struct ipc_msg *);

/* Blocking helpers.  timeout is in milliseconds (<= 0: none).
 * Return 0, or -1 with errno set (ETIMEDOUT, EPROTO for bad frames,
 * ECONNRESET for EOF). */
int	ipc_connect(const char *path);
/* The same, for a socket to use with libevent: non-blocking.  A UNIX-domain
 * connect completes or fails at once (EAGAIN: the server's backlog is
 * full), so the descriptor is ready for use when this returns it. */
int	ipc_connect_nonblock(const char *path);
int	ipc_write(int fd, const struct ipc_msg *, int timeout);
/* m[0..n) in one write, frame after frame, under one timeout. */
int	ipc_write_many(int fd, const struct ipc_msg *m, int n, int timeout);
int	ipc_read(int fd, struct ipc_msg *, int timeout);
int	ipc_call(int fd, const struct ipc_msg *req, struct ipc_msg *reply,
	    int timeout);

/*
 * A buffered reader for a server that reads pipelined requests with the
 * blocking helpers: one recv takes whatever the socket holds, and the
 * frames in it are handed out one at a time, so a batch of small requests
 * costs one system call instead of two per frame.  Frames it holds are no
 * longer visible to poll(2) on the socket: ask ipc_reader_held() before
 * waiting on it.  The buffer grows to the frame being read (at most
 * IPC_FRAME_MAX) and is bounded by that.
 */
struct ipc_reader {
	int	 fd;
	char	*buf;
	size_t	 off, len, cap;	/* unread bytes are buf[off..len) */
};
void	ipc_reader_init(struct ipc_reader *, int fd);
void	ipc_reader_free(struct ipc_reader *);
/* As ipc_read(), from the buffer first. */
int	ipc_reader_read(struct ipc_reader *, struct ipc_msg *, int timeout);
/* 1 if bytes of a next frame are already held. */
int	ipc_reader_held(const struct ipc_reader *);

#endif
