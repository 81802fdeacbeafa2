/*
 * ternctl_queue - "queue list" and "queue flush", which any user may run:
 * both go through common/queue_client.h, the code mailq uses too (the
 * queue read directly by root and the mail owner, through the showq
 * service by everyone else), so the listings are the same to the byte.
 */
#include <stdio.h>
#include <time.h>

#include "queue_client.h"
#include "ternctl.h"

int
ctl_queue_list(const struct ctl_opts *o, const struct tern_config *cfg)
{
	struct queue_list_filter f = o->filter;
	int		 rc;

	f.now = (long long)time(NULL);
	rc = queue_client_list(cfg, stdout, o->filtered ? &f : NULL,
	    o->json ? QC_JSON : QC_TEXT, "ternctl");
	if (fflush(stdout) != 0)
		return CTL_EX_OSERR;
	return rc == 0 ? CTL_EX_OK : rc == QC_DOWN ? CTL_EX_UNAVAILABLE :
	    CTL_EX_TEMPFAIL;
}

int
ctl_queue_flush(const struct ctl_opts *o, const struct tern_config *cfg)
{
	int	 rc;

	(void)o;
	rc = queue_client_flush(cfg, "ternctl");
	if (rc == 0)
		printf("flush requested: deferred mail will be retried now\n");
	return rc == 0 ? CTL_EX_OK : rc == QC_DOWN ? CTL_EX_UNAVAILABLE :
	    CTL_EX_SOFTWARE;
}
