/*
 * local - the local transport: recipients in one of our own domains
 * (mydestination, checked by transport.c) go to an account's mailbox.  It
 * maps each recipient to an account (local_user.c) and picks the mailbox
 * format from home_mailbox; only Maildir exists so far, and mbox would be
 * added here.
 *
 * It runs only within a batch of requests (deliver_message.c), and
 * deliveries are collected for it rather than made at once; local_flush()
 * makes them grouped by account: one opening of the Maildir and one fsync
 * of its new/ per account and batch (maildir.c), each account in a worker
 * process of its own (local_worker.c) under the batch's deadline
 * (local_run.c), so a hung mailbox holds up no other account.
 * The collection is bounded; when it is full it is flushed early, which
 * costs sharing, never correctness.  So are the expanded recipients that
 * wait for their mailbox targets' outcomes (LOCAL_PEND_TARGETS targets in
 * all): user+1 .. user+1000 of one message, each expanding into thousands
 * of targets, would otherwise hold a gigabyte of per-target outcomes.  The accounts looked up for a batch
 * are remembered for it (local_memo.c), so a busy mailbox costs one
 * passwd lookup per batch.
 *
 * A message is written once per mailbox, however many of its recipients
 * name that mailbox ("alice", "Alice" and "postmaster" may all be one
 * account): the first recipient's delivery is made, and every later one
 * of the same message and mailbox in the batch is a follower that gets
 * that delivery's outcome at the flush.  Otherwise one transaction with a
 * thousand spellings of one user would write a thousand copies.  Each
 * account's deliveries, followers included, are recorded in their queue
 * files (deliver_record.c) as soon as its fsync of new/ returns.
 *
 * The other targets are made once per message too, by the message's
 * duplicate filter (local_dup.c): a remote address forwarded, a command
 * run, a file or mbox file appended to for one recipient is not made again
 * for another recipient of the message whose expansion ends there; that
 * one takes the first copy's outcome (local_remote_seen here for remote
 * addresses, local_command.c for the rest).  The followers of a shared
 * mailbox log the relay of the delivery they share (local or virtual).
 *
 * The targets of an alias with an owner (owner-NAME in the aliases) report
 * their failures to the owner, not to the sender: a remote one is
 * forwarded from owner-NAME@myhostname, and one that fails here for good
 * is reported to the owner by a notice (local_forward_failure), after
 * which it counts as done, as in Postfix.  Mail from <> (a notice itself)
 * keeps its null sender, so that two owners cannot send notices back and
 * forth.
 * With mailbox_transport set, a mailbox is not delivered here: after the
 * aliases and .forward, the account's mailbox is collected for
 * local_pass.c, which hands each message's to that transport at the flush.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "deliver.h"
#include "queue_outcome.h"


/* One recipient's message in a mailbox, in this batch: either the
 * delivery itself (leader -1; res is final once its job is flushed) or a
 * follower of the copy leader, whose outcome it takes at the flush.  res
 * may be a target's outcome that its recipient's settling frees, so a
 * flush keeps a leader's outcome in out (its own) and forgets res: a
 * follower collected after its leader's flush reads out, never res. */
struct local_copy {
	const struct deliver_msg *msg;
	int			 j;	/* the recipient in msg->req */
	const char		*qid;	/* the message, by queue id */
	const char		*rcpt;
	uid_t			 uid;	/* the mailbox: owner and path */
	char			*where;
	struct deliver_result	*res;	/* NULL once flushed */
	struct deliver_result	*out;	/* a flushed leader's outcome */
	int			 leader;	/* in copy[], or -1 */
	int			 record;	/* its outcome is the recipient's */
	int			 virt;	/* a virtual mailbox (for the log) */
};

/* The targets of an expanded recipient that took the outcome of a copy
 * made already for the message (for another recipient, mostly): counted,
 * and logged in one line at its settling (local_shared_log), not one line
 * per target. */
struct local_shared {
	int			 n;
	int			 nfail[2];	/* deferred, bounced */
	struct deliver_result	 fail;	/* the first deferral, else the
					   first bounce (n > 0) */
	const char		*by;	/* the recipient the first was
					   made for */
	int			 others;	/* some were made for another */
};

/* A recipient expanded into several targets: its outcome is theirs
 * together, known once every one is (local_settle). */
struct local_pending {
	const struct deliver_msg *msg;
	int			 j;
	struct deliver_result	*res;
	struct deliver_result	*sub;	/* one per target */
	char			**owner;	/* per target: its failures'
					   owner, an address, or NULL */
	char			**member;	/* per target with an owner:
					   the address it failed as */
	int			 n;
	struct local_shared	 shared;
};

