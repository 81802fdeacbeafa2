/*
 * qmgr_text - text that came from a queue file or a delivery agent goes
 * into log lines; it must not be able to forge a second line or smuggle
 * terminal escapes, and it must not make a line unbounded.
 */
#include <string.h>

#include "qmgr.h"

void
qmgr_text_safe(char *dst, size_t dstlen, const char *src)
{
	size_t i, n;

	if (dstlen == 0)
		return;
	if (src == NULL)
		src = "";
	n = 0;
	for (i = 0; src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];

		if (n + 1 >= dstlen) {
			/* Mark the cut, keeping the terminator. */
			if (dstlen > 4)
				memcpy(dst + dstlen - 4, "...", 3);
			break;
		}
		dst[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[n < dstlen ? n : dstlen - 1] = '\0';
}
