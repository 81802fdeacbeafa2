/*
 * smtp_tls - the OpenSSL client context of the SMTP client (STARTTLS, RFC
 * 3207).  One context for the daemon, made before the privileges go so
 * that smtp_tls_CAfile and the system CA store are read as root may:
 * TLS 1.2 at least, the system's default ciphers.  Whether the peer's
 * certificate is checked is decided per session (smtp_session.c), by the
 * security level; the store is loaded either way so that "may" can log
 * whether the peer was trusted.  If no context can be made, TLS is
 * unavailable: "may" sends in clear and "encrypt"/"verify" defer.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "smtp.h"
#include "tls_log.h"

SSL_CTX *
smtp_tls_ctx_new(const struct smtp_params *cfg)
{
	SSL_CTX	*ctx;
	int	 ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_log_errors("SSL_CTX_new");
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (cfg->smtp_tls_CAfile != NULL && cfg->smtp_tls_CAfile[0] != '\0')
		ok = SSL_CTX_load_verify_locations(ctx, cfg->smtp_tls_CAfile,
		    NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		tls_log_errors("smtp_tls_CAfile");
		log_warn("no CA certificates loaded: peers cannot be verified");
	}
	return ctx;
}

void
smtp_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
