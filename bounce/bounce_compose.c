/*
 * bounce_compose - a delivery status notification as RFC 3464 and RFC 6522
 * define it: a multipart/report; report-type=delivery-status message from
 * MAILER-DAEMON@myhostname with a human-readable part, a
 * message/delivery-status part (per-message fields, then one block per
 * recipient the notice concerns) and the original message (message/rfc822)
 * or its header (text/rfc822-headers), cut at bounce_size_limit.  Pure: it
 * formats what it is given into a bounded buffer; every value that came
 * from a peer (addresses, diagnostic texts, the original's header) has
 * already been checked by the queue file's reader to hold no control
 * character, and texts put into header fields are made ASCII here.  A
 * failure is the buffer's limit, never a partial notice: the caller
 * discards the buffer.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bounce.h"

/* Copy src into dst (always terminated), with every byte outside printable
 * ASCII replaced by '?', so a header field stays 7-bit clean. */
static void
bounce_ascii(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t	 i;

	for (i = 0; i < srclen && i + 1 < dstlen; i++)
		dst[i] = (unsigned char)src[i] >= 0x20 &&
		    (unsigned char)src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* Append prefix and text as one line, ended by a newline.  A line longer
 * than RFC 5322 allows (a reason as long as an outcome record may hold)
 * is folded before a space every BOUNCE_FOLD columns or so (unfolding
 * gives the text back); a word too long for a line is broken with a
 * space. */
static int
bounce_line(struct buf *out, const char *prefix, const char *text)
{
	size_t	 col = strlen(prefix), w, k;

	if (col + strlen(text) <= BOUNCE_LINE_MAX)
		return buf_appendf(out, "%s%s\n", prefix, text);
	if (buf_append_str(out, prefix) < 0)
		return -1;
	while (*text != '\0') {
		/* The next word with the spaces before it. */
		w = strspn(text, " ");
		w += strcspn(text + w, " ");
		if (text[0] == ' ' && col > 1 && col + w > BOUNCE_FOLD) {
			if (buf_append_str(out, "\n") < 0)
				return -1;
			col = 0;
		}
		while (col + w > BOUNCE_LINE_MAX) {
			k = col < BOUNCE_LINE_MAX ? BOUNCE_LINE_MAX - col : 0;
			if (buf_append(out, text, k) < 0 ||
			    buf_append_str(out, "\n ") < 0)
				return -1;
			text += k;
			w -= k;
			col = 1;
		}
		if (buf_append(out, text, w) < 0)
			return -1;
		text += w;
		col += w;
	}
	return buf_append_str(out, "\n");
}

int
bounce_date(long long t, char *out, size_t outlen)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	return 0;
}

size_t
bounce_header_end(const char *msg, size_t len)
{
	size_t	 i;

	if (len > 0 && msg[0] == '\n')
		return 1;
	for (i = 1; i < len; i++)
		if (msg[i] == '\n' && msg[i - 1] == '\n')
			return i + 1;
	return len;
}

int
bounce_diag_split(const char *text, char *host, size_t hostlen, char *reply,
    size_t replylen)
{
	const char	*h, *said, *end, *br;
	size_t		 n;

	if (strncmp(text, "host ", 5) != 0 ||
	    (said = strstr(text, " said: ")) == NULL)
		return 0;
	h = text + 5;
	if ((n = (size_t)(said - h)) == 0 || memchr(h, ' ', n) != NULL)
		return 0;
	/* "name[address]": the name, as Postfix reports Remote-MTA. */
	if ((br = memchr(h, '[', n)) != NULL && br > h)
		n = (size_t)(br - h);
	bounce_ascii(host, hostlen, h, n);
	said += 7;
	end = strstr(said, " (in reply to ");
	n = end != NULL ? (size_t)(end - said) : strlen(said);
	bounce_ascii(reply, replylen, said, n);
	return 1;
}

const char *
bounce_action(enum bounce_event ev, const struct queue_outcome *o)
{
	if (ev == BOUNCE_DELAYED)
		return "delayed";
	if (ev == BOUNCE_FAILED)
		return "failed";
	if (o != NULL && o->action == OUTCOME_RELAYED)
		return "relayed";
	if (o != NULL && o->action == OUTCOME_EXPANDED)
		return "expanded";
	return "delivered";
}