struct local_batch {
	struct local_user	 user[LOCAL_BATCH_USERS];
	/* each user's Maildir, relative to its home: home_mailbox, or for a
	 * virtual mailbox (virt 1) its path under virtual_mailbox_base */
	char			 box[LOCAL_BATCH_USERS][DELIVER_PATH_SIZE];
	int			 virt[LOCAL_BATCH_USERS];
	int			 nuser;
	struct maildir_job	 job[LOCAL_BATCH_JOBS];
	int			 job_user[LOCAL_BATCH_JOBS];	/* in user[] */
	int			 njob;
	struct local_copy	*copy;	/* for the whole batch */
	int			 ncopy, copy_cap;
	int			 nsettled;	/* copy[0..nsettled) flushed */
	struct local_pending	**pend;		/* expanded recipients */
	int			 npend, pend_cap;
	long			 pend_targets;	/* their targets */
	struct local_pass_item	*pass;		/* for mailbox_transport */
	int			 npass, pass_cap;
};

static void
local_pending_free(struct local_pending *p)
{
	int	 i;

	for (i = 0; i < p->n; i++) {
		free(p->owner[i]);
		free(p->member[i]);
	}
	free(p->owner);
	free(p->member);
	free(p->sub);
	free(p);
}

/* Not zeroed: it is large, and every entry is set when it is taken. */
struct local_batch *
local_batch_new(void)
{
	struct local_batch *b = xmalloc(sizeof(*b));

	b->nuser = 0;
	b->njob = 0;
	b->copy = NULL;
	b->ncopy = b->copy_cap = b->nsettled = 0;
	b->pend = NULL;
	b->npend = b->pend_cap = 0;
	b->pend_targets = 0;
	b->pass = NULL;
	b->npass = b->pass_cap = 0;
	return b;
}

static void
local_pass_clear(struct local_batch *b)
{
	int	 i;

	for (i = 0; i < b->npass; i++) {
		free(b->pass[i].addr);
		free(b->pass[i].name);
	}
	b->npass = 0;
}

void
local_batch_free(struct local_batch *b)
{
	int	 i;

	for (i = 0; i < b->ncopy; i++) {
		free(b->copy[i].where);
		free(b->copy[i].out);
	}
	free(b->copy);
	for (i = 0; i < b->npend; i++)
		local_pending_free(b->pend[i]);
	free(b->pend);
	local_pass_clear(b);
	free(b->pass);
	free(b);
}

/* Where the mail of u goes (mailbox relative to its home), for the log
 * and to tell mailboxes apart: a cut path is still a useful hint. */
static void
local_where(const struct local_user *u, const char *mailbox, char *where,
    size_t len)
{
	if (snprintf(where, len, "%s/%s", u->home, mailbox) < 0)
		where[0] = '\0';
}

/* Record a delivery in the queue file, for its recipient and for every
 * follower of it (their outcome is its outcome), as soon as the worker that
 * made it has reported: the sooner the record, the fewer repeats a kill
 * can cause.  Only the copies since the last flush can be its own (the
 * older ones' res are gone); a follower of an older leader is recorded
 * when it takes that leader's outcome (local_flush_followers). */
static void
local_record(const struct local_batch *b, const struct maildir_job *job)
{
	int	 i, l;

	if (job->res->status != DELIVER_OK)
		return;
	for (i = b->nsettled; i < b->ncopy; i++)
		if (b->copy[i].res == job->res && b->copy[i].leader < 0 &&
		    b->copy[i].record)
			deliver_record_mark(job->msg, job->j);
	for (i = b->nsettled; i < b->ncopy; i++)
		if ((l = b->copy[i].leader) >= b->nsettled &&
		    b->copy[i].record && b->copy[l].res == job->res)
			deliver_record_mark(b->copy[i].msg, b->copy[i].j);
}

/* Start the deliveries collected for account k, made together by its
 * worker (local_run.c); run[] gets the jobs, from *used on.  0 if the
 * account has none. */
static int
local_flush_start(struct deliver_ctx *ctx, struct local_batch *b, int k,
    struct maildir_job **run, int *used, unsigned char *busy,
    struct local_run *lr)
{
	char	 where[DELIVER_PATH_SIZE];
	int	 j, n = 0;

	for (j = 0; j < b->njob; j++)
		if (b->job_user[j] == k)
			run[*used + n++] = &b->job[j];
	if (n == 0)
		return 0;
	local_where(&b->user[k], b->box[k], where, sizeof(where));
	if (local_hung_recent(ctx, b->user[k].uid, where))
		local_run_skip(&run[*used], n, "4.3.0",
		    "mailbox delivery timed out recently", lr);
	else
		local_run_start(ctx, &b->user[k], b->box[k], &run[*used], n,
		    busy, lr);
	*used += n;
	return 1;
}

/* Is lr[k] the run its worker was in when it was killed?  A worker
 * serves every mailbox of its ids (virtual mailboxes of one uid) one run
 * after another, in the order started: the first of its runs killed is
 * the one that hung, the later ones never began. */
static int
local_flush_hung_first(const struct local_run *lr, int k)
{
	int	 i;

	for (i = 0; i < k; i++)
		if (lr[i].timed_out && lr[i].pid == lr[k].pid)
			return 0;
	return 1;
}

/* Remember the mailboxes whose worker this flush killed at the
 * deadline: not a late flush's (its short chance, local_run.c, may
 * kill a mailbox that is only slow). */
