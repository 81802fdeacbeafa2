/*
 * smtpd_space - the free-space check before a message (see smtpd_space.h).
 * One statvfs(2) per SMTP_SPACE_CACHE_MS at most, whatever the number of
 * MAIL SIZE= and DATA commands.
 */
#include <sys/statvfs.h>

#include <errno.h>
#include <string.h>

#include "config.h"
#include "io.h"
#include "smtpd_params.h"
#include "log.h"
#include "smtpd_space.h"

int
smtpd_space_enough(unsigned long long avail, size_t queue_minfree,
    size_t message_size_limit, unsigned long long size)
{
	unsigned long long	 need, floor;

	/* 1.5 x the limit, without overflow for absurd limits. */
	floor = (unsigned long long)message_size_limit;
	floor = floor + floor / 2 < floor ? ~0ULL : floor + floor / 2;
	need = (unsigned long long)queue_minfree > floor ?
	    (unsigned long long)queue_minfree : floor;
	if (avail < need)
		return 0;
	return size <= avail - need;
}

int
smtpd_space_check(struct smtpd_space *sp, const struct tern_config *cfg,
    const struct smtpd_params *par, unsigned long long size)
{
	struct statvfs	 st;
	unsigned long long avail;
	long long	 now = io_now_ms();

	if (sp->at_ms == 0 || now - sp->at_ms >= SMTP_SPACE_CACHE_MS ||
	    now < sp->at_ms) {
		if (statvfs(".", &st) < 0) {
			log_warn("statvfs of the queue: %s: free space not "
			    "checked", strerror(errno));
			sp->at_ms = 0;
			return 1;
		}
		sp->avail = (unsigned long long)st.f_bavail * st.f_frsize;
		sp->at_ms = now;
	}
	avail = sp->avail;
	if (smtpd_space_enough(avail, par->queue_minfree,
	    cfg->message_size_limit, size))
		return 1;
	log_warn("not enough free space in the queue: %llu bytes free, "
	    "queue_minfree %zu, message_size_limit %zu, message size %llu",
	    avail, par->queue_minfree, cfg->message_size_limit, size);
	return 0;
}
