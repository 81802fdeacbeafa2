/*
 * ipc_event - ipc.h framing on libevent buffers.  See ipc_event.h.
 */
#include <stdlib.h>

#include <event2/buffer.h>

#include "ipc_event.h"

long
ipc_evbuffer_frame_length(struct evbuffer *in)
{
	unsigned char	*p;
	size_t		 avail;

	avail = evbuffer_get_length(in);
	if (avail < 4)
		return 0;
	if ((p = evbuffer_pullup(in, 4)) == NULL)
		return -1;
	return ipc_frame_length(p, avail);
}

int
ipc_evbuffer_take(struct evbuffer *in, size_t max, struct ipc_msg *msg)
{
	unsigned char	*p;
	long		 total;

	if ((total = ipc_evbuffer_frame_length(in)) == 0)
		return 0;
	if (total < 0 || (size_t)total > max)
		return -1;
	if (evbuffer_get_length(in) < (size_t)total)
		return 0;
	if ((p = evbuffer_pullup(in, total)) == NULL)
		return -1;
	if (ipc_decode(p, (size_t)total, msg) == -1)
		return -1;
	evbuffer_drain(in, (size_t)total);
	return 1;
}

int
ipc_evbuffer_put(struct evbuffer *out, const struct ipc_msg *msg)
{
	char	*frame;
	size_t	 len;
	int	 r;

	if (ipc_encode(msg, &frame, &len) == -1)
		return -1;
	r = evbuffer_add(out, frame, len);
	free(frame);
	return r == 0 ? 0 : -1;
}
