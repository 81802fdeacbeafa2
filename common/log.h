/*
 * log - one logging interface for every tern program.
 *
 * Lines go to syslog (facility mail, ident "tern/<program>") and, in
 * foreground mode or for command-line tools, also to stderr.  A line about a
 * message starts with its queue id ("0F3A...: to=<...>"), so one grep follows
 * a message through every daemon; log_qid() does that formatting.
 * log_fatal() logs and exits 1: a daemon that cannot go on dies loudly and the
 * master restarts it.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* ident: program name; to_stderr: also copy lines to stderr. */
void	log_open(const char *ident, int to_stderr);
/* The same identity again, with a new syslog connection: for a forked
 * process that closed the descriptors it inherited. */
void	log_reopen(void);
void	log_set_verbose(int);	/* enables LOG_LEVEL_DEBUG */
int	log_verbose(void);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_fatal(const char *, ...) __attribute__((format(printf, 1, 2)));
/* A line about one message: "<qid>: <text>". */
void	log_qid(enum log_level, const char *qid, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_vlog(enum log_level, const char *, va_list) __attribute__((format(printf, 2, 0)));

/*
 * Batching of the stderr copy, for an event loop that logs several lines
 * per turn (smtpd: four per message): lines the calling thread logs from
 * now on are collected, up to LOG_BATCH_MAX bytes (PIPE_BUF, so one write
 * never interleaves with another daemon's lines), and written together by
 * log_flush(), which the loop calls once it has run its ready callbacks;
 * wake(arg) is called when a line enters the empty buffer, to arrange
 * that.  Other threads, syslog, and warnings and errors are not batched
 * (an error is written at once, after what is collected).  A fatal error
 * and exit() flush; a child after fork() starts unbatched and without the
 * parent's lines.  log_batch(NULL, NULL) flushes and ends batching.
 */
#define LOG_BATCH_MAX	4096
void	log_batch(void (*wake)(void *), void *arg);
void	log_flush(void);

#endif
