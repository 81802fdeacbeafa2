/*
 * ipc_event - ipc.h framing on libevent buffers, for the event-driven
 * daemons (smtpd, and ipc_server for qmgr and resolver).  A frame is taken off a buffer only once
 * it is complete, and a length over the caller's limit condemns the peer
 * before the frame's bytes are even read.
 */
#ifndef TERN_IPC_EVENT_H
#define TERN_IPC_EVENT_H

#include <stddef.h>

#include "ipc.h"

struct evbuffer;

/* The total size (length field included) of the frame at the start of
 * in: 0 while fewer than 4 bytes are buffered, -1 if the announced length
 * is out of range (ipc_frame_length). */
long	ipc_evbuffer_frame_length(struct evbuffer *in);
/* 1: one frame decoded into msg and drained; 0: more bytes are needed;
 * -1: malformed or longer than max bytes (length field included): drop
 * the peer. */
int	ipc_evbuffer_take(struct evbuffer *in, size_t max, struct ipc_msg *msg);
/* Encode msg onto out.  0 or -1. */
int	ipc_evbuffer_put(struct evbuffer *out, const struct ipc_msg *msg);

#endif
