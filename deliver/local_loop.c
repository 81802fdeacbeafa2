/*
 * local_loop - mail forwarding loops, caught as Postfix's local(8) catches
 * them: every local delivery adds "Delivered-To: <recipient>" at the top of
 * the message (maildir.c, mbox.c, local_command.c, local_forward.c), so a
 * message that already carries our Delivered-To: for the recipient it is
 * being delivered to has been here before, and bounces (5.4.6) instead of
 * going round again.  Only the first LOOP_HEAD_MAX bytes of the header are
 * read: the fields we add are at its top.  Addresses compare without
 * regard to case.
 */
#include <strings.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>

#include "mail_header.h"
#include "deliver.h"

#define LOOP_HEAD_MAX	(64 * 1024)

/* 1 if the header in buf[0..len) has a Delivered-To: field whose value,
 * white space trimmed, is rcpt. */
int
local_loop_seen(const char *buf, size_t len, const char *rcpt)
{
	struct mail_field	 f;
	size_t			 body, hlen, off = 0, a, b;
	size_t			 rlen = strlen(rcpt);

	hlen = mail_header_end(buf, len, &body);
	while (mail_header_next(buf, hlen, &off, &f)) {
		if (!mail_field_is(&f, "Delivered-To"))
			continue;
		for (a = 0; a < f.valuelen && (f.value[a] == ' ' ||
		    f.value[a] == '\t'); a++)
			continue;
		for (b = f.valuelen; b > a && (f.value[b - 1] == ' ' ||
		    f.value[b - 1] == '\t' || f.value[b - 1] == '\r'); b--)
			continue;
		if (b - a == rlen && strncasecmp(f.value + a, rcpt, rlen) == 0)
			return 1;
	}
	return 0;
}

int
local_loop_check(const struct deliver_msg *msg, const char *rcpt)
{
	char	 buf[LOOP_HEAD_MAX];
	size_t	 want = sizeof(buf);
	ssize_t	 n;

	if ((off_t)want > msg->size - msg->offset)
		want = (size_t)(msg->size - msg->offset);
	/* Usually the header read has the bytes already (message bytes never
	 * change once queued). */
	if (msg->head != NULL && msg->offset >= 0 &&
	    (off_t)msg->headlen >= msg->offset + (off_t)want)
		return want > 0 &&
		    local_loop_seen(msg->head + msg->offset, want, rcpt);
	do
		n = pread(msg->fd, buf, want, msg->offset);
	while (n < 0 && errno == EINTR);
	return n > 0 && local_loop_seen(buf, (size_t)n, rcpt);
}
