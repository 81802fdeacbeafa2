/*
 * queue_file - the queue file format (queue_file.h): parse and write the
 * header, read a file's header from a descriptor, and the in-place status
 * marks.  The header parser is strict and bounded: a file that does not
 * match queue_file.h to the byte is corrupt, and qmgr moves it aside rather
 * than guessing.  Nothing here needs the queue directory except
 * queue_file_open(), so tools can use the format on any buffer or file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "decimal.h"
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

int
queue_text_clean(const char *v, size_t n, size_t max)
{
	size_t	 i;

	if (n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

static int
queue_clean_value(const char *v, size_t n)
{
	return queue_text_clean(v, n, QUEUE_ADDR_MAX);
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

/* Is there a next line?  Otherwise the header was cut short. */
static int
queue_need_line(struct queue_parser *qp)
{
	if (!queue_next_line(qp))
		return queue_fail(qp, "truncated header");
	return 0;
}

/* Decimal digits only, at most max of them, into *out.  0 or -1. */
static int
queue_number(const char *v, size_t n, size_t max, long long *out)
{
	unsigned long long	 t = 0;
	size_t			 i;

	if (n == 0 || n > max)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' ||
		    t > ((unsigned long long)INT64_MAX - 9) / 10)
			return -1;
		t = t * 10 + (unsigned long long)(v[i] - '0');
	}
	*out = (long long)t;
	return 0;
}

/* A "kw value" record whose value is one of names[0..n); its index. */
static int
queue_choice_record(struct queue_parser *qp, const char *kw,
    const char *const *names, int n, int *out, const char *why)
{
	const char	*v;
	size_t		 vl;
	int		 i;

	if (queue_need_line(qp) < 0)
		return -1;
	if (!queue_record(qp, kw, &v, &vl))
		return queue_fail(qp, why);
	for (i = 0; i < n; i++)
		if (strlen(names[i]) == vl && memcmp(names[i], v, vl) == 0) {
			*out = i;
			return 0;
		}
	return queue_fail(qp, why);
}

static const char *const queue_body_names[] = { "", "7BIT", "8BITMIME" };
static const char *const queue_ret_names[] = { "", "FULL", "HDRS" };
static const char *const queue_bool_names[] = { "0", "1" };
static const char *const queue_notify_names[] = {
	"NEVER", "SUCCESS", "FAILURE", "DELAY"	/* bit 1 << i */
};

/* NOTIFY bits as written: "", "NEVER" or a list in canonical order; -1
 * for a set no client can give (NEVER with others, unknown bits). */
static int
queue_notify_format(int bits, char *out, size_t outlen)
{
	size_t	 i;

	out[0] = '\0';
	if (bits & ~0xf || ((bits & QUEUE_NOTIFY_NEVER) &&
	    bits != QUEUE_NOTIFY_NEVER))
		return -1;
	for (i = 0; i < 4; i++)
		if (bits & (1 << i)) {
			if (out[0] != '\0')
				strlcat(out, ",", outlen);
			strlcat(out, queue_notify_names[i], outlen);
		}
	return 0;
}

/* A notify record; only the canonical spelling of a valid set passes. */
static int
queue_notify_record(struct queue_parser *qp, int *bits)
{
	char		 canon[32];
	const char	*v, *p, *end;
	size_t		 vl, tl, i;

	if (queue_need_line(qp) < 0)
		return -1;
	if (!queue_record(qp, "notify", &v, &vl) || vl >= sizeof(canon))
		return queue_fail(qp, "bad notify record");
	*bits = 0;
	for (p = v, end = v + vl; p < end; p += tl + 1) {
		const char *comma = memchr(p, ',', (size_t)(end - p));

		tl = comma != NULL ? (size_t)(comma - p) : (size_t)(end - p);
		for (i = 0; i < 4; i++)
			if (strlen(queue_notify_names[i]) == tl &&
			    memcmp(queue_notify_names[i], p, tl) == 0)
				break;
		if (i == 4)
			return queue_fail(qp, "bad notify record");
		*bits |= 1 << i;
	}
	if (queue_notify_format(*bits, canon, sizeof(canon)) < 0 ||
	    strlen(canon) != vl || memcmp(canon, v, vl) != 0)
		return queue_fail(qp, "bad notify record");
	return 0;
}

/* ORCPT is empty or "addr-type;address" (RFC 3461 section 4.2). */
static int
queue_orcpt_valid(const char *v)
{
	const char	*semi;

	if (v == NULL || *v == '\0')
		return 1;
	if ((semi = strchr(v, ';')) == NULL || semi == v || semi[1] == '\0')
		return 0;
	return strcspn(v, " ") >= (size_t)(semi - v);
}

