/*
 * bounce_notice - one notice, from request to durable queue file: open the
 * original in active/ read-only, take the latest outcome record of each
 * recipient the notice concerns (the notice markers F/W/S are not
 * reasons), read the part of the message a notice can return (at most
 * bounce_size_limit bytes), compose (bounce_compose.c) and commit the
 * notice as a new message from <> with queue_writer, as smtpd and pickup
 * commit theirs: file fsync, rename into incoming/, directory fsync; but
 * between the fsync and the rename it asks whether its client still waits
 * (bounce_asker), and publishes nothing for a client that gave up.  Any
 * failure leaves nothing in the queue (the writer aborts) and is reported
 * to qmgr, which keeps the original and asks again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "bounce_params.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "queue_writer.h"

/* The latest reason of each recipient a notice concerns. */
struct notice_records {
	int			*slot;	/* per env recipient: index or -1 */
	struct queue_outcome	*rec;	/* per listed recipient */
	int			*have;
};

static int
notice_record(const struct queue_outcome *o, void *arg)
{
	struct notice_records	*r = arg;
	int			 s = r->slot[o->rcpt];

	if (s < 0 || o->action == OUTCOME_NOTICE_FAILED ||
	    o->action == OUTCOME_NOTICE_DELAYED ||
	    o->action == OUTCOME_NOTICE_DELIVERED)
		return 0;
	r->rec[s] = *o;
	r->have[s] = 1;
	return 0;
}

/* The notice's recipient: the sender, or 2bounce_notice_recipient with
 * @myhostname added to a bare local part. */
