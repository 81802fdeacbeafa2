/*
 * qmgr - internal interfaces of the queue manager.
 *
 * One struct qmgr holds all of the daemon's state: the active set of
 * messages and its ready FIFO, the queue of each destination (transport and
 * next hop), the pool of connections of each transport, the clients of the
 * qmgr protocol and the timers.  It is passed to every function; nothing
 * here is a hidden global, so the pure parts can be unit-tested without an
 * event loop.
 */
#ifndef TERN_QMGR_H
#define TERN_QMGR_H

#include <sys/queue.h>
#include <sys/tree.h>
#include <dirent.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "qmgr_params.h"
#include "ipc.h"
#include "ipc_event.h"
#include "map.h"
#include "proto_bounce.h"
#include "proto_deliver.h"
#include "queue.h"
#include "queue_file.h"

struct event;
struct event_base;
struct bufferevent;
struct evbuffer;

/* Limits.  Every one of them bounds memory, file descriptors or the time
 * one turn of the event loop takes.  (The messages and recipients held in
 * memory, and the dead destinations remembered, are bounded by
 * qmgr_message_active_limit and qmgr_message_recipient_limit.) */
#define QMGR_SCAN_STEP		1024	/* directory entries read per turn */
#define QMGR_FEED_STEP		256	/* files moved into active/ per turn */
#define QMGR_KICK_BATCH		256	/* dispatches per loop iteration */
#define QMGR_KICK_MS		10	/* ... and milliseconds */
#define QMGR_PIPELINE_REMOTE	8	/* requests out per connection to an
					   SMTP or LMTP client, which makes
					   one at a time: their many
					   connections (default_process_limit)
					   each hold that many files open */
#define QMGR_LOCAL_OUT_MAX	128	/* requests out to deliver in all
					   (DELIVER_PIPELINE_MAX per connection
					   with the default 4, fewer with more,
					   never under QMGR_PIPELINE_REMOTE) */
#define QMGR_LOCAL_FILL		DELIVER_BATCH_MAX /* requests for one
					   recipient waiting on a busy deliver
					   connection beyond the batch it makes,
					   before an idle one gets any
					   (qmgr_transport.c, pool_filling) */
#define QMGR_FILL_FRESH_MS	50	/* ... if it replied this recently */
#define QMGR_STALL_MS		500	/* a busy deliver connection without a
					   reply for this long gets more requests
					   only when no other has room, and one
					   whose last batch took this long is
					   not filled */
#define QMGR_WAITING_MAX	128	/* loaded entries waiting for a slot on a
					   destination that could send */
#define QMGR_WAITING_HARD	256	/* ... and on any destination: open
					   files of loaded messages */
#define QMGR_DEAD_FAILS		3	/* connection failures in a row that
					   make a destination dead */
#define QMGR_CLIENT_MAX		512	/* qmgr-protocol clients */
#define QMGR_REQUEST_MAX	4096	/* largest client frame, header incl. */
#define QMGR_CLIENT_OUT_MAX	(16 * 1024) /* unread replies before pausing */
#define QMGR_CLIENT_TIMEOUT	60	/* s to write a reply to a client */
#define QMGR_REPLY_GRACE	60	/* s beyond local_time_limit for deliver
					   to answer a request */
#define QMGR_IDLE_TIMEOUT	60	/* s an unused deliver connection lives */
#define QMGR_BACKLOG_MS		500	/* unanswered this long: not accepted */
#define QMGR_RETRY_MIN		1	/* s, first retry after deliver trouble */
#define QMGR_RETRY_MAX		30	/* s, cap of that retry delay */
#define QMGR_CONN_FAIL_MAX	5	/* crashes on one message before back-off */
#define QMGR_TEXT_MAX		256	/* bytes of peer text put in a log line */
#define QMGR_BOUNCE_RETRY	10	/* s before asking a failed bounce again */
#define QMGR_BOUNCE_CONCURRENCY	2	/* requests out to bounce(8) at once:
					   it composes one while qmgr marks the
					   other; more would only wait in its
					   one process.  Only the oldest one's
					   time-out (qmgr_bounce_timeout) runs */
#define QMGR_NOTICE_LIFETIME_MIN 86400	/* s: a message whose notice was never
					   queued goes to hold/ only after
					   this, and twice its lifetime */
#define QMGR_NOTICE_WAIT_MAX	256	/* loaded messages waiting for their
					   notices: open files */

