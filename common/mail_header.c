/*
 * mail_header - find and walk the header fields of a message, and take
 * the addresses out of an address list (RFC 5322 sections 2.2 and 3.4), as
 * far as a submission needs: display names, comments, quoted strings,
 * angle addresses and groups are understood; anything else in an address
 * is passed on for the caller's syntax check to refuse.
 */
#include <string.h>
#include <strings.h>

#include "mail_header.h"

/* Length of a field name at p (printable, no colon, then ':'), or 0. */
static size_t
mail_field_name(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (p[i] == ':')
			return i;
		if ((unsigned char)p[i] <= 32 || (unsigned char)p[i] >= 127)
			return 0;
	}
	return 0;
}

/* End of the line at off (after its LF, or len). */
static size_t
mail_line_end(const char *buf, size_t len, size_t off)
{
	const char	*nl = memchr(buf + off, '\n', len - off);

	return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

size_t
mail_header_end(const char *buf, size_t len, size_t *body_off)
{
	size_t	 off = 0;

	while (off < len) {
		if (buf[off] == '\n') {
			*body_off = off + 1;
			return off;
		}
		/* A continuation only after a field. */
		if (!((off > 0 && (buf[off] == ' ' || buf[off] == '\t')) ||
		    mail_field_name(buf + off, len - off) > 0))
			break;
		off = mail_line_end(buf, len, off);
	}
	*body_off = off;
	return off;
}

int
mail_header_next(const char *buf, size_t hlen, size_t *off,
    struct mail_field *f)
{
	size_t	 p = *off, n;

	if (p >= hlen || (n = mail_field_name(buf + p, hlen - p)) == 0)
		return 0;
	f->start = p;
	f->name = buf + p;
	f->namelen = n;
	f->value = buf + p + n + 1;
	p = mail_line_end(buf, hlen, p);
	while (p < hlen && (buf[p] == ' ' || buf[p] == '\t'))
		p = mail_line_end(buf, hlen, p);
	f->len = p - f->start;
	f->valuelen = (size_t)(buf + p - f->value);
	if (f->valuelen > 0 && f->value[f->valuelen - 1] == '\n')
		f->valuelen--;
	*off = p;
	return 1;
}

int
mail_field_is(const struct mail_field *f, const char *name)
{
	return strlen(name) == f->namelen &&
	    strncasecmp(f->name, name, f->namelen) == 0;
}

/* Trim white space (and folding) from both ends of s[*a..*b). */
static void
mail_trim(const char *s, size_t *a, size_t *b)
{
	while (*a < *b && (s[*a] == ' ' || s[*a] == '\t' || s[*a] == '\n'))
		(*a)++;
	while (*b > *a && (s[*b - 1] == ' ' || s[*b - 1] == '\t' ||
	    s[*b - 1] == '\n'))
		(*b)--;
}

/* Inside a comment: c at *i (a backslash skips the next byte) changes
 * the nesting depth. */
static void
mail_comment_char(char c, size_t *i, int *depth)
{
	if (c == '\\')
		(*i)++;
	else if (c == '(')
		(*depth)++;
	else if (c == ')')
		(*depth)--;
}

/* One mailbox s[a..b): the part in angle brackets if any, else the text
 * outside comments. */
static int
mail_mailbox(const char *s, size_t a, size_t b,
    void (*cb)(void *, const char *, size_t), void *arg)
{
	char	 out[1024];
	size_t	 i, n = 0, lt = 0;
	int	 depth = 0, quoted = 0, in_angle = 0, have_angle = 0;

	for (i = a; i < b; i++) {
		char	 c = s[i];

		if (quoted) {
			if (c == '\\' && i + 1 < b && n < sizeof(out) - 1)
				out[n++] = s[i++];
			else if (c == '"')
				quoted = 0;
		} else if (depth > 0) {
			mail_comment_char(c, &i, &depth);
			continue;
		} else if (c == '(') {
			depth = 1;
			continue;
		} else if (c == '"') {
			quoted = 1;
		} else if (c == '<' && !in_angle) {
			in_angle = have_angle = 1;
			lt = n = 0;
			continue;
		} else if (c == '>' && in_angle) {
			in_angle = 0;
			lt = n;
			continue;
		} else if (c == ' ' || c == '\t' || c == '\n') {
			continue;
		}
		if (have_angle && !in_angle)
			continue;	/* after the angle address */
		if (n < sizeof(out) - 1)
			out[n++] = c;
	}
	if (have_angle)
		n = lt;
	if (n == 0)
		return 0;
	cb(arg, out, n);
	return 1;
}

int
mail_addrlist(const char *s, size_t len,
    void (*cb)(void *, const char *, size_t), void *arg)
{
	size_t	 i, start = 0, a, b;
	int	 depth = 0, quoted = 0, angle = 0, found = 0;

	for (i = 0; i <= len; i++) {
		char	 c = i < len ? s[i] : ',';

		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = 0;
			if (i < len)
				continue;
			c = ',';
		}
		if (depth > 0) {
			mail_comment_char(c, &i, &depth);
			if (i < len)
				continue;
			c = ',';
		}
		if (c == '"')
			quoted = 1;
		else if (c == '(')
			depth = 1;
		else if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		else if (c == ':' && !angle)
			start = i + 1;	/* a group's name */
		else if ((c == ',' || c == ';') && !angle) {
			a = start;
			b = i < len ? i : len;
			mail_trim(s, &a, &b);
			if (a < b)
				found += mail_mailbox(s, a, b, cb, arg);
			start = i + 1;
		}
	}
	return found;
}
