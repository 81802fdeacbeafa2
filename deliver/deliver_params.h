/*
 * deliver_params - the tern.conf keys deliver reads (besides the global ones in
 * struct tern_config), parsed by common/config.c from deliver_params_table.
 * Defaults and meanings: etc/tern.conf and tern.conf(5).
 */
#ifndef DELIVER_PARAMS_H
#define DELIVER_PARAMS_H

#include "config.h"

struct deliver_params {
	char	*home_mailbox;		/* default: "Maildir/" (relative to home) */
	char	*mail_spool_directory;	/* default: "/var/spool/mail", for
					   home_mailbox empty (mbox) */
	char	*default_privs;		/* default: "nobody": aliases' commands */
	int	 duplicate_filter_limit;	/* default 1000: targets a
					   message's filter remembers; 0: no
					   limit (Postfix) */
	int	 local_expansion_limit;	/* default 10000 (tern's own): the
					   targets of a local expansion */
	char	*mailbox_transport;	/* "transport:nexthop" for mailboxes,
					   default "": deliver's own */
	/* virtual(8): hosted mailboxes, and the virtual alias expansion */
	char	*virtual_mailbox_base;	/* prefix of virtual_mailbox_maps'
					   paths; default "" */
	struct config_list virtual_uid_maps;	/* address -> uid */
	struct config_list virtual_gid_maps;	/* address -> gid */
	int	 virtual_minimum_uid;	/* default 100: lower uids refused */
	int	 virtual_alias_recursion_limit;	/* default 1000 */
	int	 virtual_alias_expansion_limit;	/* default 1000 */
};

extern const struct config_table deliver_params_table;

#endif
