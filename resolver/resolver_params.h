/*
 * resolver_params - the tern.conf keys resolver reads (besides the global ones in
 * struct tern_config), parsed by common/config.c from resolver_params_table.
 * Defaults and meanings: etc/tern.conf and tern.conf(5).
 */
#ifndef RESOLVER_PARAMS_H
#define RESOLVER_PARAMS_H

#include "config.h"

struct resolver_params {
	struct config_list resolver_nameservers; /* default: empty = resolv.conf */
};

extern const struct config_table resolver_params_table;

#endif
