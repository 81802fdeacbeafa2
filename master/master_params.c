/*
 * master_params - the whole-file check: the global table and every
 * daemon's table at once (see master_params.h).  A daemon added to tern
 * with keys of its own gets a line here and its DIR_params.o in the
 * Makefile's PARAMS_OBJ.
 */
#include "master_params.h"

#include "../anvil/anvil_params.h"
#include "../bounce/bounce_params.h"
#include "../deliver/deliver_params.h"
#include "../qmgr/qmgr_params.h"
#include "../resolver/resolver_params.h"
#include "../smtp/smtp_params.h"
#include "../smtpd/smtpd_params.h"

const struct config_table *const master_params_tables[] = {
	&smtpd_params_table,
	&qmgr_params_table,
	&deliver_params_table,
	&resolver_params_table,
	&anvil_params_table,
	&smtp_params_table,
	&bounce_params_table,
};

#define NTABLES	(sizeof(master_params_tables) / sizeof(master_params_tables[0]))

const size_t master_params_ntables = NTABLES;

int
master_params_load(const char *path, struct tern_config *cf)
{
	struct config_part	 part[NTABLES];
	size_t			 i;

	for (i = 0; i < NTABLES; i++) {
		part[i].table = master_params_tables[i];
		part[i].dest = NULL;	/* checked, not kept */
	}
	return config_load_parts(path, cf, part, NTABLES, CONFIG_ALL_KEYS);
}
