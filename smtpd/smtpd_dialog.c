/*
 * smtpd_dialog - what each SMTP command does: the order rules of RFC 5321
 * section 4.1.4 (HELO before MAIL, MAIL before RCPT, RCPT before DATA), the
 * syntax checks of smtpd_command and the recipient policy of smtpd_policy.
 * Every reply is a fixed text; nothing the client sent is echoed.  A
 * recipient is kept in its canonical spelling, and once per mailbox.  A
 * RCPT the policy cannot decide without the lookup service is kept in a
 * struct smtpd_rcpt_wait while the session waits for the answer
 * (SMTP_PHASE_LOOKUP), and finished when it comes.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "smtpd_params.h"
#include "log.h"
#include "queue_file.h"
#include "smtpd_command.h"
#include "smtpd_lookup.h"
#include "smtpd_policy.h"
#include "smtpd_server.h"
#include "smtpd_session.h"
#include "smtpd_space.h"

/* A RCPT waiting for the lookup service's answer. */
struct smtpd_rcpt_wait {
	struct smtpd_path		 path;
	struct smtpd_policy_query	 q;
};

void
smtpd_dialog_reset(struct smtpd_session *s)
{
	int	 i;

	free(s->rcpt_wait);
	s->rcpt_wait = NULL;
	smtpd_message_discard(s);
	for (i = 0; i < s->nrcpt; i++) {
		free(s->rcpt[i].addr);
		free(s->rcpt[i].orcpt);
		free(s->rcpt_account[i]);
	}
	free(s->rcpt);
	free(s->rcpt_account);
	s->rcpt = NULL;
	s->rcpt_account = NULL;
	s->nrcpt = s->rcpt_cap = s->rcpt_tried = s->rcpt_accepted = 0;
	free(s->sender);
	s->sender = NULL;
	free(s->envid);
	s->envid = NULL;
	s->ret = 0;
}

/* RFC 5321 wants a Domain or an address literal; real clients send odd
 * names (underscores, bare host names), and the name is only recorded, so
 * any single printable word is accepted. */
static int
smtpd_dialog_helo_valid(const char *arg, size_t len)
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
smtpd_dialog_helo(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	struct smtpd_server	*srv = s->srv;

	if (!smtpd_dialog_helo_valid(cmd->arg, cmd->arglen)) {
		smtpd_session_reply(s, 501, "5.5.4", cmd->verb == SMTP_VERB_EHLO ?
		    "Syntax: EHLO hostname" : "Syntax: HELO hostname");
		return;
	}
	/* RFC 5321 4.1.4: a second EHLO resets the transaction.  It is
	 * junk (smtpd_junk_command_limit): a client needs one per session
	 * (and one after STARTTLS, which forgets the first), and one that
	 * repeats it only holds its session. */
	if (s->helo != NULL)
		s->junk++;
	smtpd_dialog_reset(s);
	free(s->helo);
	s->helo = xstrndup(cmd->arg, cmd->arglen);
	s->esmtp = cmd->verb == SMTP_VERB_EHLO;
	if (s->esmtp && srv->tls != NULL && !s->tls_on)
		evbuffer_add(smtpd_session_out(s), srv->ehlo_starttls,
		    srv->ehlo_starttls_len);
	else if (s->esmtp)
		evbuffer_add(smtpd_session_out(s), srv->ehlo, srv->ehlo_len);
	else
		evbuffer_add_printf(smtpd_session_out(s), "250 %s\r\n",
		    srv->cfg->myhostname);
}

/* smtpd_tls_security_level = encrypt: no mail in the clear.  1 if
 * refused (answered). */
static int
smtpd_dialog_tls_required(struct smtpd_session *s)
{
	if (s->srv->par->smtpd_tls_security_level != SMTPD_TLS_ENCRYPT ||
	    s->tls_on)
		return 0;
	if (s->srv->tls == NULL) {
		/* A 4xx is no error: counted as junk, so that a client
		 * cannot ask for ever. */
		s->junk++;
		smtpd_session_reply(s, 454, "4.7.0",
		    "TLS not available due to local problem");
	} else
		smtpd_session_reply(s, 530, "5.7.0",
		    "Must issue a STARTTLS command first");
	return 1;
}

/* RFC 3207.  Junk where TLS cannot be had, as an unknown command would
 * be; the other refusals are 5xx, which count as errors. */