/* ---- qmgr_backoff.c: pure retry-time arithmetic ---------------------- */

/* Seconds to wait before the next attempt of a message that is age seconds
 * old: min doubled once per earlier attempt (estimated from the age,
 * assuming the earlier waits were min, 2*min, 4*min, ...), at most max. */
int	qmgr_backoff(long long age, int min, int max);
/* Has a message of that age outlived its queue lifetime? */
int	qmgr_expired(long long age, int lifetime);
/* Has a message of this age, with nothing left to deliver, waited too long
 * for a notice bounce never queued?  Older than twice its lifetime (as
 * long again for the notice as for the delivery), and than
 * QMGR_NOTICE_LIFETIME_MIN, so that a lifetime of 0 does not give up on
 * the first hiccup. */
int	qmgr_notice_abandoned(long long age, int lifetime);
/* Delay before reconnecting to deliver after nfail consecutive failures
 * (nfail >= 1): QMGR_RETRY_MIN doubled per failure, up to QMGR_RETRY_MAX. */
int	qmgr_retry_delay(int nfail);

/* ---- qmgr_text.c: making peer text safe for one log line ------------- */

/* Copy src to dst (size dstlen > 0, always terminated), replacing control
 * characters and non-ASCII bytes with '?', truncating with "...". */
void	qmgr_text_safe(char *dst, size_t dstlen, const char *src);

/* ---- qmgr_route.c: recipient -> transport:nexthop (pure) ------------ */

#define QMGR_TRANSPORT_LOCAL	"local"	/* deliver(8), private/deliver */
#define QMGR_TRANSPORT_SMTP	"smtp"	/* the SMTP client, QMGR_SMTP_SOCKET */
#define QMGR_SMTP_SOCKET	"private/smtp"
#define QMGR_TRANSPORT_LMTP	"lmtp"	/* the LMTP client, QMGR_LMTP_SOCKET */
#define QMGR_LMTP_SOCKET	"private/lmtp"
#define QMGR_TRANSPORT_ERROR	"error"	/* internal: bounce, no agent */
#define QMGR_TRANSPORT_RETRY	"retry"	/* internal: defer, no agent */
#define QMGR_TRANSPORT_DISCARD	"discard" /* internal: delivered nowhere */
#define QMGR_TRANSPORT_NAME_MAX	32
#define QMGR_NEXTHOP_MAX	256
#define QMGR_DSN_MAX		16

/* Where a recipient goes.  A transport other than the internal ones names
 * a row of the transport table (qmgr_transport.c). */
struct qmgr_route {
	char		 transport[QMGR_TRANSPORT_NAME_MAX];
	char		 nexthop[QMGR_NEXTHOP_MAX];	/* lower case */
	char		 dsn[QMGR_DSN_MAX];	/* internal ones: the status */
	char		 text[QMGR_TEXT_MAX];	/* internal ones: the reason */
};

struct map_list;

/* Route rcpt (see qmgr_route.c for the rules): no domain or a local
 * domain -> "local", next hop myhostname; else transport_maps (maps, may
 * be NULL), relayhost, "smtp" to the domain; bad syntax -> "error" 5.1.3. */
void	qmgr_route(const struct tern_config *, const struct qmgr_params *,
	    struct map_list *maps, const char *rcpt, struct qmgr_route *);

struct virtual_maps;

/* Before qmgr_route: a recipient with a virtual alias (expanded by
 * deliver) or in a virtual domain goes to "local", next hop myhostname
 * (deliver is also the virtual transport); a failed table lookup defers
 * (4.3.0).  1 with *r set, or 0: qmgr_route decides. */
int	qmgr_route_virtual(const struct tern_config *, struct virtual_maps *,
	    const char *rcpt, struct qmgr_route *);

/* ---- qmgr_request.c: the deliver protocol, both directions ----------- */

enum qmgr_rcpt_status { QMGR_RCPT_OK, QMGR_RCPT_DEFER, QMGR_RCPT_BOUNCE };

struct qmgr_outcome {
	enum qmgr_rcpt_status	 status;
	const char		*dsn;	/* points into the reply, or static */
	const char		*text;
	enum deliver_action	 action;	/* with QMGR_RCPT_OK: what the
						   transport says it means */
	int			 mailbox;	/* with QMGR_RCPT_OK: one
						   Maildir (proto_deliver.h) */
};

