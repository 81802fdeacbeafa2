/*
 * smtpd_command - the SMTP command line parser of smtpd: verb recognition
 * and the MAIL FROM / RCPT TO paths and parameters (RFC 5321 4.1.1, 4.1.2,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3461 DSN: smtpd_dsn.h).
 *
 * Everything here is pure: it reads (pointer, length) pairs that need not be
 * NUL-terminated, touches no global state and allocates nothing, so it can
 * be unit-tested and fuzzed on arbitrary bytes.  Errors come back as a
 * complete SMTP reply (code, enhanced status code, text) that the session
 * sends as it is.
 */
#ifndef TERN_SMTPD_COMMAND_H
#define TERN_SMTPD_COMMAND_H

#include <stddef.h>

#include "addr.h"
#include "smtpd_dsn.h"

enum smtpd_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_VRFY,
	SMTP_VERB_HELP,
	SMTP_VERB_QUIT,
	SMTP_VERB_STARTTLS
};

/* A command line split into verb and argument.  arg points into the line. */
struct smtpd_command {
	enum smtpd_verb	 verb;
	const char	*arg;		/* first byte after the verb's blanks */
	size_t		 arglen;	/* 0 when there is no argument */
};

/* An error reply; code 0 means "no error". */
struct smtpd_result {
	int		 code;		/* 501, 555, ... */
	const char	*enhanced;	/* "5.5.4" */
	const char	*text;		/* static, without code or CRLF */
};

enum smtpd_body {
	SMTP_BODY_NONE,			/* no BODY parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME
};

/* A parsed MAIL FROM or RCPT TO. */
struct smtpd_path {
	char		 addr[ADDR_PATH_MAX + 1]; /* mailbox, no brackets or
						     route; "" for <> */
	size_t		 addrlen;
	int		 null;		/* MAIL FROM:<> */
	int		 postmaster;	/* RCPT TO:<postmaster> (no domain) */
	int		 has_size;	/* SIZE= was given */
	unsigned long long size;	/* its value */
	enum smtpd_body	 body;
	int		 ret;		/* MAIL RET=: QUEUE_RET_*, 0 if not given */
	char		 envid[SMTP_ENVID_MAX + 1];	/* MAIL ENVID=, decoded */
	int		 notify;	/* RCPT NOTIFY=: QUEUE_NOTIFY_* bits */
	char		 orcpt[SMTP_ADDRTYPE_MAX + SMTP_ORCPT_MAX + 2];
					/* RCPT ORCPT=: "type;address" */
};

/* Longest SIZE= value accepted, in digits (far above any real limit). */
#define SMTP_SIZE_DIGITS_MAX	20

/* Split line[0..len) (without CRLF) into verb and argument.  Trailing blanks
 * are ignored.  Never fails: an unrecognized verb is SMTP_VERB_UNKNOWN. */
void	smtpd_command_split(const char *line, size_t len, struct smtpd_command *);

/* Parse the argument of MAIL ("FROM:<path> [params]") or RCPT
 * ("TO:<path> [params]").  0 with *path filled, or -1 with *res set. */
int	smtpd_command_mail(const char *arg, size_t len, struct smtpd_path *,
	    struct smtpd_result *);
int	smtpd_command_rcpt(const char *arg, size_t len, struct smtpd_path *,
	    struct smtpd_result *);

/*
 * A command line line[0..len) that its reader ended at a LF, eol_len being
 * 2 for CRLF and 1 for a bare LF: "CR" if it holds a bare CR, else "LF" if
 * it ended in a bare LF, else NULL (RFC 5321 2.3.8 allows neither).
 */
const char *smtpd_command_bare(const char *line, size_t len, size_t eol_len);

/* The verb's name ("MAIL"), for logs. */
const char *smtpd_command_name(enum smtpd_verb);

/* Fill res with a refusal and return -1, for every parser and policy check. */
int	smtpd_fail(struct smtpd_result *, int code, const char *enhanced,
	    const char *text);

#endif
