/*
 * smtpd_anvil - the limits per client address (Postfix's names and
 * meanings): smtpd_client_connection_count_limit sessions at once and
 * smtpd_client_connection_rate_limit new sessions per anvil_rate_time_unit,
 * counted across every smtpd process by anvil(8) (proto_anvil.h), for
 * clients outside smtpd_client_event_limit_exceptions.
 *
 * A new session asks anvil before its greeting, over one persistent,
 * non-blocking connection shared by the process's sessions (requests are
 * pipelined, and replies come back in order).  Nothing ever blocks the
 * event loop, and a missing or slow anvil never stops mail: a session
 * whose answer has not come within SMTP_ANVIL_WAIT_MS is let in with a log
 * line, but the connection is kept and the late answer consumed, so that
 * what anvil counted stays counted and later DISCONNECTs balance.  When
 * anvil cannot be reached, closes, answers garbage or stalls for long, the
 * waiting sessions are let in, the connection is dropped (anvil then
 * forgets what it counted on it) and tried again SMTP_ANVIL_RETRY_MS later;
 * the new connection first counts again every session still open.  Fail
 * open: limits are a defence against abuse, and an outage of anvil must
 * not become one of mail.
 */
#ifndef TERN_SMTPD_ANVIL_H
#define TERN_SMTPD_ANVIL_H

#include <stddef.h>

struct event_base;
struct ipc_msg;
struct smtpd_anvil;
struct smtpd_session;
struct smtpd_params;

/* The longest a new session waits for anvil before it is let in. */
#define SMTP_ANVIL_WAIT_MS	1000
/* Wait this long after a failed or dropped connection before trying again. */
#define SMTP_ANVIL_RETRY_MS	1000

/* service: the smtpd service name (master.conf), which keys the counts. */
struct smtpd_anvil *smtpd_anvil_new(struct event_base *,
	    const struct smtpd_params *, const char *service);
/* Ask anvil about the new session s.  1: asked; smtpd_session_admit(s, ...)
 * follows later.  0: nothing to ask (no limits, an exempt client, anvil
 * unavailable): the session may start at once. */
int	smtpd_anvil_connect(struct smtpd_anvil *, struct smtpd_session *s);
/* Session s ends: forget its question, tell anvil if it was counted. */
void	smtpd_anvil_disconnect(struct smtpd_anvil *, struct smtpd_session *s);
/* The address anvil counts client under: itself for IPv4, its network of
 * v6_prefix bits for IPv6 ("2001:db8::/84").  0, or -1 if out is short or
 * client no address. */
int	smtpd_anvil_ident(const char *client, int v6_prefix, char *out,
	    size_t len);
/* What anvil's reply m says (pure, fuzzed): 0 with the counts, both 0
 * unless status=ok gave them within [0, 2^30] (status full or unknown, or
 * a count missing or out of range: no limit applies); -1 when anvil refused
 * the request (any other type), *why its text (pointing into m).  The
 * session goes on either way. */
int	smtpd_anvil_reply_decode(const struct ipc_msg *m, int *count,
	    int *rate, const char **why);
/* Free (sessions first: a waiting session is never admitted from here). */
void	smtpd_anvil_free(struct smtpd_anvil *);

#endif
