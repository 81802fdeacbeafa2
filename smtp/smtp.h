/*
 * smtp - internal interfaces of the SMTP client daemon, the transport that
 * sends mail to other MTAs.
 *
 * One struct smtp holds the daemon's state (event loop, configuration, TLS
 * context, the IPC server qmgr talks to); it is passed to every function,
 * nothing is a hidden global.  The modules:
 *
 *	smtp_reply.c    the SMTP reply parser (pure; untrusted input)
 *	smtp_dot.c      the message encoder: CRLF and dot-stuffing (pure)
 *	smtp_nexthop.c  next hop parsing and the address list of a delivery
 *	smtp_mx.c       MX lookups through the resolver daemon
 *	smtp_session.c  one delivery: an SMTP client session, a state machine
 *	smtp_next.c     which recipients the next MX host gets, and whether
 *	                one may still be tried (pure)
 *	smtp_cache.c    idle sessions kept for the next message (reuse)
 *	smtp_policy.c   smtp_tls_policy_maps: the TLS level per next hop
 *	smtp_tls.c      the OpenSSL context and per-session TLS set-up
 *	smtp_listen.c   the server side: requests from qmgr in, replies out
 */
#ifndef TERN_SMTP_H
#define TERN_SMTP_H

#include <sys/socket.h>

#include <stddef.h>

#include "config.h"
#include "ipc.h"
#include "ipc_server.h"
#include "map.h"
#include "proto_deliver.h"
#include "smtp_params.h"

struct bufferevent;
struct event_base;
struct ssl_ctx_st;
struct smtp_conn;
struct smtp_session;

/* Limits.  Each bounds memory or descriptors. */
#define SMTP_CLIENT_MAX		256	/* qmgr connections */
#define SMTP_REQUEST_MAX	(256 * 1024)	/* largest request frame */
#define SMTP_WRITE_TIMEOUT	60	/* s for qmgr to take a reply */
#define SMTP_LINE_MAX		2048	/* one reply line, CRLF incl. */
#define SMTP_REPLY_LINES	100	/* lines of one multi-line reply */
#define SMTP_TEXT_MAX		400	/* reply text kept for outcomes */
#define SMTP_ADDR_MAX		64	/* addresses tried per delivery */
#define SMTP_CHUNK		16384	/* message bytes read at a time */
#define SMTP_OUT_HIGH		65536	/* output kept buffered while sending */
#define SMTP_CACHE_MAX		100	/* idle sessions kept per process */
#define SMTP_CACHE_QUIT_WAIT	5	/* s for the answer to a cache's QUIT */
#define SMTP_TLS_INFO_MAX	512	/* version, cipher, subject, trust */

struct smtp {
	struct event_base	*base;
	const struct tern_config *cfg;
	const struct smtp_params *par;
	struct ssl_ctx_st	*ssl_ctx;	/* NULL: TLS unavailable */
	struct ipc_server	*listener;
	unsigned long		 nextid;	/* numbers sessions in the log */
	int			 nsessions;
	struct smtp_conn	*cache;		/* idle sessions, newest first */
	int			 ncache;	/* of them not closing */
	struct map_list		*tls_policy;	/* smtp_tls_policy_maps */
	struct smtp_session	*sessions;	/* every session, for the end */
	int			 stopping;	/* shutting down: abandon all */
	int			 lmtp;		/* service "lmtp": RFC 2033 */
};

/* ---- smtp_reply.c: one SMTP reply, line by line --------------------- */

struct smtp_reply {
	int	 code;			/* 3 digits, 0 while none */
	char	 dsn[16];		/* enhanced code "c.s.d" or "" */
	char	 text[SMTP_TEXT_MAX];	/* lines joined by spaces, cut */
	size_t	 textlen;
	int	 lines;
	int	 done;			/* the last line was seen */
};

void	smtp_reply_init(struct smtp_reply *);
/* Feed one line (without its CRLF/LF; need not be NUL-terminated).
 * 1: the reply is complete; 0: more lines follow; -1: malformed (no
 * 3-digit code, a code that changes between lines, a bad separator, a
 * control character other than TAB, too many lines). */
int	smtp_reply_line(struct smtp_reply *, const char *line, size_t len);
/* The enhanced code "c.s.d" at the start of s (RFC 3463, class 2, 4 or
 * 5, subject and detail 1-3 digits) followed by a space or the end; its
 * length (copied to out, at most outlen incl. NUL), or 0. */
