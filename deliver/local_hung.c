/*
 * local_hung - the mailboxes whose worker deliver killed at a batch's
 * deadline a short while ago.  A Maildir that hung one batch (a hung NFS
 * or FUSE server) most likely hangs the next, which forks a new worker
 * for the account: the requests that waited behind the first batch would
 * wait a whole local_time_limit more before their deferral, and hold the
 * agent as long.  So for LOCAL_HUNG_MS (local_time_limit if that is
 * shorter) deliveries into such a mailbox are deferred at once with 4.3.0,
 * and qmgr's back-off decides when to try again.  The table is small and
 * per process; when full, the entry that expires first makes room, which
 * costs a second wait at worst.
 */
#include <string.h>

#include "io.h"
#include "deliver.h"

#define LOCAL_HUNG_MS	60000

static long long
local_hung_memory_ms(const struct deliver_ctx *ctx)
{
	long long	 limit = (long long)ctx->cfg->local_time_limit * 1000;

	return limit < LOCAL_HUNG_MS ? limit : LOCAL_HUNG_MS;
}

void
local_hung_add(struct deliver_ctx *ctx, uid_t uid, const char *where)
{
	struct local_hung	*h, *slot = &ctx->hung[0];
	int			 i;

	for (i = 0; i < LOCAL_HUNG_MAX; i++) {
		h = &ctx->hung[i];
		if (h->until_ms > 0 && h->uid == uid &&
		    strcmp(h->where, where) == 0) {
			slot = h;
			break;
		}
		if (h->until_ms < slot->until_ms)
			slot = h;
	}
	slot->uid = uid;
	strlcpy(slot->where, where, sizeof(slot->where));
	slot->until_ms = io_now_ms() + local_hung_memory_ms(ctx);
}

int
local_hung_recent(const struct deliver_ctx *ctx, uid_t uid, const char *where)
{
	const struct local_hung	*h;
	long long		 now = io_now_ms();
	int			 i;

	for (i = 0; i < LOCAL_HUNG_MAX; i++) {
		h = &ctx->hung[i];
		if (h->until_ms > now && h->uid == uid &&
		    strcmp(h->where, where) == 0)
			return 1;
	}
	return 0;
}
