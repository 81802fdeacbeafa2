/*
 * queue_outcome - outcome records after a queue file's message (format in
 * queue_file.h).  The writer checks what it can (action, status code, host)
 * and makes the free text safe, since it may come from a remote server;
 * the reader is strict and stops at the first line that is not a complete
 * record, which is where a torn append would have left its bytes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "queue_outcome.h"

#define OUTCOME_ACTIONS		"DBTREFWS"
#define OUTCOME_CHUNK	(16 * 1024)	/* > QUEUE_OUTCOME_MAX */

/* RFC 3463: class "." subject "." detail, class 2, 4 or 5, the others one
 * to three digits. */
static int
outcome_code_valid(const char *v, size_t n)
{
	size_t	 i = 2, digits, part;

	if (n < 5 || n >= QUEUE_CODE_SIZE || (v[0] != '2' && v[0] != '4' &&
	    v[0] != '5') || v[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0 && (i >= n || v[i++] != '.'))
			return 0;
	}
	return i == n;
}

/* A host as the record holds it: printable ASCII, no space, not "-". */
static int
outcome_host_valid(const char *v, size_t n)
{
	size_t	 i;

	if (n == 0 || n >= QUEUE_HOST_SIZE || (n == 1 && v[0] == '-'))
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return 0;
	return 1;
}

int
queue_outcome_format(const struct queue_outcome *o, char *out, size_t outlen)
{
	size_t	 clen = strnlen(o->code, sizeof(o->code));
	size_t	 hlen = strnlen(o->host, sizeof(o->host));
	size_t	 tlen = strnlen(o->text, QUEUE_TEXT_MAX), i;
	int	 n;

	/* Within what the reader takes: 9 and 18 digits. */
	if (o->rcpt < 0 || o->rcpt > 999999999 || o->time < 0 ||
	    o->time > 999999999999999999LL || o->action == '\0' ||
	    strchr(OUTCOME_ACTIONS, o->action) == NULL ||
	    (clen > 0 && !outcome_code_valid(o->code, clen)) ||
	    (hlen > 0 && !outcome_host_valid(o->host, hlen))) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(out, outlen, "outcome %d %c %lld %s %s ", o->rcpt,
	    o->action, o->time, clen > 0 ? o->code : "-",
	    hlen > 0 ? o->host : "-");
	if (n < 0 || (size_t)n + tlen + 1 >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A remote server's text must not end the record or start another. */
	for (i = 0; i < tlen; i++)
		out[n + i] = (unsigned char)o->text[i] < 0x20 ||
		    o->text[i] == 0x7f ? '?' : o->text[i];
	out[n + tlen] = '\n';
	out[n + tlen + 1] = '\0';
	return n + (int)tlen + 1;
}

/* The next space-terminated field of [*p, end); 0 if there is none. */
static int
outcome_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char	*sp = memchr(*p, ' ', (size_t)(end - *p));

	if (sp == NULL)
		return 0;
	*f = *p;
	*n = (size_t)(sp - *p);
	*p = sp + 1;
	return 1;
}