/* Build a DELIVER_T_REQUEST (to next hop nexthop, attribute "nexthop"
 * unless NULL) for the pending recipients of env from index
 * *cursor on, as many as fit in one request (DELIVER_RCPT_MAX and the frame
 * size).  Their envelope indices go to idx[] (room for DELIVER_RCPT_MAX),
 * their number to *nidx; *cursor moves past the last one taken.  0 on
 * success; *nidx is 0 (and req already freed) when nothing is pending from
 * *cursor on.  -1 (req freed) when the envelope or the first recipient
 * cannot be put in a request at all: the file is then unusable. */
int	qmgr_request_build(const struct queue_envelope *env, int *cursor,
	    struct ipc_msg *req, int *idx, int *nidx, const char *nexthop);
/* Read a reply to a request of n recipients into out[0..n-1].  Every
 * outcome is filled: recipients the reply does not answer properly are
 * deferred.  0, or -1 with *err when the reply as a whole is unusable (all
 * deferred). */
int	qmgr_reply_parse(const struct ipc_msg *reply, int n,
	    struct qmgr_outcome *out, const char **err);

/* ---- qmgr_listen.c: the qmgr protocol, server side ------------------- */

enum qmgr_req_kind { QMGR_REQ_BAD, QMGR_REQ_NOTIFY, QMGR_REQ_FLUSH,
	QMGR_REQ_COMMITTED };

/* Check a client request; fill reply (initialised here) with IPC_T_OK or
 * IPC_T_ERROR text=....  For NOTIFY, *id points to the queue id inside req. */
enum qmgr_req_kind qmgr_listen_check(const struct ipc_msg *req,
	    struct ipc_msg *reply, const char **id);

/* ---- qmgr_oldest.c: the oldest ids of a directory pass (pure) -------- */

/* At most cap ids, the smallest (oldest) offered; then sorted, to be taken
 * oldest first. */
struct qmgr_oldest {
	char		(*id)[QUEUE_ID_SIZE];
	int		 cap;		/* ids kept at most */
	int		 size;		/* ids allocated */
	int		 n;		/* ids kept */
	int		 dropped;	/* offers that made one id go */
	int		 sorted;	/* qmgr_oldest_sort() was called */
	int		 next;		/* then: the next one to take */
};

/* Empty, for at most cap ids (no memory yet). */
void	qmgr_oldest_init(struct qmgr_oldest *, int cap);
/* Offer id (before qmgr_oldest_sort()).  When cap ids are kept already,
 * the newest of them and id is dropped (o->dropped counts it).  1: id is
 * kept (for now); 0: dropped at once (or too long to be an id). */
int	qmgr_oldest_offer(struct qmgr_oldest *, const char *id);
/* The pass is over: sort what is kept, oldest first. */
void	qmgr_oldest_sort(struct qmgr_oldest *);
/* After qmgr_oldest_sort(): the next oldest id, or NULL when all are
 * taken.  The pointer is valid until qmgr_oldest_reset(). */
const char *qmgr_oldest_next(struct qmgr_oldest *);
/* After qmgr_oldest_sort(): how many are left to take (0 before). */
int	qmgr_oldest_left(const struct qmgr_oldest *);
/* Free the memory; empty again, same cap. */
void	qmgr_oldest_reset(struct qmgr_oldest *);

/* ---- state ----------------------------------------------------------- */

enum qmgr_msg_state {
	QMGR_MSG_READY,		/* in the ready FIFO */
	QMGR_MSG_BUSY,		/* loaded: its entries are queued or out */
	QMGR_MSG_PARKED,	/* a file operation failed; retried each scan */
};

struct qmgr_entry;
TAILQ_HEAD(qmgr_entry_list, qmgr_entry);

/* One request to bounce(8) that a message's round has made due: a notice
 * about event ev for recipients idx[0..n) (at most one request's worth,
 * qmgr_notice_chunk()). */
struct qmgr_notice {
	TAILQ_ENTRY(qmgr_notice) link;
	enum bounce_event	 ev;
	long long		 until;		/* BOUNCE_DELAYED: end of retries */
	int			 n;
	int			 idx[];
};
TAILQ_HEAD(qmgr_notice_list, qmgr_notice);