static int
queue_parse_version(struct queue_parser *qp, struct queue_envelope *env)
{
	if (!queue_next_line(qp) || qp->linelen != 12 ||
	    memcmp(qp->line, "tern-queue ", 11) != 0 ||
	    (qp->line[11] != '1' && qp->line[11] != '2'))
		return queue_fail(qp, "bad version line");
	env->version = qp->line[11] - '0';
	return 0;
}

/* "size" and its fixed-width value: digits, or the unfinished mark. */
static int
queue_parse_size(struct queue_parser *qp, struct queue_envelope *env)
{
	const char	*v;
	size_t		 n;
	long long	 size;

	if (queue_need_line(qp) < 0)
		return -1;
	if (!queue_record(qp, "size", &v, &n) || n != QUEUE_SIZE_DIGITS)
		return queue_fail(qp, "bad size record");
	env->size_off = (off_t)(v - qp->buf);
	if (strspn(v, "-") >= n) {
		env->data_len = -1;
		return 0;
	}
	if (queue_number(v, n, n, &size) < 0)
		return queue_fail(qp, "bad size record");
	env->data_len = (off_t)size;
	return 0;
}

static int
queue_parse_head(struct queue_parser *qp, struct queue_envelope *env)
{
	const char	*v;
	size_t		 n;

	if (queue_parse_version(qp, env) < 0)
		return -1;
	if (!queue_next_line(qp) || !queue_record(qp, "id", &v, &n) ||
	    n == 0 || n >= QUEUE_ID_SIZE)
		return queue_fail(qp, "bad id record");
	memcpy(env->id, v, n);
	env->id[n] = '\0';
	if (!queue_id_valid(env->id))
		return queue_fail(qp, "bad id record");
	if (!queue_next_line(qp) || !queue_record(qp, "time", &v, &n) ||
	    queue_number(v, n, 18, &env->arrival) < 0)
		return queue_fail(qp, "bad time record");
	if (env->version >= 2 && queue_parse_size(qp, env) < 0)
		return -1;
	if (queue_string_record(qp, "from", 1, &env->sender, "bad from record") < 0 ||
	    queue_string_record(qp, "client", 0, &env->client, "bad client record") < 0 ||
	    queue_string_record(qp, "helo", 0, &env->helo, "bad helo record") < 0)
		return -1;
	return 0;
}

/* The version 2 records between helo and the first rcpt. */
static int
queue_parse_dsn(struct queue_parser *qp, struct queue_envelope *env)
{
	int	 body, ret;

	if (queue_choice_record(qp, "body", queue_body_names, 3, &body,
	    "bad body record") < 0 ||
	    queue_choice_record(qp, "smtputf8", queue_bool_names, 2,
	    &env->smtputf8, "bad smtputf8 record") < 0 ||
	    queue_choice_record(qp, "ret", queue_ret_names, 3, &ret,
	    "bad ret record") < 0 ||
	    queue_string_record(qp, "envid", 1, &env->envid,
	    "bad envid record") < 0)
		return -1;
	env->body = (enum queue_body)body;
	env->ret = (enum queue_ret)ret;
	return 0;
}

/* A rcpt line's "<S> <address>"; its orcpt and notify lines follow in
 * version 2. */
static int
queue_parse_rcpt(struct queue_parser *qp, const char *v, size_t n,
    struct queue_rcpt *r)
{
	if (n < 3 || v[1] != ' ')
		return queue_fail(qp, "bad rcpt record");
	if (v[0] != RCPT_PENDING && v[0] != RCPT_DELIVERED &&
	    v[0] != RCPT_BOUNCED)
		return queue_fail(qp, "bad rcpt status");
	if (!queue_clean_value(v + 2, n - 2))
		return queue_fail(qp, "bad rcpt address");
	r->addr = xstrndup(v + 2, n - 2);
	r->status = v[0];
	r->status_off = (off_t)(v - qp->buf);
	return 0;
}

static int
queue_parse_rcpt_dsn(struct queue_parser *qp, struct queue_rcpt *r)
{
	if (queue_string_record(qp, "orcpt", 1, &r->orcpt,
	    "bad orcpt record") < 0)
		return -1;
	if (!queue_orcpt_valid(r->orcpt))
		return queue_fail(qp, "bad orcpt record");
	return queue_notify_record(qp, &r->notify);
}