static void
local_flush_hung(struct deliver_ctx *ctx, const struct local_batch *b,
    const int *user, const struct local_run *lr, int nrun)
{
	char	 where[DELIVER_PATH_SIZE];
	int	 k;

	for (k = 0; k < nrun; k++)
		if (lr[k].timed_out && !lr[k].late &&
		    local_flush_hung_first(lr, k)) {
			local_where(&b->user[user[k]], b->box[user[k]], where,
			    sizeof(where));
			local_hung_add(ctx, b->user[user[k]].uid, where);
		}
}

static void
local_flush_log(struct local_batch *b, int k, const struct local_run *lr)
{
	char	 where[DELIVER_PATH_SIZE];
	int	 j;

	for (j = 0; j < lr->n; j++)
		local_record(b, lr->jobs[j]);
	local_where(&b->user[k], b->box[k], where, sizeof(where));
	for (j = 0; j < lr->n; j++)
		deliver_log(lr->jobs[j]->msg->req->id, lr->jobs[j]->rcpt,
		    b->virt[k] ? "virtual" : "local", where, lr->jobs[j]->res);
}

/* Each follower since the last flush gets the outcome of the delivery it
 * shares: its leader was collected before it, so it has been flushed and
 * its outcome kept (out), this flush's before its settling frees any
 * target's.  A follower of a leader of an earlier flush was not recorded
 * with it (local_record), so it is here. */
static void
local_flush_followers(struct local_batch *b)
{
	struct local_copy	*f;
	int			 old = b->nsettled;

	for (; b->nsettled < b->ncopy; b->nsettled++) {
		f = &b->copy[b->nsettled];
		if (f->leader < 0) {
			f->out = xmalloc(sizeof(*f->out));
			*f->out = *f->res;
			f->res = NULL;
			continue;
		}
		*f->res = *b->copy[f->leader].out;
		if (f->leader < old && f->record &&
		    f->res->status == DELIVER_OK)
			deliver_record_mark(f->msg, f->j);
		deliver_log(f->qid, f->rcpt, f->virt ? "virtual" : "local",
		    f->where, f->res);
		f->res = NULL;
	}
}

/* Target outcome res of an expanded recipient, a copy made already for
 * recipient by: counted in *sh instead of logged. */
static void
local_shared_add(struct local_shared *sh, const char *by,
    const struct deliver_result *res)
{
	if (sh->n++ == 0)
		sh->by = by;
	else if (by != sh->by)	/* each a pointer into its msg->req */
		sh->others = 1;
	if (res->status == DELIVER_OK)
		return;
	if (sh->nfail[0] + sh->nfail[1] == 0 ||
	    (res->status == DELIVER_DEFER && sh->nfail[0] == 0))
		sh->fail = *res;
	sh->nfail[res->status == DELIVER_DEFER ? 0 : 1]++;
}

/* p's shared targets in one line: 3,300 targets of an include file that
 * user+1 .. user+1000 all reach would otherwise be 3.3 million lines for
 * one message.  The first copy of each target is logged, with its own
 * outcome, by the recipient it was made for. */
static void
local_shared_log(const struct local_pending *p)
{
	const struct local_shared	*sh = &p->shared;
	struct deliver_result		 r;
	const char			*more, *copies;

	if (sh->n == 0)
		return;
	more = sh->others ? " and other recipients" : "";
	copies = sh->n == 1 ? "copy" : "copies";
	if (sh->nfail[0] + sh->nfail[1] == 0)
		deliver_result_set(&r, DELIVER_OK, "2.0.0", "delivered as %d "
		    "shared %s of targets already delivered for <%.200s>%s",
		    sh->n, copies, sh->by, more);
	else
		deliver_result_set(&r, sh->fail.status, sh->fail.dsn, "%d "
		    "shared %s of targets already tried for <%.200s>%s: %d "
		    "sent, %d deferred, %d bounced; first failure: %s", sh->n,
		    copies, sh->by, more, sh->n - sh->nfail[0] - sh->nfail[1],
		    sh->nfail[0], sh->nfail[1], sh->fail.text);
	deliver_log(p->msg->req->id, p->msg->req->rcpt[p->j], "local", NULL,
	    &r);
}

/* The target outcome that decides p's: the first deferral, else the
 * first bounce, else NULL (all delivered). */
static const struct deliver_result *
local_pending_worst(const struct local_pending *p)
{
	const struct deliver_result	*worst = NULL;
	int				 i;

	for (i = 0; i < p->n; i++) {
		if (p->sub[i].status == DELIVER_DEFER)
			return &p->sub[i];
		if (p->sub[i].status == DELIVER_BOUNCE && worst == NULL)
			worst = &p->sub[i];
	}
	return worst;
}

/* The outcome of an expanded recipient from its targets': deferred if
 * one is (the whole recipient is tried again: targets already made get a
 * second copy, never none), else bounced if one is, else delivered.  A
 * bounced target with an owner is first reported to the owner (not when
 * the recipient is retried anyway: the report would come again). */
