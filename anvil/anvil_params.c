/*
 * anvil_params - anvil's key table: data only, so the master can link it for
 * its whole-file check without any of anvil's code.
 */
#include "anvil_params.h"

#define O(f)	offsetof(struct anvil_params, f)

static const struct config_key anvil_keys[] = {
	{ "anvil_rate_time_unit", CT_TIME, O(anvil_rate_time_unit), "60", 0, 1,
	    NULL, NULL },
};

const struct config_table anvil_params_table =
    CONFIG_TABLE("anvil", anvil_keys, struct anvil_params);
