/*
 * smtpd_queue - the first bytes of every queue file smtpd writes.  The
 * Received: header goes through the same writer as the message, so the
 * message that qmgr and deliver see already carries the trace line
 * RFC 5321 section 4.4 requires of every SMTP server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "queue_writer.h"
#include "smtpd_queue.h"

/* Helo, host name, queue id, one address and a date fit many times over. */
#define SMTP_RECEIVED_MAX	2048

/* RFC 5322 date-time, e.g. "Tue, 03 Mar 2026 10:00:00 +0100". */
static int
smtpd_queue_date(char *out, size_t outlen, time_t t)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	/* smtpd never calls setlocale(), so the names are English. */
	return strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ?
	    -1 : 0;
}

/* RFC 3848's names: ESMTPS for ESMTP through STARTTLS. */
static const char *
smtpd_queue_protocol(const struct smtpd_txn *t)
{
	if (t->tls)
		return t->esmtp ? "ESMTPS" : "SMTPS";
	return t->esmtp ? "ESMTP" : "SMTP";
}

int
smtpd_queue_received(struct buf *b, const struct smtpd_txn *t, const char *id,
    time_t when)
{
	char	 date[64];

	if (smtpd_queue_date(date, sizeof(date), when) < 0)
		return -1;
	if (buf_appendf(b, "Received: from %s ([%s%s])\n"
	    "\tby %s (tern) with %s id %s\n", t->helo,
	    t->client_v6 ? "IPv6:" : "", t->client, t->myhostname,
	    smtpd_queue_protocol(t), id) < 0)
		return -1;
	/* Every recipient gets the same header: naming one of several (a
	 * Bcc, say) would disclose it to the others. */
	if (t->nrcpt == 1)
		return buf_appendf(b, "\tfor <%s>; %s\n", t->rcpt[0].addr, date);
	return buf_appendf(b, "\t; %s\n", date);
}

/* What the queue file says of MAIL's BODY= (RFC 6152). */
static enum queue_body
smtpd_queue_body(enum smtpd_body body)
{
	switch (body) {
	case SMTP_BODY_7BIT:
		return QUEUE_BODY_7BIT;
	case SMTP_BODY_8BITMIME:
		return QUEUE_BODY_8BITMIME;
	default:
		return QUEUE_BODY_NONE;
	}
}

struct queue_writer *
smtpd_queue_open(struct smtpd_txn *t, struct queue_pool *pool)
{
	struct queue_envelope	 env;
	struct queue_writer	*w;
	struct buf		 b;
	int			 saved;

	memset(&env, 0, sizeof(env));
	env.arrival = t->arrival;
	env.sender = (char *)t->sender;
	env.body = smtpd_queue_body(t->body);
	env.ret = (enum queue_ret)t->ret;
	env.envid = (char *)t->envid;
	env.client = (char *)t->client;
	env.helo = (char *)t->helo;
	env.nrcpt = t->nrcpt;
	env.rcpt = t->rcpt;
	w = xmalloc(sizeof(*w));
	if (queue_writer_open_reuse(w, &env, pool) < 0) {
		saved = errno;
		free(w);
		errno = saved;
		return NULL;
	}
	buf_init(&b, SMTP_RECEIVED_MAX);
	if (smtpd_queue_received(&b, t, w->id, (time_t)t->arrival) < 0) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (queue_writer_write(w, b.data, b.len) < 0)
		goto fail;
	buf_free(&b);
	return w;
fail:
	saved = errno;
	buf_free(&b);
	queue_writer_abort(w);
	free(w);
	errno = saved;
	return NULL;
}
