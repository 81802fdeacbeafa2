/*
 * smtpd_session - one SMTP conversation.  Three files share this state:
 *
 *	smtpd_session.c	the connection: bufferevent, reading command lines,
 *			pipelining, throttling, time-outs, closing, replies
 *	smtpd_dialog.c	the commands: what HELO, MAIL, RCPT, DATA, ... do
 *	smtpd_message.c	the message: queue file, DATA stream, commit
 *
 * A session is in one phase at a time.  The session owns its queue file
 * only during DATA; at the end of DATA it hands the file to the commit
 * workers and processes no input until the commit is done, so nothing is
 * acknowledged before it is durable (what arrives meanwhile is buffered,
 * up to SMTP_COMMIT_INPUT_MAX, and answered after the "250").  A RCPT that
 * needs the lookup service's answer holds input the same way until the
 * answer comes (smtpd_lookup.h), so pipelined commands are answered in
 * order.
 */
#ifndef TERN_SMTPD_SESSION_H
#define TERN_SMTPD_SESSION_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>

#include "queue_writer.h"
#include "rcpt_lookup.h"
#include "smtpd_command.h"
#include "smtpd_data.h"

struct event;
struct evbuffer;
struct smtpd_anvil_wait;
struct smtpd_lookup_wait;
struct smtpd_rcpt_wait;
struct smtpd_server;
struct ssl_st;

/* Longest command line accepted, without CRLF: RFC 5321 allows 512 with
 * CRLF, plus room for ESMTP parameters (section 4.5.3.1.4). */
#define SMTP_LINE_MAX		2048
/* More than this many 5xx replies in a session end it (421); more than
 * smtpd_junk_command_limit junk commands (NOOP, RSET, VRFY, HELP, a
 * second HELO/EHLO, unknown ones, over-long lines, STARTTLS or MAIL
 * refused for want of TLS) do too. */
#define SMTP_ERROR_LIMIT	20
/* Stop reading while this much output waits for a client that is not
 * reading its replies. */
#define SMTP_OUTPUT_MAX		(16 * 1024)
/* During a commit input is read (so that the read event stays armed and
 * costs no epoll_ctl(2) pair per message) but not processed; reading
 * pauses once this much waits. */
#define SMTP_COMMIT_INPUT_MAX	(16 * 1024)

enum smtpd_phase {
	SMTP_PHASE_COMMAND,	/* reading commands */
	SMTP_PHASE_DATA,	/* reading the message after 354 */
	SMTP_PHASE_COMMIT,	/* a worker is committing the message */
	SMTP_PHASE_CLOSING,	/* last reply queued; free once written */
	SMTP_PHASE_CONNECT,	/* asking anvil before the greeting */
	SMTP_PHASE_LOOKUP,	/* a RCPT waits for the lookup service */
	SMTP_PHASE_TLS_START,	/* STARTTLS's 220 is being written */
	SMTP_PHASE_TLS_HANDSHAKE /* in the TLS handshake (smtpd_tls.c) */
};

