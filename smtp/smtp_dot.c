/*
 * smtp_dot - the message as the DATA phase sends it (RFC 5321 sections
 * 2.3.8 and 4.5.2).  Whatever the stored message holds, what goes on the
 * wire has only CRLF line ends (LF, CRLF and a bare CR each become one
 * CRLF, so no receiver can see a line end we did not mean) and every line
 * that starts with '.' gets a second one.  Hence "CRLF.CRLF" appears only
 * where smtp_dot_finish() puts it: no stored byte sequence can end the
 * DATA early at the next server (SMTP smuggling).  The encoder keeps its
 * state between chunks, so any chunking gives the same bytes.
 */
#include "smtp.h"

void
smtp_dot_init(struct smtp_dot *d)
{
	d->bol = 1;
	d->cr = 0;
}

size_t
smtp_dot_encode(struct smtp_dot *d, const char *in, size_t n, char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		char	 c = in[i];

		if (d->cr) {
			/* The CR before this byte ended a line. */
			out[o++] = '\r';
			out[o++] = '\n';
			d->cr = 0;
			d->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			d->cr = 1;
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			d->bol = 1;
			continue;
		}
		if (d->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		d->bol = 0;
	}
	return o;
}

size_t
smtp_dot_finish(struct smtp_dot *d, char *out)
{
	size_t	 o = 0;

	if (d->cr || !d->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o++] = '.';
	out[o++] = '\r';
	out[o++] = '\n';
	d->cr = 0;
	d->bol = 1;
	return o;
}