static void
local_pending_combine(struct deliver_ctx *ctx, const struct local_pending *p)
{
	const struct deliver_result	*worst;
	int				 i;

	worst = local_pending_worst(p);
	for (i = 0; i < p->n && (worst == NULL ||
	    worst->status != DELIVER_DEFER); i++) {
		if (p->sub[i].status != DELIVER_BOUNCE || p->owner[i] == NULL)
			continue;
		local_forward_failure(ctx, p->msg, p->j, p->owner[i],
		    p->member[i], &p->sub[i]);
		deliver_log(p->msg->req->id, p->msg->req->rcpt[p->j], "owner",
		    p->owner[i], &p->sub[i]);
	}
	if ((worst = local_pending_worst(p)) == NULL) {
		deliver_result_set(p->res, DELIVER_OK, "2.0.0",
		    "delivered to %d targets", p->n);
		/* RFC 3461 6.2.7.3: a list's success is "expanded" */
		p->res->expanded = p->n > 1;
	} else
		*p->res = *worst;
	local_shared_log(p);
	deliver_log(p->msg->req->id, p->msg->req->rcpt[p->j], "local",
	    "aliases", p->res);
}

/* Every expanded recipient collected so far: all its mailbox targets have
 * been flushed, and its other targets were made at once. */
static void
local_settle(struct deliver_ctx *ctx, struct local_batch *b)
{
	int	 i;

	for (i = 0; i < b->npend; i++) {
		local_pending_combine(ctx, b->pend[i]);
		local_pending_free(b->pend[i]);
	}
	b->npend = 0;
	b->pend_targets = 0;
}

/* The mailboxes collected for mailbox_transport, one request per
 * message (its items are collected one after the other). */
static void
local_pass_flush(struct deliver_ctx *ctx, struct local_batch *b)
{
	int	 i, k;

	for (i = 0; i < b->npass; i = k) {
		for (k = i + 1; k < b->npass && b->pass[k].msg == b->pass[i].msg;
		    k++)
			;
		local_pass_message(ctx, &b->pass[i], k - i);
	}
	local_pass_clear(b);
}

void
local_flush(struct deliver_ctx *ctx)
{
	struct local_batch	*b = ctx->local;
	struct maildir_job	*run[LOCAL_BATCH_JOBS];
	struct local_run	 lr[LOCAL_BATCH_USERS];
	unsigned char		 busy[LOCAL_WORKER_SLOTS];
	int			 user[LOCAL_BATCH_USERS];
	int			 k, nrun = 0, used = 0;

	memset(busy, 0, sizeof(busy));
	local_workers_expire(ctx);
	for (k = 0; k < b->nuser; k++)
		if (local_flush_start(ctx, b, k, run, &used, busy, &lr[nrun]))
			user[nrun++] = k;
	local_run_wait(ctx, lr, nrun, ctx->deadline_ms);
	local_flush_hung(ctx, b, user, lr, nrun);
	for (k = 0; k < nrun; k++)
		local_flush_log(b, user[k], &lr[k]);
	b->njob = 0;
	b->nuser = 0;
	local_pass_flush(ctx, b);
	local_flush_followers(b);
	local_settle(ctx, b);
}

/* The delivery of message qid into u's mailbox, or -1 if there is none
 * yet. */
static int
local_copy_find(const struct local_batch *b, const char *qid,
    const struct local_user *u, const char *where)
{
	int	 i;

	for (i = 0; i < b->ncopy; i++)
		if (b->copy[i].leader < 0 && b->copy[i].uid == u->uid &&
		    strcmp(b->copy[i].qid, qid) == 0 &&
		    strcmp(b->copy[i].where, where) == 0)
			return i;
	return -1;
}

static void
local_copy_add(struct local_batch *b, const struct deliver_msg *msg, int j,
    const struct local_user *u, const char *where,
    struct deliver_result *res, int leader, int record, int virt)
{
	struct local_copy	*c;

	if (b->ncopy == b->copy_cap) {
		b->copy_cap = b->copy_cap ? b->copy_cap * 2 : 16;
		b->copy = xreallocarray(b->copy, (size_t)b->copy_cap,
		    sizeof(*b->copy));
	}
	c = &b->copy[b->ncopy++];
	c->msg = msg;
	c->j = j;
	c->qid = msg->req->id;
	c->rcpt = msg->req->rcpt[j];
	c->uid = u->uid;
	c->where = xstrdup(where);
	c->res = res;
	c->out = NULL;
	c->leader = leader;
	c->record = record;
	c->virt = virt;
}

/* Index of u and its mailbox in the batch, added if new; -1 if the
 * batch has no room. */
static int
local_batch_user(struct local_batch *b, const struct local_user *u,
    const char *mailbox, int virt)
{
	int	 k;

	for (k = 0; k < b->nuser; k++)
		if (b->user[k].uid == u->uid && b->user[k].gid == u->gid &&
		    strcmp(b->user[k].home, u->home) == 0 &&
		    strcmp(b->user[k].name, u->name) == 0 &&
		    strcmp(b->box[k], mailbox) == 0)
			return k;
	if (b->nuser == LOCAL_BATCH_USERS)
		return -1;
	b->user[b->nuser] = *u;
	strlcpy(b->box[b->nuser], mailbox, sizeof(b->box[b->nuser]));
	b->virt[b->nuser] = virt;
	return b->nuser++;
}