/* Digits only, no leading zero, at most max of them. */
static int
outcome_number(const char *v, size_t n, size_t max, long long *out)
{
	long long	 t = 0;
	size_t		 i;

	if (n == 0 || n > max || (n > 1 && v[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		t = t * 10 + (v[i] - '0');
	}
	*out = t;
	return 0;
}

static int
outcome_fail(const char **err, const char *why)
{
	if (err != NULL)
		*err = why;
	return -1;
}

int
queue_outcome_parse(const char *line, size_t len, int nrcpt,
    struct queue_outcome *o, const char **err)
{
	const char	*p = line, *end = line + len, *f;
	size_t		 n;
	long long	 v;

	memset(o, 0, sizeof(*o));
	if (len < 8 || memcmp(line, "outcome ", 8) != 0)
		return outcome_fail(err, "not an outcome record");
	p += 8;
	if (!outcome_field(&p, end, &f, &n) ||
	    outcome_number(f, n, 9, &v) < 0 || v >= nrcpt)
		return outcome_fail(err, "bad recipient index");
	o->rcpt = (int)v;
	if (!outcome_field(&p, end, &f, &n) || n != 1 || f[0] == '\0' ||
	    strchr(OUTCOME_ACTIONS, f[0]) == NULL)
		return outcome_fail(err, "bad action");
	o->action = f[0];
	if (!outcome_field(&p, end, &f, &n) || outcome_number(f, n, 18, &v) < 0)
		return outcome_fail(err, "bad time");
	o->time = v;
	if (!outcome_field(&p, end, &f, &n) || (!(n == 1 && f[0] == '-') &&
	    !outcome_code_valid(f, n)))
		return outcome_fail(err, "bad status code");
	if (f[0] != '-')
		memcpy(o->code, f, n);
	if (!outcome_field(&p, end, &f, &n) || (!(n == 1 && f[0] == '-') &&
	    !outcome_host_valid(f, n)))
		return outcome_fail(err, "bad host");
	if (!(n == 1 && f[0] == '-'))	/* "-x" is a host, "-" none */
		memcpy(o->host, f, n);
	if (!queue_text_clean(p, (size_t)(end - p), QUEUE_TEXT_MAX))
		return outcome_fail(err, "bad text");
	memcpy(o->text, p, (size_t)(end - p));
	return 0;
}

/* Parse the complete lines of buf[0..len) as records, calling fn for
 * each; *used is how far the valid records reach, *bad set at a line that
 * is not one.  fn's non-zero value, or 0. */
static int
outcome_scan(const char *buf, size_t len, const struct queue_envelope *env,
    int (*fn)(const struct queue_outcome *, void *), void *arg, size_t *used,
    int *bad)
{
	struct queue_outcome	 o;
	const char		*nl;
	size_t			 pos = 0;
	int			 r;

	*used = 0;
	while ((nl = memchr(buf + pos, '\n', len - pos)) != NULL) {
		if (queue_outcome_parse(buf + pos, (size_t)(nl - buf) - pos,
		    env->nrcpt, &o, NULL) < 0) {
			*bad = 1;
			return 0;
		}
		pos = (size_t)(nl - buf) + 1;
		*used = pos;
		if (fn != NULL && (r = fn(&o, arg)) != 0)
			return r;
	}
	return 0;
}

/* Fill buf[*have..OUTCOME_CHUNK) from the file at off + *have.  0 or -1;
 * *eof set at the end of the file. */
static int
outcome_fill(int fd, char *buf, size_t *have, off_t off, int *eof)
{
	ssize_t	 n;

	do
		n = pread(fd, buf + *have, OUTCOME_CHUNK - *have,
		    off + (off_t)*have);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	*eof = n == 0;
	*have += (size_t)n;
	return 0;
}

/* Note where the records end, and whether bytes follow them there. */
static int
outcome_set_end(int fd, struct queue_envelope *env, off_t end)
{
	struct stat	 st;

	if (fstat(fd, &st) < 0)
		return -1;
	env->outcome_end = end;
	env->outcome_torn = st.st_size > end;
	return 0;
}

int
queue_outcome_read(int fd, struct queue_envelope *env,
    int (*fn)(const struct queue_outcome *, void *), void *arg)
{
	char	*buf;
	off_t	 off;
	size_t	 have = 0, used;
	int	 eof = 0, bad = 0, r = 0;

	if (env->version < 2)
		return 0;
	if (env->data_len < 0) {
		errno = EINVAL;
		return -1;
	}
	off = env->data_off + env->data_len;
	buf = xmalloc(OUTCOME_CHUNK);
	for (;;) {
		if (outcome_fill(fd, buf, &have, off, &eof) < 0) {
			free(buf);
			return -1;
		}
		r = outcome_scan(buf, have, env, fn, arg, &used, &bad);
		off += (off_t)used;
		have -= used;
		memmove(buf, buf + used, have);
		/* fn's stop, a bad line, the end, or a line far too long. */
		if (r != 0 || bad || eof || have >= QUEUE_OUTCOME_MAX)
			break;
	}
	free(buf);
	if (r != 0)
		return r;	/* stopped early: the end is not known */
	return outcome_set_end(fd, env, off);
}

int
queue_outcome_write(int fd, struct queue_envelope *env,
    const struct queue_outcome *o)
{
	char	 line[QUEUE_OUTCOME_MAX + 1];
	int	 len;

	if (env->version < 2) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (o->rcpt >= env->nrcpt) {
		errno = EINVAL;
		return -1;
	}
	if ((len = queue_outcome_format(o, line, sizeof(line))) < 0)
		return -1;
	if (env->outcome_end == 0 &&
	    queue_outcome_read(fd, env, NULL, NULL) < 0)
		return -1;
	if (queue_pwrite_all(fd, line, (size_t)len, env->outcome_end) < 0) {
		env->outcome_torn = 1;	/* some of it may be there */
		return -1;
	}
	/* Bytes of a torn append, or of this one if it failed before, must
	 * not follow the new record. */
	if (env->outcome_torn &&
	    ftruncate(fd, env->outcome_end + (off_t)len) < 0)
		return -1;
	env->outcome_torn = 0;
	env->outcome_end += (off_t)len;
	return 0;
}

int
queue_outcome_append(int fd, struct queue_envelope *env,
    const struct queue_outcome *o)
{
	if (queue_outcome_write(fd, env, o) < 0 || fdatasync(fd) < 0)
		return -1;
	return 0;
}
