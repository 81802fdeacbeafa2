/*
 * sendmail_args - sendmail's command line, as Postfix's sendmail(1) reads
 * it: options up to the first non-option or "--", then recipients.  Every
 * option Postfix accepts is accepted here with its meaning, or ignored
 * where Postfix ignores it (sendmail(1) lists them); anything else is a
 * usage error (64).  The program name picks the mailq and newaliases modes.
 */
#include <getopt.h>
#include <string.h>
#include <strings.h>

#include "sendmail.h"

int
sendmail_parse_notify(const char *s, int *bits)
{
	char		 word[16];
	size_t		 n;
	int		 b = 0;

	if (strcasecmp(s, "never") == 0) {
		*bits = QUEUE_NOTIFY_NEVER;
		return 0;
	}
	while (*s != '\0') {
		n = strcspn(s, ",");
		if (n == 0 || n >= sizeof(word))
			return -1;
		memcpy(word, s, n);
		word[n] = '\0';
		if (strcasecmp(word, "success") == 0)
			b |= QUEUE_NOTIFY_SUCCESS;
		else if (strcasecmp(word, "delay") == 0)
			b |= QUEUE_NOTIFY_DELAY;
		else if (strcasecmp(word, "failure") == 0)
			b |= QUEUE_NOTIFY_FAILURE;
		else
			return -1;
		s += n;
		if (*s == ',' && *++s == '\0')
			return -1;
	}
	if (b == 0)
		return -1;
	*bits = b;
	return 0;
}

int
sendmail_envid_ok(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= 100 || s[i] <= ' ' || s[i] > '~' || s[i] == '+' ||
		    s[i] == '=')
			return 0;
	return i > 0;
}

static int
sendmail_usage(struct sendmail_opts *o, const char *why)
{
	o->error = why;
	return SM_EX_USAGE;
}

/* -b MODE. */
static int
sendmail_mode(struct sendmail_opts *o, const char *m)
{
	if (strcmp(m, "m") == 0)
		o->mode = SM_MODE_DELIVER;
	else if (strcmp(m, "p") == 0)
		o->mode = SM_MODE_MAILQ;
	else if (strcmp(m, "i") == 0)
		o->mode = SM_MODE_NEWALIASES;
	else if (strcmp(m, "v") == 0)
		o->mode = SM_MODE_VERIFY;
	else if (strcmp(m, "s") == 0)
		o->mode = SM_MODE_SMTP;
	else if (strcmp(m, "h") == 0 || strcmp(m, "H") == 0)
		o->mode = SM_MODE_IGNORE;	/* host status: none kept */
	else if (strcmp(m, "d") == 0 || strcmp(m, "D") == 0 ||
	    strcmp(m, "l") == 0)
		return sendmail_usage(o, "daemon mode: start master(8) instead");
	else
		return sendmail_usage(o, "unknown -b mode");
	return 0;
}

/* One option with its argument (or NULL).  0 or SM_EX_USAGE. */
static int
sendmail_option(struct sendmail_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'B':
		if (strcasecmp(arg, "7BIT") == 0)
			o->body = QUEUE_BODY_7BIT;
		else if (strcasecmp(arg, "8BITMIME") == 0)
			o->body = QUEUE_BODY_8BITMIME;
		else
			return sendmail_usage(o, "-B takes 7BIT or 8BITMIME");
		break;
	case 'C': case 'c':
		o->config = arg;
		break;
	case 'F':
		o->fullname = arg;
		break;
	case 'I':
		o->mode = SM_MODE_NEWALIASES;
		break;
	case 'N':
		if (sendmail_parse_notify(arg, &o->notify) < 0)
			return sendmail_usage(o, "-N takes never, or success, "
			    "delay and failure separated by commas");
		break;
	case 'R':
		if (strcasecmp(arg, "full") == 0)
			o->ret = QUEUE_RET_FULL;
		else if (strcasecmp(arg, "hdrs") == 0)
			o->ret = QUEUE_RET_HDRS;
		else
			return sendmail_usage(o, "-R takes full or hdrs");
		break;
	case 'V':
		if (!sendmail_envid_ok(arg))
			return sendmail_usage(o, "-V: bad envelope id");
		o->envid = arg;
		break;
	case 'b':
		return sendmail_mode(o, arg);
	case 'f': case 'r':
		o->sender = arg;
		break;
	case 'i':
		o->ignore_dots = 1;
		break;
	case 'o':
		/* -oi is -i; every other -oX (-oem, -odb, -om, -oA...) is
		 * sendmail 8 configuration that means nothing here. */
		if (strcmp(arg, "i") == 0)
			o->ignore_dots = 1;
		break;
	case 'q':
		/* -q, -qRsite, -qSsite flush; -qINTERVAL (a queue runner
		 * daemon in sendmail 8) does nothing and, as in Postfix,
		 * reads no message. */
		if (arg == NULL || arg[0] == 'R' || arg[0] == 'S')
			o->mode = SM_MODE_FLUSH;
		else if (arg[0] >= '0' && arg[0] <= '9')
			o->mode = SM_MODE_IGNORE;
		else
			return sendmail_usage(o, "-q takes an interval, "
			    "Rsite or Ssite");
		break;
	case 't':
		o->extract = 1;
		break;
	case 'v':
		o->verbose = 1;
		break;
	case '4': case '6': case 'A': case 'G': case 'L': case 'O': case 'U':
	case 'X':
	case 'e': case 'h': case 'm': case 'n': case 'p': case 'x':
		break;		/* accepted and ignored, as by Postfix */
	default:
		return sendmail_usage(o, "unknown option");
	}
	return 0;
}

int
sendmail_args(int argc, char **argv, struct sendmail_opts *o)
{
	const char	*name;
	int		 c, rc;

	memset(o, 0, sizeof(*o));
	name = argc > 0 && argv[0] != NULL ? argv[0] : "sendmail";
	if (strrchr(name, '/') != NULL)
		name = strrchr(name, '/') + 1;
	if (strcmp(name, "mailq") == 0)
		o->mode = SM_MODE_MAILQ;
	else if (strcmp(name, "newaliases") == 0)
		o->mode = SM_MODE_NEWALIASES;
	opterr = 0;
	optind = 0;	/* GNU: also resets getopt's state, for tests */
	while ((c = getopt(argc, argv,
	    "+:46A:B:C:F:GIL:N:O:R:UV:X:b:c:e:f:h:imno:p:q::r:tvx")) != -1) {
		if (c == '?')
			return sendmail_usage(o, "unknown option");
		if (c == ':')
			return sendmail_usage(o, "option needs an argument");
		if ((rc = sendmail_option(o, c, optarg)) != 0)
			return rc;
	}
	o->nrcpt = argc - optind;
	o->rcpt = argv + optind;
	if (o->extract && o->mode != SM_MODE_DELIVER)
		return sendmail_usage(o, "-t is for submitting a message only");
	if (o->mode != SM_MODE_DELIVER && o->mode != SM_MODE_VERIFY &&
	    o->nrcpt > 0)
		return sendmail_usage(o, "recipients given in a mode that "
		    "takes none");
	return 0;
}
