/*
 * smtpd_notify - tell qmgr about each new message, committed into active/
 * (QMGR_T_COMMITTED) or, while qmgr cannot be told, incoming/
 * (QMGR_T_NOTIFY), over one persistent, non-blocking connection to
 * QMGR_SOCKET.  Only once qmgr has answered a notice of protocol 2 on the
 * connection (a qmgr of protocol 1 would never look in active/) does
 * smtpd commit into active/.  The notice is only a hint (qmgr also scans
 * active/ for files it was not told about, every few seconds, and takes
 * active/ back when it starts), so when qmgr is down or slow the notice is
 * dropped rather than ever blocking the event loop, and the connection is
 * tried again a little later.
 */
#ifndef TERN_SMTPD_NOTIFY_H
#define TERN_SMTPD_NOTIFY_H

struct event_base;
struct smtpd_notify;

/* Wait this long after a failed connection before trying again (a new
 * qmgr takes back active/ when it starts). */
#define SMTP_NOTIFY_RETRY_MS	1000
/* Drop notices while this much is still unsent. */
#define SMTP_NOTIFY_BACKLOG	(64 * 1024)

struct smtpd_notify *smtpd_notify_new(struct event_base *, const char *path);
/* Can qmgr be told now (connected, or connects at once, and not behind)?
 * Then smtpd commits into active/; else into incoming/, which qmgr scans
 * (a qmgr taken out of master.conf leaves mail where the admin tools can
 * hold and delete it, as active/ is qmgr's alone). */
int	smtpd_notify_ready(struct smtpd_notify *);
/* Tell qmgr about id: committed into active/ (QMGR_T_COMMITTED) or into
 * incoming/ (QMGR_T_NOTIFY). */
void	smtpd_notify_send(struct smtpd_notify *, const char *id,
	    int committed);
void	smtpd_notify_free(struct smtpd_notify *);

#endif
