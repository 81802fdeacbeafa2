/*
 * smtp_reply - the parser of SMTP replies (RFC 5321 section 4.2), fed one
 * line at a time by the session.  Reply lines come from the next MTA and
 * are trusted for nothing: a line must start with three digits of the same
 * code as the lines before it, then '-' (more follow) or ' ' or nothing
 * (the last); the text is kept up to SMTP_TEXT_MAX bytes, control bytes
 * other than TAB make the reply malformed (they could forge log lines or
 * bounce text), and a reply of more than SMTP_REPLY_LINES lines is refused.
 * The enhanced status code (RFC 2034, 3463) is taken from the first line.
 */
#include <string.h>

#include "smtp.h"

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* Digits at s[0..len): how many (at most max+1, so "too many" shows). */
static size_t
dsn_digits(const char *s, size_t len, size_t max)
{
	size_t	 i;

	for (i = 0; i < len && i <= max && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i;
}

size_t
smtp_reply_dsn_parse(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 i, d;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	i = 2;
	if ((d = dsn_digits(s + i, len - i, 3)) < 1 || d > 3)
		return 0;
	i += d;
	if (i >= len || s[i] != '.')
		return 0;
	i++;
	if ((d = dsn_digits(s + i, len - i, 3)) < 1 || d > 3)
		return 0;
	i += d;
	if (i < len && s[i] != ' ')
		return 0;
	if (i + 1 > outlen)
		return 0;
	memcpy(out, s, i);
	out[i] = '\0';
	return i;
}

/* Append text to the kept reply text, a space between lines. */
static void
reply_keep(struct smtp_reply *r, const char *s, size_t len)
{
	size_t	 room;

	if (r->textlen > 0 && r->textlen + 1 < sizeof(r->text))
		r->text[r->textlen++] = ' ';
	room = sizeof(r->text) - 1 - r->textlen;
	if (len > room)
		len = room;
	memcpy(r->text + r->textlen, s, len);
	r->textlen += len;
	r->text[r->textlen] = '\0';
}

int
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	int	 code, last;
	size_t	 i, skip;

	if (r->done || r->lines >= SMTP_REPLY_LINES || len < 3)
		return -1;
	for (i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	if (line[0] < '2' || line[0] > '5')
		return -1;
	for (i = 3; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return -1;
	if (len == 3 || line[3] == ' ')
		last = 1;
	else if (line[3] == '-')
		last = 0;
	else
		return -1;
	r->code = code;
	line += len > 3 ? 4 : 3;
	len -= len > 3 ? 4 : 3;
	if (r->lines == 0 && len > 0 && (code / 100) + '0' == *line &&
	    (skip = smtp_reply_dsn_parse(line, len, r->dsn,
	    sizeof(r->dsn))) > 0) {
		line += skip;
		len -= skip;
		while (len > 0 && *line == ' ') {
			line++;
			len--;
		}
	} else if (r->lines > 0 && (skip = strlen(r->dsn)) > 0 &&
	    len >= skip && memcmp(line, r->dsn, skip) == 0 &&
	    (len == skip || line[skip] == ' ')) {
		/* Repeated on every line by most servers: keep it once. */
		line += skip;
		len -= skip;
		while (len > 0 && *line == ' ') {
			line++;
			len--;
		}
	}
	reply_keep(r, line, len);
	r->lines++;
	r->done = last;
	return last;
}
