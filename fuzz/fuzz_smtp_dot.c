/*
 * fuzz_smtp_dot - the DATA encoder of the SMTP client (smtp/smtp_dot.c):
 * whatever bytes a queue file holds, what goes on the wire must be lines
 * ending in CRLF, with no CR or LF anywhere else, every line that starts
 * with '.' dot-stuffed, and exactly one end-of-data mark, at the very end
 * (so no stored sequence can end the DATA early: SMTP smuggling).
 * Input: bytes 0-3 seed where the message is cut into chunks, the rest is
 * the message.  Invariants: each call stays within SMTP_DOT_OUT(n); the
 * output does not depend on the chunking; undoing the stuffing gives the
 * message with every LF, CRLF and bare CR turned into CRLF (a reference
 * transformation), plus a final CRLF if the last line was open.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "smtp/smtp.h"

/* Encode in[0..n) in chunks chosen by seed (0: whole); malloc'd. */
static char *
encode(const char *in, size_t n, uint32_t seed, size_t *outlen)
{
	struct smtp_dot	 d;
	char		*out = malloc(SMTP_DOT_OUT(n) + SMTP_DOT_END_MAX + 1);
	size_t		 i = 0, o = 0, k, w;

	FUZZ_ASSERT(out != NULL);
	smtp_dot_init(&d);
	while (i < n) {
		k = seed == 0 ? n - i : 1 + fuzz_rand(&seed) % 64;
		if (k > n - i)
			k = n - i;
		w = smtp_dot_encode(&d, in + i, k, out + o);
		FUZZ_ASSERT(w <= SMTP_DOT_OUT(k));
		o += w;
		i += k;
	}
	w = smtp_dot_finish(&d, out + o);
	FUZZ_ASSERT(w <= SMTP_DOT_END_MAX);
	*outlen = o + w;
	return out;
}

/* The message as the receiver must see it: line ends made CRLF. */
static char *
reference(const char *in, size_t n, size_t *len)
{
	char	*r = malloc(2 * n + 3);
	size_t	 i, o = 0;

	FUZZ_ASSERT(r != NULL);
	for (i = 0; i < n; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			r[o++] = '\r';
			r[o++] = '\n';
		} else
			r[o++] = in[i];
	}
	if (o > 0 && !(o >= 2 && r[o - 2] == '\r' && r[o - 1] == '\n')) {
		r[o++] = '\r';
		r[o++] = '\n';
	}
	*len = o;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	uint32_t	 seed = 0;
	char		*whole, *cut, *ref, *un;
	size_t		 wl, cl, rl, i, u = 0, bol = 1;
	int		 k;

	for (k = 0; k < 4; k++)
		seed = seed << 8 | fuzz_byte(&in);
	whole = encode((const char *)in.p, in.n, 0, &wl);
	cut = encode((const char *)in.p, in.n, seed | 1, &cl);
	FUZZ_ASSERT(wl == cl && memcmp(whole, cut, wl) == 0);
	/* It ends with the one end-of-data mark. */
	FUZZ_ASSERT(wl >= 3 && memcmp(whole + wl - 3, ".\r\n", 3) == 0);
	FUZZ_ASSERT(wl == 3 || (wl >= 5 && whole[wl - 5] == '\r' &&
	    whole[wl - 4] == '\n'));
	/* Lines, unstuffed: CR and LF only as CRLF, no lone "." line before
	 * the end. */
	un = malloc(wl + 1);
	FUZZ_ASSERT(un != NULL);
	for (i = 0; i < wl - 3; i++) {
		if (whole[i] == '\r') {
			FUZZ_ASSERT(i + 1 < wl && whole[i + 1] == '\n');
			un[u++] = '\r';
			un[u++] = '\n';
			i++;
			bol = 1;
			continue;
		}
		FUZZ_ASSERT(whole[i] != '\n');
		if (bol && whole[i] == '.') {
			/* Stuffed: the next byte is the message's dot. */
			FUZZ_ASSERT(i + 1 < wl - 3 && whole[i + 1] == '.');
			i++;
		}
		un[u++] = whole[i];
		bol = 0;
	}
	ref = reference((const char *)in.p, in.n, &rl);
	FUZZ_ASSERT(u == rl && memcmp(un, ref, rl) == 0);
	free(un);
	free(ref);
	free(whole);
	free(cut);
	return 0;
}
