/*
 * fuzz_queue - the queue file header parser (queue_envelope_parse in
 * common/queue.c).  Queue files are written by smtpd, which runs as the
 * same user as qmgr and is exposed to the network, and are read as root by
 * deliver, so the parser treats them as semi-trusted.  Invariants: an
 * accepted header has a valid id, at least one recipient, clean values
 * within QUEUE_ADDR_MAX, status offsets that point at the status bytes and
 * a data offset right after "data\n"; formatting it and parsing the result
 * gives the same envelope and the same bytes again (round trip, and the
 * same bytes as the input when the input was canonical); every prefix that
 * ends before the data offset is refused as incomplete, never as corrupt,
 * because the reader grows its buffer only on those two reasons.  (Cuts
 * inside the first three lines are not tried: they are reported as bad
 * version, id or time records, and cannot happen, since the reader's first
 * read is 16 KiB and those lines are bounded to well under 100 bytes.)
 */
#include <string.h>

#include "fuzz.h"
#include "queue.h"
#include "queue_file.h"

static void
check_envelope(const char *buf, size_t len, const struct queue_envelope *env)
{
	const char	*v;
	int		 i;

	FUZZ_ASSERT(queue_id_valid(env->id));
	FUZZ_ASSERT(env->nrcpt >= 1 && env->arrival >= 0);
	FUZZ_ASSERT(env->data_off >= 5 && (size_t)env->data_off <= len);
	FUZZ_ASSERT(memcmp(buf + env->data_off - 5, "data\n", 5) == 0);
	FUZZ_ASSERT(env->sender != NULL && env->client != NULL &&
	    env->helo != NULL);
	FUZZ_ASSERT(env->client[0] != '\0' && env->helo[0] != '\0');
	for (i = 0; i < env->nrcpt; i++) {
		FUZZ_ASSERT(env->rcpt[i].status == RCPT_PENDING ||
		    env->rcpt[i].status == RCPT_DELIVERED ||
		    env->rcpt[i].status == RCPT_BOUNCED);
		FUZZ_ASSERT(env->rcpt[i].status_off > 0 &&
		    env->rcpt[i].status_off < env->data_off);
		FUZZ_ASSERT(buf[env->rcpt[i].status_off] == env->rcpt[i].status);
		v = env->rcpt[i].addr;
		FUZZ_ASSERT(v != NULL && v[0] != '\0' &&
		    strlen(v) <= QUEUE_ADDR_MAX);
		for (; *v != '\0'; v++)
			FUZZ_ASSERT((unsigned char)*v >= 0x20 && *v != 0x7f);
	}
	FUZZ_ASSERT(queue_pending_count(env) <= env->nrcpt);
}

static void
check_same(const struct queue_envelope *a, const struct queue_envelope *b)
{
	int	 i;

	FUZZ_ASSERT(strcmp(a->id, b->id) == 0 && a->arrival == b->arrival);
	FUZZ_ASSERT(strcmp(a->sender, b->sender) == 0);
	FUZZ_ASSERT(strcmp(a->client, b->client) == 0);
	FUZZ_ASSERT(strcmp(a->helo, b->helo) == 0);
	FUZZ_ASSERT(a->nrcpt == b->nrcpt);
	for (i = 0; i < a->nrcpt; i++) {
		FUZZ_ASSERT(strcmp(a->rcpt[i].addr, b->rcpt[i].addr) == 0);
		FUZZ_ASSERT(a->rcpt[i].status == b->rcpt[i].status);
	}
}

/* Only leading zeros of the time, and a null sender written "from"
 * rather than "from ", may make the input differ from what
 * queue_envelope_format writes. */
static int
canonical(const char *buf)
{
	const char	*t = strstr(buf, "\ntime ");

	return t != NULL && !(t[6] == '0' && t[7] != '\n') &&
	    strstr(buf, "\nfrom\n") == NULL;
}

static void
check_round_trip(const char *buf, const struct queue_envelope *env)
{
	struct queue_envelope	 again, third;
	char			*text, *text2;
	size_t			 len, len2;

	FUZZ_ASSERT((text = queue_envelope_format(env, &len)) != NULL);
	FUZZ_ASSERT(len <= (size_t)env->data_off + 1);
	FUZZ_ASSERT(queue_envelope_parse(text, len, &again, NULL) == 0);
	check_same(env, &again);
	FUZZ_ASSERT((size_t)again.data_off == len);
	if (canonical(buf))
		FUZZ_ASSERT(len == (size_t)env->data_off &&
		    memcmp(text, buf, len) == 0);
	FUZZ_ASSERT((text2 = queue_envelope_format(&again, &len2)) != NULL);
	FUZZ_ASSERT(len2 == len && memcmp(text, text2, len) == 0);
	FUZZ_ASSERT(queue_envelope_parse(text2, len2, &third, NULL) == 0);
	queue_envelope_free(&third);
	queue_envelope_free(&again);
	free(text);
	free(text2);
}

/* Where the fourth line starts (after version, id and time). */
static size_t
first_lines(const char *buf, size_t len)
{
	const char	*p = buf, *nl;
	int		 i;

	for (i = 0; i < 3; i++) {
		nl = memchr(p, '\n', len - (size_t)(p - buf));
		FUZZ_ASSERT(nl != NULL);
		p = nl + 1;
	}
	return (size_t)(p - buf);
}

/* What queue_read_header does with a header cut by its read chunk. */
static void
check_prefix(const char *buf, size_t cut)
{
	struct queue_envelope	 env;
	const char		*err = NULL;

	FUZZ_ASSERT(queue_envelope_parse(buf, cut, &env, &err) == -1);
	FUZZ_ASSERT(err != NULL && (strcmp(err, "truncated header") == 0 ||
	    strcmp(err, "missing data record") == 0));
	FUZZ_ASSERT(env.nrcpt == 0 && env.rcpt == NULL && env.sender == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_envelope	 env, env2;
	const char		*buf = (const char *)data, *err = NULL;
	char			*str;
	size_t			 cut;
	int			 r;

	r = queue_envelope_parse(buf, size, &env, &err);
	FUZZ_ASSERT(queue_envelope_parse(buf, size, &env2, NULL) == r);
	if (r < 0) {
		FUZZ_ASSERT(r == -1 && err != NULL);
		FUZZ_ASSERT(env.nrcpt == 0 && env.rcpt == NULL);
		return 0;
	}
	check_envelope(buf, size, &env);
	check_same(&env, &env2);
	queue_envelope_free(&env2);
	/* The message after the header does not matter. */
	FUZZ_ASSERT(queue_envelope_parse(buf, (size_t)env.data_off, &env2,
	    NULL) == 0);
	check_same(&env, &env2);
	queue_envelope_free(&env2);
	for (cut = first_lines(buf, size); cut < (size_t)env.data_off; cut++)
		if (cut < 512 || cut + 512 > (size_t)env.data_off ||
		    cut % 61 == 0)
			check_prefix(buf, cut);
	/* A C-string copy, so canonical() may use strstr. */
	if ((str = malloc((size_t)env.data_off + 1)) != NULL) {
		memcpy(str, buf, (size_t)env.data_off);
		str[env.data_off] = '\0';
		check_round_trip(str, &env);
		free(str);
	}
	queue_envelope_free(&env);
	return 0;
}
