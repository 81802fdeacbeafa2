/*
 * ternmap_args - ternmap's command line (see ternmap(1)):
 *
 *	ternmap [-avo] [-c conf] type:name ...	build each .db
 *	ternmap -a [-v] [-c conf]		build alias_database
 *	ternmap [-a] [-c conf] -q key type:name	query
 *	ternmap [-c conf] -d key type:name	delete key
 *	ternmap [-a] [-c conf] -i type:name	add pairs read from stdin
 *	ternmap [-c conf] -b count type:name	time count lookups of the
 *						keys read from stdin
 *
 * Nothing here touches a file: a mistake is a usage error (64) with one
 * line saying what is wrong.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ternmap.h"

static int
ternmap_usage(struct ternmap_opts *o, const char *why)
{
	o->error = why;
	return TM_EX_USAGE;
}

static int
ternmap_set_mode(struct ternmap_opts *o, enum ternmap_mode m)
{
	if (o->mode != TM_BUILD && o->mode != m)
		return ternmap_usage(o, "-q, -d, -i and -b exclude each other");
	o->mode = m;
	return 0;
}

static int
ternmap_option(struct ternmap_opts *o, int c, const char *arg)
{
	char	*end;

	switch (c) {
	case 'a':
		o->aliases = 1;
		return 0;
	case 'o':
		o->keep_root = 1;
		return 0;
	case 'v':
		o->verbose = 1;
		return 0;
	case 'c':
		o->config = arg;
		return 0;
	case 'q':
	case 'd':
		if (*arg == '\0')
			return ternmap_usage(o, "empty key");
		o->key = arg;
		return ternmap_set_mode(o, c == 'q' ? TM_QUERY : TM_DELETE);
	case 'i':
		return ternmap_set_mode(o, TM_ADD);
	case 'b':
		o->count = strtol(arg, &end, 10);
		if (*end != '\0' || o->count < 1 || o->count > 1000000000L)
			return ternmap_usage(o, "-b needs a count of lookups");
		return ternmap_set_mode(o, TM_BENCH);
	}
	return ternmap_usage(o, "unknown option");
}

int
ternmap_args(int argc, char **argv, struct ternmap_opts *o)
{
	int	 c, rc;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	optind = 0;	/* GNU: also resets getopt's state, for tests */
	while ((c = getopt(argc, argv, "+:ab:c:d:ioq:v")) != -1) {
		if (c == '?')
			return ternmap_usage(o, "unknown option");
		if (c == ':')
			return ternmap_usage(o, "option needs an argument");
		if ((rc = ternmap_option(o, c, optarg)) != 0)
			return rc;
	}
	o->nmaps = argc - optind;
	o->map = argv + optind;
	if (o->mode != TM_BUILD && o->nmaps != 1)
		return ternmap_usage(o, "-q, -d, -i and -b take one table");
	if (o->mode == TM_BUILD && o->nmaps == 0 && !o->aliases)
		return ternmap_usage(o, "no table named");
	return 0;
}

char *
ternmap_spec(const char *arg)
{
	size_t	 len;
	char	*s;

	/* "type:" is letters and digits before the first ':'; a path
	 * (which may hold ':' further on) is a hash: table, as Postfix's
	 * default_database_type. */
	if (arg[0] != '/' && strchr(arg, ':') != NULL)
		return xstrdup(arg);
	len = strlen(arg) + 6;
	s = xmalloc(len);
	memcpy(s, "hash:", 5);
	memcpy(s + 5, arg, len - 5);
	return s;
}
