/*
 * Unit tests for smtpd/smtpd_tls.c: the server side of STARTTLS driven
 * over a socketpair against a real OpenSSL client.  What matters is the
 * non-blocking contract smtpd_session.c relies on: a handshake that waits
 * and resumes, records read whole, an output buffer that the socket takes
 * only in parts (and that grows between attempts) arriving intact and in
 * order, an end of input with or without close_notify, garbage instead of
 * a ClientHello failing cleanly, and a certificate that cannot be used
 * turning STARTTLS off instead of failing later.
 */
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtpd/smtpd_params.h"
#include "smtpd/smtpd_tls.h"

struct pair {
	char		 dir[64];
	char		 pem[96];	/* certificate, then its key */
	char		 other_key[96];	/* a key of another certificate */
	struct smtpd_tls *tls;
	SSL_CTX		*cctx;
	SSL		*server, *client;
	int		 sfd, cfd;
};

/* A fresh P-256 key, PEM-encoded onto f. */
static EVP_PKEY *
make_key(FILE *f)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	assert_non_null(k);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL),
	    1);
	return k;
}

/* A self-signed certificate for k, PEM-encoded onto f. */
static void
make_cert(FILE *f, EVP_PKEY *k)
{
	X509	*x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"tern test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_X509(f, x), 1);
	X509_free(x);
}

static void
params(struct smtpd_params *par, int level, char *cert, char *key)
{
	memset(par, 0, sizeof(*par));
	par->smtpd_tls_security_level = level;
	par->smtpd_tls_cert_file = cert;
	par->smtpd_tls_key_file = key;
	par->smtpd_starttls_timeout = 300;
}

