/*
 * buf - bounded, growable byte strings.
 *
 * Every buffer has a hard maximum fixed at init; an append that would pass it
 * fails with -1 and leaves the buffer unchanged, so untrusted input can never
 * grow memory without bound.  data is always NUL-terminated (data[len] == 0)
 * so text can be used as a C string, but it may also hold arbitrary bytes.
 * Allocation failure is fatal (log_fatal): callers never see NULL.
 */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char   *data;	/* NUL-terminated; NULL until first append */
	size_t  len;	/* bytes in use, not counting the NUL */
	size_t  cap;	/* bytes allocated */
	size_t  max;	/* hard limit on len */
};

void	buf_init(struct buf *, size_t max);
void	buf_free(struct buf *);
void	buf_reset(struct buf *);		/* len = 0, keeps memory */
int	buf_append(struct buf *, const void *, size_t);	/* 0 or -1 (limit) */
int	buf_append_str(struct buf *, const char *);
int	buf_appendf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	buf_vappendf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	buf_consume(struct buf *, size_t n);	/* drop the first n bytes */
const char *buf_str(const struct buf *);	/* "" when empty */

/* Allocation helpers that never return NULL. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

#endif
