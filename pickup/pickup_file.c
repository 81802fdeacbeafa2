/*
 * pickup_file - take one file out of maildrop/.  The file was made by a
 * local user (through ternpostdrop) and is checked before a byte of it is
 * believed: opened without following a symbolic link and without
 * blocking on a FIFO, a regular file with one link, not larger than a
 * drop file of message_size_limit can be, owned by the uid its "uid"
 * record names (only ternpostdrop, running as that user, can make such a
 * file), completely parsed, with a valid sender and recipients and no NUL
 * byte, and a header of bounded size.  Only then is the queue file
 * written and committed (queue_writer, as smtpd does); the drop file is
 * removed after the commit, so a crash in between makes a duplicate,
 * never a loss.  A refused file goes to corrupt/ (renamed, never
 * replacing anything; removed if that fails) with a log line, except a
 * file over the size limit: it is removed, so that a local user running
 * ternpostdrop directly (which reads no configuration) cannot fill the
 * queue's file system through corrupt/, where nothing expires.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "pickup.h"
#include "queue.h"
#include "queue_writer.h"

/* Header records of a drop file, at most: lines times recipients. */
#define PICKUP_DROP_OVERHEAD	((size_t)DROP_LINE_MAX * (DROP_RCPT_MAX + 16))

static enum pickup_result
pickup_refuse(const char *name, const char *why)
{
	char	 from[512], to[512];

	snprintf(from, sizeof(from), "%s/%s", DROP_DIR, name);
	snprintf(to, sizeof(to), "%s/drop-%s", queue_dir_name(QDIR_CORRUPT),
	    name);
	if (queue_rename(from, to) == 0) {
		log_warn("maildrop/%s: refused (%s); moved to %s", name, why, to);
	} else if (unlink(from) == 0) {
		log_warn("maildrop/%s: refused (%s); removed", name, why);
	} else {
		log_error("maildrop/%s: refused (%s), and cannot be removed: %s",
		    name, why, strerror(errno));
	}
	return PICKUP_REFUSED;
}

/* Refuse an over-size drop file: removed, not kept (see above). */
static enum pickup_result
pickup_refuse_oversize(const char *name, const char *why)
{
	char	 path[512];

	snprintf(path, sizeof(path), "%s/%s", DROP_DIR, name);
	if (unlink(path) == 0)
		log_warn("maildrop/%s: refused (%s); removed", name, why);
	else
		log_error("maildrop/%s: refused (%s), and cannot be removed: %s",
		    name, why, strerror(errno));
	return PICKUP_REFUSED;
}

/* Read the whole open file (st_size bytes, checked by the caller). */
static char *
pickup_read(int fd, size_t size)
{
	char	*b = xmalloc(size + 1);
	size_t	 got = 0;
	ssize_t	 n;

	while (got < size) {
		n = read(fd, b + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return NULL;
		}
		got += (size_t)n;
	}
	return b;
}

/* The queue envelope of a checked drop envelope.  -1 with *why. */
static int
pickup_envelope(const struct tern_config *cfg, const struct drop_envelope *d,
    struct queue_envelope *q, const char **why)
{
	char	 a[ADDR_PATH_MAX + 1];
	int	 i;

	memset(q, 0, sizeof(*q));
	q->arrival = (long long)time(NULL);
	q->client = "localhost";
	q->helo = "localhost";
	q->body = d->body;
	q->ret = d->ret;
	q->envid = d->envid;
	if (d->sender[0] == '\0')
		q->sender = xstrdup("");
	else if (pickup_address(d->sender, cfg->myhostname, a, sizeof(a)) < 0)
		return (*why = "bad sender address"), -1;
	else
		q->sender = xstrdup(a);
	q->rcpt = xcalloc((size_t)d->nrcpt, sizeof(*q->rcpt));
	for (i = 0; i < d->nrcpt; i++) {
		if (pickup_address(d->rcpt[i], cfg->myhostname, a,
		    sizeof(a)) < 0)
			return (*why = "bad recipient address"), -1;
		q->rcpt[q->nrcpt].addr = xstrdup(a);
		q->rcpt[q->nrcpt].status = RCPT_PENDING;
		q->rcpt[q->nrcpt].notify = d->notify;
		q->nrcpt++;
	}
	return 0;
}

static void
pickup_envelope_free(struct queue_envelope *q)
{
	int	 i;

	for (i = 0; i < q->nrcpt; i++)
		free(q->rcpt[i].addr);
	free(q->rcpt);
	free(q->sender);
}