void
local_collect(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const struct local_user *u, const char *mailbox, int virt,
    struct deliver_result *res, int record)
{
	struct local_batch	*b = ctx->local;
	struct maildir_job	*job;
	char			 where[DELIVER_PATH_SIZE];
	int			 k;

	local_where(u, mailbox, where, sizeof(where));
	if ((k = local_copy_find(b, msg->req->id, u, where)) >= 0) {
		local_copy_add(b, msg, j, u, where, res, k, record, virt);
		return;
	}
	if (b->njob == LOCAL_BATCH_JOBS ||
	    (k = local_batch_user(b, u, mailbox, virt)) < 0) {
		local_flush(ctx);
		k = local_batch_user(b, u, mailbox, virt);
	}
	job = &b->job[b->njob];
	memset(job, 0, sizeof(*job));
	job->msg = msg;
	job->j = j;
	job->rcpt = msg->req->rcpt[j];
	job->res = res;
	job->own = record;
	b->job_user[b->njob++] = k;
	local_copy_add(b, msg, j, u, where, res, -1, record, virt);
}

/* mbox delivery into mail_spool_directory/name, by a helper process
 * (local_command.c), with the user's uid and the spool's group. */
static void
local_spool(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, const struct local_user *u, struct deliver_result *res)
{
	struct lx_target	 t;
	struct lx_owner		 owner;
	struct stat		 st;
	char			 path[DELIVER_PATH_SIZE];

	if (stat(ctx->par->mail_spool_directory, &st) < 0 ||
	    snprintf(path, sizeof(path), "%s/%s",
	    ctx->par->mail_spool_directory, u->name) >= (int)sizeof(path)) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "mail_spool_directory: %s", strerror(errno));
		return;
	}
	memset(&t, 0, sizeof(t));
	memset(&owner, 0, sizeof(owner));
	t.kind = LX_MAILBOX;
	t.text = path;
	t.ext = t.errors_to = (char *)"";
	t.owner = &owner;
	owner.uid = u->uid;
	owner.gid = st.st_gid;
	strlcpy(owner.name, u->name, sizeof(owner.name));
	strlcpy(owner.home, u->home, sizeof(owner.home));
	local_command_deliver(ctx, msg, rcpt, &t, res);
}

/* Is account name recipient rcpt's own ("name", or "name+ext" with
 * recipient_delimiter "+"), not a target of its aliases or .forward? */
static int
local_pass_own(const struct deliver_ctx *ctx, const char *rcpt,
    const char *name)
{
	char	 rn[LX_NAME_MAX];
	size_t	 len = strlen(name);
	char	 d = ctx->cfg->recipient_delimiter[0];

	if (local_recipient_name(rcpt, rn, sizeof(rn)) < 0 ||
	    strncmp(rn, name, len) != 0)
		return 0;
	return rn[len] == '\0' || (d != '\0' && rn[len] == d);
}

/* Account name's mailbox for mailbox_transport, under the address the
 * transport gets: the recipient's own when it is its own mailbox (an
 * extension kept for the store), else name@myhostname (an alias's
 * target), as Postfix passes the address its expansion ended at. */
static void
local_pass_add(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const char *name, struct deliver_result *res, int record)
{
	struct local_batch	*b = ctx->local;
	struct local_pass_item	*p;
	struct buf		 addr;

	if (b->npass == b->pass_cap) {
		b->pass_cap = b->pass_cap ? b->pass_cap * 2 : 16;
		b->pass = xreallocarray(b->pass, (size_t)b->pass_cap,
		    sizeof(*b->pass));
	}
	buf_init(&addr, 2 * QUEUE_ADDR_MAX);
	if (local_pass_own(ctx, msg->req->rcpt[j], name))
		(void)buf_append_str(&addr, msg->req->rcpt[j]);
	else
		(void)buf_appendf(&addr, "%s@%s", name, ctx->cfg->myhostname);
	p = &b->pass[b->npass++];
	memset(p, 0, sizeof(*p));
	p->msg = msg;
	p->j = j;
	p->addr = xstrdup(buf_str(&addr));
	p->name = xstrdup(name);
	p->res = res;
	p->record = record;
	buf_free(&addr);
	deliver_result_set(res, DELIVER_DEFER, "4.3.0",
	    "internal error: no outcome");
}

/* Account name's mailbox gets recipient j's message; record: res is the
 * recipient's own outcome (else one target's of several).  Postfix's
 * order: mailbox_transport, then home_mailbox. */