static char *
notice_to(const struct tern_config *cfg, const struct bounce_params *par,
    const struct queue_envelope *env, enum bounce_kind kind)
{
	const char	*a = kind == BOUNCE_KIND_SENDER ? env->sender :
			    par->double_bounce_recipient;
	struct buf	 b;

	if (strchr(a, '@') != NULL)
		return xstrdup(a);
	buf_init(&b, QUEUE_ADDR_MAX);
	if (buf_appendf(&b, "%s@%s", a, cfg->myhostname) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Read the first min(data_len, limit) message bytes.  NULL (errno). */
static char *
notice_read_msg(int fd, const struct queue_envelope *env, size_t limit,
    size_t *len)
{
	char	*p;
	size_t	 want = (size_t)env->data_len < limit ? (size_t)env->data_len :
		    limit;
	ssize_t	 n;
	size_t	 got = 0;

	p = xmalloc(want + 1);
	while (got < want) {
		n = pread(fd, p + got, want - got, env->data_off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than its size */
			free(p);
			return NULL;
		}
		got += (size_t)n;
	}
	*len = got;
	return p;
}

/* Write the composed notice into a new queue file and commit it. */
static int
notice_commit(struct bounce_notice *b, struct queue_envelope *nenv,
    const struct bounce_asker *asker, char *notice_id, const char **err)
{
	struct queue_writer	*w = xmalloc(sizeof(*w));
	struct buf		 out;
	int			 r = -1;

	if (queue_writer_open(w, nenv) < 0) {
		*err = "cannot create a queue file";
		free(w);
		return -1;
	}
	b->notice_id = w->id;
	buf_init(&out, BOUNCE_HEADER_MAX + b->size_limit + 64 * 1024 +
	    (size_t)b->n * 4096);
	if (bounce_compose(b, &out) < 0)
		*err = "notice too large";
	else if (queue_writer_write(w, out.data, out.len) < 0 ||
	    queue_writer_sync(w) < 0)
		*err = "cannot write the notice into the queue";
	else if (asker != NULL && asker->gone(asker->arg))
		/* Composing and the fsync took so long that qmgr gave up:
		 * it will ask again, so this one would be sent twice. */
		*err = "qmgr no longer waits for the answer";
	else if (queue_writer_publish(w) < 0)
		*err = "cannot write the notice into the queue";
	else {
		strlcpy(notice_id, w->id, QUEUE_ID_SIZE);
		r = 0;
	}
	if (r < 0)
		queue_writer_abort(w);
	buf_free(&out);
	free(w);
	return r;
}

static int
notice_write(const struct tern_config *cfg, const struct bounce_params *par,
    int fd, struct queue_envelope *env, enum bounce_event ev,
    enum bounce_kind kind, const int *idx, int n, long long until,
    const struct bounce_asker *asker, char *notice_id, const char **err)
{
	struct notice_records	 nr;
	struct bounce_notice	 b;
	struct queue_envelope	 nenv;
	struct queue_rcpt	 nrcpt;
	const struct queue_outcome **last;
	char			*to, *msg;
	size_t			 msglen;
	int			 i, r = -1;

	nr.slot = xcalloc((size_t)env->nrcpt, sizeof(int));
	nr.rec = xcalloc((size_t)n, sizeof(*nr.rec));
	nr.have = xcalloc((size_t)n, sizeof(int));
	last = xcalloc((size_t)env->nrcpt, sizeof(*last));
	for (i = 0; i < env->nrcpt; i++)
		nr.slot[i] = -1;
	for (i = 0; i < n; i++)
		nr.slot[idx[i]] = i;
	to = notice_to(cfg, par, env, kind);
	msg = NULL;
	if (to == NULL)
		*err = "notice recipient too long";
	else if (queue_outcome_read(fd, env, notice_record, &nr) < 0)
		*err = "cannot read the outcome records";
	else if ((msg = notice_read_msg(fd, env, par->bounce_size_limit,
	    &msglen)) == NULL)
		*err = "cannot read the message";
	else {
		for (i = 0; i < n; i++)
			last[idx[i]] = nr.have[i] ? &nr.rec[i] : NULL;
		memset(&b, 0, sizeof(b));
		b.myhostname = cfg->myhostname;
		b.now = (long long)time(NULL);
		b.event = ev;
		b.kind = kind;
		b.to = to;
		b.env = env;
		b.idx = idx;
		b.n = n;
		b.last = last;
		b.until = until;
		b.msg = msg;
		b.msglen = msglen;
		b.msgsize = (long long)env->data_len;
		b.size_limit = par->bounce_size_limit;
		memset(&nenv, 0, sizeof(nenv));
		memset(&nrcpt, 0, sizeof(nrcpt));
		nenv.arrival = b.now;
		nenv.sender = "";
		nenv.client = BOUNCE_CLIENT;
		nenv.helo = kind == BOUNCE_KIND_2BOUNCE ? BOUNCE_HELO_2BOUNCE :
		    BOUNCE_HELO_NOTICE;
		nenv.body = env->body == QUEUE_BODY_8BITMIME ?
		    QUEUE_BODY_8BITMIME : QUEUE_BODY_NONE;
		nenv.smtputf8 = env->smtputf8;
		nrcpt.addr = to;
		nrcpt.status = RCPT_PENDING;
		nenv.rcpt = &nrcpt;
		nenv.nrcpt = 1;
		r = notice_commit(&b, &nenv, asker, notice_id, err);
	}
	free(msg);
	free(to);
	free(last);
	free(nr.have);
	free(nr.rec);
	free(nr.slot);
	return r;
}

int
bounce_notice_send(const struct tern_config *cfg,
    const struct bounce_params *par, const char *id, enum bounce_event ev,
    const char *rcpts, long long until, const struct bounce_asker *asker,
    char *notice_id, const char **err)
{
	struct queue_envelope	 env;
	enum bounce_kind	 kind;
	int			 fd, n, *idx, r = -1;

	notice_id[0] = '\0';
	memset(&env, 0, sizeof(env));
	if (queue_file_open(QDIR_ACTIVE, id, O_RDONLY, &env, &fd, err) < 0) {
		if (errno != EINVAL || *err == NULL)
			*err = strerror(errno);
		return -1;
	}
	idx = xcalloc((size_t)env.nrcpt, sizeof(int));
	kind = bounce_notice_kind(&env, ev);
	if (env.version < 2)
		*err = "a version 1 queue file keeps no outcomes to report";
	else if (bounce_rcpts_parse(rcpts, env.nrcpt, idx, &n) < 0)
		*err = "bad rcpts";
	else if (kind == BOUNCE_KIND_NONE)
		r = 0;
	else if ((r = notice_write(cfg, par, fd, &env, ev, kind, idx, n, until,
	    asker, notice_id, err)) == 0)
		log_qid(LOG_LEVEL_INFO, id, "sender %s notification: %s",
		    bounce_event_name(ev) , notice_id);
	free(idx);
	close(fd);
	queue_envelope_free(&env);
	return r;
}
