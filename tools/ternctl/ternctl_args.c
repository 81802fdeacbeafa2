/*
 * ternctl_args - ternctl's command line: "ternctl [-c FILE] COMMAND ...",
 * the commands and their options as ternctl(8) lists them.  Everything is
 * checked here, before anything is read or changed: an unknown command or
 * option, a missing or extra argument, a bad queue name or age is a usage
 * error (64) with a reason.  Options may come before or after the ids.
 */
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "ternctl.h"

void
ctl_usage(FILE *f)
{
	fprintf(f,
	    "usage: ternctl [-c tern.conf] command\n"
	    "  queue list [--json] [filters]      the queue (any user)\n"
	    "  queue show [-e|-h|-b] ID           one message, like postcat\n"
	    "  queue hold|release|requeue|delete ID...|ALL|-|filters\n"
	    "  queue flush                        retry deferred mail now\n"
	    "  config [-n|-d] [key...]            parameters and values\n"
	    "  config set key=value...            edit tern.conf\n"
	    "  check                              configuration and queue\n"
	    "  status | start | stop | reload     the master\n"
	    "filters: --sender S  --recipient R  --queue Q[,Q]  "
	    "--older-than AGE\n");
}

int
ctl_parse_age(const char *s, long long *out)
{
	char		*end;
	long long	 n, mul = 1;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	n = strtoll(s, &end, 10);
	if (end[0] != '\0' && end[1] != '\0')
		return -1;
	switch (end[0]) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -1;
	}
	if (n < 0 || n > (1LL << 40) / mul)
		return -1;
	*out = n * mul;
	return 0;
}

static int
ctl_fail(struct ctl_opts *o, const char *why)
{
	o->error = why;
	return CTL_EX_USAGE;
}

static int
ctl_queues(const char *s, unsigned *bits)
{
	char	 buf[128], *tok, *save;
	int	 q;

	if (strlen(s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if ((q = queue_list_queue_parse(tok)) < 0)
			return -1;
		*bits |= 1u << q;
	}
	return *bits != 0 ? 0 : -1;
}

/* A filter option at argv[*i] ("--sender S" or "--sender=S").  1 if it
 * was one (and taken), 0 if not, -1 if bad. */
static int
ctl_filter(struct ctl_opts *o, int argc, char **argv, int *i)
{
	static const char *const names[] = {
		"--sender", "--recipient", "--queue", "--older-than", NULL
	};
	const char	*a = argv[*i], *v = NULL;
	size_t		 n;
	int		 k;

	for (k = 0; names[k] != NULL; k++) {
		n = strlen(names[k]);
		if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' ||
		    a[n] == '='))
			break;
	}
	if (names[k] == NULL)
		return 0;
	if (a[strlen(names[k])] == '=')
		v = a + strlen(names[k]) + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	if (v == NULL || v[0] == '\0')
		return -1;
	o->filtered = 1;
	switch (k) {
	case 0: o->filter.sender = v; return 1;
	case 1: o->filter.rcpt = v; return 1;
	case 2: return ctl_queues(v, &o->filter.queues) == 0 ? 1 : -1;
	default: return ctl_parse_age(v, &o->filter.min_age) == 0 ? 1 : -1;
	}
}

/* Options and words after "queue X" / "config". */
static int
ctl_rest(struct ctl_opts *o, int argc, char **argv, int i)
{
	int	 r;

	o->args = argv + i;
	o->nargs = 0;
	for (; i < argc; i++) {
		if ((r = ctl_filter(o, argc, argv, &i)) == -1)
			return ctl_fail(o, "bad or incomplete filter option");
		if (r == 1)
			continue;
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			o->json = 1;
		else if (strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "-d") == 0)
			o->config_mode = argv[i][1];
		else if (strcmp(argv[i], "-e") == 0)
			o->show |= CTL_SHOW_ENVELOPE;
		else if (strcmp(argv[i], "-h") == 0)
			o->show |= CTL_SHOW_HEADER;
		else if (strcmp(argv[i], "-b") == 0)
			o->show |= CTL_SHOW_BODY;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return ctl_fail(o, "unknown option");
		else
			o->args[o->nargs++] = argv[i];	/* words, in order */
	}
	return 0;
}