struct qmgr_msg {
	char			 id[QUEUE_ID_SIZE];
	enum qmgr_msg_state	 state;
	TAILQ_ENTRY(qmgr_msg)	 all;		/* every message in memory */
	TAILQ_ENTRY(qmgr_msg)	 ready;		/* ready FIFO or parked list */
	struct qmgr_msg		*id_next;	/* in its q->by_id bucket */
	int			 conn_fail;	/* an agent died on it, in a row */
	int			 loaded;	/* fd and env are valid */
	int			 announced;	/* "from=..." has been logged */
	int			 fd;
	struct queue_envelope	 env;
	struct qmgr_entry_list	 entries;	/* this round's, while loaded */
	int			 nentries;
	const char		*corrupt;	/* why, once found unusable */
	unsigned long long	*reason;	/* per recipient: digest of its
						   latest outcome record, 0 if
						   none (qmgr_record.c) */
	unsigned char		*noticed;	/* per recipient: QMGR_NOTICED_*
						   markers on file */
	int			 bounce_asked;	/* bounce(8) was asked for a notice
						   about it by this struct's
						   qmgr, or a marker on file
						   says it was: its file is
						   unlinked, not recycled (an
						   earlier request that left no
						   marker is not known; smtpd's
						   write lease keeps a file
						   bounce still holds) */
	/* the notices of the round that ended, asked one after the other
	 * (qmgr_bounce_client.c) */
	struct qmgr_notice_list	 notices;	/* still to ask, in order */
	int			 notice_failed;	/* one could not be queued: the
						   message must stay */
	TAILQ_ENTRY(qmgr_msg)	 nlink;		/* q->notice_fifo */
};

#define QMGR_NOTICED_FAILED	0x1	/* a failure notice was queued */
#define QMGR_NOTICED_DELAYED	0x2	/* a delay warning ... */
#define QMGR_NOTICED_DELIVERED	0x4	/* a success notice ... */
TAILQ_HEAD(qmgr_msg_list, qmgr_msg);

/* ---- qmgr_record.c: outcome records in the queue file ---------------- */

/* Read the loaded message's records: what each recipient has on file. */
void	qmgr_record_load(struct qmgr_msg *);
/* Append recipient i's outcome (OUTCOME_BOUNCED or OUTCOME_DELAYED; a
 * delay only when its reason differs from the recipient's latest record)
 * without a sync: the caller's fdatasync makes it durable with its status
 * bytes.  1 written, 0 nothing to write (same reason, version 1 file), -1
 * (errno). */
int	qmgr_record_write(struct qmgr_msg *, int i, char action,
	    const char *dsn, const char *text);
/* A sync failed: what was written may not be on disk, so write it again
 * next time. */
void	qmgr_record_forget(struct qmgr_msg *);
/* Append the marker record (OUTCOME_NOTICE_*) of a notice about recipient
 * i, its text naming the notice, without a sync.  0 or -1 (errno). */
int	qmgr_record_notice(struct qmgr_msg *, int i, char letter,
	    const char *notice_id);
/* The text of the OUTCOME_NOTICE_DELIVERED marker of a recipient whose
 * success notice the next hop took over: bounce(8) never heard of it.
 * (Notice ids are [0-9A-Z]; "-" is bounce's "none".) */
#define QMGR_NOTICE_PASSED	"passed on"

/* ---- qmgr_bounce.c: delivery status notifications -------------------- */

/* The recipients of env a notice about ev is due for (noticed: the
 * markers on file, may be NULL) into idx (room for env->nrcpt); their
 * number.  Pure, for tests. */
int	qmgr_notice_due(const struct queue_envelope *, const unsigned char
	    *noticed, enum bounce_event, int *idx);
/* How many of idx[0..n) (n > 0) one bounce request can name: the rcpts
 * value is bounded (BOUNCE_RCPTS_MAX), a message's recipients are not.
 * At least one.  Pure, for tests. */
int	qmgr_notice_chunk(const int *idx, int n);
struct qmgr;
/* Append to m->notices the requests for the notice about ev that is due
 * for the loaded message m, if any (one per qmgr_notice_chunk() part).
 * Their number, or -1 when one may be due but the markers on file could
 * not be read (the message must wait until they can). */
int	qmgr_notice_plan(struct qmgr_msg *, enum bounce_event, long long until);
/* The BOUNCE_T_NOTICE request for n (initialised here).  0, or -1 (req
 * freed) when it cannot be encoded. */
int	qmgr_notice_request(const struct qmgr_msg *, const struct qmgr_notice *,
	    struct ipc_msg *req);
