/*
 * fuzz_smtp_reply - the SMTP client's reply parser (smtp/smtp_reply.c),
 * which reads what the next MTA says.  The input is cut into lines at LF
 * (a CR before it dropped), fed one by one until the reply is complete or
 * refused.  Invariants: the code is 200-599 once a line was taken; the
 * kept text is NUL-terminated, within SMTP_TEXT_MAX and free of control
 * bytes other than TAB; the enhanced code, when there is one, has the
 * reply's class and is what smtp_reply_dsn_parse accepts again; no more
 * than SMTP_REPLY_LINES lines; a complete reply takes no further line;
 * parsing is deterministic.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/smtp.h"

/* Feed data line by line; the last result (1, 0 or -1). */
static int
feed(struct smtp_reply *r, const char *data, size_t size)
{
	size_t	 i = 0, e, len;
	int	 res = 0;

	smtp_reply_init(r);
	while (i < size) {
		for (e = i; e < size && data[e] != '\n'; e++)
			;
		len = e - i;
		if (len > 0 && data[i + len - 1] == '\r')
			len--;
		res = smtp_reply_line(r, data + i, len);
		if (res != 0)
			break;
		i = e + 1;
	}
	return res;
}

static void
check(const struct smtp_reply *r, int res)
{
	char	 again[sizeof(r->dsn)];
	size_t	 i, n;

	FUZZ_ASSERT(r->lines <= SMTP_REPLY_LINES);
	FUZZ_ASSERT(r->textlen < sizeof(r->text));
	FUZZ_ASSERT(r->text[r->textlen] == '\0' && strlen(r->text) == r->textlen);
	for (i = 0; i < r->textlen; i++)
		FUZZ_ASSERT(((unsigned char)r->text[i] >= 0x20 ||
		    r->text[i] == '\t') && r->text[i] != 0x7f);
	if (r->lines > 0)
		FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
	if (res == 1)
		FUZZ_ASSERT(r->done && r->lines > 0);
	if (r->dsn[0] != '\0') {
		FUZZ_ASSERT(r->dsn[0] - '0' == r->code / 100);
		n = strlen(r->dsn);
		FUZZ_ASSERT(smtp_reply_dsn_parse(r->dsn, n, again,
		    sizeof(again)) == n);
		FUZZ_ASSERT(strcmp(again, r->dsn) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply	 a, b;
	int			 ra, rb;

	ra = feed(&a, (const char *)data, size);
	check(&a, ra);
	if (ra == 1)
		FUZZ_ASSERT(smtp_reply_line(&a, "250 more", 8) == -1);
	rb = feed(&b, (const char *)data, size);
	FUZZ_ASSERT(ra == rb && a.code == b.code && a.lines == b.lines &&
	    strcmp(a.text, b.text) == 0 && strcmp(a.dsn, b.dsn) == 0);
	return 0;
}
