/*
 * fuzz_bounce - what bounce(8) makes of a queue file's content
 * (bounce/bounce_compose.c), and the parts of the bounce protocol that read
 * a peer's text (common/proto_bounce.c).  The input is a queue file: if
 * the reader (common/queue_file.h) accepts it, its outcome records are
 * taken as bounce_notice.c takes them, and a notice is composed for every
 * event about every recipient, with a small and a large
 * bounce_size_limit.  The input's first line, whatever it is, also goes to
 * bounce_rcpts_parse() and bounce_diag_split() and the header finder.
 *
 * Invariants: composing never fails with the notice's buffer as
 * bounce_notice.c sizes it; everything before the returned message is
 * printable ASCII, tab and LF (header fields and report fields are
 * cleaned; the returned message is copied as it is); it ends with the closing boundary; it names each recipient
 * once in the report; the returned part is within bounce_size_limit plus
 * the notice's own text; an accepted recipient list is ascending, in range
 * and spelled back the same; a split diagnostic gives a host without
 * spaces; the header end lies within the input.
 */
#include <string.h>

#include "bounce/bounce.h"
#include "buf.h"
#include "fuzz.h"
#include "queue_file.h"
#include "queue_outcome.h"

#define FUZZ_NRCPT_MAX	64	/* recipients composed for */

struct fuzz_records {
	struct queue_outcome	rec[FUZZ_NRCPT_MAX];
	int			have[FUZZ_NRCPT_MAX];
};

static void
check_line(const char *line, size_t len)
{
	int	 idx[FUZZ_NRCPT_MAX], n, k, nrcpt;
	char	 s[256], host[QUEUE_HOST_SIZE], reply[QUEUE_TEXT_MAX + 1];
	char	 again[1024];
	size_t	 m = len < sizeof(s) - 1 ? len : sizeof(s) - 1;
	int	 off = 0;

	memcpy(s, line, m);
	s[m] = '\0';
	for (nrcpt = 1; nrcpt <= FUZZ_NRCPT_MAX; nrcpt *= 4) {
		if (bounce_rcpts_parse(s, nrcpt, idx, &n) < 0)
			continue;
		FUZZ_ASSERT(n >= 1 && n <= nrcpt);
		off = 0;
		for (k = 0; k < n; k++) {
			FUZZ_ASSERT(idx[k] >= 0 && idx[k] < nrcpt);
			FUZZ_ASSERT(k == 0 || idx[k] > idx[k - 1]);
			off += snprintf(again + off, sizeof(again) - (size_t)off,
			    k ? ",%d" : "%d", idx[k]);
		}
		FUZZ_ASSERT(strcmp(again, s) == 0);
	}
	if (bounce_diag_split(s, host, sizeof(host), reply, sizeof(reply))) {
		FUZZ_ASSERT(strchr(host, ' ') == NULL && host[0] != '\0');
		FUZZ_ASSERT(strlen(reply) < sizeof(reply));
	}
	FUZZ_ASSERT(bounce_header_end(line, len) <= len);
}

static int
fuzz_record(const struct queue_outcome *o, void *arg)
{
	struct fuzz_records	*r = arg;

	if (o->rcpt < FUZZ_NRCPT_MAX && o->action != OUTCOME_NOTICE_FAILED &&
	    o->action != OUTCOME_NOTICE_DELAYED &&
	    o->action != OUTCOME_NOTICE_DELIVERED) {
		r->rec[o->rcpt] = *o;
		r->have[o->rcpt] = 1;
	}
	return 0;
}

/* The outcome records after the message, read as bounce_notice.c does
 * (queue_outcome_read on a descriptor would need a file; the parser is
 * the same). */
static void
fuzz_read_records(const char *buf, size_t len,
    const struct queue_envelope *env, struct fuzz_records *r)
{
	struct queue_outcome	 o;
	const char		*err, *p, *nl;
	size_t			 off = (size_t)(env->data_off + env->data_len);

	memset(r, 0, sizeof(*r));
	for (p = buf + off; p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			break;
		if (queue_outcome_parse(p, (size_t)(nl - p), env->nrcpt, &o,
		    &err) < 0)
			break;
		(void)fuzz_record(&o, r);
	}
}

