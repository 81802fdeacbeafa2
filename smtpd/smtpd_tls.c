/*
 * smtpd_tls - STARTTLS for smtpd (RFC 3207).  One OpenSSL context per
 * process, made as root before the privileges go: TLS 1.2 at least,
 * OpenSSL's default ciphers, no renegotiation, no session tickets and no
 * session cache (resumption gains an SMTP client little, and a ticket key
 * would be one more secret for a process facing the network to hold).
 *
 * A session's I/O stays non-blocking and level-triggered like the plain
 * path (evbuf_io.c): OpenSSL reads no further ahead than the record it
 * needs, and a read asks for a whole record (16 KiB), so no decrypted data
 * ever waits inside OpenSSL while the socket is quiet and the session's
 * read event is the only signal that input is there.  A write that the
 * socket does not take whole is retried from the same (growing) output
 * buffer, which OpenSSL accepts with its moving-buffer and partial-write
 * modes.  A peer that closes without close_notify (common after QUIT) is
 * an end of input, not an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "log.h"
#include "smtpd_params.h"
#include "smtpd_tls.h"
#include "tls_log.h"

/* The largest TLS record's data: one read or write at most. */
#define SMTPD_TLS_RECORD	16384

struct smtpd_tls {
	SSL_CTX	*ctx;
};

static const char *
smtpd_tls_level_name(int level)
{
	return level == SMTPD_TLS_ENCRYPT ? "encrypt" : "may";
}

/* Certificate, key, and that they belong together.  0 or -1 (logged). */
static int
smtpd_tls_load(SSL_CTX *ctx, const char *cert, const char *key)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_log_errors(cert);
		log_error("smtpd_tls_cert_file %s: cannot load the certificate",
		    cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_log_errors(key);
		log_error("smtpd_tls_key_file %s: cannot load the private key",
		    key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_log_errors(key);
		log_error("smtpd_tls_key_file %s: the key does not match the "
		    "certificate in %s", key, cert);
		return -1;
	}
	return 0;
}

struct smtpd_tls *
smtpd_tls_new(const struct smtpd_params *par)
{
	const char		*cert = par->smtpd_tls_cert_file;
	const char		*key = par->smtpd_tls_key_file;
	struct smtpd_tls	*t;
	SSL_CTX			*ctx;

	if (par->smtpd_tls_security_level == SMTPD_TLS_NONE)
		return NULL;
	if (cert == NULL || cert[0] == '\0') {
		log_error("smtpd_tls_security_level = %s without "
		    "smtpd_tls_cert_file: STARTTLS is off",
		    smtpd_tls_level_name(par->smtpd_tls_security_level));
		return NULL;
	}
	if (key == NULL || key[0] == '\0')
		key = cert;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_log_errors("SSL_CTX_new");
		log_error("no TLS context: STARTTLS is off");
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Idle sessions give their record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (smtpd_tls_load(ctx, cert, key) < 0) {
		SSL_CTX_free(ctx);
		log_error("STARTTLS is off");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->ctx = ctx;
	return t;
}

void
smtpd_tls_free(struct smtpd_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

SSL *
smtpd_tls_start(struct smtpd_tls *t, int fd)
{
	SSL	*ssl;

	if ((ssl = SSL_new(t->ctx)) == NULL) {
		tls_log_errors("SSL_new");
		return NULL;
	}
	if (SSL_set_fd(ssl, fd) != 1) {
		tls_log_errors("SSL_set_fd");
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

int
smtpd_tls_handshake(SSL *ssl, char *why, size_t whylen)
{
	int	 r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_accept(ssl)) == 1)
		return 1;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		return 2;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			strlcpy(why, errno != 0 ? strerror(errno) :
			    "connection closed", whylen);
			return -1;
		}
		break;
	case SSL_ERROR_ZERO_RETURN:
		strlcpy(why, "connection closed", whylen);
		return -1;
	default:
		break;
	}
	tls_error_text(why, whylen, "protocol error");
	return -1;
}

/* An SSL_read or SSL_write failed for good: errno says why, the
 * system's error (or `none` when it gave none) after a system call that
 * failed, EPROTO after a TLS error.  -1. */
static int
smtpd_tls_fail(int syscall, int none)
{
	if (!syscall)
		errno = EPROTO;
	else if (errno == 0)
		errno = none;
	ERR_clear_error();
	return -1;
}

int
smtpd_tls_read(struct evbuffer *buf, SSL *ssl, size_t max)
{
	struct evbuffer_iovec	 v;
	int			 n;

	if (max > SMTPD_TLS_RECORD)
		max = SMTPD_TLS_RECORD;
	if (evbuffer_reserve_space(buf, (ev_ssize_t)max, &v, 1) < 1) {
		errno = ENOMEM;
		return -1;
	}
	if (v.iov_len > max)
		v.iov_len = max;
	ERR_clear_error();
	errno = 0;
	if ((n = SSL_read(ssl, v.iov_base, (int)v.iov_len)) > 0) {
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(buf, &v, 1) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return 1;
	}
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		/* A write OpenSSL could not finish here (the socket is
		 * full) is finished by the next flush, whose write event
		 * the session's pending output has armed. */
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		errno = 0;
		return -1;
	case SSL_ERROR_SYSCALL:
		return smtpd_tls_fail(1, ECONNRESET);
	default:
		return smtpd_tls_fail(0, 0);
	}
}

int
smtpd_tls_flush(struct evbuffer *buf, SSL *ssl)
{
	unsigned char	*p;
	size_t		 len;
	int		 n;

	while ((len = evbuffer_get_length(buf)) > 0) {
		if (len > SMTPD_TLS_RECORD)
			len = SMTPD_TLS_RECORD;
		if ((p = evbuffer_pullup(buf, (ev_ssize_t)len)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		ERR_clear_error();
		errno = 0;
		if ((n = SSL_write(ssl, p, (int)len)) > 0) {
			evbuffer_drain(buf, (size_t)n);
			continue;
		}
		switch (SSL_get_error(ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
			return 1;
		case SSL_ERROR_SYSCALL:
			return smtpd_tls_fail(1, EPIPE);
		default:
			/* WANT_READ among them: without renegotiation a
			 * write never waits for input, and waiting for
			 * the socket to take output would spin. */
			return smtpd_tls_fail(0, 0);
		}
	}
	return 0;
}

void
smtpd_tls_describe(SSL *ssl, char *out, size_t len)
{
	const char	*cipher = SSL_get_cipher_name(ssl);

	(void)snprintf(out, len, "%s with cipher %s", SSL_get_version(ssl),
	    cipher != NULL ? cipher : "(none)");
}

void
smtpd_tls_end(SSL *ssl)
{
	if (ssl == NULL)
		return;
	ERR_clear_error();
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}
