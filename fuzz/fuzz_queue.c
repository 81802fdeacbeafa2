/*
 * fuzz_queue - a whole queue file (common/queue_file.h, format 2; version
 * 1 is still read): the header parser, the reader of the message bounds,
 * and the outcome records after the message (common/queue_outcome.h).
 * Queue files are written by smtpd, which runs as the same user as qmgr and
 * is exposed to the network, and are read as root by deliver, so the
 * parsers treat them as semi-trusted.  The input is the file.
 *
 * Invariants: an accepted header has a valid id, at least one recipient,
 * clean values within QUEUE_ADDR_MAX, status offsets that point at the
 * status bytes, a size offset that points at the 20 bytes of the size
 * value (version 2), DSN fields the writer can write, and a data offset
 * right after "data\n"; formatting it (always version 2) and parsing the
 * result gives the same envelope and the same bytes again (and the same
 * bytes as the input when the input was a canonical version 2 header);
 * every prefix that ends before the data offset is refused as incomplete,
 * never as corrupt, because the reader grows its buffer only on those two
 * reasons.  (Cuts inside the first three lines are not tried: they are
 * reported as bad version, id or time records, and cannot happen, since the
 * reader's first read is 16 KiB and those lines are bounded to well under
 * 100 bytes.)  The whole file is accepted exactly when the message lies
 * within it (version 2: a finished size no larger than what follows the
 * header; version 1: always, up to the end), and reading it from a
 * descriptor gives the same answer.  The outcome records are the complete
 * valid lines after the message up to the first that is not one; each
 * formats back to its own bytes; a torn tail is reported, and the next
 * append writes over it and leaves exactly the records before it plus the
 * new one.  A status byte written in place changes that status only.
 * Written again as queue_writer.c does (header with the unfinished mark,
 * message, size in place), the file is refused until the size is written
 * and then reads as the same envelope and message (round trip through the
 * version 2 writer, version 1 input included).
 */
#include <sys/mman.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "queue.h"
#include "queue_file.h"
#include "queue_outcome.h"

#define MAX_RECORDS	64	/* outcome records compared in full */

static void
check_rcpt(const char *buf, const struct queue_envelope *env,
    const struct queue_rcpt *r)
{
	const char	*v = r->addr;

	FUZZ_ASSERT(r->status == RCPT_PENDING || r->status == RCPT_DELIVERED ||
	    r->status == RCPT_BOUNCED);
	FUZZ_ASSERT(r->status_off > 0 && r->status_off < env->data_off);
	FUZZ_ASSERT(buf[r->status_off] == r->status);
	FUZZ_ASSERT(memcmp(buf + r->status_off - 5, "rcpt ", 5) == 0);
	FUZZ_ASSERT(v != NULL && v[0] != '\0' && strlen(v) <= QUEUE_ADDR_MAX);
	for (; *v != '\0'; v++)
		FUZZ_ASSERT((unsigned char)*v >= 0x20 && *v != 0x7f);
	if (env->version < 2)
		FUZZ_ASSERT(r->orcpt == NULL && r->notify == 0);
	/* NEVER alone or a subset of the other three. */
	FUZZ_ASSERT((r->notify & ~0xf) == 0 &&
	    (!(r->notify & QUEUE_NOTIFY_NEVER) ||
	    r->notify == QUEUE_NOTIFY_NEVER));
	FUZZ_ASSERT(r->orcpt == NULL || r->orcpt[0] == '\0' ||
	    strchr(r->orcpt, ';') != NULL);
}

static void
check_envelope(const char *buf, size_t len, const struct queue_envelope *env)
{
	int	 i;

	FUZZ_ASSERT(env->version == 1 || env->version == 2);
	FUZZ_ASSERT(queue_id_valid(env->id));
	FUZZ_ASSERT(env->nrcpt >= 1 && env->arrival >= 0);
	FUZZ_ASSERT(env->data_off >= 5 && (size_t)env->data_off <= len);
	FUZZ_ASSERT(memcmp(buf + env->data_off - 5, "data\n", 5) == 0);
	FUZZ_ASSERT(env->sender != NULL && env->client != NULL &&
	    env->helo != NULL);
	FUZZ_ASSERT(env->client[0] != '\0' && env->helo[0] != '\0');
	FUZZ_ASSERT(env->outcome_end == 0 && env->outcome_torn == 0);
	if (env->version < 2) {
		FUZZ_ASSERT(env->data_len == -1 && env->size_off == 0);
		FUZZ_ASSERT(env->body == QUEUE_BODY_NONE && !env->smtputf8 &&
		    env->ret == QUEUE_RET_NONE && env->envid == NULL);
	} else {
		FUZZ_ASSERT(env->size_off > 5 && env->size_off +
		    QUEUE_SIZE_DIGITS < env->data_off);
		FUZZ_ASSERT(memcmp(buf + env->size_off - 5, "size ", 5) == 0);
		FUZZ_ASSERT(buf[env->size_off + QUEUE_SIZE_DIGITS] == '\n');
		FUZZ_ASSERT(env->data_len >= -1);
		FUZZ_ASSERT((env->data_len == -1) == (buf[env->size_off] == '-'));
		FUZZ_ASSERT((unsigned)env->body <= QUEUE_BODY_8BITMIME &&
		    (unsigned)env->ret <= QUEUE_RET_HDRS &&
		    (env->smtputf8 == 0 || env->smtputf8 == 1));
	}
	for (i = 0; i < env->nrcpt; i++)
		check_rcpt(buf, env, &env->rcpt[i]);
	FUZZ_ASSERT(queue_pending_count(env) <= env->nrcpt);
}