struct smtpd_session {
	LIST_ENTRY(smtpd_session) entry;
	struct smtpd_server	*srv;
	int			 fd;		/* -1 once the client is gone */
	struct event		*rev;		/* readable, or idle time-out */
	struct event		*wev;		/* made when a write would block */
	struct evbuffer		*in;
	struct evbuffer		*out;
	enum smtpd_phase		 phase;
	unsigned int		 reading:1;	/* rev is added */
	unsigned int		 esmtp:1;	/* EHLO rather than HELO */
	unsigned int		 discarding:1;	/* inside an over-long line */
	unsigned int		 throttled:1;	/* output full: not reading */
	unsigned int		 gone:1;	/* client left during a commit */
	unsigned int		 peer_eof:1;	/* end of input seen in a commit */
	unsigned int		 write_failed:1; /* queue file write error */
	unsigned int		 client_v6:1;
	unsigned int		 tls_on:1;	/* after a STARTTLS handshake */
	struct ssl_st		*tls;		/* from STARTTLS on, else NULL */
	int			 errors;	/* 5xx replies so far */
	int			 junk;		/* NOOP, RSET, HELP, ...
						   since the last message */
	long long		 deadline_ms;	/* io_now_ms() by which the
						   command (or DATA) must be in */
	long long		 end_ms;	/* smtpd_session_time_limit */
	struct smtpd_anvil_wait	*anvil_wait;	/* anvil's answer is due */
	TAILQ_ENTRY(smtpd_session) anvil_entry;	/* while anvil_counted */
	unsigned int		 anvil_counted:1; /* anvil counts it
						   (smtpd_anvil.c) */
	struct smtpd_lookup_wait *lookup_wait;	/* the lookup service's
						   answer is due */
	struct smtpd_rcpt_wait	*rcpt_wait;	/* the RCPT it is for
						   (smtpd_dialog.c) */
	char			*helo;		/* NULL before HELO/EHLO */
	char			*sender;	/* NULL before MAIL; "" for <> */
	enum smtpd_body		 body;		/* MAIL BODY= */
	int			 ret;		/* MAIL RET=: QUEUE_RET_* */
	char			*envid;		/* MAIL ENVID= (decoded) or NULL */
	struct queue_rcpt	*rcpt;		/* accepted recipients, each
						   once (canonical spelling) */
	char			**rcpt_account;	/* per rcpt: the mailbox's
						   account and address
						   extension, or NULL */
	int			 nrcpt;
	int			 rcpt_cap;
	int			 rcpt_tried;	/* RCPT commands, accepted or not */
	int			 rcpt_accepted;	/* accepted, duplicates too */
	struct queue_writer	*qw;		/* only during DATA and commit */
	struct smtpd_data	 dec;
	char			 id[QUEUE_ID_SIZE]; /* of the message in DATA */
	char			 client[INET6_ADDRSTRLEN];
};

/* smtpd_session.c */
/* Start a session on an accepted socket (the session owns fd). */
void	smtpd_session_new(struct smtpd_server *, int fd, const struct sockaddr *);
/* anvil's answer for a session in SMTP_PHASE_CONNECT: its client's
 * sessions and their rate (0: unknown); greet it or refuse it.  May free. */
void	smtpd_session_admit(struct smtpd_session *, int count, int rate);
/* Server shutdown: tell the client, flush what can be flushed without
 * blocking, abort an unfinished message, free the session. */
void	smtpd_session_shutdown(struct smtpd_session *);
void	smtpd_session_reply(struct smtpd_session *, int code,
	    const char *enhanced, const char *text);
void	smtpd_session_result(struct smtpd_session *, const struct smtpd_result *);
/* "code enhanced myhostname text", as 421 replies customarily are. */
void	smtpd_session_reply_host(struct smtpd_session *, int code,
	    const char *enhanced, const char *text);
struct evbuffer *smtpd_session_out(struct smtpd_session *);
/* Enable or disable reading to suit the phase. */
void	smtpd_session_want_read(struct smtpd_session *);
/* End the session once the replies queued so far are written. */
void	smtpd_session_close(struct smtpd_session *);
/* STARTTLS accepted: the 220, then (once it is written) the handshake;
 * plaintext the client pipelined after the command is discarded. */
void	smtpd_session_starttls(struct smtpd_session *);
/* After a commit: read again and process what is buffered.  May free. */
void	smtpd_session_resume(struct smtpd_session *);
/* A command answered later (a RCPT after the lookup service's answer):
 * the session's error limits, then on with the input.  May free. */
void	smtpd_session_command_done(struct smtpd_session *);
/* Drop the connection (during a commit the struct lingers, detached). */
void	smtpd_session_free(struct smtpd_session *);

/* smtpd_dialog.c */
/* Act on one command line (without CRLF). */
void	smtpd_dialog_command(struct smtpd_session *, const char *line, size_t);
/* Forget MAIL, RCPT and any unfinished message (never during a commit,
 * when a worker owns the queue file). */
void	smtpd_dialog_reset(struct smtpd_session *);
/* The lookup service's answer for the session's waiting RCPT (account
 * when found): reply, then on with the input.  May free. */
void	smtpd_dialog_rcpt_answer(struct smtpd_session *,
	    enum rcpt_lookup_status, const char *account);

/* smtpd_message.c */
/* DATA was accepted: create the queue file and answer 354 (or 451). */
void	smtpd_message_start(struct smtpd_session *);
/* Decode buffered DATA input; 1 once the message has ended (and been
 * answered or handed to a commit worker), 0 when more input is needed. */
int	smtpd_message_input(struct smtpd_session *, struct evbuffer *);
/* Remove the unfinished queue file, if any. */
void	smtpd_message_discard(struct smtpd_session *);

#endif
