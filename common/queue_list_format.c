/*
 * queue_list_format - the two renderings of a queue listing (queue_list.h).
 * Text is Postfix's mailq layout to the column, because monitoring plugins
 * parse it: the header, then per message the id with '*' (active) or '!'
 * (held) right after it, the size, the arrival time as asctime's first 20
 * characters, the sender (MAILER-DAEMON for <>), each pending recipient
 * indented to the sender's column, and before a recipient whose delay
 * reason differs from the previous recipient's that reason in parentheses,
 * right-aligned to column 78 (or "(reason unavailable)" when it has none
 * and the previous one had one), as Postfix's postqueue does; a blank line
 * after each message, and at the end "-- N Kbytes in M Requests." (N the
 * sum of message sizes / 1024, rounded down) or "Mail queue is empty".
 * JSON is postqueue -j's: one object per message per line (always valid
 * JSON: a byte that is not part of valid UTF-8 becomes U+FFFD), with
 * queue_name, queue_id, arrival_time, message_size, forced_expire, sender
 * and recipients [{address, delay_reason}].  Text goes to terminals, and
 * a delay reason is whatever the next MTA answered (SMTPUTF8 addresses
 * too may hold any UTF-8): besides C0 controls, which the queue file
 * already refuses, C1 controls (raw bytes 0x80-0x9f, or U+0080-U+009F in
 * UTF-8: CSI is one of them) and bytes that are not UTF-8 are printed as
 * '?', so a listing cannot drive the reader's terminal.  Only stdio
 * errors can fail, and the caller checks the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue_list.h"

#define QL_STRING_FMT	"%-11s %7s %-20s %s\n"
#define QL_MSG_FMT	"%-11s %7lld %20.20s %s\n"
#define QL_DROP_FMT	"%-11s %7lld %20.20s (maildrop queue, sender UID %u)\n"
#define QL_REASON_COL	76
#define QL_NO_REASON	"reason unavailable"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0; its
 * code point in *cpp when cpp is not NULL. */
static size_t
ql_utf8_len(const unsigned char *p, size_t n, unsigned *cpp)
{
	size_t	 len, i;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cpp != NULL)
		*cpp = cp;
	return len;
}

/* s as it may reach a terminal (see the top of the file), malloc'd;
 * NULL if out of memory. */
static char *
ql_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 n = strlen(s), k;
	unsigned	 cp;
	char		*out, *o;

	if ((out = o = malloc(n + 1)) == NULL)
		return NULL;
	while (n > 0) {
		k = 1;
		if (*p < 0x20 || *p == 0x7f)
			*o++ = '?';
		else if (*p < 0x80)
			*o++ = (char)*p;
		else if ((k = ql_utf8_len(p, n, &cp)) == 0 || cp < 0xa0) {
			*o++ = '?';
			k = k == 0 ? 1 : k;
		} else {
			memcpy(o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	*o = '\0';
	return out;
}

/* "Fri Nov 27 06:00:00 " as asctime(localtime()) begins. */
static void
ql_time(long long t, char out[32])
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%a %b %e %H:%M:%S ", &tm) == 0)
		snprintf(out, 32, "%lld", t);
}

/* Appended to the id: active, held, or nothing. */
static const char *
ql_status(enum queue_list_queue q)
{
	return q == QL_ACTIVE ? "*" : q == QL_HOLD ? "!" : "";
}

static void
ql_reason(FILE *f, const char *reason)
{
	char	*clean = ql_printable(reason);
	int	 pad;

	reason = clean != NULL ? clean : "?";
	pad = QL_REASON_COL - (int)strlen(reason);
	fprintf(f, "%*s(%s)\n", pad > 0 ? pad : 0, "", reason);
	free(clean);
}

/* The sender/recipient column, made printable: the message's first line
 * when idst is not NULL, else a recipient's. */
static void
ql_column(FILE *f, const char *idst, long long size, const char *when,
    const char *s)
{
	char		*clean = ql_printable(s);
	const char	*v = clean != NULL ? clean : "?";

	if (idst != NULL)
		fprintf(f, QL_MSG_FMT, idst, size, when, v);
	else
		fprintf(f, QL_STRING_FMT, "", "", "", v);
	free(clean);
}

void
queue_list_text_msg(FILE *f, const struct queue_list_msg *m,
    struct queue_list_total *tot)
{
	const char	*prev = "", *r;
	char		 when[32], idst[QUEUE_ID_SIZE + 2];
	int		 i;

	if (tot->n++ == 0)
		fprintf(f, QL_STRING_FMT, "-Queue ID-", "--Size--",
		    "----Arrival Time----", "-Sender/Recipient-------");
	tot->bytes += m->size;
	ql_time(m->arrival, when);
	if (m->queue == QL_MAILDROP) {
		fprintf(f, QL_DROP_FMT "\n", m->id, m->size, when, m->uid);
		return;
	}
	snprintf(idst, sizeof(idst), "%s%s", m->id, ql_status(m->queue));
	ql_column(f, idst, m->size, when,
	    m->sender == NULL || m->sender[0] == '\0' ? "MAILER-DAEMON" :
	    m->sender);
	for (i = 0; i < m->nrcpt; i++) {
		r = m->rcpt[i].reason != NULL ? m->rcpt[i].reason : "";
		if (strcmp(prev, r) != 0)
			ql_reason(f, r[0] != '\0' ? r : QL_NO_REASON);
		prev = r;
		ql_column(f, NULL, 0, NULL, m->rcpt[i].addr);
	}
	if (m->rcpt_cut > 0)
		fprintf(f, QL_STRING_FMT, "", "", "", "(more recipients)");
	fprintf(f, "\n");
}

void
queue_list_text_end(FILE *f, const struct queue_list_total *tot)
{
	if (tot->n == 0)
		fprintf(f, "Mail queue is empty\n");
	else
		fprintf(f, "-- %lld Kbytes in %d Request%s.\n",
		    tot->bytes / 1024, tot->n, tot->n == 1 ? "" : "s");
}

void
queue_list_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 n = strlen(s), k;

	fputc('"', f);
	while (n > 0) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if (*p >= 0x80) {
			/* Valid UTF-8 as it is; any other byte would make
			 * the line unparsable JSON: U+FFFD instead. */
			if ((k = ql_utf8_len(p, n, NULL)) == 0) {
				fputs("\\ufffd", f);
				k = 1;
			} else
				fwrite(p, 1, k, f);
			p += k;
			n -= k;
			continue;
		} else
			fputc(*p, f);
		p++;
		n--;
	}
	fputc('"', f);
}

void
queue_list_json_msg(FILE *f, const struct queue_list_msg *m)
{
	int	 i;

	fprintf(f, "{\"queue_name\": ");
	queue_list_json_string(f, queue_list_queue_name(m->queue));
	fprintf(f, ", \"queue_id\": ");
	queue_list_json_string(f, m->id);
	fprintf(f, ", \"arrival_time\": %lld, \"message_size\": %lld, "
	    "\"forced_expire\": false, \"sender\": ", m->arrival, m->size);
	queue_list_json_string(f, m->sender != NULL ? m->sender : "");
	fprintf(f, ", \"recipients\": [");
	for (i = 0; i < m->nrcpt; i++) {
		fprintf(f, "%s{\"address\": ", i ? ", " : "");
		queue_list_json_string(f, m->rcpt[i].addr);
		if (m->rcpt[i].reason != NULL && m->rcpt[i].reason[0] != '\0') {
			fprintf(f, ", \"delay_reason\": ");
			queue_list_json_string(f, m->rcpt[i].reason);
		}
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}
