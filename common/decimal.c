/*
 * decimal - an unsigned integer as decimal digits (see decimal.h).  Pure
 * and async-signal-safe: no locale, no allocation, no errno.
 */
#include "decimal.h"

char *
decimal_put(char *end, unsigned long long v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}
