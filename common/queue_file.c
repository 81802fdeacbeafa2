/*
 * queue_file - the queue file format (queue_file.h): parse and write the
 * header, read a file's header from a descriptor, and the in-place status
 * marks.  The header parser is strict and bounded: a file that does not
 * match queue_file.h to the byte is corrupt, and qmgr moves it aside rather
 * than guessing.  Nothing here needs the queue directory except
 * queue_file_open(), so tools can use the format on any buffer or file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "queue.h"
#include "queue_file.h"

/* Header parsing */

struct queue_parser {
	const char	*buf;
	size_t		 len;
	size_t		 pos;		/* start of the next line */
	const char	*line;		/* current line, without its LF */
	size_t		 linelen;
	const char	*err;
};

/* Advance to the next LF-terminated line; 0 at the end of the buffer. */
static int
queue_next_line(struct queue_parser *qp)
{
	const char	*nl;

	if (qp->pos >= qp->len)
		return 0;
	if ((nl = memchr(qp->buf + qp->pos, '\n', qp->len - qp->pos)) == NULL)
		return 0;
	qp->line = qp->buf + qp->pos;
	qp->linelen = (size_t)(nl - qp->line);
	qp->pos += qp->linelen + 1;
	return 1;
}

/* Is the current line "keyword value" (or a bare "keyword": empty value)?
 * The value is returned through val and vlen. */
static int
queue_record(struct queue_parser *qp, const char *kw, const char **val,
    size_t *vlen)
{
	size_t	 kl = strlen(kw);

	if (qp->linelen < kl || memcmp(qp->line, kw, kl) != 0)
		return 0;
	if (qp->linelen == kl) {
		*val = qp->line + kl;
		*vlen = 0;
		return 1;
	}
	if (qp->line[kl] != ' ')
		return 0;
	*val = qp->line + kl + 1;
	*vlen = qp->linelen - kl - 1;
	return 1;
}

static int
queue_clean_value(const char *v, size_t n)
{
	size_t	 i;

	if (n > QUEUE_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

static int
queue_fail(struct queue_parser *qp, const char *why)
{
	qp->err = why;
	return -1;
}

/* Read one mandatory "kw value" record into a new string. */
static int
queue_string_record(struct queue_parser *qp, const char *kw, int empty_ok,
    char **out, const char *why)
{
	const char	*v;
	size_t		 n;

	if (!queue_next_line(qp))
		return queue_fail(qp, "truncated header");
	if (!queue_record(qp, kw, &v, &n) || (n == 0 && !empty_ok) ||
	    !queue_clean_value(v, n))
		return queue_fail(qp, why);
	*out = xstrndup(v, n);
	return 0;
}

static int
queue_parse_head(struct queue_parser *qp, struct queue_envelope *env)
{
	const char		*v;
	size_t			 n, i;
	unsigned long long	 t = 0;

	if (!queue_next_line(qp) || qp->linelen != 12 ||
	    memcmp(qp->line, "tern-queue 1", 12) != 0)
		return queue_fail(qp, "bad version line");
	if (!queue_next_line(qp) || !queue_record(qp, "id", &v, &n) ||
	    n == 0 || n >= QUEUE_ID_SIZE)
		return queue_fail(qp, "bad id record");
	memcpy(env->id, v, n);
	env->id[n] = '\0';
	if (!queue_id_valid(env->id))
		return queue_fail(qp, "bad id record");
	if (!queue_next_line(qp) || !queue_record(qp, "time", &v, &n) ||
	    n == 0 || n > 18)
		return queue_fail(qp, "bad time record");
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return queue_fail(qp, "bad time record");
		t = t * 10 + (unsigned long long)(v[i] - '0');
	}
	env->arrival = (long long)t;
	if (queue_string_record(qp, "from", 1, &env->sender, "bad from record") < 0 ||
	    queue_string_record(qp, "client", 0, &env->client, "bad client record") < 0 ||
	    queue_string_record(qp, "helo", 0, &env->helo, "bad helo record") < 0)
		return -1;
	return 0;
}

static int
queue_parse_rcpts(struct queue_parser *qp, struct queue_envelope *env)
{
	const char	*v;
	size_t		 n;
	int		 cap = 0;

	for (;;) {
		if (!queue_next_line(qp))
			return queue_fail(qp, "missing data record");
		if (qp->linelen == 4 && memcmp(qp->line, "data", 4) == 0)
			break;
		if (!queue_record(qp, "rcpt", &v, &n))
			return queue_fail(qp, "unexpected record");
		/* "<S> <address>" */
		if (n < 3 || v[1] != ' ')
			return queue_fail(qp, "bad rcpt record");
		if (v[0] != RCPT_PENDING && v[0] != RCPT_DELIVERED &&
		    v[0] != RCPT_BOUNCED)
			return queue_fail(qp, "bad rcpt status");
		if (!queue_clean_value(v + 2, n - 2))
			return queue_fail(qp, "bad rcpt address");
		if (env->nrcpt == cap) {
			cap = cap ? cap * 2 : 8;
			env->rcpt = xreallocarray(env->rcpt, (size_t)cap,
			    sizeof(*env->rcpt));
		}
		env->rcpt[env->nrcpt].addr = xstrndup(v + 2, n - 2);
		env->rcpt[env->nrcpt].status = v[0];
		env->rcpt[env->nrcpt].status_off = (off_t)(v - qp->buf);
		env->nrcpt++;
	}
	if (env->nrcpt == 0)
		return queue_fail(qp, "no recipients");
	env->data_off = (off_t)qp->pos;
	return 0;
}

int
queue_envelope_parse(const char *buf, size_t len, struct queue_envelope *env,
    const char **err)
{
	struct queue_parser	 qp;

	memset(env, 0, sizeof(*env));
	memset(&qp, 0, sizeof(qp));
	qp.buf = buf;
	qp.len = len;
	if (buf == NULL || queue_parse_head(&qp, env) < 0 ||
	    queue_parse_rcpts(&qp, env) < 0) {
		if (err != NULL)
			*err = qp.err != NULL ? qp.err : "no header";
		queue_envelope_free(env);
		return -1;
	}
	return 0;
}

void
queue_envelope_free(struct queue_envelope *env)
{
	int	 i;

	for (i = 0; i < env->nrcpt; i++)
		free(env->rcpt[i].addr);
	free(env->rcpt);
	free(env->sender);
	free(env->client);
	free(env->helo);
	memset(env, 0, sizeof(*env));
}

char *
queue_envelope_format(const struct queue_envelope *env, size_t *lenp)
{
	struct queue_envelope	 check;
	struct buf		 b;
	int			 i, ok = 1;

	buf_init(&b, QUEUE_HEADER_MAX);
	ok &= buf_appendf(&b, "tern-queue %d\nid %s\ntime %lld\nfrom %s\n"
	    "client %s\nhelo %s\n", QUEUE_FORMAT_VERSION, env->id, env->arrival,
	    env->sender ? env->sender : "", env->client ? env->client : "",
	    env->helo ? env->helo : "") == 0;
	for (i = 0; ok && i < env->nrcpt; i++)
		ok &= buf_appendf(&b, "rcpt %c %s\n", env->rcpt[i].status,
		    env->rcpt[i].addr ? env->rcpt[i].addr : "") == 0;
	ok &= buf_append_str(&b, "data\n") == 0;
	/* Never write what the reader would call corrupt. */
	if (!ok || queue_envelope_parse(b.data, b.len, &check, NULL) < 0) {
		buf_free(&b);
		errno = EINVAL;
		return NULL;
	}
	queue_envelope_free(&check);
	if (lenp != NULL)
		*lenp = b.len;
	return b.data;
}

/* Reader */

/* Read the start of the file, growing until the header parses or cannot
 * fit QUEUE_HEADER_MAX.  0, -1 with errno (EINVAL and *err: corrupt). */
static int
queue_read_header(int fd, struct queue_envelope *env, const char **err)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 eof = 0;

	for (;;) {
		if (len == cap && cap < QUEUE_HEADER_MAX) {
			cap = cap ? cap * 2 : 16 * 1024;
			if (cap > QUEUE_HEADER_MAX)
				cap = QUEUE_HEADER_MAX;
			buf = xrealloc(buf, cap);
		}
		if (len < cap && !eof) {
			n = pread(fd, buf + len, cap - len, (off_t)len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(buf);
				return -1;
			}
			eof = n == 0;
			len += (size_t)n;
			if (len < cap && !eof)
				continue;	/* fill the chunk before parsing */
		}
		if (queue_envelope_parse(buf, len, env, err) == 0)
			break;
		/* Only a header cut short by the chunk is worth reading on. */
		if (eof || len >= QUEUE_HEADER_MAX ||
		    (strcmp(*err, "missing data record") != 0 &&
		    strcmp(*err, "truncated header") != 0)) {
			free(buf);
			errno = EINVAL;
			return -1;
		}
	}
	free(buf);
	return 0;
}