#define SAME_STR(a, b)	(strcmp((a) != NULL ? (a) : "", (b) != NULL ? (b) : "") == 0)

/* The same message and recipients; status of recipient skip may differ
 * (-1: none may). */
static void
check_same(const struct queue_envelope *a, const struct queue_envelope *b,
    int skip)
{
	int	 i;

	FUZZ_ASSERT(strcmp(a->id, b->id) == 0 && a->arrival == b->arrival);
	FUZZ_ASSERT(strcmp(a->sender, b->sender) == 0);
	FUZZ_ASSERT(strcmp(a->client, b->client) == 0);
	FUZZ_ASSERT(strcmp(a->helo, b->helo) == 0);
	FUZZ_ASSERT(a->body == b->body && a->smtputf8 == b->smtputf8 &&
	    a->ret == b->ret && SAME_STR(a->envid, b->envid));
	FUZZ_ASSERT(a->nrcpt == b->nrcpt);
	for (i = 0; i < a->nrcpt; i++) {
		FUZZ_ASSERT(strcmp(a->rcpt[i].addr, b->rcpt[i].addr) == 0);
		FUZZ_ASSERT(i == skip || a->rcpt[i].status == b->rcpt[i].status);
		FUZZ_ASSERT(SAME_STR(a->rcpt[i].orcpt, b->rcpt[i].orcpt) &&
		    a->rcpt[i].notify == b->rcpt[i].notify);
	}
}

/* A version 2 header as queue_envelope_format writes it: only leading
 * zeros of the time, and an empty value written "keyword" rather than
 * "keyword ", may make the input differ.  buf is NUL-terminated. */
static int
canonical(const char *buf)
{
	const char	*t = strstr(buf, "\ntime "), *p, *nl;

	if (strncmp(buf, "tern-queue 2\n", 13) != 0 || t == NULL ||
	    (t[6] == '0' && t[7] != '\n'))
		return 0;
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		if (memchr(p, ' ', (size_t)(nl - p)) == NULL &&
		    strncmp(p, "data\n", 5) != 0)
			return 0;
	return 1;
}

static void
check_round_trip(const char *buf, const struct queue_envelope *env)
{
	struct queue_envelope	 again, third;
	char			*text, *text2;
	size_t			 len, len2;
	int			 i;

	FUZZ_ASSERT((text = queue_envelope_format(env, &len)) != NULL);
	FUZZ_ASSERT(queue_envelope_parse(text, len, &again, NULL) == 0);
	FUZZ_ASSERT(again.version == QUEUE_FORMAT_VERSION);
	check_same(env, &again, -1);
	FUZZ_ASSERT(again.data_len == env->data_len);
	FUZZ_ASSERT((size_t)again.data_off == len);
	for (i = 0; i < again.nrcpt; i++)
		FUZZ_ASSERT(text[again.rcpt[i].status_off] ==
		    again.rcpt[i].status);
	/* The writer never lengthens a version 2 header but by the spaces
	 * after empty values (from, body, ret, envid, and orcpt and notify
	 * of each recipient). */
	if (env->version == 2)
		FUZZ_ASSERT(len <= (size_t)env->data_off + 4 +
		    2 * (size_t)env->nrcpt);
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

/* What the outcome reader must find after the message: the complete,
 * valid lines up to the first that is not one.  Each formats back to its
 * bytes.  The number of records; *end where they stop. */
static int
expect_outcomes(const char *buf, size_t len, const struct queue_envelope *env,
    struct queue_outcome *rec, size_t *end)
{
	struct queue_outcome	 o;
	char			 line[QUEUE_OUTCOME_MAX + 1];
	const char		*nl;
	size_t			 pos = (size_t)(env->data_off + env->data_len);
	int			 n = 0, fl;

	while ((nl = memchr(buf + pos, '\n', len - pos)) != NULL &&
	    queue_outcome_parse(buf + pos, (size_t)(nl - buf) - pos,
	    env->nrcpt, &o, NULL) == 0) {
		FUZZ_ASSERT(o.rcpt >= 0 && o.rcpt < env->nrcpt);
		fl = queue_outcome_format(&o, line, sizeof(line));
		FUZZ_ASSERT(fl > 0 && (size_t)fl == (size_t)(nl - buf) - pos + 1);
		FUZZ_ASSERT(memcmp(line, buf + pos, (size_t)fl) == 0);
		if (n < MAX_RECORDS)
			rec[n] = o;
		n++;
		pos = (size_t)(nl - buf) + 1;
	}
	*end = pos;
	return n;
}

struct collect {
	struct queue_outcome	*rec;
	int			 n;
};

static int
collect_cb(const struct queue_outcome *o, void *arg)
{
	struct collect	*c = arg;

	if (c->n < MAX_RECORDS)
		c->rec[c->n] = *o;
	c->n++;
	return 0;
}

static int
same_outcome(const struct queue_outcome *a, const struct queue_outcome *b)
{
	return a->rcpt == b->rcpt && a->action == b->action &&
	    a->time == b->time && strcmp(a->code, b->code) == 0 &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->text, b->text) == 0;
}

