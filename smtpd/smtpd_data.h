/*
 * smtpd_data - the incremental decoder of an SMTP DATA stream.
 *
 * It is fed the bytes that follow "354" in chunks of any size, split
 * anywhere, and produces the message as it goes into the queue file:
 * dot-unstuffed (RFC 5321 4.5.2), CRLF turned into LF, a bare CR or bare LF
 * kept as it is.  The message ends only at CRLF "." CRLF; "\n.\n" or
 * "\r.\r" are message content, so a client cannot smuggle a second message
 * past a server that reads line ends differently.  Past the size limit the
 * output stops but the input is still read to the end marker, so that the
 * session can answer 552 at the right moment.  Pure: no I/O, no allocation.
 */
#ifndef TERN_SMTPD_DATA_H
#define TERN_SMTPD_DATA_H

#include <stddef.h>

struct smtpd_data {
	int	 state;		/* where we are in a line; see smtpd_data.c */
	int	 done;		/* CRLF.CRLF seen */
	int	 too_big;	/* size went past limit */
	size_t	 size;		/* decoded message bytes so far */
	size_t	 limit;		/* 0: no limit */
};

/* Output never exceeds input by more than this (a CR held back from the
 * previous chunk), so an output buffer of SMTP_DATA_SLACK bytes more than
 * the input always suffices; smaller ones just consume less. */
#define SMTP_DATA_SLACK	1

void	smtpd_data_init(struct smtpd_data *, size_t limit);
/*
 * Decode in[0..inlen) into out[0..outcap).  Returns the number of input
 * bytes consumed; *outlen gets the number of bytes written.  Decoding
 * stops right after the end marker (d->done is then set and the rest of
 * the input belongs to the next command), or when out is full (outcap must
 * be at least 2 for progress).  Once d->too_big is set nothing more is
 * written, but input is still consumed.
 */
size_t	smtpd_data_decode(struct smtpd_data *, const char *in, size_t inlen,
	    char *out, size_t outcap, size_t *outlen);

#endif
