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
	char	*mailbox_transport;	/* "transport:nexthop" for mailboxes,
					   default "": deliver's own */
};

extern const struct config_table deliver_params_table;

#endif