/* Read bounce's reply: 1 the notice is queued (its id, valid, into
 * notice_id, QUEUE_ID_SIZE bytes), 0 none was due, -1 refused or a bad
 * reply (*err: why, static or inside reply).  Pure, for tests. */
int	qmgr_notice_reply(const struct ipc_msg *reply, char *notice_id,
	    const char **err);
/* Notice n of m is queued as notice_id ("-": none was due): its marker
 * records, durable, then the bits in memory.  0 or -1 (logged). */
int	qmgr_notice_mark(struct qmgr_msg *, const struct qmgr_notice *,
	    const char *notice_id);
/* Free m->notices. */
void	qmgr_notice_forget(struct qmgr_msg *);
void	qmgr_record_free(struct qmgr_msg *);

/*
 * The recipients of one message that go to one destination, in envelope
 * order.  A request takes as many of them from the cursor on as fit; the
 * entry goes back to the head of its destination's queue while some are
 * left.
 */
struct qmgr_entry {
	TAILQ_ENTRY(qmgr_entry)	 link;		/* its destination's queue */
	TAILQ_ENTRY(qmgr_entry)	 mlink;		/* its message's entries */
	struct qmgr_msg		*msg;
	struct qmgr_dest	*dest;		/* NULL: outcomes known here */
	int			 waiting;	/* on dest's queue */
	int			*rcpt;		/* envelope indices */
	int			 nrcpt;
	int			 cursor;	/* rcpt[cursor..] not yet sent */
	int			 batch_start;	/* cursor before the request out */
	int			*batch;		/* envelope indices sent */
	int			 nbatch;
};

/* A destination: a transport and a next hop, with its queue of entries
 * and the number of its requests out.  Made on first use, freed when idle. */
struct qmgr_dest {
	TAILQ_ENTRY(qmgr_dest)	 link;		/* q->dests, round-robin order */
	RB_ENTRY(qmgr_dest)	 node;		/* q->dest_tree, by name */
	struct qmgr_transport	*transport;
	char			 nexthop[QMGR_NEXTHOP_MAX];
	struct qmgr_entry_list	 todo;		/* oldest first */
	int			 ntodo;
	int			 busy;		/* requests out */
};

/* A destination that failed to connect: `fails' in a row so far, and
 * once QMGR_DEAD_FAILS is reached, dead until `until' (its mail goes to
 * deferred/ instead of occupying agents).  Kept apart from struct
 * qmgr_dest, which lives only while mail for it is in memory, so that
 * failures of one message after another add up. */
struct qmgr_dead {
	TAILQ_ENTRY(qmgr_dead)	 link;		/* oldest first */
	RB_ENTRY(qmgr_dead)	 node;		/* q->dead_tree, by name */
	struct qmgr_transport	*transport;
	char			 nexthop[QMGR_NEXTHOP_MAX];
	int			 fails;
	time_t			 until;		/* 0: not dead (yet) */
};
TAILQ_HEAD(qmgr_dead_list, qmgr_dead);
TAILQ_HEAD(qmgr_dest_list, qmgr_dest);
/* Destinations and dead ones by (transport, next hop): a lookup per
 * recipient routed and per destination the dispatcher looks at, which a
 * walk of the lists would make cost as much as there are of them. */
RB_HEAD(qmgr_dest_tree, qmgr_dest);
RB_HEAD(qmgr_dead_tree, qmgr_dead);

/* A pass over incoming/ or deferred/ (qmgr_scan.c): the directory is read
 * QMGR_SCAN_STEP entries per turn of the event loop, the oldest ids that
 * may enter the active set are kept, and when the pass is over they are
 * moved into active/ oldest first, as room appears. */
struct qmgr_scan {
	enum queue_dir		 dir;
	DIR			*d;		/* a pass is under way */
	int			 again;		/* pass again once ids are fed */
	int			 flush;		/* this pass makes files due */
	int			 flush_next;	/* ... and so shall the next */
	unsigned long		 seen;		/* files seen in this pass */
	struct timespec		 start;		/* of this pass */
	struct qmgr_oldest	 ids;		/* found, then to be fed */
};

struct qmgr_conn;
TAILQ_HEAD(qmgr_conn_list, qmgr_conn);

/* A transport: a delivery service of master.conf, one socket and a pool of
 * connections to its processes.  The internal "error" transport is not in
 * the table: qmgr_message.c records its outcomes itself. */
