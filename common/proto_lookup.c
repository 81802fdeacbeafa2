/*
 * proto_lookup - the lookup protocol's codec (proto_lookup.h), for smtpd
 * and the lookup service alike.  Each decoder takes a frame from the
 * other side as untrusted: every attribute is checked for presence, range
 * and form, and anything unexpected is an error, which the client turns
 * into a temporary failure.
 */
#include <string.h>
#include <strings.h>

#include "proto_lookup.h"

static const char *const lookup_status_words[] = {
	[RCPT_LOOKUP_FOUND] = "found",
	[RCPT_LOOKUP_UNKNOWN] = "unknown",
	[RCPT_LOOKUP_TEMPFAIL] = "tempfail",
	[RCPT_LOOKUP_VIRTUAL] = "virtual",
	[RCPT_LOOKUP_FOREIGN] = "foreign",
};
#define LOOKUP_NSTATUS	(sizeof(lookup_status_words) / \
	sizeof(lookup_status_words[0]))

const char *
lookup_status_name(enum rcpt_lookup_status st)
{
	return (size_t)st < LOOKUP_NSTATUS ? lookup_status_words[st] :
	    "tempfail";
}

int
lookup_status_parse(const char *s, enum rcpt_lookup_status *st)
{
	size_t	 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < LOOKUP_NSTATUS; i++)
		if (strcmp(s, lookup_status_words[i]) == 0) {
			*st = (enum rcpt_lookup_status)i;
			return 0;
		}
	return -1;
}

/* No control characters (they would reach log lines). */
static int
lookup_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static int
lookup_rcpt_valid(const char *rcpt)
{
	size_t	 len = strlen(rcpt);

	if (len == 0 || len > LOOKUP_RCPT_MAX)
		return 0;
	return strcasecmp(rcpt, "postmaster") == 0 ||
	    addr_valid_mailbox(rcpt, len, NULL);
}

/* v must be ours and id in range.  0 or -1 (*err). */
static int
lookup_header_decode(const struct ipc_msg *m, long long *id, const char **err)
{
	long long	 v;

	if (ipc_msg_get_int(m, "v", 0, 1000000, &v) < 0 ||
	    v != PROTO_LOOKUP_VERSION) {
		*err = "unsupported protocol version";
		return -1;
	}
	if (ipc_msg_get_int(m, "id", 1, LOOKUP_ID_MAX, id) < 0) {
		*err = "missing or bad id";
		return -1;
	}
	return 0;
}

int
lookup_request_build(struct ipc_msg *m, long long id, const char *rcpt)
{
	ipc_msg_init(m, LOOKUP_T_RCPT);
	if (!lookup_rcpt_valid(rcpt))
		return -1;
	return ipc_msg_add_int(m, "v", PROTO_LOOKUP_VERSION) == 0 &&
	    ipc_msg_add_int(m, "id", id) == 0 &&
	    ipc_msg_add(m, "rcpt", rcpt) == 0 ? 0 : -1;
}

int
lookup_request_decode(const struct ipc_msg *m, long long *id,
    const char **rcpt, const char **err)
{
	if (m->type != LOOKUP_T_RCPT) {
		*err = "unknown request type";
		return -1;
	}
	if (lookup_header_decode(m, id, err) < 0)
		return -1;
	*rcpt = ipc_msg_get(m, "rcpt");
	if (*rcpt == NULL || !lookup_rcpt_valid(*rcpt)) {
		*err = "missing or malformed rcpt";
		return -1;
	}
	return 0;
}

int
lookup_reply_build(struct ipc_msg *m, long long id,
    enum rcpt_lookup_status st, const char *account, const char *text)
{
	char	 t[LOOKUP_TEXT_MAX + 1];
	size_t	 i;
	int	 r;

	ipc_msg_init(m, LOOKUP_T_REPLY);
	r = ipc_msg_add_int(m, "v", PROTO_LOOKUP_VERSION) == 0 &&
	    ipc_msg_add_int(m, "id", id) == 0 &&
	    ipc_msg_add(m, "status", lookup_status_name(st)) == 0;
	if (r && st == RCPT_LOOKUP_FOUND)
		r = account != NULL && account[0] != '\0' &&
		    strlen(account) <= RCPT_LOOKUP_ACCOUNT_MAX &&
		    lookup_printable(account) &&
		    ipc_msg_add(m, "account", account) == 0;
	if (r && st == RCPT_LOOKUP_TEMPFAIL && text != NULL &&
	    text[0] != '\0') {
		/* The reason is only for smtpd's log: cut, and made safe. */
		strlcpy(t, text, sizeof(t));
		for (i = 0; t[i] != '\0'; i++)
			if ((unsigned char)t[i] < 0x20 ||
			    (unsigned char)t[i] == 0x7f)
				t[i] = '?';
		r = ipc_msg_add(m, IPC_A_TEXT, t) == 0;
	}
	return r ? 0 : -1;
}

/* The attributes that go with r->status. */
static int
lookup_reply_detail(const struct ipc_msg *m, struct lookup_reply *r,
    const char **err)
{
	const char	*account = ipc_msg_get(m, "account");
	const char	*text = ipc_msg_get(m, IPC_A_TEXT);

	if (r->status == RCPT_LOOKUP_FOUND) {
		if (account == NULL || account[0] == '\0' ||
		    strlen(account) > RCPT_LOOKUP_ACCOUNT_MAX ||
		    !lookup_printable(account)) {
			*err = "found without a valid account";
			return -1;
		}
		strlcpy(r->account, account, sizeof(r->account));
	} else if (account != NULL) {
		*err = "an account without status found";
		return -1;
	}
	if (text != NULL && r->status == RCPT_LOOKUP_TEMPFAIL) {
		if (strlen(text) > LOOKUP_TEXT_MAX || !lookup_printable(text)) {
			*err = "malformed text";
			return -1;
		}
		strlcpy(r->text, text, sizeof(r->text));
	}
	return 0;
}

int
lookup_reply_decode(const struct ipc_msg *m, struct lookup_reply *r,
    const char **err)
{
	memset(r, 0, sizeof(*r));
	r->status = RCPT_LOOKUP_TEMPFAIL;
	if (m->type == IPC_T_ERROR) {
		if ((*err = ipc_msg_get(m, IPC_A_TEXT)) == NULL)
			*err = "refused the request";
		return -1;
	}
	if (m->type != LOOKUP_T_REPLY) {
		*err = "unexpected reply type";
		return -1;
	}
	if (lookup_header_decode(m, &r->id, err) < 0)
		return -1;
	if (lookup_status_parse(ipc_msg_get(m, "status"),
	    &r->status) < 0) {
		r->status = RCPT_LOOKUP_TEMPFAIL;
		*err = "missing or unknown status";
		return -1;
	}
	if (lookup_reply_detail(m, r, err) < 0) {
		r->status = RCPT_LOOKUP_TEMPFAIL;
		r->account[0] = '\0';
		return -1;
	}
	return 0;
}
