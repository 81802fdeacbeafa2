/*
 * smtpd_lookup - asking the lookup service (lookup(8), proto_lookup.h)
 * whether a recipient exists, so that smtpd itself reads no password
 * database and no table and can run chrooted.  One persistent,
 * non-blocking connection per smtpd process carries the questions of all
 * its sessions, pipelined; the replies come back in order, each naming its
 * request.  A session that asks stops reading commands until its answer
 * comes (smtpd_dialog_rcpt_answer), so the event loop never waits.
 *
 * Failure is a temporary error (451 4.3.0 at RCPT), never a 550 and never
 * a hang: a service that cannot be reached answers at once; one that has
 * not answered the oldest question within smtpd_lookup_timeout, that
 * closes, or that sends anything but the reply expected is dropped, and
 * every question waiting on it is answered "tempfail".  The next question
 * connects again.
 */
#ifndef TERN_SMTPD_LOOKUP_H
#define TERN_SMTPD_LOOKUP_H

struct event_base;
struct smtpd_lookup;
struct smtpd_session;

/* Questions waiting at once, at most (a session has one at a time; this
 * bounds those of sessions that left before their answer). */
#define SMTP_LOOKUP_WAITS_MAX	4096

/* timeout_s: the longest the oldest question waits (smtpd_lookup_timeout). */
struct smtpd_lookup *smtpd_lookup_new(struct event_base *, int timeout_s);
/* Ask about rcpt (canonical) for session s, which has no question open.
 * 1: asked; smtpd_dialog_rcpt_answer(s, ...) follows, from the event loop,
 * never from within this call.  0: not asked (the service cannot be
 * reached, or too much waits): the caller treats it as a failed lookup. */
int	smtpd_lookup_ask(struct smtpd_lookup *, struct smtpd_session *s,
	    const char *rcpt);
/* Session s goes: its answer, if one is due, is to be ignored. */
void	smtpd_lookup_cancel(struct smtpd_lookup *, struct smtpd_session *s);
/* Free (sessions first: no waiting session is answered from here). */
void	smtpd_lookup_free(struct smtpd_lookup *);

#endif
