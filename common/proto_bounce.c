/*
 * proto_bounce - the parts of the bounce protocol (proto_bounce.h) both
 * qmgr and bounce need: the event names, the recipient list, and the rule
 * of who gets a notice, so that the two can never disagree about it.
 */
#include <string.h>

#include "proto_bounce.h"
#include "queue_file.h"

static const char *const bounce_events[] = { "failed", "delayed",
    "delivered" };

enum bounce_kind
bounce_notice_kind(const struct queue_envelope *env, enum bounce_event ev)
{
	if (env->sender != NULL && env->sender[0] != '\0')
		return BOUNCE_KIND_SENDER;
	if (ev == BOUNCE_FAILED && env->helo != NULL &&
	    strcmp(env->helo, BOUNCE_HELO_NOTICE) == 0 &&
	    env->client != NULL && strcmp(env->client, BOUNCE_CLIENT) == 0)
		return BOUNCE_KIND_2BOUNCE;
	return BOUNCE_KIND_NONE;
}

const char *
bounce_event_name(enum bounce_event ev)
{
	return bounce_events[ev];
}

int
bounce_event_parse(const char *s, enum bounce_event *ev)
{
	size_t	 i;

	for (i = 0; i < sizeof(bounce_events) / sizeof(bounce_events[0]); i++)
		if (s != NULL && strcmp(s, bounce_events[i]) == 0) {
			*ev = (enum bounce_event)i;
			return 0;
		}
	return -1;
}

int
bounce_rcpts_parse(const char *s, int nrcpt, int *idx, int *n)
{
	long	 v;
	int	 digits;

	*n = 0;
	if (s == NULL || strlen(s) > BOUNCE_RCPTS_MAX)
		return -1;
	for (;;) {
		v = 0;
		for (digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
			v = v * 10 + (*s - '0');
			if (digits > 9 || v >= nrcpt)
				return -1;
		}
		if (digits == 0 || (digits > 1 && s[-digits] == '0'))
			return -1;
		if (*n > 0 && v <= idx[*n - 1])
			return -1;
		idx[(*n)++] = (int)v;
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			return -1;
	}
}
