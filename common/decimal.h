/*
 * decimal - an unsigned integer as decimal digits, without printf: for
 * the few numbers every message prints (log line prefixes, attributes of
 * the messages between the daemons), and for a fork's child, where printf
 * does not belong.  The digits are written backwards, ending just before
 * end, into a buffer the caller sized (DECIMAL_MAX bytes hold any value).
 */
#ifndef TERN_DECIMAL_H
#define TERN_DECIMAL_H

#define DECIMAL_MAX	20	/* digits of the largest unsigned long long */

/* Write v's digits into end[-n..-1] and return end - n, the first digit.
 * No NUL is written; the caller owns at least DECIMAL_MAX bytes before
 * end. */
char	*decimal_put(char *end, unsigned long long v);

#endif
