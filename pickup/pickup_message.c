/*
 * pickup_message - the message pickup queues for a drop file: a Received:
 * line naming the submitting uid (which comes from the file's owner, not
 * from anything the user wrote), the user's header minus Bcc: (Postfix
 * removes it: the recipients it names must not see each other), From:,
 * Date: and Message-ID: where the user gave none, then the body.  Pure:
 * no I/O, so it is unit-tested on hostile input.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "mail_header.h"
#include "pickup.h"

int
pickup_address(const char *in, const char *myhostname, char *out,
    size_t outlen)
{
	char	 full[ADDR_PATH_MAX * 2];

	if (strchr(in, '@') == NULL) {
		if (snprintf(full, sizeof(full), "%s@%s", in, myhostname) >=
		    (int)sizeof(full))
			return -1;
		in = full;
	}
	return addr_canonical(in, strlen(in), out, outlen);
}

/* A display name as a quoted-string: '"' and '\\' escaped. */
static int
pickup_quoted(struct buf *out, const char *s)
{
	if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (; *s != '\0'; s++)
		if ((*s == '"' || *s == '\\') && buf_append(out, "\\", 1) < 0)
			return -1;
		else if (buf_append(out, s, 1) < 0)
			return -1;
	return buf_append(out, "\" ", 2);
}

/* The fields the user left out. */
static int
pickup_missing(const struct drop_envelope *env, const struct pickup_info *in,
    int have_from, int have_date, int have_msgid, struct buf *out)
{
	char		 date[64], stamp[32], sender[ADDR_PATH_MAX * 2];
	time_t		 t = (time_t)in->now;
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		return -1;
	if (!have_from) {
		if (env->sender[0] == '\0')
			snprintf(sender, sizeof(sender), "MAILER-DAEMON@%s",
			    in->myhostname);
		else if (pickup_address(env->sender, in->myhostname, sender,
		    sizeof(sender)) < 0)
			return -1;
		if (buf_append_str(out, "From: ") < 0 ||
		    (env->fullname != NULL && env->fullname[0] != '\0' &&
		    pickup_quoted(out, env->fullname) < 0) ||
		    buf_appendf(out, "<%s>\n", sender) < 0)
			return -1;
	}
	if (!have_date && buf_appendf(out, "Date: %s\n", date) < 0)
		return -1;
	if (!have_msgid && buf_appendf(out, "Message-ID: <%s.%s@%s>\n", stamp,
	    in->queue_id, in->myhostname) < 0)
		return -1;
	return 0;
}

int
pickup_message_build(const struct drop_envelope *env, const char *msg,
    size_t len, const struct pickup_info *in, struct buf *out,
    const char **err)
{
	struct mail_field f;
	char		 date[64];
	time_t		 t = (time_t)in->now;
	struct tm	 tm;
	size_t		 hlen, body, off = 0;
	int		 from = 0, date_seen = 0, msgid = 0;

	*err = "cannot build the message";
	hlen = mail_header_end(msg, len, &body);
	if (hlen > PICKUP_HEADER_MAX) {
		*err = "header too big";
		return -1;
	}
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		return -1;
	if (buf_appendf(out, "Received: by %s (tern, from userid %lld)\n"
	    "\tid %s; %s\n", in->myhostname, in->uid, in->queue_id, date) < 0)
		return -1;
	while (mail_header_next(msg, hlen, &off, &f)) {
		if (mail_field_is(&f, "Bcc"))
			continue;
		from |= mail_field_is(&f, "From");
		date_seen |= mail_field_is(&f, "Date");
		msgid |= mail_field_is(&f, "Message-ID");
		if (buf_append(out, msg + f.start, f.len) < 0)
			return -1;
		/* A last field without LF (the message is only a header). */
		if (msg[f.start + f.len - 1] != '\n' &&
		    buf_append(out, "\n", 1) < 0)
			return -1;
	}
	if (pickup_missing(env, in, from, date_seen, msgid, out) < 0)
		return -1;
	/* The empty line between header and body, if the user had none. */
	if (body == hlen && buf_append(out, "\n", 1) < 0)
		return -1;
	if (buf_append(out, msg + hlen, len - hlen) < 0)
		return -1;
	return 0;
}
