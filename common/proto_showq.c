/*
 * proto_showq - the showq protocol's codec (proto_showq.h): the server's
 * page builder, which keeps every page within one frame, and the client's
 * page decoder, which trusts nothing it reads: every queue name, id,
 * number and text is checked, the order of attributes is enforced, and a
 * page that breaks a rule is refused whole.
 */
#include <stdlib.h>
#include <string.h>

#include "proto_showq.h"
#include "queue_file.h"
#include "queue_outcome.h"

#define SQ_ATTR_COST(name, vlen)	(strlen(name) + (vlen) + 2)

void
showq_page_init(struct showq_page *p)
{
	ipc_msg_init(&p->msg, SHOWQ_T_PAGE);
	(void)ipc_msg_add_int(&p->msg, "v", PROTO_SHOWQ_VERSION);
	p->bytes = 16;
	p->n = 0;
}

/* Bytes and attributes m's fixed part takes. */
static size_t
sq_head_cost(const struct queue_list_msg *m, int *nattr)
{
	*nattr = 6;
	return 40 + strlen(m->id) + 8 + 60 +
	    (m->sender != NULL ? strlen(m->sender) : 0) + 16;
}

static size_t
sq_rcpt_cost(const struct queue_list_rcpt *r, int *nattr)
{
	*nattr = r->reason != NULL ? 2 : 1;
	return SQ_ATTR_COST("rcpt", strlen(r->addr)) + (r->reason != NULL ?
	    SQ_ATTR_COST("reason", strlen(r->reason)) : 0);
}

/* How many of m's recipients fit in the room left; all of them: nrcpt. */
static int
sq_fit(const struct showq_page *p, const struct queue_list_msg *m)
{
	size_t	 bytes;
	int	 nattr, a, i;

	bytes = p->bytes + sq_head_cost(m, &nattr);
	nattr += p->msg.nattr;
	if (bytes > SHOWQ_PAGE_BYTES || nattr > SHOWQ_PAGE_ATTRS)
		return -1;
	for (i = 0; i < m->nrcpt; i++) {
		bytes += sq_rcpt_cost(&m->rcpt[i], &a);
		nattr += a;
		if (bytes > SHOWQ_PAGE_BYTES || nattr > SHOWQ_PAGE_ATTRS)
			return i;
	}
	return m->nrcpt;
}

int
showq_page_add(struct showq_page *p, const struct queue_list_msg *m)
{
	struct ipc_msg	*g = &p->msg;
	int		 fit, i, a, bad = 0;

	if (p->n >= SHOWQ_PAGE_MAX)
		return 1;
	fit = sq_fit(p, m);
	if (p->n > 0 && fit < m->nrcpt)
		return 1;
	if (fit < 0)
		return -1;	/* cannot happen on an empty page */
	bad |= ipc_msg_add(g, "queue", queue_list_queue_name(m->queue));
	bad |= ipc_msg_add(g, "id", m->id);
	bad |= ipc_msg_add_int(g, "time", m->arrival);
	bad |= ipc_msg_add_int(g, "size", m->size);
	if (m->queue == QL_MAILDROP)
		bad |= ipc_msg_add_int(g, "uid", m->uid);
	else
		bad |= ipc_msg_add(g, "sender", m->sender ? m->sender : "");
	p->bytes += sq_head_cost(m, &a);
	for (i = 0; i < fit; i++) {
		bad |= ipc_msg_add(g, "rcpt", m->rcpt[i].addr);
		if (m->rcpt[i].reason != NULL)
			bad |= ipc_msg_add(g, "reason", m->rcpt[i].reason);
		p->bytes += sq_rcpt_cost(&m->rcpt[i], &a);
	}
	if (fit < m->nrcpt || m->rcpt_cut > 0)
		bad |= ipc_msg_add_int(g, "cut", m->nrcpt - fit + m->rcpt_cut);
	p->n++;
	return bad ? -1 : 0;
}

int
showq_page_next(struct showq_page *p, enum queue_list_queue q,
    const char *id)
{
	return ipc_msg_add(&p->msg, "next.queue", queue_list_queue_name(q)) |
	    ipc_msg_add(&p->msg, "next.id", id);
}

