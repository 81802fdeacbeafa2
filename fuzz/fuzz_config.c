/*
 * fuzz_config - tern.conf (config_parse in common/config.c).  The file is
 * root's, but it is read by every daemon and by admin tools, and one
 * mistake in it must be reported, not obeyed.  Invariants: an accepted
 * configuration respects every key's bounds (minimums, list sizes, clean
 * strings, minimal_backoff_time <= maximal_backoff_time); printing it
 * with config_print and parsing that again gives the same printout (round
 * trip; skipped when a value holds '$', since "$myhostname" is expanded
 * again and the file format has no escape for it); a refused file leaves
 * the configuration zeroed; the same text parses the same way twice.
 */
#include <sys/mman.h>

#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "fuzz.h"

static int print_fd = -1;

/* config_print's output, NUL-terminated, in a malloc'd string. */
static char *
printout(const struct tern_config *cf, size_t *lenp)
{
	char	*text;
	off_t	 len;

	if (print_fd < 0)
		print_fd = memfd_create("fuzz_config", MFD_CLOEXEC);
	FUZZ_ASSERT(print_fd >= 0 && ftruncate(print_fd, 0) == 0 &&
	    lseek(print_fd, 0, SEEK_SET) == 0);
	config_print(cf, print_fd);
	FUZZ_ASSERT((len = lseek(print_fd, 0, SEEK_CUR)) > 0);
	FUZZ_ASSERT((text = malloc((size_t)len + 1)) != NULL);
	FUZZ_ASSERT(pread(print_fd, text, (size_t)len, 0) == len);
	text[len] = '\0';
	*lenp = (size_t)len;
	return text;
}

static void
check_list(const struct config_list *l)
{
	int	 i;

	FUZZ_ASSERT(l->count >= 0 && l->count <= CONFIG_LIST_MAX);
	for (i = 0; i < l->count; i++)
		FUZZ_ASSERT(l->item[i] != NULL && l->item[i][0] != '\0' &&
		    strpbrk(l->item[i], ", \t") == NULL);
}

static void
check_string(const char *s, int empty_ok)
{
	FUZZ_ASSERT(s != NULL && (empty_ok || s[0] != '\0'));
	for (; *s != '\0'; s++)
		FUZZ_ASSERT((unsigned char)*s >= 0x20 || *s == '\t');
}

static void
check_config(const struct tern_config *cf)
{
	check_string(cf->myhostname, 0);
	check_string(cf->smtpd_banner, 1);
	check_string(cf->queue_directory, 0);
	check_string(cf->daemon_directory, 0);
	check_string(cf->mail_owner, 0);
	check_string(cf->master_config, 0);
	check_string(cf->home_mailbox, 0);
	check_list(&cf->mydestination);
	check_list(&cf->resolver_nameservers);
	FUZZ_ASSERT(cf->message_size_limit >= 1);
	FUZZ_ASSERT(cf->smtpd_recipient_limit >= 1 && cf->smtpd_timeout >= 1);
	FUZZ_ASSERT(cf->smtpd_client_limit >= 1 && cf->queue_scan_interval >= 1);
	FUZZ_ASSERT(cf->minimal_backoff_time >= 1 &&
	    cf->minimal_backoff_time <= cf->maximal_backoff_time);
	FUZZ_ASSERT(cf->maximal_queue_lifetime >= 0);
	FUZZ_ASSERT(cf->deliver_concurrency >= 1 && cf->resolver_timeout >= 1);
	FUZZ_ASSERT(cf->verbose == 0 || cf->verbose == 1);
	FUZZ_ASSERT(cf->local_recipient_check == 0 ||
	    cf->local_recipient_check == 1);
}

static void
check_round_trip(const struct tern_config *cf)
{
	struct tern_config	 again;
	char			*text, *text2;
	size_t			 len, len2;

	text = printout(cf, &len);
	/* A default myhostname comes from gethostname(), not the file. */
	if (strchr(text, '$') == NULL &&
	    addr_valid_domain(cf->myhostname, strlen(cf->myhostname))) {
		FUZZ_ASSERT(config_parse("fuzz.conf", text, len, &again) == 0);
		text2 = printout(&again, &len2);
		FUZZ_ASSERT(len2 == len && memcmp(text, text2, len) == 0);
		free(text2);
		config_free(&again);
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tern_config zero;
	struct tern_config	 cf, cf2;
	char			*a, *b;
	size_t			 alen, blen;
	int			 r;

	r = config_parse("fuzz.conf", (const char *)data, size, &cf);
	FUZZ_ASSERT(config_parse("fuzz.conf", (const char *)data, size,
	    &cf2) == r);
	if (r < 0) {
		FUZZ_ASSERT(r == -1);
		FUZZ_ASSERT(memcmp(&cf, &zero, sizeof(cf)) == 0);
		return 0;
	}
	check_config(&cf);
	a = printout(&cf, &alen);
	b = printout(&cf2, &blen);
	FUZZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
	free(a);
	free(b);
	check_round_trip(&cf);
	config_free(&cf);
	config_free(&cf2);
	return 0;
}