struct qmgr_transport {
	TAILQ_ENTRY(qmgr_transport) link;
	struct qmgr		*q;
	char			 name[QMGR_TRANSPORT_NAME_MAX];
	char			 socket[QUEUE_PATH_SIZE];
	int			 concurrency;	/* connections, at most */
	int			 dest_limit;	/* requests out per destination;
						 * 0: only the pool's limit */
	int			 rcpt_limit;	/* recipients per request; 0:
						 * only the protocol's */
	int			 pipeline;	/* requests out per connection */
	int			 fill;		/* ... to fill before using an
						 * idle one (pool_filling); 0:
						 * never */
	int			 may_die;	/* failing destinations (and the
						 * service) are marked dead */
	int			 affinity;	/* a next hop's request goes to
						 * the connection that last
						 * served it (qmgr_transport.c) */
	time_t			 dead_until;	/* the service itself is dead */
	struct qmgr_conn_list	 conns;
	int			 nconns;
	int			 nfail;		/* consecutive failures */
	int			 backing_off;	/* no new connections now */
	struct event		*backoff_ev;
	struct event		*waitcheck_ev;	/* requests stuck in backlog? */
};
TAILQ_HEAD(qmgr_transport_list, qmgr_transport);

struct ipc_server;
struct qmgr_bconn;
TAILQ_HEAD(qmgr_bconn_list, qmgr_bconn);

struct qmgr {
	struct event_base	*base;
	const struct tern_config *cfg;
	const struct qmgr_params *par;

	/* the active set (qmgr_active.c; its events are qmgr.c's) */
	struct qmgr_msg_list	 msgs;		/* all of them */
	struct qmgr_msg_list	 fifo;		/* ready, in pickup order */
	struct qmgr_msg_list	 parked;
	struct qmgr_msg		**by_id;	/* every message, by id */
	size_t			 by_id_mask;	/* buckets - 1 (a power of 2) */
	int			 nactive;
	int			 active_max;	/* qmgr_message_active_limit */
	int			 active_peak;	/* the most nactive ever was */
	int			 rcpt_loaded;	/* recipients of loaded messages */
	struct event		*kick_ev;	/* run the dispatcher soon */
	int			 dispatching;	/* qmgr_dispatch() is running */
	struct event		*rescan_ev;	/* scan and feed a step, soon */
	struct event		*logflush_ev;	/* write the turn's log lines */

	/* scanning (qmgr_scan.c) */
	struct event		*scan_ev;	/* every queue_scan_interval */
	struct event		*orphan_ev;	/* every QMGR_ORPHAN_INTERVAL */
	struct qmgr_scan	 incoming;
	struct qmgr_scan	 deferred;
	int			 feed_turn;	/* 0: incoming/'s, 1: deferred/'s */
	DIR			*trim_d;	/* trimming free/ */
	int			 trim_n;	/* files of free/ seen so far */

	/* destinations (qmgr_dest.c) and transports (qmgr_transport.c) */
	struct qmgr_dest_list	 dests;
	struct qmgr_dest_tree	 dest_tree;
	int			 nwaiting;	/* entries on their queues */
	struct qmgr_dead_list	 dead;		/* dead destinations */
	struct qmgr_dead_tree	 dead_tree;
	int			 ndead;
	struct qmgr_transport_list transports;
	struct map_list		 transport_maps;
	struct virtual_maps	*virt;		/* virtual domains, aliases */

	/* the client of bounce(8) (qmgr_bounce_client.c) */
	struct qmgr_msg_list	 notice_fifo;	/* next notice waits for a slot */
	int			 notice_msgs;	/* messages waiting for notices */
	struct qmgr_bconn_list	 bconns;	/* requests out */
	int			 bounce_out;
	struct event		*bounce_ev;	/* send what waits, soon */
	time_t			 bounce_retry;	/* bounce failed: not before */

	/* qmgr protocol clients (qmgr_listen.c) */
	struct ipc_server	*listener;
};

/* qmgr_active.c: the set's bookkeeping */
void	qmgr_active_init(struct qmgr *);
void	qmgr_active_free(struct qmgr *);	/* the index; after the set */
int	qmgr_active_room(const struct qmgr *);
/* Take a file that is in active/ into memory and schedule it; 0, or -1
 * if a message of that id is in memory already (nothing done). */
