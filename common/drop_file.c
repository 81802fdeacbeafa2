/*
 * drop_file - read and write the maildrop file format (drop_file.h).  The
 * reader is the pickup service's first line of defence against a hostile
 * local user: it checks every record against a fixed grammar and bound,
 * and refuses the whole file on the first thing it does not expect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drop_file.h"

#define DROP_SIZE_MAX	(1LL << 40)	/* far above any message limit */

int
drop_value_ok(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* A decimal in s[0..len), no sign, no leading zeros but "0".  0 or -1. */
static int
drop_number(const char *s, size_t len, long long max, long long *out)
{
	long long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int
drop_word(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* One "key value" line: the key and value within the line.  The value is
 * everything after the first space (may be empty); no space: no value. */
struct drop_line {
	const char	*key, *val;
	size_t		 keylen, vallen;
	int		 has_val;
};

static int
drop_split(const char *p, size_t len, struct drop_line *l)
{
	const char	*sp = memchr(p, ' ', len);

	if (!drop_value_ok(p, len))
		return -1;
	l->key = p;
	l->keylen = sp != NULL ? (size_t)(sp - p) : len;
	l->has_val = sp != NULL;
	l->val = sp != NULL ? sp + 1 : p + len;
	l->vallen = sp != NULL ? len - l->keylen - 1 : 0;
	return 0;
}

/* Keys seen once; rcpt may repeat. */
enum { SEEN_UID = 1, SEEN_FROM = 2, SEEN_FULLNAME = 4, SEEN_BODY = 8,
	SEEN_RET = 16, SEEN_ENVID = 32, SEEN_NOTIFY = 64, SEEN_SIZE = 128 };

static int
drop_once(int *seen, int bit)
{
	if (*seen & bit)
		return -1;
	*seen |= bit;
	return 0;
}

/* Apply one record to env.  0, or -1 with *err. */
static int
drop_record(const struct drop_line *l, struct drop_envelope *env, int *seen,
    long long *size, const char **err)
{
	long long	 v;

	*err = "bad record";
	if (!l->has_val)
		return -1;
	if (drop_word(l->key, l->keylen, "uid")) {
		if (drop_once(seen, SEEN_UID) < 0 ||
		    drop_number(l->val, l->vallen, 0xffffffffLL, &env->uid) < 0)
			return (*err = "bad uid record"), -1;
	} else if (drop_word(l->key, l->keylen, "from")) {
		if (drop_once(seen, SEEN_FROM) < 0)
			return (*err = "repeated from record"), -1;
		env->sender = xstrndup(l->val, l->vallen);
	} else if (drop_word(l->key, l->keylen, "fullname")) {
		if (drop_once(seen, SEEN_FULLNAME) < 0)
			return (*err = "repeated fullname record"), -1;
		env->fullname = xstrndup(l->val, l->vallen);
	} else if (drop_word(l->key, l->keylen, "body")) {
		if (drop_once(seen, SEEN_BODY) < 0)
			return (*err = "bad body record"), -1;
		if (drop_word(l->val, l->vallen, "7BIT"))
			env->body = QUEUE_BODY_7BIT;
		else if (drop_word(l->val, l->vallen, "8BITMIME"))
			env->body = QUEUE_BODY_8BITMIME;
		else
			return (*err = "bad body record"), -1;
	} else if (drop_word(l->key, l->keylen, "ret")) {
		if (drop_once(seen, SEEN_RET) < 0)
			return (*err = "bad ret record"), -1;
		if (drop_word(l->val, l->vallen, "FULL"))
			env->ret = QUEUE_RET_FULL;
		else if (drop_word(l->val, l->vallen, "HDRS"))
			env->ret = QUEUE_RET_HDRS;
		else
			return (*err = "bad ret record"), -1;
	} else if (drop_word(l->key, l->keylen, "envid")) {
		if (drop_once(seen, SEEN_ENVID) < 0 || l->vallen == 0 ||
		    l->vallen > 100 || memchr(l->val, ' ', l->vallen) != NULL)
			return (*err = "bad envid record"), -1;
		env->envid = xstrndup(l->val, l->vallen);
	} else if (drop_word(l->key, l->keylen, "notify")) {
		if (drop_once(seen, SEEN_NOTIFY) < 0 ||
		    drop_number(l->val, l->vallen, QUEUE_NOTIFY_NEVER |
		    QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE |
		    QUEUE_NOTIFY_DELAY, &v) < 0 || v == 0 ||
		    ((v & QUEUE_NOTIFY_NEVER) && v != QUEUE_NOTIFY_NEVER))
			return (*err = "bad notify record"), -1;
		env->notify = (int)v;
	} else if (drop_word(l->key, l->keylen, "rcpt")) {
		if (env->nrcpt >= DROP_RCPT_MAX)
			return (*err = "too many recipients"), -1;
		if (l->vallen == 0 || memchr(l->val, ' ', l->vallen) != NULL)
			return (*err = "bad rcpt record"), -1;
		env->rcpt[env->nrcpt++] = xstrndup(l->val, l->vallen);
	} else if (drop_word(l->key, l->keylen, "size")) {
		if (drop_once(seen, SEEN_SIZE) < 0 ||
		    drop_number(l->val, l->vallen, DROP_SIZE_MAX, size) < 0)
			return (*err = "bad size record"), -1;
	} else {
		return (*err = "unknown record"), -1;
	}
	return 0;
}

int
drop_parse(const char *buf, size_t len, struct drop_envelope *env,
    const char **err)
{
	struct drop_line l;
	const char	*p = buf, *nl;
	long long	 size = -1;
	size_t		 left = len, linelen;
	int		 seen = 0, first = 1;

	memset(env, 0, sizeof(*env));
	env->rcpt = xcalloc(DROP_RCPT_MAX, sizeof(*env->rcpt));
	for (;;) {
		nl = memchr(p, '\n', left < DROP_LINE_MAX ? left : DROP_LINE_MAX);
		if (nl == NULL) {
			*err = left < DROP_LINE_MAX ? "truncated header" :
			    "header line too long";
			goto fail;
		}
		linelen = (size_t)(nl - p);
		if (first) {
			if (linelen != 11 || memcmp(p, "tern-drop 1", 11) != 0) {
				*err = "not a version 1 drop file";
				goto fail;
			}
			first = 0;
		} else if (linelen == 4 && memcmp(p, "data", 4) == 0) {
			left -= linelen + 1;
			p = nl + 1;
			break;
		} else if (drop_split(p, linelen, &l) < 0) {
			*err = "control character in a record";
			goto fail;
		} else if (drop_record(&l, env, &seen, &size, err) < 0)
			goto fail;
		left -= linelen + 1;
		p = nl + 1;
	}
	if ((seen & (SEEN_UID | SEEN_FROM | SEEN_SIZE)) !=
	    (SEEN_UID | SEEN_FROM | SEEN_SIZE) || env->nrcpt == 0) {
		*err = "missing uid, from, size or rcpt record";
		goto fail;
	}
	if ((unsigned long long)size != left) {
		*err = (unsigned long long)size > left ? "truncated message" :
		    "bytes after the message";
		goto fail;
	}
	env->data_off = (size_t)(p - buf);
	env->data_len = left;
	*err = NULL;
	return 0;
fail:
	drop_envelope_free(env);
	return -1;
}

void
drop_envelope_free(struct drop_envelope *env)
{
	int	 i;

	if (env->rcpt != NULL)
		for (i = 0; i < env->nrcpt; i++)
			free(env->rcpt[i]);
	free(env->rcpt);
	free(env->sender);
	free(env->fullname);
	free(env->envid);
	memset(env, 0, sizeof(*env));
}

static const char *
drop_body_name(enum queue_body b)
{
	return b == QUEUE_BODY_7BIT ? "7BIT" :
	    b == QUEUE_BODY_8BITMIME ? "8BITMIME" : NULL;
}

static const char *
drop_ret_name(enum queue_ret r)
{
	return r == QUEUE_RET_FULL ? "FULL" : r == QUEUE_RET_HDRS ? "HDRS" :
	    NULL;
}

/* May s stand as one record's value?  NULL is fine (not written). */
static int
drop_str_ok(const char *s)
{
	return s == NULL || drop_value_ok(s, strlen(s));
}

char *
drop_format(const struct drop_envelope *env, size_t *len)
{
	struct drop_envelope check;
	struct buf	 b;
	const char	*err;
	int		 i, ok;

	ok = drop_str_ok(env->sender) && drop_str_ok(env->fullname) &&
	    drop_str_ok(env->envid);
	for (i = 0; ok && i < env->nrcpt; i++)
		ok = drop_str_ok(env->rcpt[i]);
	if (!ok) {
		errno = EINVAL;
		return NULL;
	}
	buf_init(&b, DROP_LINE_MAX * (DROP_RCPT_MAX + 16));
	ok = buf_appendf(&b, "tern-drop 1\nuid %lld\nfrom %s\n", env->uid,
	    env->sender != NULL ? env->sender : "") == 0;
	if (ok && env->fullname != NULL)
		ok = buf_appendf(&b, "fullname %s\n", env->fullname) == 0;
	if (ok && drop_body_name(env->body) != NULL)
		ok = buf_appendf(&b, "body %s\n", drop_body_name(env->body)) == 0;
	if (ok && drop_ret_name(env->ret) != NULL)
		ok = buf_appendf(&b, "ret %s\n", drop_ret_name(env->ret)) == 0;
	if (ok && env->envid != NULL)
		ok = buf_appendf(&b, "envid %s\n", env->envid) == 0;
	if (ok && env->notify != 0)
		ok = buf_appendf(&b, "notify %d\n", env->notify) == 0;
	for (i = 0; ok && i < env->nrcpt; i++)
		ok = buf_appendf(&b, "rcpt %s\n", env->rcpt[i]) == 0;
	if (ok)
		ok = buf_appendf(&b, "size %zu\ndata\n", env->data_len) == 0;
	/* What the reader would refuse is never written: check the header
	 * with a message of the right length (its bytes do not matter). */
	if (ok) {
		char	*whole = xcalloc(1, b.len + env->data_len + 1);

		memcpy(whole, b.data, b.len);
		ok = drop_parse(whole, b.len + env->data_len, &check, &err) == 0;
		if (ok)
			drop_envelope_free(&check);
		free(whole);
	}
	if (!ok) {
		buf_free(&b);
		errno = EINVAL;
		return NULL;
	}
	*len = b.len;
	return b.data;
}
