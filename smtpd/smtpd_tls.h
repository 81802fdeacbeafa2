/*
 * smtpd_tls - STARTTLS for smtpd (RFC 3207): the server's OpenSSL context,
 * and a session's non-blocking TLS steps in the shape of evbuf_io.h, so
 * that smtpd_session.c reads and writes the same way with or without TLS.
 */
#ifndef SMTPD_TLS_H
#define SMTPD_TLS_H

#include <stddef.h>

struct evbuffer;
struct smtpd_params;
struct ssl_st;

struct smtpd_tls;

/* The context for smtpd_tls_security_level may or encrypt, made before
 * the privileges go (the key may be readable by root alone).  NULL when
 * the level is none, or when the certificate or key cannot be used (then
 * logged, with "STARTTLS is off"). */
struct smtpd_tls *smtpd_tls_new(const struct smtpd_params *);
void	smtpd_tls_free(struct smtpd_tls *);

/* A server-side TLS state on the connected socket fd, or NULL (logged). */
struct ssl_st *smtpd_tls_start(struct smtpd_tls *, int fd);
/* One step of the handshake: 1 done, 0 it waits for input, 2 it waits
 * for the socket to take output, -1 failed (why: a short reason). */
int	smtpd_tls_handshake(struct ssl_st *, char *why, size_t whylen);
/* As evbuf_io_read(): one TLS record's data (max >= 16 KiB takes a whole
 * record) onto buf.  1 read, 0 nothing now, -1 end (errno 0) or error. */
int	smtpd_tls_read(struct evbuffer *buf, struct ssl_st *, size_t max);
/* As evbuf_io_flush(): 0 all written, 1 the socket is full, -1 error. */
int	smtpd_tls_flush(struct evbuffer *buf, struct ssl_st *);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" into out. */
void	smtpd_tls_describe(struct ssl_st *, char *out, size_t len);
/* Say goodbye (close_notify, if the socket takes it now) and free. */
void	smtpd_tls_end(struct ssl_st *);

#endif