int	qmgr_active_add(struct qmgr *, const char *id);
/* The message of that id in memory, or NULL. */
struct qmgr_msg *qmgr_active_find(const struct qmgr *, const char *id);
/* Take an unloaded message out of the set and free it. */
void	qmgr_active_remove(struct qmgr *, struct qmgr_msg *);
/* Ask for the dispatcher (when messages are ready or entries wait) and, if
 * the scans have work now (qmgr_scan_wanted()), a scan step to run soon:
 * q->kick_ev and q->rescan_ev, whose callbacks are qmgr.c's. */
void	qmgr_active_kick(struct qmgr *);
/* Pop the oldest ready message, or NULL. */
struct qmgr_msg *qmgr_active_next(struct qmgr *);
/* Set an unloaded message aside until qmgr_active_unpark(). */
void	qmgr_active_park(struct qmgr *, struct qmgr_msg *);
/* Move parked messages back to the FIFO (called from the scan timer). */
void	qmgr_active_unpark(struct qmgr *);

/* qmgr_message.c: one message's life */
/* Open the file, route every pending recipient and queue one entry per
 * destination (outcomes known at once, as for the "error" transport, are
 * recorded here).  The message may be finished, parked or freed on return. */
void	qmgr_msg_load(struct qmgr *, struct qmgr_msg *);
/* The request for an entry just taken from its queue.  1: req is built;
 * 0: nothing to send, the entry was dropped (its message may be gone). */
int	qmgr_entry_request(struct qmgr *, struct qmgr_entry *,
	    struct ipc_msg *req);
/* The request could not go out (or the connection died before the reply):
 * forget the batch and put the entry back at the head of its queue. */
void	qmgr_entry_retry(struct qmgr *, struct qmgr_entry *, int crashed);
/* The entry's recipients not yet sent are deferred (logged with dsn and
 * text) and the entry is finished: its message goes to deferred/ when its
 * round ends. */
void	qmgr_entry_defer(struct qmgr *, struct qmgr_entry *, const char *dsn,
	    const char *text);
/* Record the outcomes of the entry's batch, then continue or finish. */
void	qmgr_entry_done(struct qmgr *, struct qmgr_entry *,
	    const struct qmgr_outcome *);
/* The notices asked for by qmgr_bounce_start() are done: all queued and
 * marked, or m->notice_failed.  The message leaves the queue or is
 * deferred. */
void	qmgr_msg_noticed(struct qmgr *, struct qmgr_msg *);
/* Shutdown: close and free every message (their files stay in active/). */
void	qmgr_msg_free_all(struct qmgr *);

/* qmgr_bounce_client.c: asking bounce(8) without waiting for it */
void	qmgr_bounce_init(struct qmgr *);
/* Ask for m->notices (not empty; m is loaded, its round over), one after
 * the other; qmgr_msg_noticed() follows, from the event loop.  -1 (with
 * nothing started) while bounce is not to be asked (QMGR_BOUNCE_RETRY
 * after a failure). */
int	qmgr_bounce_start(struct qmgr *, struct qmgr_msg *);
/* Shutdown: close the connections; the messages stay for
 * qmgr_msg_free_all(), their notices due on file. */
void	qmgr_bounce_free(struct qmgr *);

/* qmgr_dest.c: the queue of each destination */
/* No destinations, none dead. */
void	qmgr_dest_init(struct qmgr *);
/* The destination (transport, nexthop), made if new. */
struct qmgr_dest *qmgr_dest_get(struct qmgr *, struct qmgr_transport *,
	    const char *nexthop);
/* Queue a new entry at the tail of its destination's queue. */
void	qmgr_dest_put(struct qmgr *, struct qmgr_entry *);
/* Take the head entry of d (a request for it will be out) and move d to
 * the end of the round-robin order. */
struct qmgr_entry *qmgr_dest_take(struct qmgr *, struct qmgr_dest *);
/* The request for e is over; again: e goes back to the head of its queue.
 * A destination with nothing queued or out is freed. */
void	qmgr_dest_back(struct qmgr *, struct qmgr_entry *, int again);
/* Take e off its queue (its message is being freed). */
void	qmgr_dest_drop(struct qmgr *, struct qmgr_entry *);
void	qmgr_dest_free_all(struct qmgr *);
/* Is d dead now (itself, or its transport's service)? */
int	qmgr_dest_dead(struct qmgr *, const struct qmgr_dest *, time_t now);
/* A request to d came back: failed whole for a connection-class reason
 * (every recipient deferred with a 4.4.x status) or not.  The
 * QMGR_DEAD_FAILS-th failure in a row marks d dead for
 * minimal_backoff_time.  1 if that happened now. */
