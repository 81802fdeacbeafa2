/*
 * fuzz_smtpd_data - the DATA stream decoder (smtpd/smtpd_data.c), fed the
 * same bytes once whole and once cut into random chunks with random output
 * room, as a network delivers them, in both modes of
 * smtpd_forbid_bare_newline: reject (the default: a bare CR or LF fails the
 * message) and no (keep_bare: they are content).
 *
 * Input: byte 0 picks the size limit (0: none), bytes 1-4 seed the chunk
 * and output sizes, the rest is what the client sends after "354".
 * Invariants, in both modes: every call makes progress and stays within its
 * output room and SMTP_DATA_SLACK; the result (bytes consumed, end seen,
 * size, over the limit, the first bare CR or LF, message) does not depend
 * on the chunking; it equals an independent reference decoder (the message
 * ends at the first CRLF "." CRLF and nowhere else: a bare CR or LF never
 * ends it, and what follows the marker is left for the next command; a bare
 * CR or LF is flagged, whichever comes first, in both modes); and the
 * message, sent on by a relay (LF to CRLF, dot-stuffing), arrives whole,
 * with no end of data smuggled before its own.  In reject mode a message
 * with a bare CR or LF fails, and the output is exactly the message before
 * the first one: it never holds a CR, so every line end in it was a CRLF,
 * and (by the relay check) no CRLF "." CRLF before its end.  In no mode
 * only the size limit fails a message, and the output is the whole of it.
 */
#include <string.h>

#include "fuzz.h"
#include "smtpd/smtpd_data.h"

struct outcome {
	size_t	 consumed;
	int	 done;
	int	 too_big;
	int	 bare;
	int	 failed;
	size_t	 size;
	char	*msg;		/* what the decoder wrote */
	size_t	 len;
};

/* One call, with the per-call promises of smtpd_data.h checked. */
static size_t
decode_call(struct smtpd_data *d, const char *in, size_t inlen, char *out,
    size_t outcap, size_t *outlen)
{
	size_t	 used;

	used = smtpd_data_decode(d, in, inlen, out, outcap, outlen);
	FUZZ_ASSERT(used <= inlen && *outlen <= outcap);
	FUZZ_ASSERT(*outlen <= used + SMTP_DATA_SLACK);
	/* Room for 2 bytes and input left: something must happen. */
	FUZZ_ASSERT(d->done || inlen == 0 || used > 0 || *outlen > 0);
	if (d->too_big)
		FUZZ_ASSERT(d->limit > 0 && d->size > d->limit);
	return used;
}

/* Feed in[0..len) cut by rnd (0: in one piece with enough room). */
static void
run(const char *in, size_t len, size_t limit, int keep, uint32_t seed,
    int chunked, struct outcome *r)
{
	struct smtpd_data	 d;
	char			 out[64];
	size_t			 pos = 0, chunk, cap, used, olen;
	uint32_t		 rnd = seed;
	char			*whole;

	memset(r, 0, sizeof(*r));
	r->msg = malloc(len + SMTP_DATA_SLACK + 1);
	whole = malloc(len + SMTP_DATA_SLACK + 2);
	FUZZ_ASSERT(r->msg != NULL && whole != NULL);
	smtpd_data_init(&d, limit);
	d.keep_bare = keep;
	while (pos < len && !d.done) {
		if (chunked) {
			chunk = 1 + fuzz_rand(&rnd) % 16;
			if (chunk > len - pos)
				chunk = len - pos;
			cap = 2 + fuzz_rand(&rnd) % (sizeof(out) - 2);
			used = decode_call(&d, in + pos, chunk, out, cap, &olen);
			memcpy(r->msg + r->len, out, olen);
		} else {
			used = decode_call(&d, in + pos, len - pos, whole,
			    len - pos + SMTP_DATA_SLACK + 1, &olen);
			FUZZ_ASSERT(used == len - pos || d.done);
			memcpy(r->msg + r->len, whole, olen);
		}
		FUZZ_ASSERT(r->len + olen <= len + SMTP_DATA_SLACK);
		r->len += olen;
		pos += used;
	}
	free(whole);
	r->consumed = pos;
	r->done = d.done;
	r->too_big = d.too_big;
	r->bare = d.bare;
	r->failed = smtpd_data_failed(&d);
	r->size = d.size;
}

/* The rule written out plainly: the message is everything before the
 * first ".\r\n" at a line start (the start of the data or right after
 * CRLF); each line that starts with "." loses it; CRLF becomes LF.  A CR
 * at the very end of unfinished input is held back.  A bare CR is one
 * followed by anything but LF, a bare LF one not after CR: *bare is the
 * first in the message (SMTP_DATA_BARE_*, or 0) and *upto the length of
 * the message before it. */
