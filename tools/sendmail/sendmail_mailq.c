/*
 * sendmail_mailq - mailq (sendmail -bp) and sendmail -q: thin wrappers
 * around the queue tools' shared code (common/queue_client.h), so that
 * mailq and "ternctl queue list" print the same listing through the same
 * code: Postfix's mailq layout, read directly by root and the mail owner,
 * through the showq service by everyone else.  -q asks qmgr (directly, or
 * through showq) to retry deferred mail now.
 */
#include <stdio.h>
#include <unistd.h>

#include "queue_client.h"
#include "sendmail.h"

int
sendmail_mailq(const struct tern_config *cfg, int out_fd)
{
	FILE	*f;
	int	 rc, fd;

	if ((fd = dup(out_fd)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return SM_EX_OSERR;
	rc = queue_client_list(cfg, f, NULL, QC_TEXT, "mailq");
	if (fclose(f) != 0 && rc == 0)
		return SM_EX_OSERR;
	return rc == 0 ? SM_EX_OK : rc == QC_DOWN ? SM_EX_UNAVAILABLE :
	    SM_EX_TEMPFAIL;
}

int
sendmail_flush(const struct tern_config *cfg)
{
	int	 rc = queue_client_flush(cfg, "sendmail");

	return rc == 0 ? SM_EX_OK : rc == QC_DOWN ? SM_EX_UNAVAILABLE :
	    SM_EX_SOFTWARE;
}
