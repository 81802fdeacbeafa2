/*
 * smtp_dialog - what each SMTP command does: the order rules of RFC 5321
 * section 4.1.4 (HELO before MAIL, MAIL before RCPT, RCPT before DATA), the
 * syntax checks of smtp_command and the recipient policy of smtp_policy.
 * Every reply is a fixed text; nothing the client sent is echoed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "smtp_command.h"
#include "smtp_policy.h"
#include "smtp_server.h"
#include "smtp_session.h"

void
smtp_dialog_reset(struct smtp_session *s)
{
	int	 i;

	smtp_message_discard(s);
	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpt[i].addr);
	free(s->rcpt);
	s->rcpt = NULL;
	s->nrcpt = s->rcpt_cap = s->rcpt_tried = 0;
	free(s->sender);
	s->sender = NULL;
}

/* RFC 5321 wants a Domain or an address literal; real clients send odd
 * names (underscores, bare host names), and the name is only recorded, so
 * any single printable word is accepted. */
static int
smtp_dialog_helo_valid(const char *arg, size_t len)
{
	size_t	 i;

	if (len == 0 || len > ADDR_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] >= 0x7f)
			return 0;
	return 1;
}

static void
smtp_dialog_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct smtp_server	*srv = s->srv;

	if (!smtp_dialog_helo_valid(cmd->arg, cmd->arglen)) {
		smtp_session_reply(s, 501, "5.5.4", cmd->verb == SMTP_VERB_EHLO ?
		    "Syntax: EHLO hostname" : "Syntax: HELO hostname");
		return;
	}
	/* RFC 5321 4.1.4: a second EHLO resets the transaction. */
	smtp_dialog_reset(s);
	free(s->helo);
	s->helo = xstrndup(cmd->arg, cmd->arglen);
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	if (s->esmtp)
		evbuffer_add(smtp_session_out(s), srv->ehlo, srv->ehlo_len);
	else
		evbuffer_add_printf(smtp_session_out(s), "250 %s\r\n",
		    srv->cfg->myhostname);
}

static void
smtp_dialog_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
	const struct tern_config	*cfg = s->srv->cfg;
	struct smtp_path		 path;
	struct smtp_result		 res;

	if (s->helo == NULL) {
		smtp_session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->sender != NULL) {
		smtp_session_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (smtp_command_mail(cmd->arg, cmd->arglen, &path, &res) < 0) {
		smtp_session_result(s, &res);
		return;
	}
	if (path.has_size && cfg->message_size_limit > 0 &&
	    path.size > cfg->message_size_limit) {
		smtp_session_reply(s, 552, "5.3.4",
		    "Message size exceeds fixed limit");
		return;
	}
	s->sender = xstrdup(path.addr);
	smtp_session_reply(s, 250, "2.1.0", "Ok");
}

static int
smtp_dialog_has_rcpt(const struct smtp_session *s, const char *addr)
{
	int	 i;

	for (i = 0; i < s->nrcpt; i++)
		if (strcasecmp(s->rcpt[i].addr, addr) == 0)
			return 1;
	return 0;
}

static void
smtp_dialog_add_rcpt(struct smtp_session *s, const char *addr)
{
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		s->rcpt = xreallocarray(s->rcpt, (size_t)s->rcpt_cap,
		    sizeof(*s->rcpt));
	}
	memset(&s->rcpt[s->nrcpt], 0, sizeof(s->rcpt[s->nrcpt]));
	s->rcpt[s->nrcpt].addr = xstrdup(addr);
	s->rcpt[s->nrcpt].status = RCPT_PENDING;
	s->nrcpt++;
}

static void
smtp_dialog_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
	const struct tern_config	*cfg = s->srv->cfg;
	struct smtp_path		 path;
	struct smtp_result		 res;

	if (s->sender == NULL) {
		smtp_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	s->rcpt_tried++;
	if (smtp_command_rcpt(cmd->arg, cmd->arglen, &path, &res) < 0) {
		smtp_session_result(s, &res);
		return;
	}
	if (s->nrcpt >= cfg->smtpd_recipient_limit) {
		smtp_session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	if (smtp_policy_rcpt(cfg, &s->srv->users, &path, &res) < 0) {
		smtp_session_result(s, &res);
		return;
	}
	/* A repeated recipient is acknowledged but delivered once. */
	if (!smtp_dialog_has_rcpt(s, path.addr))
		smtp_dialog_add_rcpt(s, path.addr);
	smtp_session_reply(s, 250, "2.1.5", "Ok");
}

static void
smtp_dialog_data(struct smtp_session *s, const struct smtp_command *cmd)
{
	if (cmd->arglen > 0)
		smtp_session_reply(s, 501, "5.5.4", "Syntax: DATA");
	else if (s->sender == NULL)
		smtp_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
	else if (s->nrcpt == 0 && s->rcpt_tried == 0)
		smtp_session_reply(s, 503, "5.5.1", "Error: need RCPT command");
	else if (s->nrcpt == 0)
		smtp_session_reply(s, 554, "5.5.1", "Error: no valid recipients");
	else
		smtp_message_start(s);
}

static void
smtp_dialog_other(struct smtp_session *s, const struct smtp_command *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_RSET:
		smtp_dialog_reset(s);
		smtp_session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_NOOP:
		smtp_session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_VRFY:
		if (cmd->arglen == 0)
			smtp_session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		else
			smtp_session_reply(s, 252, "2.0.0", "Cannot VRFY user, "
			    "but will accept message and attempt delivery");
		break;
	case SMTP_VERB_HELP:
		smtp_session_reply(s, 214, "2.0.0", "Commands: HELO EHLO MAIL "
		    "RCPT DATA RSET NOOP VRFY HELP QUIT");
		break;
	case SMTP_VERB_QUIT:
		smtp_session_reply(s, 221, "2.0.0", "Bye");
		smtp_session_close(s);
		break;
	default:
		smtp_session_reply(s, 500, "5.5.2", "Error: command not recognized");
		break;
	}
}

void
smtp_dialog_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command	 cmd;

	smtp_command_split(line, len, &cmd);
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		smtp_dialog_helo(s, &cmd);
		break;
	case SMTP_VERB_MAIL:
		smtp_dialog_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		smtp_dialog_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		smtp_dialog_data(s, &cmd);
		break;
	default:
		smtp_dialog_other(s, &cmd);
		break;
	}
}
