/*
 * smtp_next - the decisions behind trying the next MX host within one
 * delivery attempt, as Postfix's smtp(8) does: which recipients a session
 * left for another host (a deferral that host gave before it took the
 * message: 4xx to MAIL, RCPT, DATA or the final dot, a lost connection or
 * a time-out before the dot was sent), and whether another host may still
 * be tried under smtp_mx_address_limit and smtp_mx_session_limit.  A
 * recipient the host accepted or bounced, or whose message may have
 * arrived (a connection lost after the dot), is never tried again.  Pure
 * functions, unit-tested (tests/unit/test_smtp_next.c).
 */
#include "smtp.h"

int
smtp_next_allowed(int ntried, int nsess, int addr_limit, int sess_limit)
{
	if (addr_limit > 0 && ntried >= addr_limit)
		return 0;
	if (sess_limit > 0 && nsess >= sess_limit)
		return 0;
	return 1;
}

int
smtp_next_pending(const struct smtp_result *res, const int *final,
    const int *again, int n, int *out)
{
	int	 i, k = 0;

	for (i = 0; i < n; i++)
		if (final[i] && again[i] && res[i].status == DELIVER_DEFER) {
			if (out != NULL)
				out[k] = i;
			k++;
		}
	return k;
}