int
queue_file_open(enum queue_dir d, const char *id, int flags,
    struct queue_envelope *env, int *fdp, const char **err)
{
	char		 path[QUEUE_PATH_SIZE];
	const char	*why = NULL;
	int		 fd, saved;

	memset(env, 0, sizeof(*env));
	if (err != NULL)
		*err = NULL;
	if (queue_path(path, sizeof(path), d, id) < 0) {
		errno = EINVAL;
		if (err != NULL)
			*err = "bad queue id";
		return -1;
	}
	flags &= O_ACCMODE;
	if ((fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (queue_read_header(fd, env, &why) < 0) {
		saved = errno;
		close(fd);
		if (err != NULL && saved == EINVAL)
			*err = why;
		errno = saved;
		return -1;
	}
	/* A file renamed by hand, or misplaced, must not be delivered under
	 * another message's id. */
	if (strcmp(env->id, id) != 0) {
		queue_envelope_free(env);
		close(fd);
		if (err != NULL)
			*err = "id does not match file name";
		errno = EINVAL;
		return -1;
	}
	/* Leave the offset at the message so a plain read() gets its text. */
	if (lseek(fd, env->data_off, SEEK_SET) < 0) {
		saved = errno;
		queue_envelope_free(env);
		close(fd);
		errno = saved;
		return -1;
	}
	*fdp = fd;
	return 0;
}

int
queue_rcpt_write(int fd, const struct queue_envelope *env, int i, char status)
{
	ssize_t	 n;

	if (i < 0 || i >= env->nrcpt || (status != RCPT_PENDING &&
	    status != RCPT_DELIVERED && status != RCPT_BOUNCED)) {
		errno = EINVAL;
		return -1;
	}
	do
		n = pwrite(fd, &status, 1, env->rcpt[i].status_off);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

int
queue_rcpt_mark(int fd, struct queue_envelope *env, int i, char status)
{
	if (queue_rcpt_write(fd, env, i, status) < 0 || fdatasync(fd) < 0)
		return -1;
	env->rcpt[i].status = status;
	return 0;
}

int
queue_pending_count(const struct queue_envelope *env)
{
	int	 i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].status == RCPT_PENDING)
			n++;
	return n;
}