/* The records of the file on fd, compared with what is expected. */
static void
check_read_outcomes(int fd, struct queue_envelope *env,
    const struct queue_outcome *want, int nwant, size_t end, off_t size)
{
	struct queue_outcome	*got;
	struct collect		 c;
	int			 i;

	got = calloc(MAX_RECORDS, sizeof(*got));
	FUZZ_ASSERT(got != NULL);
	c.rec = got;
	c.n = 0;
	env->outcome_end = 0;
	FUZZ_ASSERT(queue_outcome_read(fd, env, collect_cb, &c) == 0);
	FUZZ_ASSERT(c.n == nwant && (size_t)env->outcome_end == end);
	FUZZ_ASSERT(env->outcome_torn == (size > (off_t)end));
	for (i = 0; i < nwant && i < MAX_RECORDS; i++)
		FUZZ_ASSERT(same_outcome(&got[i], &want[i]));
	free(got);
}

/* Append a record over whatever follows the valid ones (a torn tail): the
 * file then ends right after it, and reads as the old records plus it. */
static void
check_append(int fd, struct queue_envelope *env, struct queue_outcome *want,
    int nwant, size_t end)
{
	struct queue_outcome	 o;
	char			 line[QUEUE_OUTCOME_MAX + 1];
	off_t			 size;
	int			 len;

	memset(&o, 0, sizeof(o));
	o.rcpt = env->nrcpt - 1;
	o.action = OUTCOME_DELAYED;
	o.time = 1700000000;
	strlcpy(o.code, "4.4.1", sizeof(o.code));
	strlcpy(o.host, "mx.example.org[192.0.2.1]", sizeof(o.host));
	strlcpy(o.text, "connect\r\nto x: timed out", sizeof(o.text));
	FUZZ_ASSERT((len = queue_outcome_format(&o, line, sizeof(line))) > 0);
	FUZZ_ASSERT(queue_outcome_parse(line, (size_t)len - 1, env->nrcpt,
	    &o, NULL) == 0);
	FUZZ_ASSERT(queue_outcome_write(fd, env, &o) == 0);
	FUZZ_ASSERT(env->outcome_torn == 0 &&
	    (size_t)env->outcome_end == end + (size_t)len);
	FUZZ_ASSERT((size = lseek(fd, 0, SEEK_END)) == env->outcome_end);
	if (nwant < MAX_RECORDS)
		want[nwant] = o;
	check_read_outcomes(fd, env, want, nwant + 1, end + (size_t)len, size);
}

/* A status byte written in place changes that recipient only. */
static void
check_mark(int fd, const struct queue_envelope *env)
{
	struct queue_envelope	 after;
	char			 s;

	s = env->rcpt[0].status == RCPT_DELIVERED ? RCPT_BOUNCED :
	    RCPT_DELIVERED;
	FUZZ_ASSERT(queue_rcpt_write(fd, env, 0, s) == 0);
	FUZZ_ASSERT(queue_file_read(fd, &after, NULL) == 0);
	check_same(env, &after, 0);
	FUZZ_ASSERT(after.rcpt[0].status == s);
	FUZZ_ASSERT(after.data_off == env->data_off &&
	    after.data_len == env->data_len);
	queue_envelope_free(&after);
	FUZZ_ASSERT(queue_rcpt_write(fd, env, env->nrcpt, s) == -1);
}

/* The writer's steps (common/queue_writer.c, without its directories):
 * the header with the unfinished mark, the message, then the size in
 * place.  Unfinished, the file is refused; finished, it reads as the
 * message of the input, with the same envelope and the same bytes. */
