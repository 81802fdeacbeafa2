/*
 * mbox - one message appended to an mbox file, in the format Debian's mail
 * readers expect: a "From sender date" line, Return-Path: and
 * Delivered-To:, the message with every body line that starts with "From "
 * (after any number of '>') quoted with one more '>', and a blank line.
 * The caller holds the locks; on a failed write the file is cut back to
 * its length before, so a reader never sees half a message, and nothing is
 * "delivered" until fsync has returned.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "io.h"
#include "deliver.h"

#define MBOX_LINE_MAX	(64 * 1024)	/* a longer line is split, unquoted */

/* 1 if line[0..len) needs a '>': ">*From ". */
int
mbox_from_quote(const char *line, size_t len)
{
	size_t	 i = 0;

	while (i < len && line[i] == '>')
		i++;
	return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

static int
mbox_put(struct buf *b, int fd, const void *p, size_t len)
{
	if (b->len + len > MBOX_LINE_MAX) {
		if (b->len > 0 && io_write_all(fd, b->data, b->len) < 0)
			return -1;
		buf_reset(b);
		if (len > MBOX_LINE_MAX)
			return io_write_all(fd, p, len);
	}
	return buf_append(b, p, len);
}

/* The message bytes, lines quoted, through b. */
static int
mbox_body(int fd, const struct deliver_msg *msg, struct buf *b,
    const char **what)
{
	char	 chunk[16 * 1024], line[MBOX_LINE_MAX];
	size_t	 llen = 0, i;
	off_t	 off = msg->offset;
	ssize_t	 n;

	while (off < msg->size) {
		size_t want = sizeof(chunk);

		if ((off_t)want > msg->size - off)
			want = (size_t)(msg->size - off);
		if ((n = pread(msg->fd, chunk, want, off)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			*what = "read queue file";
			return -1;
		}
		off += n;
		for (i = 0; i < (size_t)n; i++) {
			line[llen++] = chunk[i];
			if (chunk[i] != '\n' && llen < sizeof(line))
				continue;
			if (mbox_from_quote(line, llen) &&
			    mbox_put(b, fd, ">", 1) < 0)
				goto fail;
			if (mbox_put(b, fd, line, llen) < 0)
				goto fail;
			llen = 0;
		}
	}
	if (llen > 0 && (mbox_put(b, fd, line, llen) < 0 ||
	    mbox_put(b, fd, "\n", 1) < 0))
		goto fail;
	return 0;
fail:
	*what = "write mailbox";
	return -1;
}

int
mbox_append(int fd, const struct deliver_msg *msg, const char *rcpt,
    const char **what)
{
	struct buf	 b;
	struct stat	 st;
	char		 date[64];
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 rc;

	*what = "examine mailbox";
	if (fstat(fd, &st) < 0)
		return -1;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
		snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970");
	buf_init(&b, MBOX_LINE_MAX + 2 * QUEUE_ADDR_MAX + 256);
	rc = buf_appendf(&b, "From %s  %s\nReturn-Path: <%s>\n"
	    "Delivered-To: %s\n", msg->req->sender[0] != '\0' ?
	    msg->req->sender : "MAILER-DAEMON", date, msg->req->sender, rcpt);
	if (rc < 0)
		*what = "address too long";
	else if ((rc = mbox_body(fd, msg, &b, what)) == 0 &&
	    ((rc = buf_append(&b, "\n", 1)) < 0 ||
	    (rc = io_write_all(fd, b.data, b.len)) < 0 ||
	    (rc = fsync(fd)) < 0))
		*what = "write mailbox";
	buf_free(&b);
	if (rc < 0) {
		int saved = errno;

		if (ftruncate(fd, st.st_size) < 0)
			*what = "write mailbox, and cut it back";
		errno = saved;
	}
	return rc;
}
