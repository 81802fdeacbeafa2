/*
 * deliver_params - deliver's key table: data only, so the master can link it for
 * its whole-file check without any of deliver's code.
 */
#include "deliver_params.h"

#define O(f)	offsetof(struct deliver_params, f)

static const struct config_key deliver_keys[] = {
	{ "home_mailbox", CT_STRING, O(home_mailbox), "Maildir/", CF_EMPTY_OK,
	    0, NULL, NULL },
	{ "mail_spool_directory", CT_STRING, O(mail_spool_directory),
	    "/var/spool/mail", 0, 0, NULL, NULL },
	{ "default_privs", CT_STRING, O(default_privs), "nobody", 0, 0, NULL,
	    NULL },
	/* targets remembered per message (0: all, as in Postfix) */
	{ "duplicate_filter_limit", CT_COUNT, O(duplicate_filter_limit),
	    "1000", 0, 0, NULL, NULL },
	/* tern's bound of one local expansion (Postfix has none) */
	{ "local_expansion_limit", CT_COUNT, O(local_expansion_limit),
	    "10000", 0, 1, NULL, NULL },
	{ "mailbox_transport", CT_STRING, O(mailbox_transport), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	/* virtual mailboxes and virtual aliases (Postfix's virtual(8)) */
	{ "virtual_mailbox_base", CT_STRING, O(virtual_mailbox_base), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	{ "virtual_uid_maps", CT_LIST, O(virtual_uid_maps), "", 0, 0, NULL,
	    NULL },
	{ "virtual_gid_maps", CT_LIST, O(virtual_gid_maps), "", 0, 0, NULL,
	    NULL },
	{ "virtual_minimum_uid", CT_COUNT, O(virtual_minimum_uid), "100", 0,
	    1, NULL, NULL },
	{ "virtual_alias_recursion_limit", CT_COUNT,
	    O(virtual_alias_recursion_limit), "1000", 0, 1, NULL, NULL },
	{ "virtual_alias_expansion_limit", CT_COUNT,
	    O(virtual_alias_expansion_limit), "1000", 0, 1, NULL, NULL },
};

const struct config_table deliver_params_table =
    CONFIG_TABLE("deliver", deliver_keys, struct deliver_params);
