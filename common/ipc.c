/*
 * ipc - framing of the messages between tern daemons.  A message keeps its
 * attributes in one owned byte store laid out exactly as on the wire
 * ("name\0value\0..."), so encoding is a copy and decoding validates the
 * frame once and then points into its own copy.  ipc_decode() is the trust
 * boundary between daemons: every length is checked before it is used.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "decimal.h"
#include "io.h"
#include "ipc.h"

/* The version and type bytes count against IPC_FRAME_MAX too. */
#define IPC_STORE_MAX	(IPC_FRAME_MAX - 2)

void
ipc_msg_init(struct ipc_msg *m, uint8_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void
ipc_msg_free(struct ipc_msg *m)
{
	free(m->attr);
	free(m->store);
	ipc_msg_init(m, 0);
}

static int
ipc_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len < 1 || len > IPC_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* The store moved: attribute pointers are rebuilt by walking it, which is
 * cheaper to get right than adjusting stale pointers. */
static void
ipc_msg_repoint(struct ipc_msg *m)
{
	const char	*p = m->store;
	int		 i;

	for (i = 0; i < m->nattr; i++) {
		m->attr[i].name = p;
		p += strlen(p) + 1;
		m->attr[i].value = p;
		p += strlen(p) + 1;
	}
}

static void
ipc_msg_reserve(struct ipc_msg *m, size_t need)
{
	size_t	 cap;

	if (need <= m->store_cap)
		return;
	cap = m->store_cap ? m->store_cap : 256;
	while (cap < need)
		cap *= 2;
	m->store = xrealloc(m->store, cap);
	m->store_cap = cap;
	ipc_msg_repoint(m);
}

int
ipc_msg_add(struct ipc_msg *m, const char *name, const char *value)
{
	if (value == NULL)
		return -1;
	return ipc_msg_addn(m, name, value, IPC_VALUE_MAX + 1);
}

int
ipc_msg_addn(struct ipc_msg *m, const char *name, const char *value,
    size_t max)
{
	size_t	 nl, vl, need;

	if (name == NULL || value == NULL)
		return -1;
	nl = strnlen(name, IPC_NAME_MAX + 1);
	vl = strnlen(value, max);
	if (!ipc_name_ok(name, nl) || vl > IPC_VALUE_MAX ||
	    m->nattr >= IPC_ATTR_MAX)
		return -1;
	need = m->store_len + nl + 1 + vl + 1;
	if (need > IPC_STORE_MAX)
		return -1;
	if (m->nattr == m->attr_cap) {
		m->attr_cap = m->attr_cap ? m->attr_cap * 2 : 8;
		m->attr = xreallocarray(m->attr, (size_t)m->attr_cap,
		    sizeof(*m->attr));
		ipc_msg_repoint(m);
	}
	ipc_msg_reserve(m, need);
	memcpy(m->store + m->store_len, name, nl + 1);
	m->attr[m->nattr].name = m->store + m->store_len;
	m->store_len += nl + 1;
	memcpy(m->store + m->store_len, value, vl);
	m->store[m->store_len + vl] = '\0';
	m->attr[m->nattr].value = m->store + m->store_len;
	m->store_len += vl + 1;
	m->nattr++;
	return 0;
}

int
ipc_msg_addf(struct ipc_msg *m, const char *name, const char *fmt, ...)
{
	va_list	 ap;
	char	*value;
	int	 n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || n > IPC_VALUE_MAX)
		return -1;
	value = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(value, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r = ipc_msg_add(m, name, value);
	free(value);
	return r;
}

/* Decimal by hand: one per attribute of every message between the daemons
 * (sizes, counts, times), where a printf and a malloc showed in profiles. */
int
ipc_msg_add_int(struct ipc_msg *m, const char *name, long long value)
{
	char			 digits[DECIMAL_MAX + 2], *p;
	unsigned long long	 v;

	v = value < 0 ? 0ULL - (unsigned long long)value :
	    (unsigned long long)value;
	digits[sizeof(digits) - 1] = '\0';
	p = decimal_put(digits + sizeof(digits) - 1, v);
	if (value < 0)
		*--p = '-';
	return ipc_msg_add(m, name, p);
}

const char *
ipc_msg_get(const struct ipc_msg *m, const char *name)
{
	int	 i;

	for (i = 0; i < m->nattr; i++)
		if (strcmp(m->attr[i].name, name) == 0)
			return m->attr[i].value;
	return NULL;
}

/* Strict decimal: optional '-', digits only, no blanks, no overflow. */
static int
ipc_parse_ll(const char *s, long long *out)
{
	unsigned long long	 v = 0, lim;
	int			 neg = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s == '\0')
		return -1;
	lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (lim - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (neg)
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	else
		*out = (long long)v;
	return 0;
}

int
ipc_msg_get_int(const struct ipc_msg *m, const char *name, long long min,
    long long max, long long *out)
{
	const char	*s;
	long long	 v;

	if ((s = ipc_msg_get(m, name)) == NULL || ipc_parse_ll(s, &v) < 0 ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
ipc_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

int
ipc_encode(const struct ipc_msg *m, char **frame, size_t *framelen)
{
	unsigned char	*f;
	size_t		 len;

	if (m->store_len > IPC_STORE_MAX)
		return -1;
	len = IPC_HEADER_LEN + m->store_len;
	f = xmalloc(len);
	ipc_put32(f, (uint32_t)(len - 4));
	f[4] = IPC_VERSION;
	f[5] = m->type;
	if (m->store_len > 0)
		memcpy(f + IPC_HEADER_LEN, m->store, m->store_len);
	*frame = (char *)f;
	*framelen = len;
	return 0;
}

long
ipc_frame_length(const unsigned char *p, size_t avail)
{
	uint32_t	 len;

	if (avail < 4)
		return -1;
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	if (len < 2 || len > IPC_FRAME_MAX)
		return -1;
	return (long)len + 4;
}

/* Check the attribute area and count its pairs; -1 on any violation. */
static int
ipc_scan(const char *p, const char *end)
{
	const char	*nul;
	int		 n = 0;

	while (p < end) {
		if (n >= IPC_ATTR_MAX)
			return -1;
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    !ipc_name_ok(p, (size_t)(nul - p)))
			return -1;
		p = nul + 1;
		if (p >= end || (nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    (size_t)(nul - p) > IPC_VALUE_MAX)
			return -1;
		p = nul + 1;
		n++;
	}
	return n;
}

int
ipc_decode(const void *frame, size_t framelen, struct ipc_msg *m)
{
	const unsigned char	*f = frame;
	size_t			 slen;
	long			 total;
	int			 n;

	ipc_msg_init(m, 0);
	if (frame == NULL || (total = ipc_frame_length(f, framelen)) < 0 ||
	    (size_t)total != framelen || f[4] != IPC_VERSION)
		return -1;
	slen = framelen - IPC_HEADER_LEN;
	if ((n = ipc_scan((const char *)f + IPC_HEADER_LEN,
	    (const char *)f + framelen)) < 0)
		return -1;
	m->type = f[5];
	if (slen > 0) {
		m->store = xmalloc(slen);
		memcpy(m->store, f + IPC_HEADER_LEN, slen);
		m->store_len = m->store_cap = slen;
	}
	if (n > 0) {
		m->attr = xreallocarray(NULL, (size_t)n, sizeof(*m->attr));
		m->attr_cap = m->nattr = n;
		ipc_msg_repoint(m);
	}
	return 0;
}

/* flags: SOCK_NONBLOCK or 0. */
static int
ipc_connect_flags(const char *path, int flags)
{
	struct sockaddr_un	 sun;
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
ipc_connect(const char *path)
{
	return ipc_connect_flags(path, 0);
}

int
ipc_connect_nonblock(const char *path)
{
	return ipc_connect_flags(path, SOCK_NONBLOCK);
}

static int
ipc_left(long long deadline)
{
	long long	 left;

	if (deadline < 0)
		return 0;
	left = deadline - io_now_ms();
	if (left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Write with a deadline without touching the fd's flags: MSG_DONTWAIT on
 * sockets (and no SIGPIPE in tools that did not ignore it), plain write()
 * after poll otherwise.  A socket is tried first and polled only when it
 * is full: the usual frame goes out in one system call. */
static int
ipc_send_all(int fd, const char *p, size_t len, long long deadline)
{
	ssize_t	 n;
	int	 left, r, sock = 1;

	while (len > 0) {
		if (sock) {
			n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				sock = 0;
				continue;
			}
			if (n >= 0) {
				p += n;
				len -= (size_t)n;
				continue;
			}
			if (errno != EINTR && errno != EAGAIN &&
			    errno != EWOULDBLOCK)
				return -1;
		}
		if ((left = ipc_left(deadline)) < 0)
			return -1;
		if ((r = io_wait_writable(fd, left)) <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return -1;
		}
		if (sock)
			continue;
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
ipc_write_deadline(int fd, const struct ipc_msg *m, long long deadline)
{
	char	*frame;
	size_t	 len;
	int	 r, saved;

	if (ipc_encode(m, &frame, &len) < 0) {
		errno = EPROTO;
		return -1;
	}
	r = ipc_send_all(fd, frame, len, deadline);
	saved = errno;
	free(frame);
	errno = saved;
	return r;
}

static int
ipc_read_deadline(int fd, struct ipc_msg *m, long long deadline)
{
	unsigned char	 head[4];
	char		*frame;
	long		 total;
	int		 left, r, saved;

	ipc_msg_init(m, 0);
	if ((left = ipc_left(deadline)) < 0 ||
	    io_read_full(fd, head, sizeof(head), left) < 0)
		return -1;
	if ((total = ipc_frame_length(head, sizeof(head))) < 0) {
		errno = EPROTO;
		return -1;
	}
	frame = xmalloc((size_t)total);
	memcpy(frame, head, sizeof(head));
	if ((left = ipc_left(deadline)) < 0 ||
	    io_read_full(fd, frame + 4, (size_t)total - 4, left) < 0) {
		saved = errno;
		free(frame);
		errno = saved;
		return -1;
	}
	r = ipc_decode(frame, (size_t)total, m);
	free(frame);
	if (r < 0)
		errno = EPROTO;
	return r;
}

static long long
ipc_deadline(int timeout)
{
	return timeout > 0 ? io_now_ms() + timeout : -1;
}

int
ipc_write(int fd, const struct ipc_msg *m, int timeout)
{
	return ipc_write_deadline(fd, m, ipc_deadline(timeout));
}

int
ipc_write_many(int fd, const struct ipc_msg *m, int n, int timeout)
{
	struct buf	 out;
	char		*frame;
	size_t		 len;
	int		 i, r, saved;

	buf_init(&out, (size_t)(n > 0 ? n : 1) * (IPC_FRAME_MAX + 4));
	for (i = 0; i < n; i++) {
		if (ipc_encode(&m[i], &frame, &len) < 0) {
			buf_free(&out);
			errno = EPROTO;
			return -1;
		}
		r = buf_append(&out, frame, len);
		free(frame);
		if (r < 0) {
			buf_free(&out);
			errno = EMSGSIZE;
			return -1;
		}
	}
	r = ipc_send_all(fd, out.data, out.len, ipc_deadline(timeout));
	saved = errno;
	buf_free(&out);
	errno = saved;
	return r;
}

int
ipc_read(int fd, struct ipc_msg *m, int timeout)
{
	return ipc_read_deadline(fd, m, ipc_deadline(timeout));
}

int
ipc_call(int fd, const struct ipc_msg *req, struct ipc_msg *reply, int timeout)
{
	long long	 deadline = ipc_deadline(timeout);

	ipc_msg_init(reply, 0);
	if (ipc_write_deadline(fd, req, deadline) < 0)
		return -1;
	return ipc_read_deadline(fd, reply, deadline);
}

/* Buffered reading (ipc.h) */

#define IPC_READER_CHUNK	(16 * 1024)

void
ipc_reader_init(struct ipc_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
}

void
ipc_reader_free(struct ipc_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int
ipc_reader_held(const struct ipc_reader *r)
{
	return r->len > r->off;
}

/* Room for want bytes from buf[0]: what is unread moves to the front. */
static void
ipc_reader_room(struct ipc_reader *r, size_t want)
{
	size_t	 have = r->len - r->off;

	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, have);
		r->off = 0;
		r->len = have;
	}
	if (want < IPC_READER_CHUNK)
		want = IPC_READER_CHUNK;
	if (r->cap < want) {
		r->buf = xrealloc(r->buf, want);
		r->cap = want;
	}
}

int
ipc_reader_read(struct ipc_reader *r, struct ipc_msg *m, int timeout)
{
	long long	 deadline = ipc_deadline(timeout);
	size_t		 have;
	long		 total;
	ssize_t		 n;
	int		 left, w, rc;

	ipc_msg_init(m, 0);
	for (;;) {
		have = r->len - r->off;
		total = 4;
		if (have >= 4 && (total = ipc_frame_length(
		    (const unsigned char *)r->buf + r->off, have)) < 0) {
			errno = EPROTO;
			return -1;
		}
		if (have >= 4 && have >= (size_t)total) {
			rc = ipc_decode(r->buf + r->off, (size_t)total, m);
			r->off += (size_t)total;
			if (r->off == r->len)
				r->off = r->len = 0;
			if (rc < 0)
				errno = EPROTO;
			return rc;
		}
		if (r->len == r->cap || r->cap < (size_t)total || r->off > 0)
			ipc_reader_room(r, (size_t)total);
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, MSG_DONTWAIT);
		if (n > 0) {
			r->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((left = ipc_left(deadline)) < 0)
			return -1;
		if ((w = io_wait_readable(r->fd, left)) <= 0) {
			if (w == 0)
				errno = ETIMEDOUT;
			return -1;
		}
	}
}
