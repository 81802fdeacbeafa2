/*
 * ternmap - ternmap(1), tern's postmap: build, query and change lookup
 * tables (see ternmap.h for the parts and the exit codes).  It runs with
 * the invoking user's privileges and touches only the tables named (or,
 * with -a alone, alias_database of tern.conf, as newaliases).
 */
#include <stdio.h>

#include "log.h"
#include "ternmap.h"

int
main(int argc, char **argv)
{
	struct ternmap_opts	 o;
	int			 rc;

	if ((rc = ternmap_args(argc, argv, &o)) != 0) {
		fprintf(stderr, "ternmap: %s\nusage: ternmap [-aov] [-c conf] "
		    "[-q key | -d key | -i | -b count] type:name ...  "
		    "(see ternmap(1))\n", o.error);
		return rc;
	}
	log_open("ternmap", 1);
	switch (o.mode) {
	case TM_QUERY:
		return ternmap_query(&o);
	case TM_DELETE:
		return ternmap_delete(&o);
	case TM_ADD:
		return ternmap_add(&o);
	case TM_BENCH:
		return ternmap_bench(&o);
	case TM_BUILD:
		break;
	}
	return o.nmaps == 0 ? ternmap_newaliases(&o) : ternmap_build(&o);
}
