/*
 * fuzz_msg - build an ipc_msg from fuzz input for the protocol harnesses,
 * which test what each daemon does with a frame that ipc_decode already
 * accepted.  Input: byte 0 is the message type, the rest is
 * "name\0value\0..." as on the wire; pairs that ipc_msg_add refuses are
 * skipped, so corpus files stay easy to write by hand.
 */
#ifndef TERN_FUZZ_MSG_H
#define TERN_FUZZ_MSG_H

#include <string.h>

#include "fuzz.h"
#include "ipc.h"

static inline void
fuzz_msg_build(struct fuzz_in *in, struct ipc_msg *m)
{
	char		*copy, *p, *end, *name;
	size_t		 n;

	ipc_msg_init(m, (uint8_t)fuzz_byte(in));
	if ((copy = malloc(in->n + 1)) == NULL)
		return;
	memcpy(copy, in->p, in->n);
	copy[in->n] = '\0';
	p = copy;
	end = copy + in->n;
	while (p < end) {
		name = p;
		n = strlen(p);
		p += n + 1;
		if (p > end)
			break;
		(void)ipc_msg_add(m, name, p);
		p += strlen(p) + 1;
	}
	free(copy);
}

/* m through the wire format and back into back (which the caller frees). */
static inline void
fuzz_msg_round_trip(const struct ipc_msg *m, struct ipc_msg *back)
{
	char	*frame;
	size_t	 len;

	FUZZ_ASSERT(ipc_encode(m, &frame, &len) == 0);
	FUZZ_ASSERT(ipc_decode(frame, len, back) == 0);
	free(frame);
}

#endif
