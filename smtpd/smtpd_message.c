/*
 * smtpd_message - one message, from "354" to "250 queued": the queue file
 * is created when DATA is accepted, the decoded stream goes into it as it
 * arrives (through a small stack buffer, so a session holds no message
 * buffer of its own), and at the end a commit worker makes it durable.  The
 * reply waits for the commit; the session reads nothing meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "config.h"
#include "smtpd_params.h"
#include "log.h"
#include "queue_writer.h"
#include "smtpd_commit.h"
#include "smtpd_data.h"
#include "smtpd_notify.h"
#include "smtpd_queue.h"
#include "smtpd_server.h"
#include "smtpd_session.h"

/* Decoded DATA goes through a stack buffer of this size on its way to the
 * queue writer. */
#define SMTP_DATA_CHUNK		(16 * 1024)
/* At most this many chains of the input buffer are decoded per pass. */
#define SMTP_DATA_IOV		8
#define SMTP_REPLY_354		"354 End data with <CR><LF>.<CR><LF>\r\n"

void
smtpd_message_discard(struct smtpd_session *s)
{
	if (s->qw != NULL) {
		queue_writer_abort(s->qw);
		free(s->qw);
		s->qw = NULL;
	}
}

void
smtpd_message_start(struct smtpd_session *s)
{
	const struct tern_config	*cfg = s->srv->cfg;
	const struct smtpd_params	*par = s->srv->par;
	struct smtpd_txn			 t;

	memset(&t, 0, sizeof(t));
	t.arrival = (long long)time(NULL);
	t.sender = s->sender;
	t.body = s->body;
	t.ret = s->ret;
	t.envid = s->envid;
	t.client = s->client;
	t.client_v6 = s->client_v6;
	t.helo = s->helo;
	t.esmtp = s->esmtp;
	t.tls = s->tls_on;
	t.myhostname = cfg->myhostname;
	t.nrcpt = s->nrcpt;
	t.rcpt = s->rcpt;
	if ((s->qw = smtpd_queue_open(&t, smtpd_pool_get(&s->srv->pool))) == NULL) {
		log_error("cannot create a queue file for [%s]: %s", s->client,
		    strerror(errno));
		smtpd_session_reply(s, 451, "4.3.0", "Error: queue file write error");
		return;
	}
	memcpy(s->id, s->qw->id, sizeof(s->id));
	log_qid(LOG_LEVEL_INFO, s->id, "client=%s helo=%s", s->client, s->helo);
	smtpd_data_init(&s->dec, cfg->message_size_limit);
	s->dec.keep_bare = par->smtpd_forbid_bare_newline == CONFIG_BARE_NL_NO;
	s->write_failed = 0;
	s->phase = SMTP_PHASE_DATA;
	evbuffer_add(smtpd_session_out(s), SMTP_REPLY_354,
	    sizeof(SMTP_REPLY_354) - 1);
}

static void
smtpd_message_store(struct smtpd_session *s, const char *p, size_t n)
{
	if (smtpd_data_failed(&s->dec)) {
		/* The rest is only read to find its end: free the disk now. */
		smtpd_message_discard(s);
		return;
	}
	if (n == 0 || s->write_failed)
		return;
	if (queue_writer_write(s->qw, p, n) < 0) {
		log_qid(LOG_LEVEL_ERROR, s->id, "queue file write error: %s",
		    strerror(errno));
		s->write_failed = 1;
	}
}

