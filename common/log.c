/*
 * log - syslog (facility mail) plus an optional stderr copy.  The ident and
 * flags are process state by design: one process, one log identity.  Before
 * log_open() lines go to stderr only, so start-up errors (a bad tern.conf)
 * reach whoever ran the program even though syslog is not set up yet.
 */
#include <sys/stat.h>

#include <errno.h>
#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "log.h"

#define LOG_LINE_MAX	2048

static char	log_ident[64] = "tern";
static char	log_syslog_ident[80];	/* openlog() keeps the pointer */
static int	log_opened;
static int	log_to_stderr = 1;
static int	log_debug_on;
static long	log_pid;		/* getpid() is a system call */
/* "ident[pid]: ", made when either changes (log_open, fork), so that a
 * line is put together without printf. */
static char	log_prefix[sizeof(log_ident) + 32];
static size_t	log_prefix_len;
/*
 * Without a syslog daemon (no /dev/log), glibc's syslog() tries to connect
 * again for every line: socket, connect, close.  So log_open() looks for
 * the socket, and while it is missing syslog() is not called; the look is
 * repeated every LOG_SYSLOG_RETRY seconds, so a syslog daemon started later
 * is noticed.  Found once, syslog() is always used: glibc keeps the
 * connection (LOG_NDELAY), also after a chroot hides /dev/log.
 */
#define LOG_SYSLOG_RETRY	60
static int	log_syslog_found;
static time_t	log_syslog_next;	/* when to look for /dev/log again */
/* log_batch(): the stderr lines of one thread, waiting for log_flush(). */
static char	log_batch_buf[LOG_BATCH_MAX];
static size_t	log_batch_len;
static int	log_batch_on;
static int	log_batch_exit_set;	/* atexit(log_flush) registered */
static pthread_t log_batch_thread;
static void	(*log_batch_wake)(void *);
static void	*log_batch_arg;

/* By hand, not snprintf: it also runs in a fork's child (the atfork
 * handler), where only async-signal-safe work belongs. */
static void
log_prefix_make(void)
{
	char		 digits[DECIMAL_MAX], *d;
	size_t		 n, il = strnlen(log_ident, sizeof(log_ident) - 1);

	d = decimal_put(digits + sizeof(digits),
	    log_pid < 0 ? 0 : (unsigned long long)log_pid);
	n = (size_t)(digits + sizeof(digits) - d);
	/* ident < 64, pid <= 20 digits, "[]: ": always fits log_prefix. */
	memcpy(log_prefix, log_ident, il);
	log_prefix[il] = '[';
	memcpy(log_prefix + il + 1, d, n);
	memcpy(log_prefix + il + 1 + n, "]: ", 4);
	log_prefix_len = il + 1 + n + 3;
}

static void
log_atfork_child(void)
{
	log_pid = (long)getpid();
	log_prefix_make();
	/* The parent writes what it had collected. */
	log_batch_on = 0;
	log_batch_len = 0;
}

void
log_flush(void)
{
	int	 saved = errno;

	if (log_batch_len > 0 &&
	    write(STDERR_FILENO, log_batch_buf, log_batch_len) < 0)
		(void)0;
	log_batch_len = 0;
	errno = saved;
}

void
log_batch(void (*wake)(void *), void *arg)
{
	log_flush();
	log_batch_on = wake != NULL;
	log_batch_thread = pthread_self();
	log_batch_wake = wake;
	log_batch_arg = arg;
	if (log_batch_on && !log_batch_exit_set) {
		log_batch_exit_set = 1;
		atexit(log_flush);
	}
}

/* Add one line to the batch, if batching applies to it: 1 if taken. */
static int
log_batch_add(int prio, const char *line, size_t n)
{
	int	 was_empty = log_batch_len == 0;

	if (!log_batch_on || prio < LOG_INFO ||
	    !pthread_equal(pthread_self(), log_batch_thread)) {
		/* Written at once: keep the order of this thread's lines. */
		if (log_batch_on && pthread_equal(pthread_self(),
		    log_batch_thread))
			log_flush();
		return 0;
	}
	if (log_batch_len + n > sizeof(log_batch_buf))
		log_flush();
	if (n > sizeof(log_batch_buf))
		return 0;
	memcpy(log_batch_buf + log_batch_len, line, n);
	log_batch_len += n;
	if (was_empty && log_batch_wake != NULL)
		log_batch_wake(log_batch_arg);
	return 1;
}