size_t	smtp_reply_dsn_parse(const char *s, size_t len, char *out,
	    size_t outlen);

/* ---- smtp_dot.c: the message as DATA sends it ----------------------- */

struct smtp_dot {
	int	 bol;		/* at the beginning of a line */
	int	 cr;		/* a CR was seen last, its line end not written */
};

void	smtp_dot_init(struct smtp_dot *);
/* Encode in[0..n) into out, which has room for SMTP_DOT_OUT(n) bytes:
 * every LF, CRLF and bare CR becomes CRLF, and a '.' starting a line is
 * doubled.  The bytes written. */
#define SMTP_DOT_OUT(n)	(2 * (n) + 2)
size_t	smtp_dot_encode(struct smtp_dot *, const char *in, size_t n,
	    char *out);
/* The end: a CRLF if the last line is open, then ".CRLF".  out has room
 * for SMTP_DOT_END_MAX bytes; the bytes written. */
#define SMTP_DOT_END_MAX	5
size_t	smtp_dot_finish(struct smtp_dot *, char *out);

/* ---- smtp_nexthop.c ------------------------------------------------- */

#define SMTP_LMTP_PORT	24	/* LMTP's own port (RFC 2033 section 5) */

struct smtp_nexthop {
	char	 host[DELIVER_NEXTHOP_MAX + 1];	/* domain, address literal, or
						   socket path */
	int	 port;
	int	 literal;	/* "[...]", or any LMTP next hop: no MX lookup */
	int	 unix_path;	/* LMTP "unix:path": host is the path */
	int	 lmtp;		/* parsed as an LMTP next hop */
};

/* Parse "domain", "domain:port", "[host]" or "[host]:port".  0 or -1. */
int	smtp_nexthop_parse(const char *s, struct smtp_nexthop *);
/* An LMTP next hop: "unix:path" (a path relative to the queue directory
 * or absolute, shorter than sun_path), or "[inet:]host[:port]" as above
 * with port 24 by default and never an MX lookup.  0 or -1. */
int	smtp_nexthop_parse_lmtp(const char *s, struct smtp_nexthop *);

/* One address to try, with the host name it belongs to. */
struct smtp_addr {
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	char			 host[256];	/* MX host name or literal */
	char			 ip[128];	/* printable address, or the
						   UNIX socket's path */
};

/* Append the addresses listed in text ("addr addr ...", as the resolver
 * gives them) for host to a[*n..max).  The number appended. */
int	smtp_addr_add_list(struct smtp_addr *a, int *n, int max,
	    const char *host, const char *text, int port);
/* The addresses of a next hop that needs no MX lookup (nh->literal):
 * its socket (host myhostname, ip the path), the address literal, or for
 * LMTP's "localhost" 127.0.0.1 and ::1.  The number appended to a[*n..max); 0
 * when the host is none of these (a host name: not supported yet). */
int	smtp_nexthop_addrs(const struct smtp_nexthop *, const char *myhostname,
	    struct smtp_addr *a, int *n, int max);
/* Is this address one of this machine's own (bound to an interface)? */
int	smtp_addr_is_local(const struct smtp_addr *);

/* ---- smtp_mx.c: the resolver's MX answer ---------------------------- */

struct smtp_mx;
/* status: 0 ok (addresses in a[0..n)), 4xx/5xx class for a failure with
 * dsn and text.  a is the session's array. */
typedef void (*smtp_mx_cb)(void *arg, int status, const char *dsn,
	    const char *text, int n);

struct smtp_mx *smtp_mx_start(struct smtp *, const char *domain, int port,
	    struct smtp_addr *a, int max, smtp_mx_cb, void *arg);
void	smtp_mx_cancel(struct smtp_mx *);

/* ---- smtp_tls.c ----------------------------------------------------- */

/* The client context (CA store: smtp_tls_CAfile or the system one).
 * NULL when OpenSSL cannot make one (logged). */
struct ssl_ctx_st *smtp_tls_ctx_new(const struct smtp_params *);
void	smtp_tls_ctx_free(struct ssl_ctx_st *);

/* ---- smtp_cache.c: idle sessions for the next message ----------------- */

/* A session between mail transactions: the connection and what its EHLO
 * offered, so the next delivery to the same next hop can go on with it. */