int	qmgr_dest_result(struct qmgr *, struct qmgr_dest *, int connect_failed,
	    time_t now);

/* qmgr_dispatch.c: the scheduler */
/* The destination the next request goes to, or NULL: the first in
 * round-robin order with entries queued that is dead (*dead = 1: its
 * entries are to be deferred) or under its limits with a transport that
 * can take a request.  Pure, for tests. */
struct qmgr_dest *qmgr_dispatch_pick(struct qmgr *, time_t now, int *dead);
/* May another message be loaded?  Not while QMGR_WAITING_MAX entries wait
 * on destinations that could send, nor QMGR_WAITING_HARD on any: a
 * destination that is slow or at its limit does not hold up the others'
 * mail, and the open files stay bounded.  Nor while the loaded messages
 * hold qmgr_message_recipient_limit recipients, unless none is loaded,
 * nor while QMGR_NOTICE_WAIT_MAX messages wait for their notices. */
int	qmgr_dispatch_can_load(struct qmgr *, time_t now);
/* Send queued entries to their transports, fairly between destinations,
 * and load ready messages while there is room. */
void	qmgr_dispatch(struct qmgr *);

/* Every this many seconds qmgr looks in active/ for files it holds no
 * message for, whose COMMITTED notice was lost; a file its writer still
 * holds locked (a commit under way, which may yet withdraw it) is left. */
#define QMGR_ORPHAN_INTERVAL	5

/* A file in tmp/ this old (seconds) is a reception that smtpd abandoned. */
#define QMGR_TMP_MAX_AGE	(24 * 60 * 60)

/* qmgr_scan.c */
/* The two scans, empty; the periodic timer if q->base is set. */
void	qmgr_scan_init(struct qmgr *);
void	qmgr_scan_links(void);	/* one name per file, first at start-up */
void	qmgr_scan_recover(struct qmgr *);	/* active/ at start-up */
/* Ask for a pass over incoming/ (or deferred/; flush: making every file
 * due now): it starts when the ids of the pass before have been fed. */
void	qmgr_scan_incoming(struct qmgr *);
void	qmgr_scan_deferred(struct qmgr *, int flush);
/* One step: read up to QMGR_SCAN_STEP entries of each pass under way
 * (and of free/, when trimming it), start the passes asked for, and move
 * up to QMGR_FEED_STEP files into active/ while there is room, alternately
 * from incoming/ and deferred/.  1 if there is more to do now (the caller
 * runs it again after a turn). */
int	qmgr_scan_run(struct qmgr *);
/* Do the scans have work now: a pass or a trim under way, or, with room
 * in the active set, ids to feed or a pass to start? */
int	qmgr_scan_wanted(const struct qmgr *);
void	qmgr_scan_tmp(struct qmgr *);		/* abandoned receptions */
/* Start removing the files of free/ beyond QUEUE_FREE_MAX, a step at a
 * time (qmgr_scan_run()). */
void	qmgr_scan_trim_free(struct qmgr *);
/* NOTIFY: move incoming/<id> to active/ now if there is room and nothing
 * older waits in incoming/; else ask for a pass. */
void	qmgr_scan_notify(struct qmgr *, const char *id);
/* COMMITTED: smtpd put <id> straight into active/.  Take it on under the
 * same condition; else move it back to incoming/ for its turn. */
void	qmgr_scan_committed(struct qmgr *, const char *id);
/* Take on what is in active/ but not in memory (a COMMITTED notice that
 * was lost), unless its writer still holds it. */
void	qmgr_scan_orphans(struct qmgr *);
void	qmgr_scan_free(struct qmgr *);

/* qmgr_transport.c: the transport table and each transport's pool */
/* The transports of master.conf's delivery services ("local" today). */
void	qmgr_transport_init(struct qmgr *);
struct qmgr_transport *qmgr_transport_find(struct qmgr *, const char *name);
/* Could a request go out on t now? */
int	qmgr_transport_ready(struct qmgr_transport *);
/* Send the request for e.  0, or -1: no connection (t backs off). */
int	qmgr_transport_send(struct qmgr_transport *, struct qmgr_entry *,
	    const struct ipc_msg *req);
void	qmgr_transport_free_all(struct qmgr *);

/* qmgr_listen.c */
int	qmgr_listen_init(struct qmgr *, int fd);
void	qmgr_listen_free(struct qmgr *);

#endif