/* Write and commit the queue file.  PICKUP_QUEUED or PICKUP_RETRY. */
static enum pickup_result
pickup_commit(const struct tern_config *cfg, const struct drop_envelope *d,
    struct queue_envelope *q, const char *data, long long uid, char *id,
    size_t idlen, const char *name)
{
	struct queue_writer	*w = xmalloc(sizeof(*w));
	struct pickup_info	 info;
	struct buf		 msg;
	const char		*err;
	enum pickup_result	 r = PICKUP_RETRY;

	if (queue_writer_open(w, q) < 0) {
		log_error("maildrop/%s: cannot create a queue file: %s", name,
		    strerror(errno));
		free(w);
		return PICKUP_RETRY;
	}
	info.myhostname = cfg->myhostname;
	info.queue_id = w->id;
	info.uid = uid;
	info.now = q->arrival;
	buf_init(&msg, d->data_len + PICKUP_HEADER_MAX + 4096);
	if (pickup_message_build(d, data, d->data_len, &info, &msg, &err) < 0) {
		queue_writer_abort(w);
		r = pickup_refuse(name, err);
	} else if (queue_writer_write(w, msg.data, msg.len) < 0 ||
	    queue_writer_commit(w) < 0) {
		log_error("maildrop/%s: cannot queue the message: %s", name,
		    strerror(errno));
		queue_writer_abort(w);
	} else {
		snprintf(id, idlen, "%s", w->id);
		r = PICKUP_QUEUED;
	}
	buf_free(&msg);
	free(w);
	return r;
}

/* Open and check the file; -1 with *why for a refusal, -2 if it went. */
static int
pickup_open(const char *path, size_t max, struct stat *st, const char **why)
{
	int	 fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return -2;
		*why = errno == ELOOP ? "a symbolic link" : "cannot be opened";
		return -1;
	}
	if (fstat(fd, st) < 0)
		*why = "cannot be examined";
	else if (!S_ISREG(st->st_mode))
		*why = "not a regular file";
	else if (st->st_nlink != 1)
		*why = "more than one link";
	else if ((size_t)st->st_size > max)
		*why = "too big";
	else
		return fd;
	close(fd);
	return -1;
}

enum pickup_result
pickup_file(const struct tern_config *cfg, const char *name, char *id,
    size_t idlen)
{
	struct drop_envelope	 d;
	struct queue_envelope	 q;
	struct stat		 st;
	const char		*why = NULL;
	char			 path[512], *buf;
	enum pickup_result	 r;
	int			 fd;

	if (!queue_id_valid(name))
		return name[0] == '.' ? PICKUP_SKIPPED :
		    pickup_refuse(name, "not a name ternpostdrop makes");
	snprintf(path, sizeof(path), "%s/%s", DROP_DIR, name);
	fd = pickup_open(path, cfg->message_size_limit + PICKUP_DROP_OVERHEAD,
	    &st, &why);
	if (fd == -2)
		return PICKUP_SKIPPED;
	if (fd < 0)
		return strcmp(why, "too big") == 0 ?
		    pickup_refuse_oversize(name, why) : pickup_refuse(name, why);
	buf = pickup_read(fd, (size_t)st.st_size);
	close(fd);
	if (buf == NULL)
		return pickup_refuse(name, "cannot be read");
	if (drop_parse(buf, (size_t)st.st_size, &d, &why) < 0) {
		free(buf);
		return pickup_refuse(name, why);
	}
	if (d.uid != (long long)st.st_uid)
		why = "its uid record is not its owner";
	else if (memchr(buf + d.data_off, '\0', d.data_len) != NULL)
		why = "a NUL byte in the message";
	else if (d.data_len > cfg->message_size_limit)
		why = "message too big";
	memset(&q, 0, sizeof(q));
	if (why != NULL && d.data_len > cfg->message_size_limit) {
		r = pickup_refuse_oversize(name, why);
	} else if (why != NULL || pickup_envelope(cfg, &d, &q, &why) < 0) {
		r = pickup_refuse(name, why);
	} else {
		r = pickup_commit(cfg, &d, &q, buf + d.data_off,
		    (long long)st.st_uid, id, idlen, name);
		if (r == PICKUP_QUEUED) {
			log_info("%s: uid=%lld from=<%s> nrcpt=%d (maildrop/%s)",
			    id, (long long)st.st_uid, q.sender, q.nrcpt, name);
			if (unlink(path) < 0)
				log_error("maildrop/%s: queued as %s but cannot "
				    "be removed: %s", name, id, strerror(errno));
		}
	}
	pickup_envelope_free(&q);
	drop_envelope_free(&d);
	free(buf);
	return r;
}