/* Decoder state: the message being put together. */
struct sq_dec {
	struct queue_list_msg m;
	int	 open;		/* m holds a message */
	int	 have;		/* SQ_* fields seen for m */
	int	 cap;
	int	 nmsg;
};

enum { SQ_TIME = 1, SQ_SIZE = 2, SQ_WHO = 4, SQ_CUT = 8 };

static int
sq_text_ok(const char *v, size_t max)
{
	return queue_text_clean(v, strlen(v), max);
}

static int
sq_number(const char *v, long long max, long long *out)
{
	char	*end;

	if (v[0] < '0' || v[0] > '9' || strlen(v) > 19)
		return -1;
	*out = strtoll(v, &end, 10);
	return *end == '\0' && *out <= max ? 0 : -1;
}

/* Hand the message in d to fn; 0, or fn's value, or -1 if incomplete. */
static int
sq_flush(struct sq_dec *d, int (*fn)(const struct queue_list_msg *, void *),
    void *arg, const char **err)
{
	int	 rc;

	if (!d->open)
		return 0;
	d->open = 0;
	if ((d->have & (SQ_TIME | SQ_SIZE | SQ_WHO)) != (SQ_TIME | SQ_SIZE |
	    SQ_WHO)) {
		*err = "message without time, size or sender";
		rc = -1;
	} else
		rc = fn(&d->m, arg);
	queue_list_msg_free(&d->m);
	d->cap = 0;
	return rc;
}