static void
check_notice(const struct queue_envelope *env, const char *msg,
    struct fuzz_records *r, enum bounce_event ev, size_t limit)
{
	const struct queue_outcome *last[FUZZ_NRCPT_MAX];
	struct bounce_notice	 b;
	struct buf		 out;
	int			 idx[FUZZ_NRCPT_MAX], i, n;
	size_t			 k, textpart;
	const char		*ret;
	char			 boundary[BOUNCE_BOUNDARY_SIZE];
	char			 delim[BOUNCE_BOUNDARY_SIZE + 8];

	n = env->nrcpt < FUZZ_NRCPT_MAX ? env->nrcpt : FUZZ_NRCPT_MAX;
	for (i = 0; i < n; i++) {
		idx[i] = i;
		last[i] = r->have[i] ? &r->rec[i] : NULL;
	}
	memset(&b, 0, sizeof(b));
	b.myhostname = "mx.example.org";
	b.notice_id = "4ABCDEF0123";
	b.now = 1700000000;
	b.event = ev;
	b.kind = BOUNCE_KIND_SENDER;
	b.to = "someone@example.org";
	b.env = env;
	b.idx = idx;
	b.n = n;
	b.last = last;
	b.until = 1700432000;
	b.msg = msg;
	b.msglen = (size_t)env->data_len < limit ? (size_t)env->data_len :
	    limit;
	b.msgsize = (long long)env->data_len;
	b.size_limit = limit;
	buf_init(&out, BOUNCE_HEADER_MAX + limit + 64 * 1024 + (size_t)n * 4096);
	FUZZ_ASSERT(bounce_compose(&b, &out) == 0);
	FUZZ_ASSERT(out.len > 40 && memcmp(out.data + out.len - 15,
	    "/tern-report--\n", 15) == 0);
	/* The boundary starts a line three times before the returned
	 * message (after the header, the text and the report) and once
	 * after it, and the message does not hold it. */
	bounce_boundary(&b, boundary, sizeof(boundary));
	FUZZ_ASSERT(memmem(b.msg, b.msglen, boundary, strlen(boundary)) == NULL);
	snprintf(delim, sizeof(delim), "\n--%s\n", boundary);
	ret = out.data;
	for (i = 0; i < 3; i++) {
		ret = memmem(ret, out.len - (size_t)(ret - out.data), delim,
		    strlen(delim));
		FUZZ_ASSERT(ret != NULL);
		ret += strlen(delim);
	}
	FUZZ_ASSERT(memmem(ret, out.len - (size_t)(ret - out.data), delim,
	    strlen(delim)) == NULL);
	textpart = (size_t)(ret - out.data);
	for (k = 0; k < textpart; k++)
		FUZZ_ASSERT(out.data[k] == '\n' || out.data[k] == '\t' ||
		    ((unsigned char)out.data[k] >= 0x20 &&
		    (unsigned char)out.data[k] < 0x7f));
	FUZZ_ASSERT(out.len - textpart <= limit + 256 + strlen(boundary));
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data, *nl;
	struct queue_envelope	 env;
	struct fuzz_records	*r;
	const char		*err;

	nl = memchr(buf, '\n', size);
	check_line(buf, nl != NULL ? (size_t)(nl - buf) : size);
	memset(&env, 0, sizeof(env));
	if (queue_file_parse(buf, size, &env, &err) < 0)
		return 0;
	r = xmalloc(sizeof(*r));
	fuzz_read_records(buf, size, &env, r);
	check_notice(&env, buf + env.data_off, r, BOUNCE_FAILED, 50000);
	check_notice(&env, buf + env.data_off, r, BOUNCE_FAILED, 20);
	check_notice(&env, buf + env.data_off, r, BOUNCE_DELAYED, 50000);
	check_notice(&env, buf + env.data_off, r, BOUNCE_DELIVERED, 100);
	free(r);
	queue_envelope_free(&env);
	return 0;
}
