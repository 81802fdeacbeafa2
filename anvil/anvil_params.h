/*
 * anvil_params - the tern.conf keys anvil reads (besides the global ones in
 * struct tern_config), parsed by common/config.c from anvil_params_table.
 * Defaults and meanings: etc/tern.conf and tern.conf(5).
 */
#ifndef ANVIL_PARAMS_H
#define ANVIL_PARAMS_H

#include "config.h"

struct anvil_params {
	int	 anvil_rate_time_unit;	/* seconds, default 60 */
};

extern const struct config_table anvil_params_table;

#endif
