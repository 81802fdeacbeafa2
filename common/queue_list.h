/*
 * queue_list - what the queue tools show of the queue: one neutral record
 * per message (queue, id, arrival, size, sender, and each pending
 * recipient with its latest delay reason from the outcome records), read
 * from the queue directories (queue_list_scan: root, the mail owner, or
 * the showq service) or decoded from the showq protocol (proto_showq.h),
 * then filtered and printed the same way by mailq, ternctl and anything
 * else: in Postfix's mailq layout, which monitoring plugins (check_mailq)
 * parse, or as postqueue -j's JSON, one object per line.  A file that is
 * gone or unreadable while it is listed is skipped, as Postfix's showq
 * does: a listing is a snapshot of a queue that keeps moving.
 */
#ifndef TERN_QUEUE_LIST_H
#define TERN_QUEUE_LIST_H

#include <stdio.h>

#include "queue.h"

/* Queues as the tools name them, in listing order (Postfix's names). */
enum queue_list_queue {
	QL_INCOMING, QL_ACTIVE, QL_DEFERRED, QL_HOLD, QL_MAILDROP, QL_COUNT
};

#define QL_RCPT_MAX	10000	/* recipients kept per listed message */

struct queue_list_rcpt {
	char	*addr;
	char	*reason;	/* latest outcome text; NULL if none */
};

struct queue_list_msg {
	enum queue_list_queue queue;
	char		 id[QUEUE_ID_SIZE];
	long long	 arrival;	/* seconds; maildrop: the file's mtime */
	long long	 size;		/* message bytes; maildrop: file bytes */
	char		*sender;	/* "" for <>; NULL for maildrop */
	unsigned	 uid;		/* maildrop: the submitting user */
	int		 nrcpt;		/* pending recipients listed */
	int		 rcpt_cut;	/* pending recipients left out */
	struct queue_list_rcpt *rcpt;
};

/* Filters of "ternctl queue list"; NULL / 0 fields match everything. */
struct queue_list_filter {
	const char	*sender;	/* substring, case-insensitive */
	const char	*rcpt;		/* substring of any listed recipient */
	unsigned	 queues;	/* bit (1 << QL_*); 0: every queue */
	long long	 min_age;	/* seconds since arrival, at least */
	long long	 now;
};

/* The listing's running total, for the last line. */
struct queue_list_total {
	long long	 bytes;
	int		 n;
};

const char *queue_list_queue_name(enum queue_list_queue);
/* QL_* for a name ("deferred"), or -1. */
int	queue_list_queue_parse(const char *);

/* Read one message (queue q, id) from the queue directory (the current
 * directory).  0, or -1 (gone, unreadable, corrupt: not mail to list). */
int	queue_list_load(enum queue_list_queue, const char *id,
	    struct queue_list_msg *);
void	queue_list_msg_free(struct queue_list_msg *);
/* Every message of every queue (maildrop/ last), fn for each in the
 * queues' order until fn returns non-zero.  0, fn's value, or -1 (errno)
 * if a queue directory other than maildrop/ cannot be read. */
int	queue_list_scan(int (*fn)(const struct queue_list_msg *, void *),
	    void *arg);
/* The same from queue q on, starting after id (NULL: from q's first), at
 * most max messages; *next_q and next_id say where to go on (next_q =
 * QL_COUNT: done).  For showq's pages.  0 or -1 (errno). */
int	queue_list_scan_from(enum queue_list_queue q, const char *after,
	    int max, int (*fn)(const struct queue_list_msg *, void *),
	    void *arg, enum queue_list_queue *next_q,
	    char next_id[QUEUE_ID_SIZE]);

/* 1 if m passes f. */
int	queue_list_match(const struct queue_list_filter *,
	    const struct queue_list_msg *);

/* Postfix's mailq layout: the header before the first message, one block
 * per message followed by a blank line, then the total line. */
void	queue_list_text_msg(FILE *, const struct queue_list_msg *,
	    struct queue_list_total *);
void	queue_list_text_end(FILE *, const struct queue_list_total *);
/* postqueue -j: one JSON object and a newline. */
void	queue_list_json_msg(FILE *, const struct queue_list_msg *);
/* s as a JSON string with its quotes (control characters escaped, valid
 * UTF-8 passed through, any other byte >= 0x80 as U+FFFD). */
void	queue_list_json_string(FILE *, const char *s);

#endif
