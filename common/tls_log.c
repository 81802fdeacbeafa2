/*
 * tls_log - OpenSSL's error queue into tern's log (tls_log.h).
 */
#include <string.h>

#include <openssl/err.h>

#include "log.h"
#include "tls_log.h"

void
tls_log_errors(const char *what)
{
	unsigned long	 e;
	char		 buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warn("%s: %s", what, buf);
	}
}

const char *
tls_error_text(char *out, size_t len, const char *none)
{
	unsigned long	 e;

	if ((e = ERR_get_error()) == 0)
		strlcpy(out, none, len);
	else
		ERR_error_string_n(e, out, len);
	ERR_clear_error();
	return out;
}
