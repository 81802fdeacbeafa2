/*
 * local_user - which account receives mail for a local recipient, as a
 * delivery outcome.  The answer itself is common/local_recipient.c, the
 * one smtpd's RCPT check gets too, so that whatever smtpd accepted is
 * placed here; this file only turns "unknown" into a bounce and a failed
 * lookup into a deferral.
 */
#include <string.h>

#include "deliver.h"

int
local_user_resolve(const char *rcpt, local_recipient_lookup_fn lookup,
    void *arg, struct local_user *u, struct deliver_result *res)
{
	const char	*why;

	switch (local_recipient_resolve(rcpt, lookup, arg, u, &why)) {
	case LOCAL_RCPT_FOUND:
		return 0;
	case LOCAL_RCPT_UNKNOWN:
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown");
		return -1;
	case LOCAL_RCPT_TEMPFAIL:
	default:
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "user lookup failed: %s", why);
		return -1;
	}
}
