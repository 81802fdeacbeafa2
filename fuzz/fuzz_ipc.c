/*
 * fuzz_ipc - the frame decoder every daemon runs on what its peers send
 * (ipc_frame_length and ipc_decode in common/ipc.c, ipc_evbuffer_take in
 * common/ipc_event.c).  The input is a byte stream of frames, as read from
 * a socket.  Invariants: a frame length is in range; a decoded frame has
 * well-formed, bounded attributes whose pointers stay in the message's own
 * store; encoding it gives back the very same bytes, and so does building
 * it again attribute by attribute with ipc_msg_add (round trips); the
 * integer getter accepts exactly the strict decimals that fit; the
 * libevent framing and the buffered reader (ipc_reader, deliver's, fed
 * through a socket pair) take the same frames as the plain decoder.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fuzz.h"
#include "ipc.h"
#include "ipc_event.h"

static int
name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n < 1 || n > IPC_NAME_MAX)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* Strict decimal of at most 18 digits: always fits a long long. */
static int
short_decimal(const char *s)
{
	size_t	 n;

	if (*s == '-')
		s++;
	n = strlen(s);
	return n >= 1 && n <= 18 && strspn(s, "0123456789") == n;
}

static void
check_int(const struct ipc_msg *m, const char *name, const char *value)
{
	long long	 v, w;
	char		*end;

	if (ipc_msg_get_int(m, name, LLONG_MIN, LLONG_MAX, &v) == 0) {
		FUZZ_ASSERT(*value != '\0' && *value != ' ' && *value != '+');
		errno = 0;
		w = strtoll(value, &end, 10);
		FUZZ_ASSERT(errno == 0 && *end == '\0' && v == w);
		FUZZ_ASSERT(ipc_msg_get_int(m, name, v, v, &w) == 0 && w == v);
		if (v < LLONG_MAX)
			FUZZ_ASSERT(ipc_msg_get_int(m, name, v + 1, LLONG_MAX,
			    &w) == -1);
	} else
		FUZZ_ASSERT(!short_decimal(value));
}

static void
check_msg(const struct ipc_msg *m, const uint8_t *frame, size_t len)
{
	struct ipc_msg	 copy, again;
	char		*enc;
	size_t		 enclen;
	int		 i, j;

	FUZZ_ASSERT(m->nattr >= 0 && m->nattr <= IPC_ATTR_MAX);
	FUZZ_ASSERT(m->store_len == len - IPC_HEADER_LEN);
	ipc_msg_init(&copy, m->type);
	for (i = 0; i < m->nattr; i++) {
		const char *n = m->attr[i].name, *v = m->attr[i].value;

		FUZZ_ASSERT(n >= m->store && v > n &&
		    v + strlen(v) < m->store + m->store_len);
		FUZZ_ASSERT(name_ok(n) && strlen(v) <= IPC_VALUE_MAX);
		/* get() answers with the first attribute of that name. */
		for (j = 0; strcmp(m->attr[j].name, n) != 0; j++)
			;
		FUZZ_ASSERT(ipc_msg_get(m, n) == m->attr[j].value);
		if (j == i && i < 64)
			check_int(m, n, v);
		FUZZ_ASSERT(ipc_msg_add(&copy, n, v) == 0);
	}
	FUZZ_ASSERT(ipc_encode(m, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len && memcmp(enc, frame, len) == 0);
	free(enc);
	FUZZ_ASSERT(ipc_encode(&copy, &enc, &enclen) == 0);
	FUZZ_ASSERT(enclen == len && memcmp(enc, frame, len) == 0);
	FUZZ_ASSERT(ipc_decode(enc, enclen, &again) == 0);
	FUZZ_ASSERT(again.type == m->type && again.nattr == m->nattr);
	free(enc);
	ipc_msg_free(&again);
	ipc_msg_free(&copy);
}

/* Decode the stream frame by frame; the number of frames taken. */
static int
plain_frames(const uint8_t *p, size_t len, uint8_t *types, int max)
{
	struct ipc_msg	 m;
	long		 total;
	int		 n = 0;

	while (n < max && len >= 4) {
		total = ipc_frame_length(p, len);
		if (total < 0)
			break;
		FUZZ_ASSERT(total >= IPC_HEADER_LEN &&
		    total <= IPC_FRAME_MAX + 4);
		if ((size_t)total > len)
			break;
		/* A frame is decoded from exactly its own bytes. */
		FUZZ_ASSERT(ipc_decode(p, (size_t)total - 1, &m) == -1);
		if (ipc_decode(p, (size_t)total, &m) < 0) {
			FUZZ_ASSERT(m.nattr == 0 && m.store == NULL);
			break;
		}
		check_msg(&m, p, (size_t)total);
		types[n++] = m.type;
		ipc_msg_free(&m);
		p += total;
		len -= (size_t)total;
	}
	return n;
}

/* The same stream through libevent's buffer, as the daemons read it. */
static int
event_frames(const uint8_t *p, size_t len, const uint8_t *types, int max)
{
	struct evbuffer	*in = evbuffer_new();
	struct ipc_msg	 m;
	int		 n = 0, r;

	FUZZ_ASSERT(in != NULL && evbuffer_add(in, p, len) == 0);
	while (n < max) {
		r = ipc_evbuffer_take(in, IPC_FRAME_MAX + 4, &m);
		if (r <= 0)
			break;
		FUZZ_ASSERT(m.type == types[n]);
		ipc_msg_free(&m);
		n++;
	}
	evbuffer_free(in);
	return n;
}

/* The same stream through the buffered reader, from a socket whose peer
 * has written it all and closed; -1 when it does not fit the socket. */
static int
reader_frames(const uint8_t *p, size_t len, const uint8_t *types, int max)
{
	struct ipc_reader rd;
	struct ipc_msg	 m;
	int		 sv[2], n = 0;

	if (len > 64 * 1024)
		return -1;
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	FUZZ_ASSERT(len == 0 || write(sv[0], p, len) == (ssize_t)len);
	close(sv[0]);
	ipc_reader_init(&rd, sv[1]);
	while (n < max && ipc_reader_read(&rd, &m, 1000) == 0) {
		FUZZ_ASSERT(m.type == types[n]);
		ipc_msg_free(&m);
		n++;
	}
	if (n < max)
		FUZZ_ASSERT(errno == EPROTO || errno == ECONNRESET);
	ipc_reader_free(&rd);
	close(sv[1]);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	 types[64];
	int	 n, r;

	n = plain_frames(data, size, types, 64);
	FUZZ_ASSERT(event_frames(data, size, types, 64) == n);
	r = reader_frames(data, size, types, 64);
	FUZZ_ASSERT(r < 0 || r == n);
	return 0;
}
