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
	{ "mailbox_transport", CT_STRING, O(mailbox_transport), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
};

const struct config_table deliver_params_table =
    CONFIG_TABLE("deliver", deliver_keys, struct deliver_params);