static const char *
bounce_subject(enum bounce_event ev)
{
	switch (ev) {
	case BOUNCE_DELAYED:
		return "Delayed Mail (still being retried)";
	case BOUNCE_DELIVERED:
		return "Successful Mail Delivery Report";
	default:
		return "Undelivered Mail Returned to Sender";
	}
}

int
bounce_compose_headers(const struct bounce_notice *b, const char *boundary,
    struct buf *out)
{
	char	 date[64], to[QUEUE_ADDR_MAX + 1];

	/* The envelope has the address as it is; the header field stays
	 * ASCII (an 8-bit sender's is shown with '?'). */
	bounce_ascii(to, sizeof(to), b->to, strlen(b->to));
	if (bounce_date(b->now, date, sizeof(date)) < 0)
		return -1;
	return buf_appendf(out,
	    "From: MAILER-DAEMON@%s (Mail Delivery System)\n"
	    "To: %s\n"
	    "Subject: %s\n"
	    "Date: %s\n"
	    "Message-ID: <%s.%lld@%s>\n"
	    "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n"
	    "Content-Transfer-Encoding: %s\n"
	    "\n"
	    "This is a MIME-encapsulated message.\n"
	    "\n",
	    b->myhostname, to, bounce_subject(b->event), date,
	    b->notice_id, b->now, b->myhostname, boundary,
	    b->env->body == QUEUE_BODY_8BITMIME ? "8bit" : "7bit");
}

/* The reason of recipient i in plain words. */
static const char *
bounce_reason(const struct bounce_notice *b, int i)
{
	const struct queue_outcome *o = b->last[i];

	if (o != NULL && o->text[0] != '\0')
		return o->text;
	switch (b->event) {
	case BOUNCE_DELIVERED:
		return "delivery successful";
	case BOUNCE_DELAYED:
		return "delivery temporarily deferred";
	default:
		return "delivery failed";
	}
}

static int
bounce_human_intro(const struct bounce_notice *b, struct buf *out)
{
	char	 until[64];

	if (buf_appendf(out, "This is the mail system at host %s.\n\n",
	    b->myhostname) < 0)
		return -1;
	switch (b->event) {
	case BOUNCE_DELIVERED:
		return buf_append_str(out, "Your message was successfully "
		    "delivered to the destination(s) listed below.\n\n");
	case BOUNCE_DELAYED:
		if (bounce_date(b->until, until, sizeof(until)) < 0)
			strlcpy(until, "its queue lifetime is over",
			    sizeof(until));
		return buf_appendf(out, "####################################"
		    "################################\n# THIS IS A WARNING "
		    "ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n#######"
		    "#############################################################"
		    "\n\nYour message could not be delivered yet to one or "
		    "more recipients.\nIt will be retried until %s.\n\n", until);
	default:
		if (b->kind == BOUNCE_KIND_2BOUNCE &&
		    buf_append_str(out, "A delivery status notification "
		    "could not be delivered; it is attached.\n\n") < 0)
			return -1;
		return buf_append_str(out, "I'm sorry to have to inform you "
		    "that your message could not\nbe delivered to one or more "
		    "recipients. It's attached below.\n\n");
	}
}

/* "<addr>: why", then an empty line. */
static int
bounce_human_rcpt(struct buf *out, const char *addr, const char *why)
{
	char	 prefix[QUEUE_ADDR_MAX + 8];

	snprintf(prefix, sizeof(prefix), "<%s>: ", addr);
	return bounce_line(out, prefix, why) < 0 ||
	    buf_append_str(out, "\n") < 0 ? -1 : 0;
}

int
bounce_compose_human(const struct bounce_notice *b, struct buf *out)
{
	char	 addr[QUEUE_ADDR_MAX + 1], why[QUEUE_TEXT_MAX + 1];
	int	 k;

	if (buf_append_str(out, "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n") < 0 ||
	    bounce_human_intro(b, out) < 0)
		return -1;
	for (k = 0; k < b->n; k++) {
		bounce_ascii(addr, sizeof(addr), b->env->rcpt[b->idx[k]].addr,
		    strlen(b->env->rcpt[b->idx[k]].addr));
		bounce_ascii(why, sizeof(why), bounce_reason(b, b->idx[k]),
		    strlen(bounce_reason(b, b->idx[k])));
		if (bounce_human_rcpt(out, addr, why) < 0)
			return -1;
	}
	return 0;
}