static int
sq_rcpt(struct sq_dec *d, const char *v, const char **err)
{
	struct queue_list_rcpt *nr;

	if (d->m.queue == QL_MAILDROP || (d->have & SQ_CUT) ||
	    d->m.nrcpt >= QL_RCPT_MAX || !sq_text_ok(v, QUEUE_ADDR_MAX)) {
		*err = "bad or misplaced rcpt";
		return -1;
	}
	if (d->m.nrcpt == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		if ((nr = reallocarray(d->m.rcpt, d->cap, sizeof(*nr))) ==
		    NULL) {
			*err = "out of memory";
			return -1;
		}
		d->m.rcpt = nr;
	}
	nr = &d->m.rcpt[d->m.nrcpt];
	nr->reason = NULL;
	if ((nr->addr = strdup(v)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	d->m.nrcpt++;
	return 0;
}

static int
sq_reason(struct sq_dec *d, const char *v, const char **err)
{
	struct queue_list_rcpt *r;

	if (d->m.nrcpt == 0 || (d->have & SQ_CUT) ||
	    (r = &d->m.rcpt[d->m.nrcpt - 1])->reason != NULL ||
	    !sq_text_ok(v, QUEUE_TEXT_MAX)) {
		*err = "bad or misplaced reason";
		return -1;
	}
	if ((r->reason = strdup(v)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	return 0;
}

static int
sq_begin(struct sq_dec *d, const char *v, const char **err)
{
	int	 q = queue_list_queue_parse(v);

	if (q < 0 || ++d->nmsg > SHOWQ_PAGE_MAX) {
		*err = "bad queue name or too many messages";
		return -1;
	}
	memset(&d->m, 0, sizeof(d->m));
	d->m.queue = q;
	d->open = 1;
	d->have = 0;
	d->cap = 0;
	return 0;
}

/* One attribute of an open message's head. */
static int
sq_field(struct sq_dec *d, const struct ipc_attr *a, const char **err)
{
	long long	 n;
	int		 bit;

	if (strcmp(a->name, "id") == 0) {
		if (d->m.id[0] != '\0' || !queue_id_valid(a->value))
			goto bad;
		memcpy(d->m.id, a->value, strlen(a->value) + 1);
		return 0;
	}
	if (d->m.id[0] == '\0')
		goto bad;
	if (strcmp(a->name, "time") == 0)
		bit = SQ_TIME;
	else if (strcmp(a->name, "size") == 0)
		bit = SQ_SIZE;
	else if (strcmp(a->name, "uid") == 0 && d->m.queue == QL_MAILDROP)
		bit = SQ_WHO;
	else if (strcmp(a->name, "sender") == 0 && d->m.queue != QL_MAILDROP)
		bit = SQ_WHO;
	else if (strcmp(a->name, "cut") == 0)
		bit = SQ_CUT;
	else if (strcmp(a->name, "rcpt") == 0)
		return sq_rcpt(d, a->value, err);
	else if (strcmp(a->name, "reason") == 0)
		return sq_reason(d, a->value, err);
	else
		return 0;	/* unknown: ignored, so the protocol can grow */
	if (d->have & bit)
		goto bad;
	d->have |= bit;
	if (bit == SQ_WHO && d->m.queue != QL_MAILDROP) {
		if (!sq_text_ok(a->value, QUEUE_ADDR_MAX) ||
		    (d->m.sender = strdup(a->value)) == NULL)
			goto bad;
		return 0;
	}
	if (sq_number(a->value, bit == SQ_WHO ? 0xffffffffLL :
	    (1LL << 50), &n) == -1)
		goto bad;
	if (bit == SQ_TIME)
		d->m.arrival = n;
	else if (bit == SQ_SIZE)
		d->m.size = n;
	else if (bit == SQ_WHO)
		d->m.uid = (unsigned)n;
	else
		d->m.rcpt_cut = n > QL_RCPT_MAX * 100LL ? QL_RCPT_MAX * 100 :
		    (int)n;
	return 0;
bad:
	*err = "bad or misplaced message attribute";
	return -1;
}

static int
sq_next(const struct ipc_msg *g, enum queue_list_queue *next_q,
    char next_id[QUEUE_ID_SIZE], const char **err)
{
	const char	*q = ipc_msg_get(g, "next.queue");
	const char	*id = ipc_msg_get(g, "next.id");
	int		 n;

	if (q == NULL && id == NULL)
		return 0;
	if (q == NULL || id == NULL || (n = queue_list_queue_parse(q)) < 0 ||
	    !queue_id_valid(id)) {
		*err = "bad cursor";
		return -1;
	}
	*next_q = n;
	memcpy(next_id, id, strlen(id) + 1);
	return 0;
}

int
showq_page_decode(const struct ipc_msg *g,
    int (*fn)(const struct queue_list_msg *, void *), void *arg,
    enum queue_list_queue *next_q, char next_id[QUEUE_ID_SIZE],
    const char **err)
{
	struct sq_dec	 d;
	long long	 v;
	int		 i, rc = 0;

	*next_q = QL_COUNT;
	next_id[0] = '\0';
	*err = NULL;
	memset(&d, 0, sizeof(d));
	if (g->type != SHOWQ_T_PAGE || ipc_msg_get_int(g, "v", 0, 1000000,
	    &v) == -1 || v != PROTO_SHOWQ_VERSION) {
		*err = "not a page of this protocol version";
		return -1;
	}
	if (sq_next(g, next_q, next_id, err) == -1)
		return -1;
	for (i = 0; i < g->nattr && rc == 0; i++) {
		const struct ipc_attr *a = &g->attr[i];

		if (strcmp(a->name, "queue") == 0) {
			if ((rc = sq_flush(&d, fn, arg, err)) == 0)
				rc = sq_begin(&d, a->value, err);
		} else if (d.open)
			rc = sq_field(&d, a, err);
	}
	if (rc == 0)
		rc = sq_flush(&d, fn, arg, err);
	else if (d.open)
		queue_list_msg_free(&d.m);
	if (rc == -1) {
		*next_q = QL_COUNT;
		if (*err == NULL)
			*err = "refused by the caller";
	}
	return rc;
}

int
showq_list_check(const struct ipc_msg *req, enum queue_list_queue *q,
    char after[QUEUE_ID_SIZE], const char **err)
{
	const char	*qs = ipc_msg_get(req, "queue");
	const char	*id = ipc_msg_get(req, "after");
	long long	 v;
	int		 n;

	*q = QL_INCOMING;
	after[0] = '\0';
	if (ipc_msg_get_int(req, "v", 0, 1000000, &v) == -1 ||
	    v != PROTO_SHOWQ_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	if (qs == NULL && id == NULL)
		return 0;
	if (qs == NULL || id == NULL || (n = queue_list_queue_parse(qs)) < 0 ||
	    !queue_id_valid(id)) {
		*err = "bad cursor";
		return -1;
	}
	*q = n;
	memcpy(after, id, strlen(id) + 1);
	return 0;
}
