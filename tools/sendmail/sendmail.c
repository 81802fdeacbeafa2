/*
 * sendmail - sendmail(1), mailq(1) and newaliases(1): one program, the
 * mode chosen by the options and by the name it runs under.  It runs with
 * the invoking user's own privileges (it is never installed set-uid or
 * set-gid); the set-gid ternpostdrop beside it is the only way into
 * maildrop/.  The configuration comes from -C or -c, else the TERN_CONFIG
 * environment variable (programs that run sendmail fix its arguments),
 * else the compiled-in tern.conf.  Exit codes are sysexits.h's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
	if (o.mode == SM_MODE_NEWALIASES) {
		fprintf(stderr, "newaliases: tern has no aliases database "
		    "yet; nothing to do\n");
		return SM_EX_OK;
	}
	path = o.config != NULL ? o.config : getenv("TERN_CONFIG");
	if (config_load(path, &cfg) < 0)
		return SM_EX_CONFIG;
	switch (o.mode) {
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