static int
queue_parse_rcpts(struct queue_parser *qp, struct queue_envelope *env)
{
	struct queue_rcpt	*r;
	const char		*v;
	size_t			 n;
	int			 cap = 0;

	for (;;) {
		if (!queue_next_line(qp))
			return queue_fail(qp, "missing data record");
		if (qp->linelen == 4 && memcmp(qp->line, "data", 4) == 0)
			break;
		if (!queue_record(qp, "rcpt", &v, &n))
			return queue_fail(qp, "unexpected record");
		if (env->nrcpt == cap) {
			cap = cap ? cap * 2 : 8;
			env->rcpt = xreallocarray(env->rcpt, (size_t)cap,
			    sizeof(*env->rcpt));
		}
		r = &env->rcpt[env->nrcpt];
		memset(r, 0, sizeof(*r));
		if (queue_parse_rcpt(qp, v, n, r) < 0)
			return -1;
		env->nrcpt++;
		if (env->version >= 2 && queue_parse_rcpt_dsn(qp, r) < 0)
			return -1;
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
	env->data_len = -1;
	memset(&qp, 0, sizeof(qp));
	qp.buf = buf;
	qp.len = len;
	if (buf == NULL || queue_parse_head(&qp, env) < 0 ||
	    (env->version >= 2 && queue_parse_dsn(&qp, env) < 0) ||
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

	for (i = 0; i < env->nrcpt; i++) {
		free(env->rcpt[i].addr);
		free(env->rcpt[i].orcpt);
	}
	free(env->rcpt);
	free(env->sender);
	free(env->client);
	free(env->helo);
	free(env->envid);
	memset(env, 0, sizeof(*env));
}

#define QUEUE_STR(p)	((p) != NULL ? (p) : "")

static int
queue_format_head(struct buf *b, const struct queue_envelope *env)
{
	char	 size[QUEUE_SIZE_DIGITS + 1];

	if ((unsigned)env->body > QUEUE_BODY_8BITMIME ||
	    (unsigned)env->ret > QUEUE_RET_HDRS)
		return -1;
	if (env->data_len < 0)
		memset(size, '-', QUEUE_SIZE_DIGITS);
	else if (queue_size_put(size, env->data_len) < 0)
		return -1;
	size[QUEUE_SIZE_DIGITS] = '\0';
	return buf_appendf(b, "tern-queue %d\nid %s\ntime %lld\nsize %s\n"
	    "from %s\nclient %s\nhelo %s\nbody %s\nsmtputf8 %d\nret %s\n"
	    "envid %s\n", QUEUE_FORMAT_VERSION, env->id, env->arrival, size,
	    QUEUE_STR(env->sender), QUEUE_STR(env->client),
	    QUEUE_STR(env->helo),
	    queue_body_names[env->body], env->smtputf8 ? 1 : 0,
	    queue_ret_names[env->ret], QUEUE_STR(env->envid));
}

static int
queue_format_rcpt(struct buf *b, const struct queue_rcpt *r)
{
	char	 notify[32];

	if (queue_notify_format(r->notify, notify, sizeof(notify)) < 0)
		return -1;
	return buf_appendf(b, "rcpt %c %s\norcpt %s\nnotify %s\n", r->status,
	    QUEUE_STR(r->addr), QUEUE_STR(r->orcpt), notify);
}

char *
queue_envelope_format(const struct queue_envelope *env, size_t *lenp)
{
	struct queue_envelope	 check;
	struct buf		 b;
	int			 i, ok;

	buf_init(&b, QUEUE_HEADER_MAX);
	ok = queue_format_head(&b, env) == 0;
	for (i = 0; ok && i < env->nrcpt; i++)
		ok = queue_format_rcpt(&b, &env->rcpt[i]) == 0;
	ok = ok && buf_append_str(&b, "data\n") == 0;
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

/* Where does the message end?  Version 1: at the end of the file; version
 * 2: where the size record says, which must lie within the file. */
static int
queue_check_length(struct queue_envelope *env, off_t file_size,
    const char **err)
{
	const char	*why = NULL;

	if (env->version < 2)
		env->data_len = file_size - env->data_off;
	else if (env->data_len < 0)
		why = "unfinished file";
	else if (env->data_len > file_size - env->data_off)
		why = "truncated message";
	if (why == NULL)
		return 0;
	if (err != NULL)
		*err = why;
	queue_envelope_free(env);
	errno = EINVAL;
	return -1;
}

int
queue_file_parse(const char *buf, size_t len, struct queue_envelope *env,
    const char **err)
{
	if (queue_envelope_parse(buf, len, env, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	return queue_check_length(env, (off_t)len, err);
}

/* Read the start of the file, growing until the header parses or cannot
 * fit QUEUE_HEADER_MAX.  0, -1 with errno (EINVAL and *err: corrupt).
 * The usual file (a header and a message of a few KiB) takes one pread.
 * *end: the file's size when a read came back short (a regular file's
 * read stops short only at its end), else -1.  With head, the bytes read
 * are handed over (*head malloc'd, *headlen of them). */
static int
queue_read_header(int fd, struct queue_envelope *env, const char **err,
    off_t *end, char **head, size_t *headlen)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, want;
	ssize_t	 n;
	int	 eof = 0, short_read = 0;

	for (;;) {
		if (len == cap && cap < QUEUE_HEADER_MAX) {
			cap = cap ? cap * 2 : 16 * 1024;
			if (cap > QUEUE_HEADER_MAX)
				cap = QUEUE_HEADER_MAX;
			buf = xrealloc(buf, cap);
		}
		if (len < cap && !eof) {
			want = cap - len;
			n = pread(fd, buf + len, want, (off_t)len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				free(buf);
				return -1;
			}
			eof = n == 0;
			short_read = (size_t)n < want;
			len += (size_t)n;
			/* A short read of a regular file is usually its end:
			 * a header that parses needs no second read to say
			 * so.  One that does not, fill the chunk first. */
			if (len < cap && !eof && (n == 0 ||
			    queue_envelope_parse(buf, len, env, err) < 0))
				continue;
			if (len < cap && !eof)
				break;
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
	*end = short_read ? (off_t)len : -1;
	if (head != NULL) {
		*head = buf;
		*headlen = len;
	} else
		free(buf);
	return 0;
}

int
queue_file_read_head(int fd, struct queue_envelope *env, const char **err,
    char **head, size_t *headlen)
{
	struct stat	 st;
	const char	*why = NULL;
	off_t		 size;
	int		 saved;

	memset(env, 0, sizeof(*env));
	if (head != NULL)
		*head = NULL;
	if (queue_read_header(fd, env, &why, &size, head, headlen) < 0) {
		if (err != NULL && errno == EINVAL)
			*err = why;
		return -1;
	}
	/* The read that came back short saw the end: no fstat needed. */
	if (size < 0) {
		if (fstat(fd, &st) < 0) {
			saved = errno;
			queue_envelope_free(env);
			if (head != NULL) {
				free(*head);
				*head = NULL;
			}
			errno = saved;
			return -1;
		}
		size = st.st_size;
	}
	env->file_size = size;
	if (queue_check_length(env, size, err) == 0)
		return 0;
	if (head != NULL) {
		free(*head);
		*head = NULL;
	}
	return -1;
}

int
queue_file_read(int fd, struct queue_envelope *env, const char **err)
{
	return queue_file_read_head(fd, env, err, NULL, NULL);
}

int
queue_open_noatime(const char *path, int flags)
{
	int	 fd;

	fd = open(path, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, flags);
	return fd;
}

int
queue_file_open(enum queue_dir d, const char *id, int flags,
    struct queue_envelope *env, int *fdp, const char **err)
{
	char		 path[QUEUE_PATH_SIZE];
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
	if ((fd = queue_open_noatime(path, flags | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (queue_file_read(fd, env, err) < 0) {
		saved = errno;
		close(fd);
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
queue_pwrite_all(int fd, const void *p, size_t len, off_t off)
{
	ssize_t	 n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p = (const char *)p + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int
queue_size_put(char *p, off_t data_len)
{
	char	*start;

	_Static_assert(QUEUE_SIZE_DIGITS >= DECIMAL_MAX,
	    "every size fits the field");
	if (data_len < 0) {
		errno = EINVAL;
		return -1;
	}
	/* Zero-padded decimal (every message writes it: no printf). */
	start = decimal_put(p + QUEUE_SIZE_DIGITS,
	    (unsigned long long)data_len);
	memset(p, '0', (size_t)(start - p));
	return 0;
}

int
queue_size_write(int fd, off_t size_off, off_t data_len)
{
	char	 v[QUEUE_SIZE_DIGITS];

	if (size_off <= 0 || queue_size_put(v, data_len) < 0) {
		errno = EINVAL;
		return -1;
	}
	return queue_pwrite_all(fd, v, QUEUE_SIZE_DIGITS, size_off);
}

int
queue_rcpt_write(int fd, const struct queue_envelope *env, int i, char status)
{
	if (i < 0 || i >= env->nrcpt || (status != RCPT_PENDING &&
	    status != RCPT_DELIVERED && status != RCPT_BOUNCED)) {
		errno = EINVAL;
		return -1;
	}
	return queue_pwrite_all(fd, &status, 1, env->rcpt[i].status_off);
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

