/*
 * local - the local transport: recipients in one of our own domains
 * (mydestination) go to an account's mailbox.  It maps each recipient to
 * an account (local_user.c) and picks the mailbox format from
 * home_mailbox; only Maildir exists so far, and mbox would be added here.
 */
#include <stdio.h>
#include <string.h>

#include "deliver.h"

static void
local_deliver_one(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, struct deliver_result *res)
{
	const char		*mailbox = ctx->cfg->home_mailbox;
	char			 where[DELIVER_PATH_SIZE];
	struct local_user	 u;
	size_t			 len = strlen(mailbox);

	if (local_user_resolve(rcpt, local_user_getpw, NULL, &u, res) < 0) {
		deliver_log(msg->req->id, rcpt, "local", NULL, res);
		return;
	}
	/* For the log only: a cut path is still a useful hint. */
	if (snprintf(where, sizeof(where), "%s/%s", u.home, mailbox) < 0)
		where[0] = '\0';
	/* A trailing "/" means Maildir, as in Postfix's home_mailbox. */
	if (len == 0 || mailbox[len - 1] != '/')
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mbox delivery not supported");
	else
		maildir_deliver(ctx, msg, rcpt, &u, mailbox, res);
	deliver_log(msg->req->id, rcpt, "local", where, res);
}

/* One recipient after the other: each needs its own ids and mailbox. */
static void
local_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const int *idx, int n, struct deliver_result *result)
{
	int	 k;

	for (k = 0; k < n; k++)
		local_deliver_one(ctx, msg, msg->req->rcpt[idx[k]],
		    &result[idx[k]]);
}

const struct transport transport_local = { "local", local_deliver };
