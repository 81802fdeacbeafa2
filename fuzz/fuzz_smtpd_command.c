/*
 * fuzz_smtpd_command - the SMTP command line as a client sends it
 * (smtpd/smtpd_command.c): verb split, MAIL FROM and RCPT TO paths and
 * their parameters (SIZE, BODY, and RFC 3461's RET, ENVID, NOTIFY, ORCPT
 * with xtext: smtpd/smtpd_dsn.c).  Invariants: the argument lies inside the line; a
 * recognised verb is really there; an accepted path is a valid mailbox
 * (or <>, or <postmaster>), NUL-terminated within its buffer, and parsing
 * its canonical spelling gives the same result (round trip, the DSN
 * values encoded again as xtext); a refusal is
 * a complete 5xx reply; parsing is deterministic.
 */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "queue_file.h"
#include "smtpd/smtpd_command.h"

static void
check_split(const char *line, size_t len, struct smtpd_command *cmd)
{
	struct smtpd_command	 again;
	const char		*name;

	smtpd_command_split(line, len, cmd);
	FUZZ_ASSERT(cmd->arg >= line && cmd->arg <= line + len);
	FUZZ_ASSERT(cmd->arglen <= (size_t)(line + len - cmd->arg));
	if (cmd->arglen > 0) {
		FUZZ_ASSERT(cmd->arg[0] != ' ');
		FUZZ_ASSERT(cmd->arg[cmd->arglen - 1] != ' ' &&
		    cmd->arg[cmd->arglen - 1] != '\t');
	}
	if (cmd->verb != SMTP_VERB_UNKNOWN) {
		name = smtpd_command_name(cmd->verb);
		FUZZ_ASSERT(len >= 4 && strncasecmp(line, name, 4) == 0);
		FUZZ_ASSERT(len == 4 || line[4] == ' ' || line[4] == '\t');
	}
	smtpd_command_split(line, len, &again);
	FUZZ_ASSERT(cmd->verb == again.verb && cmd->arg == again.arg &&
	    cmd->arglen == again.arglen);
}

static void
check_refusal(const struct smtpd_result *res)
{
	FUZZ_ASSERT(res->code == 501 || res->code == 555);
	FUZZ_ASSERT(res->enhanced != NULL && res->enhanced[0] == '5');
	FUZZ_ASSERT(res->text != NULL && res->text[0] != '\0');
}

static void
check_path(const struct smtpd_path *p, int is_mail)
{
	size_t	 i;

	FUZZ_ASSERT(p->addrlen < sizeof(p->addr));
	FUZZ_ASSERT(p->addr[p->addrlen] == '\0' && strlen(p->addr) == p->addrlen);
	for (i = 0; i < p->addrlen; i++)
		FUZZ_ASSERT((unsigned char)p->addr[i] >= 0x20 &&
		    (unsigned char)p->addr[i] < 0x7f);
	if (p->null) {
		FUZZ_ASSERT(is_mail && p->addrlen == 0);
	} else if (p->postmaster) {
		FUZZ_ASSERT(!is_mail && strcasecmp(p->addr, "postmaster") == 0);
	} else
		FUZZ_ASSERT(addr_valid_mailbox(p->addr, p->addrlen, NULL));
	if (!is_mail)
		FUZZ_ASSERT(!p->has_size && p->body == SMTP_BODY_NONE);
}

/* Parse the canonical spelling of an accepted path again. */
/* Append s as xtext (RFC 3461) to line at *n. */
static void
put_xtext(char *line, size_t size, int *n, const char *s)
{
	for (; *s != '\0'; s++)
		*n += (*s == '+' || *s == '=' || (unsigned char)*s <= ' ') ?
		    snprintf(line + *n, size - (size_t)*n, "+%02X",
		    (unsigned char)*s) :
		    snprintf(line + *n, size - (size_t)*n, "%c", *s);
}

static void
check_round_trip(const struct smtpd_path *p, int is_mail)
{
	struct smtpd_path	 q;
	struct smtpd_result	 res;
	char			 line[ADDR_PATH_MAX + 4096];
	const char		*semi;
	int			 n;

	n = snprintf(line, sizeof(line), "%s<%s>", is_mail ? "FROM:" : "TO:",
	    p->addr);
	if (p->has_size)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " SIZE=%llu",
		    p->size);
	if (p->body != SMTP_BODY_NONE)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " BODY=%s",
		    p->body == SMTP_BODY_7BIT ? "7BIT" : "8BITMIME");
	if (p->ret != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " RET=%s",
		    p->ret == QUEUE_RET_FULL ? "FULL" : "HDRS");
	if (p->envid[0] != '\0') {
		n += snprintf(line + n, sizeof(line) - (size_t)n, " ENVID=");
		put_xtext(line, sizeof(line), &n, p->envid);
	}
	if (p->notify != 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " NOTIFY=%s%s%s%s",
		    p->notify & QUEUE_NOTIFY_NEVER ? "NEVER" : "",
		    p->notify & QUEUE_NOTIFY_SUCCESS ? "SUCCESS" : "",
		    (p->notify & QUEUE_NOTIFY_SUCCESS) &&
		    (p->notify & (QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY)) ?
		    "," : "",
		    (p->notify & QUEUE_NOTIFY_FAILURE) &&
		    (p->notify & QUEUE_NOTIFY_DELAY) ? "FAILURE,DELAY" :
		    p->notify & QUEUE_NOTIFY_FAILURE ? "FAILURE" :
		    p->notify & QUEUE_NOTIFY_DELAY ? "DELAY" : "");
	if (p->orcpt[0] != '\0') {
		FUZZ_ASSERT((semi = strchr(p->orcpt, ';')) != NULL);
		n += snprintf(line + n, sizeof(line) - (size_t)n, " ORCPT=%.*s;",
		    (int)(semi - p->orcpt), p->orcpt);
		put_xtext(line, sizeof(line), &n, semi + 1);
	}
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(line));
	FUZZ_ASSERT((is_mail ? smtpd_command_mail : smtpd_command_rcpt)(line,
	    (size_t)n, &q, &res) == 0);
	FUZZ_ASSERT(memcmp(p, &q, sizeof(q)) == 0);
}

static void
check_mail_rcpt(const char *arg, size_t len, int is_mail)
{
	int (*parse)(const char *, size_t, struct smtpd_path *,
	    struct smtpd_result *) = is_mail ? smtpd_command_mail :
	    smtpd_command_rcpt;
	struct smtpd_path	 p, p2;
	struct smtpd_result	 res, res2;
	int			 r;

	r = parse(arg, len, &p, &res);
	FUZZ_ASSERT(parse(arg, len, &p2, &res2) == r);
	FUZZ_ASSERT(memcmp(&res, &res2, sizeof(res)) == 0);
	if (r < 0) {
		FUZZ_ASSERT(r == -1);
		check_refusal(&res);
		return;
	}
	FUZZ_ASSERT(r == 0 && res.code == 0);
	FUZZ_ASSERT(memcmp(&p, &p2, sizeof(p)) == 0);
	check_path(&p, is_mail);
	check_round_trip(&p, is_mail);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*line = (const char *)data;
	struct smtpd_command	 cmd;

	check_split(line, size, &cmd);
	/* Whatever the verb, both argument parsers see the argument, and
	 * the whole line too (a line that is all argument). */
	check_mail_rcpt(cmd.arg, cmd.arglen, 1);
	check_mail_rcpt(cmd.arg, cmd.arglen, 0);
	check_mail_rcpt(line, size, 1);
	check_mail_rcpt(line, size, 0);
	return 0;
}
