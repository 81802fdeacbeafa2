/*
 * resolver_params - resolver's key table: data only, so the master can link it for
 * its whole-file check without any of resolver's code.
 */
#include "resolver_params.h"

#define O(f)	offsetof(struct resolver_params, f)

static const struct config_key resolver_keys[] = {
	{ "resolver_nameservers", CT_LIST, O(resolver_nameservers), "", 0, 0,
	    NULL, NULL },
};

const struct config_table resolver_params_table =
    CONFIG_TABLE("resolver", resolver_keys, struct resolver_params);
