/*
 * log - syslog (facility mail) plus an optional stderr copy.  The ident and
 * flags are process state by design: one process, one log identity.  Before
 * log_open() lines go to stderr only, so start-up errors (a bad tern.conf)
 * reach whoever ran the program even though syslog is not set up yet.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

static char	log_ident[64] = "tern";
static char	log_syslog_ident[80];	/* openlog() keeps the pointer */
static int	log_opened;
static int	log_to_stderr = 1;
static int	log_debug_on;

void
log_open(const char *ident, int to_stderr)
{
	if (ident == NULL || *ident == '\0')
		ident = "tern";
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	snprintf(log_syslog_ident, sizeof(log_syslog_ident), "tern/%s", log_ident);
	if (log_opened)
		closelog();
	/* LOG_NDELAY: connect now, before a chroot hides /dev/log. */
	openlog(log_syslog_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_opened = 1;
	log_to_stderr = to_stderr;
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

static void
log_emit(int prio, const char *label, const char *text)
{
	char	 line[LOG_LINE_MAX + 128];
	int	 n, saved = errno;

	if (log_opened)
		syslog(prio, "%s%s%s", label ? label : "", label ? ": " : "", text);
	if (log_to_stderr) {
		n = snprintf(line, sizeof(line), "%s[%ld]: %s%s%s\n", log_ident,
		    (long)getpid(), label ? label : "", label ? ": " : "", text);
		if (n > (int)sizeof(line) - 1) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		/* One write per line so concurrent daemons do not interleave. */
		if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
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