static void
local_mailbox(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const char *name, struct deliver_result *res, int record)
{
	const char		*rcpt = msg->req->rcpt[j];
	const char		*mailbox = ctx->par->home_mailbox;
	char			 where[DELIVER_PATH_SIZE];
	struct local_user	 u;
	size_t			 len = strlen(mailbox);

	/* For every local name, in passwd or not, as in Postfix: the
	 * transport (Dovecot) knows its users. */
	if (ctx->par->mailbox_transport[0] != '\0') {
		local_pass_add(ctx, msg, j, name, res, record);
		return;
	}
	if (local_user_resolve(name, local_memo_getpw, ctx->memo, &u,
	    res) < 0) {
		deliver_log(msg->req->id, rcpt, "local", NULL, res);
		return;
	}
	/* A trailing "/" means Maildir, as in Postfix's home_mailbox. */
	if (len > 0 && mailbox[len - 1] == '/') {
		local_collect(ctx, msg, j, &u, mailbox, 0, res, record);
		return;
	}
	/* Empty: mbox in mail_spool_directory; a file in the home
	 * directory ("Mailbox") is not supported yet. */
	if (len == 0) {
		local_spool(ctx, msg, rcpt, &u, res);
		snprintf(where, sizeof(where), "%.2000s/%.1000s",
		    ctx->par->mail_spool_directory, u.name);
	} else {
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mbox delivery not supported");
		local_where(&u, mailbox, where, sizeof(where));
	}
	deliver_log(msg->req->id, rcpt, "local", where, res);
}

/* Remote address to, sent from sender (NULL: the message's), forwarded
 * for msg already (the message's duplicate filter, local_dup.c): the
 * recipient it was forwarded for, and *res that copy's outcome; else
 * NULL.  key gets its key ("" if it has none), for local_dup_add once it
 * is made. */
static const char *
local_remote_seen(const struct deliver_msg *msg, const char *to,
    const char *sender, struct buf *key, struct deliver_result *res)
{
	const struct deliver_result	*r;
	const char			*by = NULL;

	if (local_dup_key(key, LX_REMOTE, to, 0, sender != NULL ? sender :
	    msg->req->sender) < 0) {
		buf_reset(key);
		return NULL;
	}
	if ((r = local_dup_find(msg->dup, buf_str(key), &by)) == NULL)
		return NULL;
	*res = *r;
	return by;
}

/* Remote address to forwarded once per message from sender (NULL: the
 * message's own): as local_remote_seen, or NULL once forwarded for
 * recipient j. */
static const char *
local_forward_once(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const char *to, const char *sender, struct deliver_result *res)
{
	struct buf	 key;
	const char	*by;

	buf_init(&key, LOCAL_DUP_KEY_MAX);
	if ((by = local_remote_seen(msg, to, sender, &key, res)) == NULL) {
		local_forward(ctx, msg, j, to, sender, res);
		if (key.len > 0)
			(void)local_dup_add(msg->dup, buf_str(&key), res,
			    msg->req->rcpt[j]);
	}
	buf_free(&key);
	return by;
}

/* One target of an expanded recipient, its outcome in *res, logged if
 * made for it, else counted in *sh (a copy made already); owner: the
 * address its failures go to, or NULL. */
static void
local_target(struct deliver_ctx *ctx, const struct deliver_msg *msg, int j,
    const struct lx_target *t, const char *owner, struct deliver_result *res,
    struct local_shared *sh)
{
	const char	*by = NULL;

	switch (t->kind) {
	case LX_MAILBOX:
		local_mailbox(ctx, msg, j, t->text, res, 0);
		return;
	case LX_VIRTUAL:
		virtual_mailbox_deliver(ctx, msg, j, t->text, res, 0);
		return;
	case LX_COMMAND:
	case LX_FILE:
		by = local_command_deliver(ctx, msg, msg->req->rcpt[j], t,
		    res);
		break;
	case LX_REMOTE:
		by = local_forward_once(ctx, msg, j, t->text, owner, res);
		break;
	}
	if (by != NULL)
		local_shared_add(sh, by, res);
	else
		deliver_log(msg->req->id, msg->req->rcpt[j], t->kind ==
		    LX_COMMAND ? "command" : t->kind == LX_FILE ? "file" :
		    "forward", t->text, res);
}

/* "name@myhostname" if that is a valid address (an alias name may hold
 * spaces: then there is none), else NULL. */
static char *
local_owner_addr(const struct deliver_ctx *ctx, const char *name)
{
	struct buf	 b;
	const char	*why;
	char		*addr = NULL;

	buf_init(&b, QUEUE_ADDR_MAX);
	if (buf_appendf(&b, "%s@%s", name, ctx->cfg->myhostname) == 0 &&
	    addr_valid_mailbox(b.data, b.len, &why))
		addr = xstrdup(buf_str(&b));
	buf_free(&b);
	return addr;
}

/* Where target t's failures go: *owner "owner-NAME@myhostname" (NULL
 * without an owner, and for mail from <>) and *member the address it
 * fails as (a mailbox: the account at myhostname; a command or file: the
 * recipient). */
static void
local_owner(const struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const struct lx_target *t, char **owner, char **member)
{
	*owner = *member = NULL;
	if (t->errors_to[0] == '\0' || msg->req->sender[0] == '\0' ||
	    (*owner = local_owner_addr(ctx, t->errors_to)) == NULL)
		return;
	if (t->kind == LX_MAILBOX)
		*member = local_owner_addr(ctx, t->text);
	else if (t->kind == LX_REMOTE)
		*member = xstrdup(t->text);
	if (*member == NULL)
		*member = xstrdup(msg->req->rcpt[j]);
}

