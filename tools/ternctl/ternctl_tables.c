/*
 * ternctl_tables - check's look at every table-valued key of tern.conf,
 * by the map layer the daemons use (map.h): each "type:name" is opened as
 * a daemon opens it, and asked one key.  A spec that can never work
 * (unknown type, relative path, inline: syntax) would stop the daemons
 * that open it at every start (deliver, qmgr, smtp: a fatal error and the
 * master's restart back-off) or make the lookup service answer 451 for
 * good; a table that cannot be read now (a hash: file never built, a
 * broken file, a pgsql: configuration file missing or its server down)
 * defers the mail that needs it.  Each is one "problem:" line on standard
 * output with its reason on standard error; nothing is changed.
 */
#include <stdio.h>
#include <string.h>

#include "../../deliver/deliver_params.h"
#include "../../qmgr/qmgr_params.h"
#include "../../smtp/smtp_params.h"
#include "map.h"
#include "ternctl.h"

/* A key no table has: only whether the table answers matters. */
#define TABLES_PROBE	"ternctl-check-probe@invalid"

struct tables_key {
	const char			*key;
	const char			*who;	/* the daemons that open it */
	const struct config_list	*list;
	int				 domains; /* names and tables */
};

/* Is a list's item a table?  A domain list also holds domain names and
 * "$name" references (virtual.c); every item of the others is one. */
static int
tables_is_spec(const struct tables_key *k, const char *item)
{
	return !k->domains || (item[0] != '$' && strchr(item, ':') != NULL);
}

/* One spec: 0 sound, 1 a problem (reported). */
static int
tables_one(const struct tables_key *k, const char *spec)
{
	char		 err[MAP_ERR_MAX];
	const char	*value;
	struct map	*m;
	int		 r;

	if ((m = map_open(spec, err, sizeof(err))) == NULL) {
		fprintf(stderr, "ternctl: %s: %s\n", k->key, err);
		printf("problem: %s: %s can never be opened (%s refuse it; "
		    "reason above)\n", k->key, spec, k->who);
		return 1;
	}
	r = map_lookup(m, TABLES_PROBE, &value, err, sizeof(err));
	map_close(m);
	if (r != MAP_TEMPFAIL)
		return 0;
	fprintf(stderr, "ternctl: %s: %s\n", k->key, err);
	printf("problem: %s: %s cannot be read now (%s defer the mail that "
	    "needs it; reason above)\n", k->key, spec, k->who);
	return 1;
}

static int
tables_list(const struct tables_key *k)
{
	int	 i, n = 0;

	if (k->list->count > MAP_LIST_MAX) {
		printf("problem: %s: more than %d tables\n", k->key,
		    MAP_LIST_MAX);
		return 1;
	}
	for (i = 0; i < k->list->count; i++)
		if (tables_is_spec(k, k->list->item[i]))
			n += tables_one(k, k->list->item[i]);
	return n;
}

int
ctl_check_tables(const char *path)
{
	struct tern_config	 cf;
	struct qmgr_params	 qp;
	struct deliver_params	 dp;
	struct smtp_params	 sp;
	const struct config_part part[] = {
		{ &qmgr_params_table, &qp },
		{ &deliver_params_table, &dp },
		{ &smtp_params_table, &sp },
	};
	size_t			 i, nparts = sizeof(part) / sizeof(part[0]);
	int			 n = 0;
	const struct tables_key keys[] = {
		{ "alias_maps", "deliver and lookup", &cf.alias_maps, 0 },
		{ "virtual_alias_maps", "deliver, qmgr and lookup",
		    &cf.virtual_alias_maps, 0 },
		{ "virtual_mailbox_maps", "deliver, qmgr and lookup",
		    &cf.virtual_mailbox_maps, 0 },
		{ "virtual_alias_domains", "deliver, qmgr and lookup",
		    &cf.virtual_alias_domains, 1 },
		{ "virtual_mailbox_domains", "deliver, qmgr and lookup",
		    &cf.virtual_mailbox_domains, 1 },
		{ "virtual_uid_maps", "deliver", &dp.virtual_uid_maps, 0 },
		{ "virtual_gid_maps", "deliver", &dp.virtual_gid_maps, 0 },
		{ "transport_maps", "qmgr", &qp.transport_maps, 0 },
		{ "smtp_tls_policy_maps", "smtp and lmtp",
		    &sp.smtp_tls_policy_maps, 0 },
	};

	if (config_load_parts(path, &cf, part, nparts, 0) == -1)
		return 1;	/* reported by the whole-file check already */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		n += tables_list(&keys[i]);
	for (i = 0; i < nparts; i++)
		config_free_part(part[i].table, part[i].dest);
	config_free(&cf);
	return n;
}
