/*
 * bounce_params - bounce's key table: data only, so the master can link it
 * for its whole-file check without any of bounce's code.
 */
#include "bounce_params.h"

#define O(f)	offsetof(struct bounce_params, f)

static const struct config_key bounce_keys[] = {
	{ "2bounce_notice_recipient", CT_STRING, O(double_bounce_recipient),
	    "postmaster", 0, 0, NULL, NULL },
	{ "bounce_size_limit", CT_SIZE, O(bounce_size_limit), "50000", 0, 1,
	    NULL, NULL },
};

const struct config_table bounce_params_table =
    CONFIG_TABLE("bounce", bounce_keys, struct bounce_params);