static int
log_syslog_usable(void)
{
	struct stat	 st;
	time_t		 now;

	if (log_syslog_found)
		return 1;
	now = time(NULL);
	if (now < log_syslog_next)
		return 0;
	log_syslog_next = now + LOG_SYSLOG_RETRY;
	if (stat(_PATH_LOG, &st) == 0 && S_ISSOCK(st.st_mode))
		log_syslog_found = 1;
	return log_syslog_found;
}

void
log_open(const char *ident, int to_stderr)
{
	if (ident == NULL || *ident == '\0')
		ident = "tern";
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	snprintf(log_syslog_ident, sizeof(log_syslog_ident), "tern/%s", log_ident);
	if (log_opened)
		closelog();
	else
		pthread_atfork(NULL, NULL, log_atfork_child);
	log_pid = (long)getpid();
	log_prefix_make();
	log_syslog_found = 0;
	log_syslog_next = 0;
	/* LOG_NDELAY: connect now, before a chroot hides /dev/log. */
	if (log_syslog_usable())
		openlog(log_syslog_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	else
		openlog(log_syslog_ident, LOG_PID, LOG_MAIL);
	log_opened = 1;
	log_to_stderr = to_stderr;
}

void
log_reopen(void)
{
	if (log_opened)
		log_open(log_ident, log_to_stderr);
}

void
log_set_verbose(int on)
{
	log_debug_on = on != 0;
}

int
log_verbose(void)
{
	return log_debug_on;
}

/* Network input ends up in log lines; keep a peer from forging new lines or
 * terminal escapes by replacing control characters. */
static void
log_sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

/* Append s to line (length *n, room for cap bytes, the last kept free). */
static void
log_put(char *line, size_t cap, size_t *n, const char *s)
{
	size_t	 len = strnlen(s, cap - 1 - *n);

	memcpy(line + *n, s, len);
	*n += len;
}

/* "ident[pid]: label: text\n" into line; its length.  A line too long is
 * cut and still ends in a newline. */
static size_t
log_format_line(char *line, size_t cap, const char *label, const char *text)
{
	size_t	 n = 0;

	if (log_opened) {
		n = log_prefix_len < cap - 1 ? log_prefix_len : cap - 1;
		memcpy(line, log_prefix, n);
	} else {
		/* Before log_open(): no prefix made yet (rare: start-up). */
		int k = snprintf(line, cap - 1, "%s[%ld]: ", log_ident,
		    (long)getpid());

		n = k < 0 ? 0 : (size_t)k >= cap - 1 ? cap - 2 : (size_t)k;
	}
	if (label != NULL) {
		log_put(line, cap, &n, label);
		log_put(line, cap, &n, ": ");
	}
	log_put(line, cap, &n, text);
	line[n++] = '\n';
	return n;
}

static void
log_emit(int prio, const char *label, const char *text)
{
	char	 line[LOG_LINE_MAX + 128];
	size_t	 n;
	int	 saved = errno;

	if (log_opened && log_syslog_usable())
		syslog(prio, "%s%s%s", label ? label : "", label ? ": " : "", text);
	if (log_to_stderr) {
		n = log_format_line(line, sizeof(line), label, text);
		/* Whole lines per write so concurrent daemons do not
		 * interleave. */
		if (!log_batch_add(prio, line, n) &&
		    write(STDERR_FILENO, line, n) < 0)
			(void)0;
	}
	errno = saved;
}

static void
log_emit_v(enum log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char		 text[LOG_LINE_MAX];
	const char	*label = NULL;
	int		 prio = LOG_INFO, off = 0;

	if (level == LOG_LEVEL_DEBUG && !log_debug_on)
		return;
	if (prefix != NULL)
		off = snprintf(text, sizeof(text), "%s: ", prefix);
	if (off < 0 || off >= (int)sizeof(text))
		off = 0;
	vsnprintf(text + off, sizeof(text) - (size_t)off, fmt, ap);
	log_sanitize(text);
	switch (level) {
	case LOG_LEVEL_DEBUG:
		prio = LOG_DEBUG;
		label = "debug";
		break;
	case LOG_LEVEL_INFO:
		break;
	case LOG_LEVEL_WARN:
		prio = LOG_WARNING;
		label = "warning";
		break;
	case LOG_LEVEL_ERROR:
		prio = LOG_ERR;
		label = "error";
		break;
	}
	log_emit(prio, label, text);
}

void
log_vlog(enum log_level level, const char *fmt, va_list ap)
{
	log_emit_v(level, NULL, fmt, ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit_v(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit_v(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit_v(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit_v(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
}

void
log_qid(enum log_level level, const char *qid, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit_v(level, qid != NULL ? qid : "NOQUEUE", fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	char	 text[LOG_LINE_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_sanitize(text);
	log_emit(LOG_CRIT, "fatal", text);
	exit(1);
}
