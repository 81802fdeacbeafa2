/*
 * tls_log - OpenSSL's error queue into tern's log.  Shared by the SMTP
 * client (smtp/smtp_tls.c) and the SMTP server (smtpd/smtpd_tls.c); only
 * programs that link OpenSSL pull this file from the library.
 */
#ifndef TERN_TLS_LOG_H
#define TERN_TLS_LOG_H

#include <stddef.h>

/* Log each error on this thread's queue as a warning "what: error", and
 * empty the queue. */
void	tls_log_errors(const char *what);
/* The first error on the queue as text into out (len > 0), or `none` if
 * the queue is empty; the queue is emptied.  out. */
const char *tls_error_text(char *out, size_t len, const char *none);

#endif
