/*
 * qmgr_frame - ipc.h framing on libevent buffers, for both sides of qmgr:
 * its clients and its delivery agents.  A frame is taken off the buffer
 * only when it is complete, and a length over the caller's limit condemns
 * the peer before the frame's bytes are even read.
 */
#include <stdlib.h>

#include <event2/buffer.h>

#include "qmgr.h"

int
qmgr_frame_take(struct evbuffer *in, size_t max, struct ipc_msg *msg)
{
	unsigned char	*p;
	long		 total;
	size_t		 avail;

	avail = evbuffer_get_length(in);
	if (avail < 4)
		return 0;
	if ((p = evbuffer_pullup(in, 4)) == NULL)
		return -1;
	total = ipc_frame_length(p, avail);
	if (total < 0 || (size_t)total > max)
		return -1;
	if (avail < (size_t)total)
		return 0;
	if ((p = evbuffer_pullup(in, total)) == NULL)
		return -1;
	if (ipc_decode(p, (size_t)total, msg) == -1)
		return -1;
	evbuffer_drain(in, (size_t)total);
	return 1;
}

int
qmgr_frame_put(struct evbuffer *out, const struct ipc_msg *msg)
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
