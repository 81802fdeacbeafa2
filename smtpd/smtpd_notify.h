/*
 * smtpd_notify - tell qmgr about each new message (QMGR_T_NOTIFY) over one
 * persistent, non-blocking connection to QMGR_SOCKET.  The notice is only a
 * hint (qmgr also scans incoming/), so when qmgr is down or slow the notice
 * is dropped rather than ever blocking the event loop, and the connection
 * is tried again a little later.
 */
#ifndef TERN_SMTPD_NOTIFY_H
#define TERN_SMTPD_NOTIFY_H

struct event_base;
struct smtpd_notify;

/* Wait this long after a failed connection before trying again (a new
 * qmgr scans incoming/ again later than that: QMGR_START_RESCAN_MS). */
#define SMTP_NOTIFY_RETRY_MS	1000
/* Drop notices while this much is still unsent. */
#define SMTP_NOTIFY_BACKLOG	(64 * 1024)

struct smtpd_notify *smtpd_notify_new(struct event_base *, const char *path);
void	smtpd_notify_send(struct smtpd_notify *, const char *id);
void	smtpd_notify_free(struct smtpd_notify *);

#endif
