/*
 * sendmail - sendmail(1), mailq(1) and newaliases(1): one program, the
 * mode chosen by the options and by the name it runs under.  It runs with
 * the invoking user's own privileges (it is never installed set-uid or
 * set-gid); the set-gid ternpostdrop beside it is the only way into
 * maildrop/.  The configuration comes from -C or -c, else the TERN_CONFIG
 * environment variable (programs that run sendmail fix its arguments),
 * else the compiled-in tern.conf.  Exit codes are sysexits.h's.  newaliases
 * (-bi, -I) builds alias_database as postalias does; 65 if a table could
 * not be built (the old .db then stays as it was).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "map_build.h"
#include "sendmail.h"

int
main(int argc, char **argv)
{
	struct sendmail_opts o;
	struct tern_config cfg;
	const char	*path;
	int		 rc;

	if ((rc = sendmail_args(argc, argv, &o)) != 0) {
		fprintf(stderr, "sendmail: %s\nusage: sendmail [options] "
		    "[recipient ...]  (see sendmail(1))\n", o.error);
		return rc;
	}
	if (o.mode == SM_MODE_IGNORE)
		return SM_EX_OK;
	path = o.config != NULL ? o.config : getenv("TERN_CONFIG");
	if (config_load(path, &cfg) < 0)
		return SM_EX_CONFIG;
	switch (o.mode) {
	case SM_MODE_NEWALIASES:
		/* Every alias_database table rebuilt from its aliases(5)
		 * source, each replaced whole or not at all (map_build.h). */
		rc = map_build_aliases(&cfg.alias_database, "newaliases",
		    o.verbose) == 0 ? SM_EX_OK : SM_EX_DATAERR;
		break;
	case SM_MODE_MAILQ:
		rc = sendmail_mailq(&cfg, STDOUT_FILENO);
		break;
	case SM_MODE_FLUSH:
		rc = sendmail_flush(&cfg);
		break;
	case SM_MODE_SMTP:
		rc = sendmail_smtp(&o, &cfg);
		break;
	case SM_MODE_VERIFY:
		rc = sendmail_verify(&o, &cfg);
		break;
	default:
		rc = sendmail_submit(&o, &cfg);
		break;
	}
	config_free(&cfg);
	return rc;
}
