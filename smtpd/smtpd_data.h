/*
 * smtpd_data - the incremental decoder of an SMTP DATA stream.
 *
 * It is fed the bytes that follow "354" in chunks of any size, split
 * anywhere, and produces the message as it goes into the queue file:
 * dot-unstuffed (RFC 5321 4.5.2), CRLF turned into LF.  The message ends
 * only at CRLF "." CRLF; "\n.\n" or "\r.\r" never end it, so a client
 * cannot smuggle a second message past a server that reads line ends
 * differently.  A bare CR or bare LF (one not part of a CRLF) is forbidden
 * by RFC 5321 2.3.8: by default the decoder notes the first one and, as
 * past the size limit, writes nothing more but still reads the input to the
 * end marker, so that the session can answer 550 (or 552) at the right
 * moment and go on with the next command.  With keep_bare set (the
 * configuration's smtpd_forbid_bare_newline = no) a bare CR or LF is kept
 * as message content, never as a line end.  Pure: no I/O, no allocation.
 */
#ifndef TERN_SMTPD_DATA_H
#define TERN_SMTPD_DATA_H

#include <stddef.h>

/* Which bare line-end character came first (smtpd_data.bare). */
#define SMTP_DATA_BARE_CR	1
#define SMTP_DATA_BARE_LF	2

struct smtpd_data {
	int	 state;		/* where we are in a line; see smtpd_data.c */
	int	 done;		/* CRLF.CRLF seen */
	int	 too_big;	/* size went past limit */
	int	 bare;		/* 0, or the first bare CR or LF seen */
	int	 keep_bare;	/* bare CR/LF are content, not an error */
	size_t	 size;		/* decoded message bytes so far */
	size_t	 limit;		/* 0: no limit */
};

/* Output never exceeds input by more than this (a CR held back from the
 * previous chunk), so an output buffer of SMTP_DATA_SLACK bytes more than
 * the input always suffices; smaller ones just consume less. */
#define SMTP_DATA_SLACK	1

/* Bare CR and LF are forbidden after init; set keep_bare to keep them. */
void	smtpd_data_init(struct smtpd_data *, size_t limit);
/*
 * Decode in[0..inlen) into out[0..outcap).  Returns the number of input
 * bytes consumed; *outlen gets the number of bytes written.  Decoding
 * stops right after the end marker (d->done is then set and the rest of
 * the input belongs to the next command), or when out is full (outcap must
 * be at least 2 for progress).  Once smtpd_data_failed() nothing more is
 * written, but input is still consumed.
 */
size_t	smtpd_data_decode(struct smtpd_data *, const char *in, size_t inlen,
	    char *out, size_t outcap, size_t *outlen);
/* The message cannot be accepted: too big, or a forbidden bare CR or LF. */
int	smtpd_data_failed(const struct smtpd_data *);

#endif