static void
nonblock(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static int
setup(void **state)
{
	struct pair		*p = calloc(1, sizeof(*p));
	struct smtpd_params	 par;
	EVP_PKEY		*k;
	FILE			*f;
	int			 sv[2];

	assert_non_null(p);
	strcpy(p->dir, "/tmp/test_smtpd_tls.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->pem, sizeof(p->pem), "%s/server.pem", p->dir);
	snprintf(p->other_key, sizeof(p->other_key), "%s/other.key", p->dir);
	assert_non_null(f = fopen(p->pem, "w"));
	k = make_key(f);
	make_cert(f, k);
	EVP_PKEY_free(k);
	fclose(f);
	assert_non_null(f = fopen(p->other_key, "w"));
	EVP_PKEY_free(make_key(f));
	fclose(f);
	/* The key in the certificate's file: smtpd_tls_key_file empty. */
	params(&par, SMTPD_TLS_MAY, p->pem, "");
	assert_non_null(p->tls = smtpd_tls_new(&par));
	assert_non_null(p->cctx = SSL_CTX_new(TLS_client_method()));
	SSL_CTX_set_verify(p->cctx, SSL_VERIFY_NONE, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->sfd = sv[0];
	p->cfd = sv[1];
	nonblock(p->sfd);
	nonblock(p->cfd);
	assert_non_null(p->server = smtpd_tls_start(p->tls, p->sfd));
	assert_non_null(p->client = SSL_new(p->cctx));
	SSL_set_fd(p->client, p->cfd);
	SSL_set_connect_state(p->client);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair	*p = *state;
	char		 cmd[128];

	smtpd_tls_end(p->server);
	if (p->client != NULL)
		SSL_free(p->client);
	SSL_CTX_free(p->cctx);
	smtpd_tls_free(p->tls);
	close(p->sfd);
	if (p->cfd >= 0)
		close(p->cfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	assert_int_equal(system(cmd), 0);
	free(p);
	return 0;
}

/* Both sides step until the handshake is over; the server must say it
 * waits (0 or 2) until then, never fail. */
static void
handshake(struct pair *p)
{
	char	 why[256];
	int	 s = 0, c = 0, i, r;

	for (i = 0; i < 100 && (s != 1 || c != 1); i++) {
		if (c != 1)
			c = SSL_connect(p->client) == 1 ? 1 : 0;
		if (s != 1) {
			r = smtpd_tls_handshake(p->server, why, sizeof(why));
			assert_true(r == 0 || r == 1 || r == 2);
			s = r == 1;
		}
	}
	assert_int_equal(s, 1);
	assert_int_equal(c, 1);
}

static void
test_handshake_and_read(void **state)
{
	struct pair	*p = *state;
	struct evbuffer	*in = evbuffer_new();
	char		 what[128];
	const char	 line[] = "EHLO client.example\r\n";

	handshake(p);
	smtpd_tls_describe(p->server, what, sizeof(what));
	assert_non_null(strstr(what, "TLSv1."));
	assert_non_null(strstr(what, " with cipher "));
	/* Nothing sent yet: nothing now, not an error. */
	assert_int_equal(smtpd_tls_read(in, p->server, 16384), 0);
	assert_int_equal(SSL_write(p->client, line, sizeof(line) - 1),
	    (int)sizeof(line) - 1);
	assert_int_equal(smtpd_tls_read(in, p->server, 16384), 1);
	assert_int_equal(evbuffer_get_length(in), sizeof(line) - 1);
	assert_memory_equal(evbuffer_pullup(in, -1), line, sizeof(line) - 1);
	evbuffer_free(in);
}

/* Drain what the client can read now into got (at most cap). */
static size_t
client_read(struct pair *p, unsigned char *got, size_t have, size_t cap)
{
	int	 n;

	while (have < cap && (n = SSL_read(p->client, got + have,
	    (int)(cap - have))) > 0)
		have += (size_t)n;
	return have;
}

static void
test_flush_partial_and_growing(void **state)
{
	struct pair	*p = *state;
	struct evbuffer	*out = evbuffer_new();
	size_t		 first = 1 << 20, more = 100 * 1024, total, have = 0, i;
	unsigned char	*want, *got;
	int		 r, rounds = 0, small = 4096;

	handshake(p);
	(void)setsockopt(p->sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	total = first + more;
	want = malloc(total);
	got = malloc(total);
	assert_non_null(want);
	assert_non_null(got);
	for (i = 0; i < total; i++)
		want[i] = (unsigned char)(i * 7 + i / 251);
	evbuffer_add(out, want, first);
	/* The peer reads nothing yet: the socket fills, the rest waits. */
	assert_int_equal(smtpd_tls_flush(out, p->server), 1);
	assert_true(evbuffer_get_length(out) > 0);
	/* More output arrives before the retry (a later reply). */
	evbuffer_add(out, want + first, more);
	do {
		have = client_read(p, got, have, total);
		r = smtpd_tls_flush(out, p->server);
		assert_true(r == 0 || r == 1);
	} while ((r == 1 || have < total) && ++rounds < 100000);
	have = client_read(p, got, have, total);
	assert_int_equal(r, 0);
	assert_int_equal(evbuffer_get_length(out), 0);
	assert_int_equal(have, total);
	assert_memory_equal(got, want, total);
	free(want);
	free(got);
	evbuffer_free(out);
}

static void
test_end_with_close_notify(void **state)
{
	struct pair	*p = *state;
	struct evbuffer	*in = evbuffer_new();

	handshake(p);
	(void)SSL_shutdown(p->client);
	errno = EINVAL;
	assert_int_equal(smtpd_tls_read(in, p->server, 16384), -1);
	assert_int_equal(errno, 0);
	evbuffer_free(in);
}

/* Clients often just close after QUIT: an end, not an error. */
static void
test_end_without_close_notify(void **state)
{
	struct pair	*p = *state;
	struct evbuffer	*in = evbuffer_new();

	handshake(p);
	SSL_free(p->client);
	p->client = NULL;
	close(p->cfd);
	p->cfd = -1;
	errno = EINVAL;
	assert_int_equal(smtpd_tls_read(in, p->server, 16384), -1);
	assert_int_equal(errno, 0);
	evbuffer_free(in);
}

static void
test_garbage_instead_of_hello(void **state)
{
	struct pair	*p = *state;
	char		 why[256] = "";
	const char	 junk[] = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\n";

	assert_int_equal(write(p->cfd, junk, sizeof(junk) - 1),
	    (ssize_t)sizeof(junk) - 1);
	assert_int_equal(smtpd_tls_handshake(p->server, why, sizeof(why)), -1);
	assert_true(why[0] != '\0');
}

static void
test_peer_gone_in_handshake(void **state)
{
	struct pair	*p = *state;
	char		 why[256] = "";

	close(p->cfd);
	p->cfd = -1;
	assert_int_equal(smtpd_tls_handshake(p->server, why, sizeof(why)), -1);
	assert_true(why[0] != '\0');
}

/* Each is off (NULL), never a context that fails at the first client. */
static void
test_unusable_configurations(void **state)
{
	struct pair		*p = *state;
	struct smtpd_params	 par;
	char			 missing[128];

	params(&par, SMTPD_TLS_NONE, p->pem, "");
	assert_null(smtpd_tls_new(&par));
	params(&par, SMTPD_TLS_MAY, "", "");
	assert_null(smtpd_tls_new(&par));
	snprintf(missing, sizeof(missing), "%s/missing.pem", p->dir);
	params(&par, SMTPD_TLS_ENCRYPT, missing, "");
	assert_null(smtpd_tls_new(&par));
	/* A key that is not the certificate's. */
	params(&par, SMTPD_TLS_MAY, p->pem, p->other_key);
	assert_null(smtpd_tls_new(&par));
	/* A key file without a key. */
	params(&par, SMTPD_TLS_MAY, p->pem, missing);
	assert_null(smtpd_tls_new(&par));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_and_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flush_partial_and_growing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_with_close_notify,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_without_close_notify,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_instead_of_hello,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_in_handshake,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_configurations,
		    setup, teardown),
	};

	/* As in every daemon (daemon_signals()): a close_notify to a peer
	 * that has gone is an EPIPE, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
