/*
 * sendmail_smtp - sendmail -bs: SMTP on standard input and output, for
 * clients (Alpine) that speak SMTP to a local command instead of a socket.
 * It runs as the user, like the rest of sendmail: each accepted message
 * goes through ternpostdrop and pickup exactly as a piped one does, and
 * "250 queued" is said only after ternpostdrop made it durable.  Enough of
 * RFC 5321 for a submitting client: HELO/EHLO, MAIL, RCPT, DATA (dot
 * unstuffed, CRLF to LF), RSET, NOOP, VRFY (252), QUIT; lines are bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "drop_file.h"
#include "sendmail.h"

#define SM_SMTP_LINE_MAX	2048

struct sm_txn {
	char			*sender;	/* NULL: no MAIL yet */
	struct sendmail_rcpts	 rcpts;
};

static void
sm_reply(const char *s)
{
	fputs(s, stdout);
	fputs("\r\n", stdout);
	fflush(stdout);
}

static void
sm_reset(struct sm_txn *t)
{
	free(t->sender);
	t->sender = NULL;
	sendmail_rcpts_free(&t->rcpts);
}

/* One line without CRLF into line; 0, -1 at EOF, 1 if too long (the rest
 * of it is read and dropped), 2 if it holds a NUL byte. */
static int
sm_getline(char *line, size_t size)
{
	size_t	 n = 0;
	int	 c, big = 0;

	while ((c = getchar()) != EOF && c != '\n') {
		if (c == '\0')
			big = 2;
		else if (n + 1 < size)
			line[n++] = (char)c;
		else
			big = 1;
	}
	if (c == EOF && n == 0)
		return -1;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return big;
}

/* The path of "MAIL FROM:<x> ..." / "RCPT TO:<x>", without brackets. */
static char *
sm_path(const char *arg)
{
	const char	*lt = strchr(arg, '<'), *gt;

	if (lt == NULL || (gt = strchr(lt, '>')) == NULL)
		return NULL;
	return strndup(lt + 1, (size_t)(gt - lt - 1));
}

/* DATA: read to the lone dot, then queue.  The reply. */
static const char *
sm_data(const struct sendmail_opts *o, const struct tern_config *cfg,
    struct sm_txn *t)
{
	struct buf	 msg;
	char		 line[SM_SMTP_LINE_MAX + 2];
	const char	*p;
	const char	*bad = NULL;
	int		 r;

	sm_reply("354 End data with <CR><LF>.<CR><LF>");
	buf_init(&msg, cfg->message_size_limit);
	while ((r = sm_getline(line, sizeof(line))) >= 0) {
		if (strcmp(line, ".") == 0)
			break;
		p = line[0] == '.' ? line + 1 : line;
		if (r == 2)
			bad = "554 5.6.0 Error: NUL byte in the message";
		else if (r == 1 || buf_append_str(&msg, p) < 0 ||
		    buf_append(&msg, "\n", 1) < 0)
			bad = "552 5.3.4 Message too big (or a line too long)";
	}
	if (r < 0) {
		buf_free(&msg);
		return NULL;
	}
	r = bad != NULL ? SM_EX_DATAERR : sendmail_enqueue(o, cfg, t->sender,
	    &t->rcpts, msg.data != NULL ? msg.data : "", msg.len);
	buf_free(&msg);
	sm_reset(t);
	if (bad != NULL)
		return bad;
	return r == SM_EX_OK ? "250 2.0.0 Ok: queued" :
	    "451 4.3.0 Error: queue file write error";
}

static const char *
sm_mail(const struct sendmail_opts *o, struct sm_txn *t, const char *arg)
{
	struct sendmail_opts	 m = *o;
	char			*path;

	if (t->sender != NULL)
		return "503 5.5.1 Error: nested MAIL command";
	if ((path = sm_path(arg)) == NULL)
		return "501 5.5.4 Syntax: MAIL FROM:<address>";
	m.sender = path;
	t->sender = sendmail_sender(&m);
	free(path);
	return t->sender != NULL ? "250 2.1.0 Ok" :
	    "553 5.1.7 Bad sender address syntax";
}

static const char *
sm_rcpt(struct sm_txn *t, const char *arg)
{
	char	*path;
	int	 bad = t->rcpts.bad, n = t->rcpts.n;

	if (t->sender == NULL)
		return "503 5.5.1 Error: need MAIL command";
	if ((path = sm_path(arg)) == NULL)
		return "501 5.5.4 Syntax: RCPT TO:<address>";
	sendmail_rcpt_add(&t->rcpts, path, strlen(path));
	free(path);
	if (t->rcpts.bad != bad || (t->rcpts.n == n && n >= DROP_RCPT_MAX))
		return "501 5.1.3 Bad recipient address syntax";
	return "250 2.1.5 Ok";
}

int
sendmail_smtp(const struct sendmail_opts *o, const struct tern_config *cfg)
{
	struct sm_txn	 t = { NULL, { NULL, 0, 0 } };
	char		 line[SM_SMTP_LINE_MAX + 2], hello[SM_SMTP_LINE_MAX + 64];
	const char	*r;
	int		 big;

	snprintf(hello, sizeof(hello), "220 %s ESMTP tern (sendmail -bs)",
	    cfg->myhostname);
	sm_reply(hello);
	while ((big = sm_getline(line, sizeof(line))) >= 0) {
		if (big)
			r = "500 5.5.0 Error: bad command line";
		else if (strncasecmp(line, "EHLO", 4) == 0) {
			snprintf(hello, sizeof(hello), "250-%s\r\n250-8BITMIME\r\n"
			    "250 ENHANCEDSTATUSCODES", cfg->myhostname);
			r = hello;
		} else if (strncasecmp(line, "HELO", 4) == 0) {
			snprintf(hello, sizeof(hello), "250 %s", cfg->myhostname);
			r = hello;
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0)
			r = sm_mail(o, &t, line + 10);
		else if (strncasecmp(line, "RCPT TO:", 8) == 0)
			r = sm_rcpt(&t, line + 8);
		else if (strcasecmp(line, "DATA") == 0) {
			if (t.rcpts.n == 0)
				r = "503 5.5.1 Error: need RCPT command";
			else if ((r = sm_data(o, cfg, &t)) == NULL)
				break;
		} else if (strcasecmp(line, "RSET") == 0) {
			sm_reset(&t);
			r = "250 2.0.0 Ok";
		} else if (strncasecmp(line, "NOOP", 4) == 0)
			r = "250 2.0.0 Ok";
		else if (strncasecmp(line, "VRFY", 4) == 0)
			r = "252 2.0.0 Send mail to find out";
		else if (strcasecmp(line, "QUIT") == 0) {
			sm_reply("221 2.0.0 Bye");
			break;
		} else
			r = "502 5.5.2 Error: command not recognized";
		sm_reply(r);
	}
	sm_reset(&t);
	return SM_EX_OK;
}