/* The remote targets of x without an owner that no earlier recipient of
 * the message has forwarded, all in one new message (local_forward.c);
 * the others take the outcome of the copy made already (counted in *sh).
 * Their outcomes in sub[], each made one logged and remembered in the
 * message's filter. */
static void
local_remote_targets(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const struct lx_result *x, char *const *owner,
    struct deliver_result *sub, struct local_shared *sh)
{
	const char		*by;
	struct deliver_result	*res;
	struct buf		 key;
	char			**to;
	int			 i, n = 0, *at;

	buf_init(&key, LOCAL_DUP_KEY_MAX);
	to = xcalloc((size_t)x->n, sizeof(*to));
	at = xcalloc((size_t)x->n, sizeof(*at));
	for (i = 0; i < x->n; i++) {
		if (x->target[i].kind != LX_REMOTE || owner[i] != NULL)
			continue;
		if ((by = local_remote_seen(msg, x->target[i].text, NULL,
		    &key, &sub[i])) != NULL)
			local_shared_add(sh, by, &sub[i]);
		else {
			at[n] = i;
			to[n++] = x->target[i].text;
		}
	}
	res = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*res));
	if (n > 0)
		local_forward_list(ctx, msg, j, to, n, res);
	for (i = 0; i < n; i++) {
		sub[at[i]] = res[i];
		deliver_log(msg->req->id, msg->req->rcpt[j], "forward", to[i],
		    &res[i]);
		if (local_dup_key(&key, LX_REMOTE, to[i], 0,
		    msg->req->sender) == 0)
			(void)local_dup_add(msg->dup, buf_str(&key), &res[i],
			    msg->req->rcpt[j]);
	}
	free(res);
	free(at);
	free(to);
	buf_free(&key);
}

static void
local_pending_add(struct local_batch *b, const struct deliver_msg *msg,
    int j, struct deliver_result *res, const struct lx_result *x,
    struct deliver_ctx *ctx)
{
	struct local_pending	*p;
	int			 i;

	if (b->npend > 0 && b->pend_targets + x->n > LOCAL_PEND_TARGETS)
		local_flush(ctx);	/* settles those waiting */
	p = xmalloc(sizeof(*p));
	p->msg = msg;
	p->j = j;
	p->res = res;
	p->n = x->n;
	p->sub = xcalloc((size_t)x->n, sizeof(*p->sub));
	p->owner = xcalloc((size_t)x->n, sizeof(*p->owner));
	p->member = xcalloc((size_t)x->n, sizeof(*p->member));
	memset(&p->shared, 0, sizeof(p->shared));
	for (i = 0; i < x->n; i++) {
		deliver_result_set(&p->sub[i], DELIVER_DEFER, "4.3.0",
		    "internal error: no outcome");
		local_owner(ctx, msg, j, &x->target[i], &p->owner[i],
		    &p->member[i]);
	}
	/* Listed only once its targets are collected: a flush one of them
	 * causes settles what came before, and this one waits for a later
	 * flush (there is always the batch's last). */
	local_remote_targets(ctx, msg, j, x, p->owner, p->sub, &p->shared);
	for (i = 0; i < x->n; i++)
		if (x->target[i].kind != LX_REMOTE || p->owner[i] != NULL)
			local_target(ctx, msg, j, &x->target[i], p->owner[i],
			    &p->sub[i], &p->shared);
	if (b->npend == b->pend_cap) {
		b->pend_cap = b->pend_cap ? b->pend_cap * 2 : 8;
		b->pend = xreallocarray(b->pend, (size_t)b->pend_cap,
		    sizeof(*b->pend));
	}
	b->pend[b->npend++] = p;
	b->pend_targets += p->n;
}

enum lx_status
local_expand_msg(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *name, struct lx_result *x, char *why, const char **dsn)
{
	struct lx_ops	 ops;
	long		*spent = local_dup_work(msg->dup);

	if (spent != NULL && *spent >= LOCAL_MSG_WORK_MAX) {
		snprintf(why, LX_WHY_MAX, "%s (more than %ld units)",
		    LOCAL_WHY_MSG_WORK, LOCAL_MSG_WORK_MAX);
		*dsn = "4.6.0";
		return LX_DEFER;
	}
	local_world_ops(ctx, &ops);
	ops.work = spent;
	return local_expand(&ops, name, x, why, dsn);
}

/* What the bound a 4.6.0 deferral of an expansion met is called, by its
 * reason why, for the warning: only local_expansion_limit is a key. */
static const char *
local_bound_name(const char *why)
{
	if (strncmp(why, LX_WHY_TARGETS, strlen(LX_WHY_TARGETS)) == 0)
		return "local_expansion_limit";
	if (strncmp(why, LOCAL_WHY_MSG_WORK, strlen(LOCAL_WHY_MSG_WORK)) == 0)
		return "LOCAL_MSG_WORK_MAX: deliver's internal bound of the "
		    "expansion work of one message's recipients in a batch, "
		    "not a configuration key";
	if (strncmp(why, LX_WHY_CPU, strlen(LX_WHY_CPU)) == 0)
		return "LX_CPU_MAX_MS: deliver's internal bound of the CPU "
		    "time of one expansion, not a configuration key";
	return "LX_WORK_MAX: deliver's internal bound of the work of one "
	    "expansion, not a configuration key";
}