/* An address as a DSN field value: "rfc822;" is taken as the type of a
 * bare address; bytes outside printable ASCII become '?'. */
static int
bounce_field_addr(struct buf *out, const char *name, const char *v)
{
	char	 a[QUEUE_ADDR_MAX + 1], type[QUEUE_ADDR_MAX + 1];
	const char *semi = strchr(v, ';');

	if (semi != NULL && semi > v) {
		bounce_ascii(type, sizeof(type), v, (size_t)(semi - v));
		bounce_ascii(a, sizeof(a), semi + 1, strlen(semi + 1));
		return buf_appendf(out, "%s: %s; %s\n", name, type, a);
	}
	bounce_ascii(a, sizeof(a), v, strlen(v));
	return buf_appendf(out, "%s: rfc822; %s\n", name, a);
}

static const char *
bounce_default_status(enum bounce_event ev)
{
	return ev == BOUNCE_FAILED ? "5.0.0" : ev == BOUNCE_DELAYED ?
	    "4.0.0" : "2.0.0";
}

/* The record's status code if it fits the event (a failure may be 4.x.y:
 * expired mail is 4.4.7, as Postfix reports it), else a generic one. */
static const char *
bounce_status_code(enum bounce_event ev, const struct queue_outcome *o)
{
	const char	*def = bounce_default_status(ev);

	if (o == NULL || o->code[0] == '\0')
		return def;
	if (o->code[0] == def[0] || (ev == BOUNCE_FAILED && o->code[0] == '4'))
		return o->code;
	return def;
}

/* The per-recipient block of recipient i. */
static int
bounce_status_rcpt(const struct bounce_notice *b, int i, struct buf *out)
{
	const struct queue_rcpt		*r = &b->env->rcpt[i];
	const struct queue_outcome	*o = b->last[i];
	char	 host[QUEUE_HOST_SIZE], reply[QUEUE_TEXT_MAX + 1], date[64];

	if (buf_append_str(out, "\n") < 0 ||
	    bounce_field_addr(out, "Final-Recipient", r->addr) < 0 ||
	    (r->orcpt != NULL && r->orcpt[0] != '\0' &&
	    bounce_field_addr(out, "Original-Recipient", r->orcpt) < 0) ||
	    buf_appendf(out, "Action: %s\nStatus: %s\n",
	    bounce_action(b->event, o), bounce_status_code(b->event, o)) < 0)
		return -1;
	if (o == NULL)
		return 0;
	if (o->host[0] != '\0') {
		bounce_ascii(host, sizeof(host), o->host, strlen(o->host));
		bounce_ascii(reply, sizeof(reply), o->text, strlen(o->text));
		if (buf_appendf(out, "Remote-MTA: dns; %s\n", host) < 0 ||
		    bounce_line(out, "Diagnostic-Code: smtp; ", reply) < 0)
			return -1;
	} else if (bounce_diag_split(o->text, host, sizeof(host), reply,
	    sizeof(reply))) {
		if (buf_appendf(out, "Remote-MTA: dns; %s\n", host) < 0 ||
		    bounce_line(out, "Diagnostic-Code: smtp; ", reply) < 0)
			return -1;
	} else if (o->text[0] != '\0') {
		bounce_ascii(reply, sizeof(reply), o->text, strlen(o->text));
		if (bounce_line(out, "Diagnostic-Code: X-Tern; ", reply) < 0)
			return -1;
	}
	/* A time no calendar can show (a damaged record) leaves its
	 * optional field out rather than the notice. */
	if (bounce_date(o->time, date, sizeof(date)) == 0 &&
	    buf_appendf(out, "Last-Attempt-Date: %s\n", date) < 0)
		return -1;
	if (b->event == BOUNCE_DELAYED &&
	    bounce_date(b->until, date, sizeof(date)) == 0 &&
	    buf_appendf(out, "Will-Retry-Until: %s\n", date) < 0)
		return -1;
	return 0;
}

