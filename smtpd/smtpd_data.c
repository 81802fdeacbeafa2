/*
 * smtpd_data - decode the DATA stream one state transition at a time, so a
 * chunk boundary may fall anywhere (between CR and LF, after the dot of the
 * end marker) without changing the result.  Long stretches of ordinary text
 * are copied with memchr/memcpy; only CR and the start of a line after CRLF
 * need the state machine.  A bare CR shows up where a CR is not followed by
 * LF; a bare LF is any LF outside that state (smtpd_data_text).
 */
#include <string.h>

#include "smtpd_data.h"

/*
 * A "line start" is only the position after CRLF (or the start of the
 * data): a dot after a bare LF or bare CR is content, neither unstuffed nor
 * the end marker.
 */
enum {
	SMTP_DATA_BOL,		/* at a line start */
	SMTP_DATA_DOT,		/* line start, then "." */
	SMTP_DATA_DOT_CR,	/* line start, ".", CR */
	SMTP_DATA_TEXT,		/* inside a line */
	SMTP_DATA_CR		/* inside a line, CR held back */
};

void
smtpd_data_init(struct smtpd_data *d, size_t limit)
{
	memset(d, 0, sizeof(*d));
	d->state = SMTP_DATA_BOL;
	d->limit = limit;
}

int
smtpd_data_failed(const struct smtpd_data *d)
{
	return d->too_big || (d->bare != 0 && !d->keep_bare);
}

/* A CR or LF that is not part of a CRLF: remember the first. */
static void
smtpd_data_bare(struct smtpd_data *d, int which)
{
	if (d->bare == 0)
		d->bare = which;
}

/* Account for n decoded bytes and copy them unless the message failed. */
static void
smtpd_data_put(struct smtpd_data *d, const char *p, size_t n, char *out,
    size_t *o)
{
	d->size += n;
	if (smtpd_data_failed(d))
		return;
	if (d->limit > 0 && d->size > d->limit) {
		d->too_big = 1;
		return;
	}
	memcpy(out + *o, p, n);
	*o += n;
}

/* Copy text up to the next CR (or the end of input or output room).  Any
 * LF in it is bare: a CRLF's LF is taken in SMTP_DATA_CR. */
static size_t
smtpd_data_text(struct smtpd_data *d, const char *in, size_t inlen, char *out,
    size_t outcap, size_t *o)
{
	const char	*cr, *lf;
	size_t		 run = inlen, n;

	if (!smtpd_data_failed(d) && run > outcap - *o)
		run = outcap - *o;
	cr = memchr(in, '\r', run);
	n = cr != NULL ? (size_t)(cr - in) : run;
	if (d->bare == 0 && (lf = memchr(in, '\n', n)) != NULL) {
		/* Stop at it, so that a refused message's output is exactly
		 * what came before, however the input was cut. */
		n = (size_t)(lf - in);
		smtpd_data_put(d, in, n, out, o);
		smtpd_data_bare(d, SMTP_DATA_BARE_LF);
		return n;
	}
	smtpd_data_put(d, in, n, out, o);
	if (cr == NULL)
		return n;
	d->state = SMTP_DATA_CR;
	return n + 1;
}

size_t
smtpd_data_decode(struct smtpd_data *d, const char *in, size_t inlen,
    char *out, size_t outcap, size_t *outlen)
{
	size_t	 i = 0, o = 0;
	char	 c;

	/* Each step below writes at most 2 bytes (a held CR, then text). */
	while (i < inlen && !d->done && (smtpd_data_failed(d) ||
	    o + 2 <= outcap)) {
		c = in[i];
		switch (d->state) {
		case SMTP_DATA_TEXT:
			i += smtpd_data_text(d, in + i, inlen - i, out, outcap, &o);
			break;
		case SMTP_DATA_BOL:
			if (c == '.') {
				d->state = SMTP_DATA_DOT;
				i++;
			} else
				d->state = SMTP_DATA_TEXT;
			break;
		case SMTP_DATA_DOT:
			/* The dot is stuffing (or the marker): never output. */
			if (c == '\r') {
				d->state = SMTP_DATA_DOT_CR;
				i++;
			} else
				d->state = SMTP_DATA_TEXT;
			break;
		case SMTP_DATA_DOT_CR:
			if (c == '\n') {
				d->done = 1;
				i++;
			} else {
				smtpd_data_bare(d, SMTP_DATA_BARE_CR);
				smtpd_data_put(d, "\r", 1, out, &o);
				d->state = SMTP_DATA_TEXT;
			}
			break;
		case SMTP_DATA_CR:
			if (c == '\n') {
				smtpd_data_put(d, "\n", 1, out, &o);
				d->state = SMTP_DATA_BOL;
				i++;
			} else {
				smtpd_data_bare(d, SMTP_DATA_BARE_CR);
				smtpd_data_put(d, "\r", 1, out, &o);
				d->state = SMTP_DATA_TEXT;
			}
			break;
		}
	}
	*outlen = o;
	return i;
}