static void
local_deliver_one(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, struct deliver_result *res)
{
	const char		*rcpt = msg->req->rcpt[j], *dsn;
	char			 name[LX_NAME_MAX], why[LX_WHY_MAX];
	struct lx_result	 x;
	enum lx_status		 st;

	if (local_recipient_name(rcpt, name, sizeof(name)) < 0) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown");
		deliver_log(msg->req->id, rcpt, "local", NULL, res);
		return;
	}
	if (local_loop_check(msg, rcpt)) {
		deliver_result_set(res, DELIVER_BOUNCE, "5.4.6",
		    "mail forwarding loop for %s", rcpt);
		deliver_log(msg->req->id, rcpt, "local", NULL, res);
		return;
	}
	lx_result_init(&x, ctx->par->local_expansion_limit);
	st = local_expand_msg(ctx, msg, name, &x, why, &dsn);
	if (st != LX_OK || x.n == 0) {
		if (st == LX_DEFER && strcmp(dsn, "4.6.0") == 0)
			log_warn("%s: to=<%s>: %s (%s)", msg->req->id, rcpt,
			    why, local_bound_name(why));
		deliver_result_set(res, st == LX_DEFER ? DELIVER_DEFER :
		    DELIVER_BOUNCE, st == LX_OK ? "5.3.5" : dsn, "%s",
		    st == LX_OK ? "alias has no targets" : why);
		deliver_log(msg->req->id, rcpt, "local", NULL, res);
	} else
		local_deliver_targets(ctx, msg, j, &x, res);
	lx_result_free(&x);
}

void
local_deliver_targets(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const struct lx_result *x, struct deliver_result *res)
{
	if (x->n == 1 && x->target[0].kind == LX_MAILBOX &&
	    x->target[0].errors_to[0] == '\0')
		local_mailbox(ctx, msg, j, x->target[0].text, res, 1);
	else if (x->n == 1 && x->target[0].kind == LX_VIRTUAL)
		virtual_mailbox_deliver(ctx, msg, j, x->target[0].text, res, 1);
	else
		local_pending_add(ctx->local, msg, j, res, x, ctx);
}

/* Which recipients of the queue file (env's) were last deferred for their
 * own expansion's bound (4.6.0, not for the message's budget). */
struct local_costly {
	unsigned char	*mark;	/* per env recipient */
	int		 n;
};

static int
local_costly_note(const struct queue_outcome *o, void *arg)
{
	struct local_costly	*c = arg;

	if (o->rcpt < 0 || o->rcpt >= c->n || (o->action != OUTCOME_DELAYED &&
	    o->action != OUTCOME_DELIVERED && o->action != OUTCOME_BOUNCED &&
	    o->action != OUTCOME_RELAYED && o->action != OUTCOME_EXPANDED))
		return 0;	/* a notice marker, not an outcome */
	c->mark[o->rcpt] = o->action == OUTCOME_DELAYED &&
	    strcmp(o->code, "4.6.0") == 0 &&
	    strstr(o->text, LOCAL_WHY_MSG_WORK) == NULL;
	return 0;
}

/* Was request recipient j last deferred for its own expansion's bound?
 * c from the queue file's outcome records (local_costly_read). */
static int
local_costly(const struct deliver_msg *msg, const struct local_costly *c,
    int j)
{
	int	 l;

	if (c->mark == NULL || msg->line == NULL || (l = msg->line[j]) < 0 ||
	    l >= c->n)
		return 0;
	return c->mark[l];
}

static void
local_costly_read(const struct deliver_msg *msg, struct local_costly *c)
{
	struct queue_envelope	 env;

	c->mark = NULL;
	c->n = 0;
	if (!msg->loaded || msg->env.nrcpt <= 0)
		return;
	env = msg->env;		/* queue_outcome_read sets outcome_end */
	c->n = env.nrcpt;
	c->mark = xcalloc((size_t)c->n, 1);
	if (queue_outcome_read(msg->fd, &env, local_costly_note, c) < 0)
		memset(c->mark, 0, (size_t)c->n);
}

/* The recipients in order, except that those last deferred for their own
 * expansion's bound come after the others: they spend the message's
 * budget (LOCAL_MSG_WORK_MAX) and defer again, and in recipient order
 * they would spend it before the ones after them at every attempt, which
 * would never be expanded. */
void
local_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const int *idx, int n, struct deliver_result *result)
{
	struct local_costly	 c;
	int			 k, last;

	local_costly_read(msg, &c);
	for (last = 0; last < 2; last++)
		for (k = 0; k < n; k++)
			if (local_costly(msg, &c, idx[k]) == last)
				local_deliver_one(ctx, msg, idx[k],
				    &result[idx[k]]);
	free(c.mark);
}