struct smtp_conn {
	struct smtp_conn	*next, *prev;	/* the cache's list */
	struct smtp		*s;
	int			 closing;	/* QUIT sent: not to be reused */
	char			 key[DELIVER_NEXTHOP_MAX + 1];	/* next hop */
	struct bufferevent	*bev;		/* the TLS filter, if any */
	struct smtp_addr	 addr;
	int			 tls;
	char			 tls_info[SMTP_TLS_INFO_MAX];
	int			 esmtp, pipelining, eightbit, utf8, dsn;
	int			 has_size;
	long long		 size_max;
	int			 uses;		/* mail transactions so far */
	long long		 born;		/* time of the connect */
	int			 level;		/* TLS level it was made for */
};

/* Park c (malloc'd, with an open bev) under c->key; the cache owns it
 * now, and closes it after smtp_connection_cache_time_limit idle. */
void	smtp_cache_put(struct smtp *, struct smtp_conn *);
/* An idle session for key, made for a TLS level at least level (the
 * policy table may have changed since: a session made in clear never
 * serves a next hop that now asks for encrypt), taken out of the cache
 * (the caller frees the struct once it has taken bev, whose callbacks are
 * cleared), or NULL. */
struct smtp_conn *smtp_cache_get(struct smtp *, const char *key, int level);
void	smtp_cache_close_all(struct smtp *);
/* Say QUIT on bev (a session given up on between transactions, its
 * replies all read) and close it when the server answers or within
 * SMTP_CACHE_QUIT_WAIT seconds; the cache owns bev now. */
void	smtp_cache_quit(struct smtp *, struct bufferevent *,
	    const struct smtp_addr *);

/* ---- smtp_session.c: one delivery ----------------------------------- */

/* The outcome of the request is handed back through done(), once; the
 * outcomes array has req->nrcpt entries. */
struct smtp_result {
	enum deliver_status	 status;
	char			 dsn[16];
	char			 text[SMTP_TEXT_MAX + 128];
	enum deliver_action	 action;	/* with ok: relayed (a peer
						   without DSN, NOTIFY=SUCCESS
						   asked) or passed (a peer
						   with DSN took the notices) */
};
typedef void (*smtp_session_done_cb)(void *arg,
	    const struct smtp_result *res, int n);

/* Start delivering req (copied).  done runs later, never from here. */
struct smtp_session *smtp_session_start(struct smtp *,
	    const struct deliver_request *, smtp_session_done_cb, void *arg);
/* Abandon a session (its qmgr went away): no callback.  One whose final
 * dot is out goes on without its qmgr until it can record the outcome,
 * unless the daemon is stopping. */
void	smtp_session_cancel(struct smtp_session *);
/* At the end: free every session left (those going on without a qmgr). */
void	smtp_session_free_all(struct smtp *);

/* ---- smtp_next.c: the next MX host in the same attempt ---------------- */

/* May another address be tried, after ntried addresses (connections
 * attempted or cached sessions taken) of which nsess got through the
 * handshake?  smtp_mx_address_limit and smtp_mx_session_limit (0: no
 * limit), Postfix's meanings. */
int	smtp_next_allowed(int ntried, int nsess, int addr_limit,
	    int sess_limit);
/* The recipients (indexes into res[0..n), in order, into out) that the
 * next host gets: those with an outcome (final[i]) that is a deferral
 * the host gave before it could have taken the message (again[i]).  The
 * number of them (out NULL: only counted). */
int	smtp_next_pending(const struct smtp_result *res, const int *final,
	    const int *again, int n, int *out);

/* ---- smtp_policy.c: smtp_tls_policy_maps ---------------------------- */

/* The level a policy value v[0..len) gives ("level [name=value ...]",
 * Postfix's syntax): 0 and *level (CONFIG_TLS_*), or -1 with *why.  Pure;
 * untrusted enough to be fuzzed. */
int	smtp_policy_parse(const char *v, size_t len, int *level,
	    const char **why);
/* The TLS level for a delivery to nexthop (parsed as nh): the map's
 * entry, else smtp_tls_security_level.  -1 with *fail a deferral when
 * the lookup fails or the entry is bad. */
int	smtp_policy_level(struct smtp *, const char *nexthop,
	    const struct smtp_nexthop *nh, struct smtp_result *fail);

/* ---- smtp_listen.c -------------------------------------------------- */

int	smtp_listen_init(struct smtp *, int listen_fd);
void	smtp_listen_free(struct smtp *);

#endif