int
bounce_compose_status(const struct bounce_notice *b, struct buf *out)
{
	char	 date[64], envid[QUEUE_ADDR_MAX + 1];
	int	 k;

	if (buf_appendf(out, "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; %s\nX-Tern-Queue-ID: %s\n", b->myhostname,
	    b->env->id) < 0)
		return -1;
	if (b->env->sender[0] != '\0' &&
	    bounce_field_addr(out, "X-Tern-Sender", b->env->sender) < 0)
		return -1;
	if (b->env->envid != NULL && b->env->envid[0] != '\0') {
		bounce_ascii(envid, sizeof(envid), b->env->envid,
		    strlen(b->env->envid));
		if (buf_appendf(out, "Original-Envelope-Id: %s\n", envid) < 0)
			return -1;
	}
	if (bounce_date(b->env->arrival, date, sizeof(date)) == 0 &&
	    buf_appendf(out, "Arrival-Date: %s\n", date) < 0)
		return -1;
	for (k = 0; k < b->n; k++)
		if (bounce_status_rcpt(b, b->idx[k], out) < 0)
			return -1;
	return 0;
}

int
bounce_compose_original(const struct bounce_notice *b, struct buf *out)
{
	size_t	 hlen = bounce_header_end(b->msg, b->msglen);
	int	 full;

	/* RET=FULL, or no RET, returns the whole message with a failure
	 * (Postfix's default); the other notices return the header, as does
	 * a message larger than bounce_size_limit. */
	full = b->event == BOUNCE_FAILED && b->env->ret != QUEUE_RET_HDRS &&
	    b->msgsize <= (long long)b->size_limit &&
	    (long long)b->msglen == b->msgsize;
	if (full)
		return buf_appendf(out, "Content-Description: Undelivered "
		    "Message\nContent-Type: message/rfc822\n%s\n",
		    b->env->body == QUEUE_BODY_8BITMIME ?
		    "Content-Transfer-Encoding: 8bit\n" : "") < 0 ||
		    buf_append(out, b->msg, b->msglen) < 0 ? -1 : 0;
	if (hlen > b->size_limit)
		hlen = b->size_limit;
	/* Cut after a whole line, and end with one. */
	while (hlen > 0 && b->msg[hlen - 1] != '\n')
		hlen--;
	return buf_appendf(out, "Content-Description: %s\nContent-Type: "
	    "text/rfc822-headers\n%s\n", b->event == BOUNCE_FAILED ?
	    "Undelivered Message Headers" : "Message Headers",
	    b->env->body == QUEUE_BODY_8BITMIME ?
	    "Content-Transfer-Encoding: 8bit\n" : "") < 0 ||
	    buf_append(out, b->msg, hlen) < 0 ? -1 : 0;
}

void
bounce_boundary(const struct bounce_notice *b, char *out, size_t outlen)
{
	int	 n;

	/* The returned message is the sender's text: a line in it that is
	 * the boundary would end the report early, so another is taken. */
	for (n = 0;; n++) {
		if (n == 0)
			snprintf(out, outlen, "%s.%lld/tern-report",
			    b->notice_id, b->now);
		else
			snprintf(out, outlen, "%s.%lld.%d/tern-report",
			    b->notice_id, b->now, n);
		if (memmem(b->msg, b->msglen, out, strlen(out)) == NULL)
			return;
	}
}

int
bounce_compose(const struct bounce_notice *b, struct buf *out)
{
	char	 boundary[BOUNCE_BOUNDARY_SIZE];

	bounce_boundary(b, boundary, sizeof(boundary));
	if (bounce_compose_headers(b, boundary, out) < 0 ||
	    buf_appendf(out, "--%s\n", boundary) < 0 ||
	    bounce_compose_human(b, out) < 0 ||
	    buf_appendf(out, "--%s\n", boundary) < 0 ||
	    bounce_compose_status(b, out) < 0 ||
	    buf_appendf(out, "\n--%s\n", boundary) < 0 ||
	    bounce_compose_original(b, out) < 0)
		return -1;
	/* The closing delimiter on a line of its own. */
	if (out->len > 0 && out->data[out->len - 1] != '\n' &&
	    buf_append_str(out, "\n") < 0)
		return -1;
	return buf_appendf(out, "\n--%s--\n", boundary);
}