/* Back on the event loop after the commit worker is done. */
static void
smtpd_message_committed(void *arg, int result, int err)
{
	struct smtpd_session	*s = arg;
	char			 text[sizeof("Ok: queued as ") + QUEUE_ID_SIZE];

	if (result == 0) {
		log_qid(LOG_LEVEL_INFO, s->id, "from=<%s> size=%zu nrcpt=%d",
		    s->sender, s->qw->data_len, s->nrcpt);
		smtpd_notify_send(s->srv->notify, s->id,
		    s->qw->into == QDIR_ACTIVE);
	} else {
		log_qid(LOG_LEVEL_ERROR, s->id, "queue file commit failed: %s",
		    strerror(err));
		queue_writer_abort(s->qw);
	}
	free(s->qw);
	s->qw = NULL;
	s->phase = SMTP_PHASE_COMMAND;
	if (s->gone) {
		/* The message stands (if committed); only the reply is lost,
		 * and the client will send it again: a duplicate, never a
		 * loss. */
		log_qid(LOG_LEVEL_INFO, s->id, "client [%s] left before the "
		    "reply", s->client);
		smtpd_session_free(s);
		return;
	}
	if (result == 0) {
		strlcpy(text, "Ok: queued as ", sizeof(text));
		strlcat(text, s->id, sizeof(text));
		smtpd_session_reply(s, 250, "2.0.0", text);
		/* As Postfix: a client that delivers mail may RSET and NOOP
		 * between messages as often as it likes. */
		s->junk = 0;
	} else
		smtpd_session_reply(s, 451, "4.3.0", "Error: queueing failed");
	smtpd_dialog_reset(s);
	smtpd_session_resume(s);
}

/* The message failed: nothing is stored, the client gets the reason, and
 * the session is ready for the next transaction.  A bare CR or LF is
 * answered first: it says the client's line ends are broken. */
static void
smtpd_message_refuse(struct smtpd_session *s)
{
	const char	*what = s->dec.bare == SMTP_DATA_BARE_CR ? "CR" : "LF";
	char		 text[64];

	s->phase = SMTP_PHASE_COMMAND;
	if (s->dec.bare != 0 && !s->dec.keep_bare) {
		log_qid(LOG_LEVEL_INFO, s->id, "reject: bare <%s> received in "
		    "DATA from [%s]", what, s->client);
		snprintf(text, sizeof(text), "Error: bare <%s> received", what);
		smtpd_session_reply(s, 550, "5.5.2", text);
	} else if (s->dec.too_big) {
		log_qid(LOG_LEVEL_INFO, s->id, "reject: message too big "
		    "(%zu bytes) from [%s]", s->dec.size, s->client);
		smtpd_session_reply(s, 552, "5.3.4",
		    "Error: message file too big");
	} else
		smtpd_session_reply(s, 451, "4.3.0", "Error: queueing failed");
	smtpd_dialog_reset(s);	/* removes the queue file */
}

static void
smtpd_message_end(struct smtpd_session *s)
{
	if (smtpd_data_failed(&s->dec) || s->write_failed) {
		smtpd_message_refuse(s);
		return;
	}
	s->phase = SMTP_PHASE_COMMIT;
	smtpd_session_want_read(s);
	smtpd_commit_submit(s->srv->commit, s->qw,
	    !s->qw->unlocked && smtpd_notify_ready(s->srv->notify) ?
	    QDIR_ACTIVE : QDIR_INCOMING,
	    smtpd_message_committed, s);
}

int
smtpd_message_input(struct smtpd_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec	 v[SMTP_DATA_IOV];
	char			 out[SMTP_DATA_CHUNK];
	size_t			 off, used, olen, total;
	int			 i, n;

	while (!s->dec.done && evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, SMTP_DATA_IOV);
		if (n > SMTP_DATA_IOV)
			n = SMTP_DATA_IOV;
		total = 0;
		for (i = 0; i < n && !s->dec.done; i++) {
			for (off = 0; off < v[i].iov_len && !s->dec.done;
			    off += used) {
				used = smtpd_data_decode(&s->dec,
				    (const char *)v[i].iov_base + off,
				    v[i].iov_len - off, out, sizeof(out), &olen);
				smtpd_message_store(s, out, olen);
			}
			total += off;
		}
		if (total == 0)
			break;
		evbuffer_drain(in, total);
	}
	if (!s->dec.done)
		return 0;
	smtpd_message_end(s);
	return 1;
}