static const struct {
	const char	*name;
	enum ctl_cmd	 cmd;
} ctl_queue_cmds[] = {
	{ "list", CTL_QUEUE_LIST }, { "show", CTL_QUEUE_SHOW },
	{ "hold", CTL_QUEUE_HOLD }, { "release", CTL_QUEUE_RELEASE },
	{ "requeue", CTL_QUEUE_REQUEUE }, { "delete", CTL_QUEUE_DELETE },
	{ "flush", CTL_QUEUE_FLUSH },
}, ctl_cmds[] = {
	{ "check", CTL_CHECK }, { "status", CTL_STATUS },
	{ "start", CTL_START }, { "stop", CTL_STOP },
	{ "reload", CTL_RELOAD }, { "help", CTL_HELP },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Which options and how many words each command takes. */
static int
ctl_check_shape(struct ctl_opts *o)
{
	int	 i, admin;

	admin = o->cmd == CTL_QUEUE_HOLD || o->cmd == CTL_QUEUE_RELEASE ||
	    o->cmd == CTL_QUEUE_REQUEUE || o->cmd == CTL_QUEUE_DELETE;
	if (o->json && o->cmd != CTL_QUEUE_LIST)
		return ctl_fail(o, "--json is for queue list");
	if (o->filtered && o->cmd != CTL_QUEUE_LIST && !admin)
		return ctl_fail(o, "filters are for queue list and the "
		    "queue-changing commands");
	if (o->show && o->cmd != CTL_QUEUE_SHOW)
		return ctl_fail(o, "-e, -h and -b are for queue show");
	if (o->config_mode && o->cmd != CTL_CONFIG)
		return ctl_fail(o, "-n and -d are for config");
	switch (o->cmd) {
	case CTL_QUEUE_SHOW:
		if (o->nargs != 1 || !queue_id_valid(o->args[0]))
			return ctl_fail(o, "queue show takes one queue id");
		return 0;
	case CTL_QUEUE_HOLD: case CTL_QUEUE_RELEASE:
	case CTL_QUEUE_REQUEUE: case CTL_QUEUE_DELETE:
		break;
	case CTL_CONFIG:
		return 0;
	case CTL_CONFIG_SET:
		if (o->nargs == 0)
			return ctl_fail(o, "config set takes key=value");
		for (i = 0; i < o->nargs; i++)
			if (strchr(o->args[i], '=') == NULL)
				return ctl_fail(o, "config set takes key=value");
		return 0;
	default:
		return o->nargs == 0 ? 0 : ctl_fail(o, "unexpected argument");
	}
	/* The queue-changing commands: ids, ALL, "-", or filters. */
	for (i = 0; i < o->nargs; i++) {
		if (strcmp(o->args[i], "ALL") == 0)
			o->all = 1;
		else if (strcmp(o->args[i], "-") == 0)
			o->stdin_ids = 1;
		else if (!queue_id_valid(o->args[i]))
			return ctl_fail(o, "not a queue id");
	}
	if ((o->all || o->stdin_ids) && (o->nargs != 1 || o->filtered))
		return ctl_fail(o, "ALL and - stand alone");
	if (o->nargs == 0 && !o->filtered)
		return ctl_fail(o, "which messages? ids, ALL, - or filters");
	if (o->nargs > 0 && o->filtered)
		return ctl_fail(o, "ids or filters, not both");
	return 0;
}

int
ctl_args(int argc, char **argv, struct ctl_opts *o)
{
	size_t	 k;
	int	 i = 1;

	memset(o, 0, sizeof(*o));
	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		o->config = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return ctl_fail(o, "no command");
	if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		o->cmd = CTL_HELP;
		return 0;
	}
	if (strcmp(argv[i], "queue") == 0) {
		if (++i >= argc)
			return ctl_fail(o, "queue what?");
		for (k = 0; k < NELEM(ctl_queue_cmds); k++)
			if (strcmp(argv[i], ctl_queue_cmds[k].name) == 0)
				break;
		if (k == NELEM(ctl_queue_cmds))
			return ctl_fail(o, "unknown queue command");
		o->cmd = ctl_queue_cmds[k].cmd;
	} else if (strcmp(argv[i], "config") == 0) {
		o->cmd = CTL_CONFIG;
		if (i + 1 < argc && strcmp(argv[i + 1], "set") == 0) {
			o->cmd = CTL_CONFIG_SET;
			i++;
		}
	} else {
		for (k = 0; k < NELEM(ctl_cmds); k++)
			if (strcmp(argv[i], ctl_cmds[k].name) == 0)
				break;
		if (k == NELEM(ctl_cmds))
			return ctl_fail(o, "unknown command");
		o->cmd = ctl_cmds[k].cmd;
	}
	if (ctl_rest(o, argc, argv, i + 1) != 0)
		return CTL_EX_USAGE;
	if (o->filter.min_age > 0 || o->filter.queues || o->filter.sender ||
	    o->filter.rcpt)
		o->filtered = 1;
	return ctl_check_shape(o);
}
