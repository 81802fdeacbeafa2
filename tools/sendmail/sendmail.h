/*
 * sendmail - the Postfix-compatible sendmail(1) command: local submission
 * (through ternpostdrop into maildrop/), and the mailq and newaliases
 * modes.  The parts: sendmail_args.c (the command line, as Postfix's
 * sendmail reads it), sendmail_submit.c (read the message, take
 * recipients from its header with -t, hand the drop file to ternpostdrop),
 * sendmail_mailq.c (-bp), sendmail.c (configuration and dispatch).
 */
#ifndef TERN_SENDMAIL_H
#define TERN_SENDMAIL_H

#include <stddef.h>

#include "config.h"
#include "queue_file.h"

/* sysexits.h values, spelled out: the exit codes are the interface. */
#define SM_EX_OK		0
#define SM_EX_USAGE		64
#define SM_EX_DATAERR		65
#define SM_EX_NOUSER		67
#define SM_EX_UNAVAILABLE	69
#define SM_EX_SOFTWARE		70
#define SM_EX_OSERR		71
#define SM_EX_TEMPFAIL		75
#define SM_EX_CONFIG		78

enum sendmail_mode {
	SM_MODE_DELIVER,	/* -bm, the default: submit a message */
	SM_MODE_MAILQ,		/* -bp, mailq */
	SM_MODE_NEWALIASES,	/* -bi, -I, newaliases */
	SM_MODE_VERIFY,		/* -bv */
	SM_MODE_SMTP,		/* -bs */
	SM_MODE_FLUSH,		/* -q */
	SM_MODE_IGNORE		/* -qINTERVAL, -bh, -bH: nothing to do, exit 0 */
};

struct sendmail_opts {
	enum sendmail_mode mode;
	const char	*config;	/* -C / -c; NULL: TERN_CONFIG or default */
	const char	*sender;	/* -f / -r; NULL: the user */
	const char	*fullname;	/* -F */
	enum queue_body	 body;		/* -B */
	enum queue_ret	 ret;		/* -R */
	const char	*envid;		/* -V */
	int		 notify;	/* -N, QUEUE_NOTIFY_* bits */
	int		 extract;	/* -t */
	int		 ignore_dots;	/* -i, -oi */
	int		 verbose;	/* -v */
	int		 nrcpt;		/* recipients on the command line */
	char		**rcpt;		/* point into argv */
	const char	*error;		/* why parsing failed */
};

/* Parse argv (argv[0] picks mailq/newaliases modes).  0, or SM_EX_USAGE
 * with o->error set. */
int	sendmail_args(int argc, char **argv, struct sendmail_opts *o);
/* -N's list: "never", or any of success, delay, failure.  0 or -1. */
int	sendmail_parse_notify(const char *s, int *bits);
/* -V's envid: 1..100 printable ASCII characters but '+' and '='
 * (RFC 3461 xtext as a user types it).  1 if fine. */
int	sendmail_envid_ok(const char *s);

/* Submit the message on standard input.  An exit code. */
int	sendmail_submit(const struct sendmail_opts *, const struct tern_config *);
/* -bs: a minimal SMTP dialogue on standard input and output; each
 * message goes the way of sendmail_submit.  An exit code. */
int	sendmail_smtp(const struct sendmail_opts *, const struct tern_config *);
/* The envelope sender of o (-f, or the user's name); NULL if bad. */
char	*sendmail_sender(const struct sendmail_opts *o);
struct sendmail_rcpts;
/* Hand one message to ternpostdrop.  An exit code. */
int	sendmail_enqueue(const struct sendmail_opts *, const struct tern_config *,
	    const char *sender, const struct sendmail_rcpts *, const char *msg,
	    size_t mlen);
/* -bv: check the recipients; print one line each.  An exit code. */
int	sendmail_verify(const struct sendmail_opts *, const struct tern_config *);
/* -bp: list the queue in Postfix's mailq layout.  An exit code. */
int	sendmail_mailq(const struct tern_config *, int out_fd);
/* -q: ask qmgr to retry deferred mail now.  An exit code. */
int	sendmail_flush(const struct tern_config *);

/* Collect the addresses of a recipient argument or a header field into
 * list (at most DROP_RCPT_MAX); bad ones are counted in *bad and named on
 * stderr.  The canonical spelling is kept; a bare local part gets no
 * domain here (pickup adds myhostname). */
struct sendmail_rcpts {
	char	**addr;
	int	 n;
	int	 bad;
};
void	sendmail_rcpt_add(struct sendmail_rcpts *, const char *s, size_t len);
void	sendmail_rcpts_free(struct sendmail_rcpts *);

/* Read a message from fd: CR before LF removed; without ignore_dots a line
 * of one "." ends it.  Malloc'd, *len its length; NULL with *why (too big,
 * NUL byte, read error). */
char	*sendmail_read_message(int fd, int ignore_dots, size_t max,
	    size_t *len, const char **why);

#endif