static void
smtpd_dialog_starttls(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	if (cmd->arglen > 0)
		smtpd_session_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
	else if (s->tls_on)
		smtpd_session_reply(s, 554, "5.5.1", "Error: TLS already active");
	else if (s->srv->par->smtpd_tls_security_level == SMTPD_TLS_NONE) {
		s->junk++;
		smtpd_session_reply(s, 502, "5.5.1",
		    "Error: command not implemented");
	} else if (s->srv->tls == NULL) {
		s->junk++;
		smtpd_session_reply(s, 454, "4.7.0",
		    "TLS not available due to local problem");
	} else if (s->sender != NULL)
		smtpd_session_reply(s, 503, "5.5.1",
		    "Error: MAIL transaction in progress");
	else
		smtpd_session_starttls(s);
}

static void
smtpd_dialog_mail(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	const struct tern_config	*cfg = s->srv->cfg;
	const struct smtpd_params	*par = s->srv->par;
	struct smtpd_path		 path;
	struct smtpd_result		 res;

	if (s->helo == NULL) {
		smtpd_session_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->sender != NULL) {
		smtpd_session_reply(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (smtpd_dialog_tls_required(s))
		return;
	if (smtpd_command_mail(cmd->arg, cmd->arglen, &path, &res) < 0) {
		smtpd_session_result(s, &res);
		return;
	}
	if (path.has_size && cfg->message_size_limit > 0 &&
	    path.size > cfg->message_size_limit) {
		smtpd_session_reply(s, 552, "5.3.4",
		    "Message size exceeds fixed limit");
		return;
	}
	if (path.has_size && !smtpd_space_check(&s->srv->space, cfg, par,
	    path.size)) {
		smtpd_session_reply(s, 452, "4.3.1",
		    "Insufficient system storage");
		return;
	}
	s->sender = xstrdup(path.addr);
	s->body = path.body;
	s->ret = path.ret;
	s->envid = path.envid[0] != '\0' ? xstrdup(path.envid) : NULL;
	smtpd_session_reply(s, 250, "2.1.0", "Ok");
}

/* Is addr (canonical), or another address of the same mailbox, a
 * recipient already?  Either way the message would be stored twice. */
static int
smtpd_dialog_has_rcpt(const struct smtpd_session *s, const char *addr,
    const char *account)
{
	int	 i;

	for (i = 0; i < s->nrcpt; i++)
		if (strcmp(s->rcpt[i].addr, addr) == 0 ||
		    (account[0] != '\0' && s->rcpt_account[i] != NULL &&
		    strcmp(s->rcpt_account[i], account) == 0))
			return 1;
	return 0;
}

static void
smtpd_dialog_add_rcpt(struct smtpd_session *s, const struct smtpd_path *path,
    const char *account)
{
	if (s->nrcpt == s->rcpt_cap) {
		s->rcpt_cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		s->rcpt = xreallocarray(s->rcpt, (size_t)s->rcpt_cap,
		    sizeof(*s->rcpt));
		s->rcpt_account = xreallocarray(s->rcpt_account,
		    (size_t)s->rcpt_cap, sizeof(*s->rcpt_account));
	}
	memset(&s->rcpt[s->nrcpt], 0, sizeof(s->rcpt[s->nrcpt]));
	s->rcpt[s->nrcpt].addr = xstrdup(path->addr);
	s->rcpt[s->nrcpt].status = RCPT_PENDING;
	s->rcpt[s->nrcpt].notify = path->notify;
	s->rcpt[s->nrcpt].orcpt = path->orcpt[0] != '\0' ?
	    xstrdup(path->orcpt) : NULL;
	s->rcpt_account[s->nrcpt] = account[0] != '\0' ? xstrdup(account) :
	    NULL;
	s->nrcpt++;
}

/* Replace path's address by its canonical spelling (addr_canonical): it is
 * what the policy checks, the queue file keeps and duplicates are found
 * by.  0, or -1 (never for an address the parser accepted). */
static int
smtpd_dialog_canonical(struct smtpd_path *path)
{
	char	 canon[sizeof(path->addr)];

	if (addr_canonical(path->addr, path->addrlen, canon, sizeof(canon)) < 0)
		return -1;
	path->addrlen = strlen(canon);
	memcpy(path->addr, canon, path->addrlen + 1);
	return 0;
}

/* What recipients stored once are told apart by: the account addr
 * reaches, and the address extension of its local name (recipient_
 * delimiter; deliver gives user+ext its own ~/.forward+ext, command
 * environment, NOTIFY and ORCPT).  Spellings of one address (quoting,
 * escapes, case, local domains) give one key.  "" if there is no account
 * (or it does not fit): then only equal addresses are one. */
static void
smtpd_dialog_rcpt_key(const struct smtpd_session *s, const char *addr,
    const char *account, char *key, size_t len)
{
	const char	*delim = s->srv->cfg->recipient_delimiter;
	char		 name[ADDR_LOCAL_MAX + 1];
	const char	*ext = NULL;
	int		 n;

	key[0] = '\0';
	if (account[0] == '\0')
		return;
	if (delim != NULL && delim[0] != '\0' &&
	    addr_local_name(addr, name, sizeof(name)) == 0 &&
	    name[0] != '\0')
		ext = strchr(name + 1, delim[0]);
	n = snprintf(key, len, "%s%s%s", account, ext != NULL ? "\n" : "",
	    ext != NULL ? ext + 1 : "");
	if (n < 0 || (size_t)n >= len)
		key[0] = '\0';
}

/* The recipient is accepted, with the mailbox account it reaches. */
static void
smtpd_dialog_rcpt_accept(struct smtpd_session *s,
    const struct smtpd_path *path, const char *account)
{
	char	 key[RCPT_LOOKUP_ACCOUNT_MAX + ADDR_LOCAL_MAX + 3];

	s->rcpt_accepted++;
	/* A repeated recipient is acknowledged but stored (and so delivered)
	 * once: one spelling, or one mailbox and extension, however it is
	 * addressed.  The reply is a new recipient's, or it would tell which
	 * addresses share a mailbox. */
	smtpd_dialog_rcpt_key(s, path->addr, account, key, sizeof(key));
	if (!smtpd_dialog_has_rcpt(s, path->addr, key))
		smtpd_dialog_add_rcpt(s, path, key);
	smtpd_session_reply(s, 250, "2.1.5", "Ok");
}

/* The lookup service's answer (or failure) decides. */
static void
smtpd_dialog_rcpt_finish(struct smtpd_session *s,
    const struct smtpd_path *path, const struct smtpd_policy_query *q,
    enum rcpt_lookup_status st, const char *found)
{
	struct smtpd_result	 res;
	char			 account[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	if (smtpd_policy_answer(&s->srv->users, q, st, found, account,
	    sizeof(account), &res) < 0)
		smtpd_session_result(s, &res);
	else
		smtpd_dialog_rcpt_accept(s, path, account);
}

/* Ask the lookup service, and wait for its answer without reading on. */
static void
smtpd_dialog_rcpt_ask(struct smtpd_session *s, const struct smtpd_path *path,
    const struct smtpd_policy_query *q)
{
	if (!smtpd_lookup_ask(s->srv->lookup, s, q->rcpt)) {
		smtpd_dialog_rcpt_finish(s, path, q, RCPT_LOOKUP_TEMPFAIL, NULL);
		return;
	}
	s->rcpt_wait = xmalloc(sizeof(*s->rcpt_wait));
	s->rcpt_wait->path = *path;
	s->rcpt_wait->q = *q;
	s->phase = SMTP_PHASE_LOOKUP;
	smtpd_session_want_read(s);
}

void
smtpd_dialog_rcpt_answer(struct smtpd_session *s, enum rcpt_lookup_status st,
    const char *account)
{
	struct smtpd_rcpt_wait	*w = s->rcpt_wait;

	if (s->phase != SMTP_PHASE_LOOKUP)
		return;
	s->phase = SMTP_PHASE_COMMAND;
	s->rcpt_wait = NULL;
	if (w != NULL)
		smtpd_dialog_rcpt_finish(s, &w->path, &w->q, st, account);
	free(w);
	smtpd_session_command_done(s);
}

static void
smtpd_dialog_rcpt(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	const struct tern_config	*cfg = s->srv->cfg;
	const struct smtpd_params	*par = s->srv->par;
	struct smtpd_path		 path;
	struct smtpd_policy_query	 q;
	struct smtpd_result		 res;
	char				 account[RCPT_LOOKUP_ACCOUNT_MAX + 1];

	if (s->sender == NULL) {
		smtpd_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	s->rcpt_tried++;
	if (smtpd_command_rcpt(cmd->arg, cmd->arglen, &path, &res) < 0) {
		smtpd_session_result(s, &res);
		return;
	}
	if (smtpd_dialog_canonical(&path) < 0) {
		smtpd_session_reply(s, 501, "5.1.3",
		    "Bad recipient address syntax");
		return;
	}
	/* Duplicates count: each costs a lookup, and the limit bounds the
	 * work of one transaction. */
	if (s->rcpt_accepted >= par->smtpd_recipient_limit) {
		smtpd_session_reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	switch (smtpd_policy_rcpt(cfg, par, &s->srv->relay, s->client,
	    &s->srv->users, &path, &q, account, sizeof(account), &res)) {
	case SMTPD_POLICY_REFUSE:
		smtpd_session_result(s, &res);
		break;
	case SMTPD_POLICY_ACCEPT:
		smtpd_dialog_rcpt_accept(s, &path, account);
		break;
	case SMTPD_POLICY_ASK:
		smtpd_dialog_rcpt_ask(s, &path, &q);
		break;
	}
}

static void
smtpd_dialog_data(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	if (cmd->arglen > 0)
		smtpd_session_reply(s, 501, "5.5.4", "Syntax: DATA");
	else if (s->sender == NULL)
		smtpd_session_reply(s, 503, "5.5.1", "Error: need MAIL command");
	else if (s->nrcpt == 0 && s->rcpt_tried == 0)
		smtpd_session_reply(s, 503, "5.5.1", "Error: need RCPT command");
	else if (s->nrcpt == 0)
		smtpd_session_reply(s, 554, "5.5.1", "Error: no valid recipients");
	else if (!smtpd_space_check(&s->srv->space, s->srv->cfg,
	    s->srv->par, 0))
		smtpd_session_reply(s, 452, "4.3.1",
		    "Insufficient system storage");
	else
		smtpd_message_start(s);
}

static void
smtpd_dialog_other(struct smtpd_session *s, const struct smtpd_command *cmd)
{
	/* Junk (smtpd_junk_command_limit): NOOP, RSET, VRFY, HELP and
	 * unknown verbs (ETRN among them) move no mail, and a client that
	 * repeats them only holds its session; QUIT is not junk. */
	if (cmd->verb != SMTP_VERB_QUIT)
		s->junk++;
	switch (cmd->verb) {
	case SMTP_VERB_RSET:
		smtpd_dialog_reset(s);
		smtpd_session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_NOOP:
		smtpd_session_reply(s, 250, "2.0.0", "Ok");
		break;
	case SMTP_VERB_VRFY:
		if (cmd->arglen == 0)
			smtpd_session_reply(s, 501, "5.5.4", "Syntax: VRFY address");
		else
			smtpd_session_reply(s, 252, "2.0.0", "Cannot VRFY user, "
			    "but will accept message and attempt delivery");
		break;
	case SMTP_VERB_HELP:
		smtpd_session_reply(s, 214, "2.0.0", s->srv->tls != NULL &&
		    !s->tls_on ? "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
		    "VRFY HELP QUIT STARTTLS" : "Commands: HELO EHLO MAIL RCPT "
		    "DATA RSET NOOP VRFY HELP QUIT");
		break;
	case SMTP_VERB_QUIT:
		smtpd_session_reply(s, 221, "2.0.0", "Bye");
		smtpd_session_close(s);
		break;
	default:
		smtpd_session_reply(s, 500, "5.5.2", "Error: command not recognized");
		break;
	}
}

void
smtpd_dialog_command(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtpd_command	 cmd;

	smtpd_command_split(line, len, &cmd);
	switch (cmd.verb) {
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
		smtpd_dialog_helo(s, &cmd);
		break;
	case SMTP_VERB_MAIL:
		smtpd_dialog_mail(s, &cmd);
		break;
	case SMTP_VERB_RCPT:
		smtpd_dialog_rcpt(s, &cmd);
		break;
	case SMTP_VERB_DATA:
		smtpd_dialog_data(s, &cmd);
		break;
	case SMTP_VERB_STARTTLS:
		smtpd_dialog_starttls(s, &cmd);
		break;
	default:
		smtpd_dialog_other(s, &cmd);
		break;
	}
}
