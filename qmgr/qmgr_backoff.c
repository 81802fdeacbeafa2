/*
 * qmgr_backoff - when to try a message again.  Pure arithmetic, no state:
 * the queue file's age is the only history kept, so the schedule survives
 * restarts without a retry counter in the file.
 */
#include "qmgr.h"

/*
 * If every earlier wait was min, 2*min, 4*min, ... then after k failed
 * attempts the message is about min * (2^k - 1) seconds old.  So the number
 * of earlier retries is the largest k with min * (2^k - 1) <= age, and the
 * next wait is min * 2^k.  Computed by doubling, so nothing overflows.
 */
int
qmgr_backoff(long long age, int min, int max)
{
	long long wait, elapsed;

	if (min < 1)
		min = 1;
	if (max < min)
		max = min;
	if (age < 0)
		age = 0;	/* clock stepped back: treat as new */
	wait = min;
	elapsed = min;		/* min * (2^k - 1) for k = 1 */
	while (wait < max && elapsed <= age) {
		wait *= 2;
		elapsed += wait;
	}
	return wait > max ? max : (int)wait;
}

int
qmgr_expired(long long age, int lifetime)
{
	return age > (long long)lifetime;
}

int
qmgr_notice_abandoned(long long age, int lifetime)
{
	long long	 limit = 2 * (long long)lifetime;

	if (limit < QMGR_NOTICE_LIFETIME_MIN)
		limit = QMGR_NOTICE_LIFETIME_MIN;
	return age > limit;
}

int
qmgr_retry_delay(int nfail)
{
	int delay = QMGR_RETRY_MIN;

	while (--nfail > 0 && delay < QMGR_RETRY_MAX)
		delay *= 2;
	return delay > QMGR_RETRY_MAX ? QMGR_RETRY_MAX : delay;
}
