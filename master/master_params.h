/*
 * master_params - the master's whole-file check of tern.conf.  A daemon
 * reads the global keys and its own and skips the rest (it cannot know the
 * other daemons' keys); the master, which reads the file at start, on reload
 * and with "master -n", parses it against the global table and every
 * daemon's table, so an unknown key or a bad value anywhere is reported as
 * "file:line: reason" before any daemon sees it.  The daemons' tables are
 * data only (DIR/DIR_params.o), linked into the master by the Makefile.
 */
#ifndef MASTER_PARAMS_H
#define MASTER_PARAMS_H

#include <stddef.h>

#include "config.h"

/* Every daemon's key table, the order in which tern.conf(5) lists them. */
extern const struct config_table *const master_params_tables[];
extern const size_t master_params_ntables;

/* config_load_parts() with the global table kept in cf and every daemon's
 * keys checked and dropped; unknown keys are errors.  0, or -1. */
int	master_params_load(const char *path, struct tern_config *);

#endif
