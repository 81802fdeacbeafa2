/*
 * queue_mark - recipients' status bytes set by the transport that
 * delivered them (queue_mark.h says why).  Pure apart from the one pwrite
 * of queue_mark_delivered(); a failed write is logged and leaves the
 * recipient pending, which at worst repeats the delivery.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "queue_mark.h"

/* The first line from start on (wrapping) with addr, not yet taken, and
 * pending if pending is set; -1 if none. */
static int
mark_find(const struct queue_envelope *env, const char *taken,
    const char *addr, int start, int pending)
{
	int	 n = env->nrcpt, k, i;

	for (k = 0; k < n; k++) {
		i = (start + k) % n;
		if (taken[i] || strcmp(env->rcpt[i].addr, addr) != 0)
			continue;
		if (!pending || env->rcpt[i].status == RCPT_PENDING)
			return i;
	}
	return -1;
}

/* qmgr lists a request's recipients in file order, so each search starts
 * after the last line found and usually succeeds at once. */
int *
queue_mark_match(const struct queue_envelope *env, const char *id,
    const char *const *addr, int n)
{
	int	*line;
	char	*taken;
	int	 j, i, next = 0;

	line = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*line));
	taken = xcalloc(env->nrcpt > 0 ? (size_t)env->nrcpt : 1, 1);
	for (j = 0; j < n; j++) {
		line[j] = -1;
		if (env->nrcpt == 0)
			continue;
		i = mark_find(env, taken, addr[j], next, 1);
		if (i < 0)
			i = mark_find(env, taken, addr[j], next, 0);
		if (i < 0) {
			log_qid(LOG_LEVEL_WARN, id, "to=<%s> is not a "
			    "recipient of the queue file: not recorded",
			    addr[j]);
			continue;
		}
		taken[i] = 1;
		line[j] = i;
		next = (i + 1) % env->nrcpt;
	}
	free(taken);
	return line;
}

int
queue_mark_done(const struct queue_envelope *env, const int *line, int j)
{
	return line != NULL && line[j] >= 0 &&
	    env->rcpt[line[j]].status == RCPT_DELIVERED;
}

int
queue_mark_delivered(int fd, const struct queue_envelope *env,
    const char *id, const int *line, int j)
{
	struct queue_rcpt	*r;

	if (line == NULL || line[j] < 0)
		return -1;
	r = &env->rcpt[line[j]];
	if (r->status == RCPT_DELIVERED)
		return 0;
	if (queue_rcpt_write(fd, env, line[j], RCPT_DELIVERED) < 0) {
		log_qid(LOG_LEVEL_WARN, id, "cannot record the delivery to "
		    "<%s> in the queue file: %s", r->addr, strerror(errno));
		return -1;
	}
	r->status = RCPT_DELIVERED;
	return 0;
}
