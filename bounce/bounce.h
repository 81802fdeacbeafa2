/*
 * bounce - internal interfaces of the notifications service (bounce(8)).
 *
 * bounce_compose.c builds a delivery status notification (RFC 3464 inside
 * an RFC 6522 multipart/report) from what it is given: pure functions on
 * buffers, unit-tested and fuzzed.  bounce_notice.c reads the original's
 * queue file (envelope, outcome records, the part of the message a notice
 * returns) and commits the notice into the queue with queue_writer.
 * bounce_listen.c answers qmgr's requests (proto_bounce.h).
 */
#ifndef TERN_BOUNCE_H
#define TERN_BOUNCE_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "proto_bounce.h"
#include "queue_file.h"
#include "queue_outcome.h"

#define BOUNCE_CLIENT_MAX	16	/* qmgr is the only client */
#define BOUNCE_REQUEST_MAX	(64 * 1024 + 1024)
#define BOUNCE_TIMEOUT		30	/* s for qmgr to read a reply */
#define BOUNCE_HEADER_MAX	(64 * 1024) /* header part of the notice */
#define BOUNCE_LINE_MAX		998	/* RFC 5322 2.1.1: characters per line */
#define BOUNCE_FOLD		78	/* where a long line is folded */

/* Everything one notice is made of. */
struct bounce_notice {
	const char			 *myhostname;
	const char			 *notice_id;	/* the new message's */
	long long			  now;
	enum bounce_event		  event;
	enum bounce_kind		  kind;
	const char			 *to;		/* who gets it */
	const struct queue_envelope	 *env;		/* the original */
	const int			 *idx;		/* recipients in it */
	int				  n;
	const struct queue_outcome *const *last;	/* per env recipient: its
							   latest record or NULL */
	long long			  until;	/* delayed: retries end */
	const char			 *msg;		/* the original's first */
	size_t				  msglen;	/* bytes (cut) ... */
	long long			  msgsize;	/* ... of msgsize */
	size_t				  size_limit;	/* bounce_size_limit */
};

/* ---- bounce_compose.c ---------------------------------------------- */

/* RFC 5322 date of t (local time) into out (>= 40 bytes).  0 or -1. */
int	bounce_date(long long t, char *out, size_t outlen);
/* Length of the header section of msg[0..len) with the empty line that
 * ends it, or len if it does not end within len. */
size_t	bounce_header_end(const char *msg, size_t len);
/* Split an SMTP client's diagnostic "host H said: REPLY (in reply to
 * ...)" (smtp/smtp_reply.c): H into host (the name, without "[address]"
 * when a name precedes it) and the reply into reply, both cleaned.  1 if
 * the text has that shape, 0 if not (host and reply untouched). */
int	bounce_diag_split(const char *text, char *host, size_t hostlen,
	    char *reply, size_t replylen);
/* The RFC 3464 action word of an outcome record's letter, for event. */
const char *bounce_action(enum bounce_event, const struct queue_outcome *);
/* The parts of a notice, each appended to out; 0 or -1 (out's limit). */
int	bounce_compose_headers(const struct bounce_notice *, const char *boundary,
	    struct buf *out);
int	bounce_compose_human(const struct bounce_notice *, struct buf *out);
int	bounce_compose_status(const struct bounce_notice *, struct buf *out);
int	bounce_compose_original(const struct bounce_notice *, struct buf *out);
#define BOUNCE_BOUNDARY_SIZE	(QUEUE_ID_SIZE + 64)
/* The MIME boundary of b's notice (outlen >= BOUNCE_BOUNDARY_SIZE): one
 * that does not occur in the returned message. */
void	bounce_boundary(const struct bounce_notice *, char *out, size_t outlen);
/* The whole notice (headers, then the three parts). */
int	bounce_compose(const struct bounce_notice *, struct buf *out);

/* ---- bounce_notice.c ----------------------------------------------- */

struct bounce_params;
struct tern_config;

/* Is the client who asked for a notice gone (it gave up waiting and will
 * ask again)?  Asked once more after the notice's fsync, right before it
 * is published: a notice nobody will mark is not queued. */
struct bounce_asker {
	int	(*gone)(void *arg);
	void	 *arg;
};

/* Write the notice about event for recipients idx of active/<id> (idx as
 * sent, checked here against the file), unless asker (or NULL) is gone by
 * the time it is durable.  0: queued, its id in notice_id (QUEUE_ID_SIZE),
 * or "" when none is due; -1 with *err. */
int	bounce_notice_send(const struct tern_config *,
	    const struct bounce_params *, const char *id, enum bounce_event,
	    const char *rcpts, long long until,
	    const struct bounce_asker *asker, char *notice_id,
	    const char **err);

/* ---- bounce_listen.c ----------------------------------------------- */

struct event_base;
struct ipc_server;

struct bounce {
	struct event_base		*base;
	const struct tern_config	*cfg;
	const struct bounce_params	*par;
	struct ipc_server		*listener;
};

int	bounce_listen_init(struct bounce *, int fd);
void	bounce_listen_free(struct bounce *);

#endif