static void
check_rewrite(const char *buf, const struct queue_envelope *env)
{
	struct queue_envelope	 copy, back;
	const char		*err = NULL;
	char			*head, *msg;
	size_t			 len;
	int			 fd;

	copy = *env;
	copy.data_len = -1;
	FUZZ_ASSERT((head = queue_envelope_format(&copy, &len)) != NULL);
	FUZZ_ASSERT(queue_envelope_parse(head, len, &back, NULL) == 0);
	copy.size_off = back.size_off;
	queue_envelope_free(&back);
	FUZZ_ASSERT((fd = memfd_create("fuzz_queue_w", MFD_CLOEXEC)) >= 0);
	FUZZ_ASSERT(write(fd, head, len) == (ssize_t)len);
	FUZZ_ASSERT(env->data_len == 0 || write(fd, buf + env->data_off,
	    (size_t)env->data_len) == (ssize_t)env->data_len);
	FUZZ_ASSERT(queue_file_read(fd, &back, &err) == -1 &&
	    strcmp(err, "unfinished file") == 0);
	FUZZ_ASSERT(queue_size_write(fd, copy.size_off, env->data_len) == 0);
	FUZZ_ASSERT(queue_file_read(fd, &back, NULL) == 0);
	check_same(env, &back, -1);
	FUZZ_ASSERT(back.version == QUEUE_FORMAT_VERSION &&
	    (size_t)back.data_off == len && back.data_len == env->data_len);
	if ((msg = malloc((size_t)env->data_len + 1)) != NULL) {
		FUZZ_ASSERT(pread(fd, msg, (size_t)env->data_len + 1,
		    back.data_off) == (ssize_t)env->data_len);
		FUZZ_ASSERT(memcmp(msg, buf + env->data_off,
		    (size_t)env->data_len) == 0);
		free(msg);
	}
	queue_envelope_free(&back);
	close(fd);
	free(head);
}

/* The whole file: its bounds, the descriptor reader, the records. */
static void
check_file(const char *buf, size_t len, const struct queue_envelope *hdr)
{
	struct queue_envelope	 env, fenv;
	struct queue_outcome	*want;
	const char		*err = NULL;
	size_t			 end;
	int			 r, fd, n;

	r = queue_file_parse(buf, len, &env, &err);
	if (hdr->version < 2)
		FUZZ_ASSERT(r == 0);
	else
		FUZZ_ASSERT(r == (hdr->data_len >= 0 && hdr->data_len <=
		    (off_t)len - hdr->data_off ? 0 : -1));
	if (r < 0) {
		FUZZ_ASSERT(err != NULL && (strcmp(err, "unfinished file") == 0 ||
		    strcmp(err, "truncated message") == 0));
		FUZZ_ASSERT(env.nrcpt == 0 && env.rcpt == NULL);
	} else {
		check_same(hdr, &env, -1);
		FUZZ_ASSERT(env.data_off == hdr->data_off);
		FUZZ_ASSERT(env.data_len >= 0 &&
		    env.data_off + env.data_len <= (off_t)len);
		if (env.version < 2)
			FUZZ_ASSERT(env.data_off + env.data_len == (off_t)len);
	}
	fd = memfd_create("fuzz_queue", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(len == 0 || write(fd, buf, len) == (ssize_t)len);
	FUZZ_ASSERT(queue_file_read(fd, &fenv, NULL) == r);
	if (r < 0) {
		FUZZ_ASSERT(errno == EINVAL);
		close(fd);
		return;
	}
	check_same(&env, &fenv, -1);
	FUZZ_ASSERT(fenv.data_len == env.data_len);
	check_rewrite(buf, &env);
	if (env.version < 2) {
		FUZZ_ASSERT(queue_outcome_read(fd, &fenv, NULL, NULL) == 0);
		FUZZ_ASSERT(queue_outcome_write(fd, &fenv, NULL) == -1 &&
		    errno == EOPNOTSUPP);
	} else {
		want = calloc(MAX_RECORDS, sizeof(*want));
		FUZZ_ASSERT(want != NULL);
		n = expect_outcomes(buf, len, &env, want, &end);
		check_read_outcomes(fd, &fenv, want, n, end, (off_t)len);
		check_append(fd, &fenv, want, n, end);
		free(want);
	}
	check_mark(fd, &fenv);
	close(fd);
	queue_envelope_free(&fenv);
	queue_envelope_free(&env);
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
	check_same(&env, &env2, -1);
	queue_envelope_free(&env2);
	/* The message after the header does not matter. */
	FUZZ_ASSERT(queue_envelope_parse(buf, (size_t)env.data_off, &env2,
	    NULL) == 0);
	check_same(&env, &env2, -1);
	FUZZ_ASSERT(env2.data_len == env.data_len &&
	    env2.size_off == env.size_off);
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
	check_file(buf, size, &env);
	queue_envelope_free(&env);
	return 0;
}