static size_t
reference(const char *in, size_t len, char *out, int *done, size_t *consumed,
    int *bare, size_t *upto)
{
	size_t	 i, end = len, n = 0;

	*done = 0;
	*bare = 0;
	*upto = (size_t)-1;
	for (i = 0; i + 3 <= len; i++)
		if ((i == 0 || (i >= 2 && in[i - 2] == '\r' &&
		    in[i - 1] == '\n')) &&
		    memcmp(in + i, ".\r\n", 3) == 0) {
			*done = 1;
			end = i;
			break;
		}
	*consumed = *done ? end + 3 : len;
	if (!*done && end > 0 && in[end - 1] == '\r')
		end--;
	for (i = 0; i < end; i++) {
		if (*bare == 0 && in[i] == '\r' && in[i + 1] != '\n')
			*bare = SMTP_DATA_BARE_CR;
		if (*bare == 0 && in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			*bare = SMTP_DATA_BARE_LF;
		if (*bare != 0 && *upto == (size_t)-1)
			*upto = n;
		if (in[i] == '.' && (i == 0 ||
		    (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n')))
			continue;
		if (in[i] == '\r' && i + 1 < end && in[i + 1] == '\n')
			continue;
		out[n++] = in[i];
	}
	if (*bare == 0)
		*upto = n;
	return n;
}

/* Send the stored message on as a relay would, then decode it again (in
 * the same mode: a bare CR kept as content stays one on the way). */
static void
check_relay(const char *msg, size_t len, int keep)
{
	struct smtpd_data	 d;
	char			*wire, *back;
	size_t			 i, n = 0, used, olen;

	FUZZ_ASSERT(len == 0 || msg[len - 1] == '\n');
	wire = malloc(2 * len + 4);
	back = malloc(2 * len + 4);
	FUZZ_ASSERT(wire != NULL && back != NULL);
	for (i = 0; i < len; i++) {
		if ((i == 0 || msg[i - 1] == '\n') && msg[i] == '.')
			wire[n++] = '.';
		if (msg[i] == '\n')
			wire[n++] = '\r';
		wire[n++] = msg[i];
	}
	memcpy(wire + n, ".\r\n", 3);
	n += 3;
	smtpd_data_init(&d, 0);
	d.keep_bare = keep;
	used = smtpd_data_decode(&d, wire, n, back, 2 * len + 4, &olen);
	FUZZ_ASSERT(d.done && used == n && !smtpd_data_failed(&d));
	FUZZ_ASSERT(olen == len && memcmp(back, msg, len) == 0);
	free(wire);
	free(back);
}

/* Decode in both ways and compare with the reference, in one mode. */
static void
check_mode(const char *in, size_t len, size_t limit, uint32_t seed, int keep)
{
	struct outcome	 whole, cut;
	size_t		 reflen, refused, upto = 0, want;
	int		 refdone, refbare;
	char		*ref;

	run(in, len, limit, keep, 0, 0, &whole);
	run(in, len, limit, keep, seed, 1, &cut);

	FUZZ_ASSERT(whole.consumed == cut.consumed && whole.done == cut.done);
	FUZZ_ASSERT(whole.size == cut.size && whole.too_big == cut.too_big);
	FUZZ_ASSERT(whole.bare == cut.bare && whole.failed == cut.failed);
	if (!whole.too_big)
		FUZZ_ASSERT(whole.len == cut.len &&
		    memcmp(whole.msg, cut.msg, whole.len) == 0);

	ref = malloc(len + 1);
	FUZZ_ASSERT(ref != NULL);
	reflen = reference(in, len, ref, &refdone, &refused, &refbare, &upto);
	FUZZ_ASSERT(refdone == whole.done && refused == whole.consumed);
	FUZZ_ASSERT(whole.size == reflen);
	FUZZ_ASSERT(whole.bare == refbare);
	/* In reject mode the first failure wins: past a bare CR or LF the
	 * size no longer makes the message too big. */
	want = keep ? reflen : upto;
	FUZZ_ASSERT(whole.too_big == (limit > 0 && want > limit));
	FUZZ_ASSERT(whole.failed == (whole.too_big || (!keep && refbare != 0)));
	/* What is written: the message, or in reject mode the part before
	 * the first bare CR or LF; over the limit a prefix of that. */
	FUZZ_ASSERT(upto <= reflen);
	FUZZ_ASSERT(whole.len <= want && memcmp(whole.msg, ref, whole.len) == 0);
	FUZZ_ASSERT(cut.len <= want && memcmp(cut.msg, ref, cut.len) == 0);
	if (!whole.too_big)
		FUZZ_ASSERT(whole.len == want);
	if (!keep) {
		FUZZ_ASSERT(memchr(whole.msg, '\r', whole.len) == NULL);
		FUZZ_ASSERT(memchr(cut.msg, '\r', cut.len) == NULL);
	}
	if (whole.done && !whole.failed)
		check_relay(whole.msg, whole.len, keep);
	free(ref);
	free(whole.msg);
	free(cut.msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	size_t		 limit;
	uint32_t	 seed;

	limit = fuzz_byte(&in) * 4;
	seed = fuzz_byte(&in);
	seed = seed << 8 | fuzz_byte(&in);
	seed = seed << 8 | fuzz_byte(&in);
	seed = seed << 8 | fuzz_byte(&in);
	check_mode((const char *)in.p, in.n, limit, seed, 0);
	check_mode((const char *)in.p, in.n, limit, seed, 1);
	return 0;
}
