/*
 * bounce_params - the tern.conf keys bounce reads (besides the global ones
 * in struct tern_config), parsed by common/config.c from
 * bounce_params_table.  Defaults and meanings: etc/tern.conf and
 * tern.conf(5).
 */
#ifndef BOUNCE_PARAMS_H
#define BOUNCE_PARAMS_H

#include "config.h"

struct bounce_params {
	char	*double_bounce_recipient; /* 2bounce_notice_recipient,
					     "postmaster" */
	size_t	 bounce_size_limit;	/* bytes of the original, 50000 */
};

extern const struct config_table bounce_params_table;

#endif
