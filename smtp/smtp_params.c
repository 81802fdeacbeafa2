/*
 * smtp_params - the SMTP client's key table: data only, so the master can
 * link it for its whole-file check without any of the client's code.
 */
#include "smtp_params.h"

#define O(f)	offsetof(struct smtp_params, f)

static const char *const tls_level_words[] = {
	"none", "may", "encrypt", "verify", NULL
};

static const struct config_key smtp_keys[] = {
	{ "smtp_connect_timeout", CT_TIME, O(smtp_connect_timeout), "30s", 0, 1,
	    NULL, NULL },
	{ "smtp_helo_timeout", CT_TIME, O(smtp_helo_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "smtp_starttls_timeout", CT_TIME, O(smtp_starttls_timeout), "300s",
	    0, 1, NULL, NULL },
	{ "smtp_mail_timeout", CT_TIME, O(smtp_mail_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "smtp_rcpt_timeout", CT_TIME, O(smtp_rcpt_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "smtp_data_init_timeout", CT_TIME, O(smtp_data_init_timeout), "120s",
	    0, 1, NULL, NULL },
	{ "smtp_data_xfer_timeout", CT_TIME, O(smtp_data_xfer_timeout), "180s",
	    0, 1, NULL, NULL },
	{ "smtp_data_done_timeout", CT_TIME, O(smtp_data_done_timeout), "600s",
	    0, 1, NULL, NULL },
	{ "smtp_quit_timeout", CT_TIME, O(smtp_quit_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "smtp_helo_name", CT_STRING, O(smtp_helo_name), "$myhostname",
	    CF_EXPAND, 0, NULL, NULL },
	{ "smtp_bind_address", CT_STRING, O(smtp_bind_address), "", CF_EMPTY_OK,
	    0, NULL, NULL },
	{ "smtp_bind_address6", CT_STRING, O(smtp_bind_address6), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	{ "smtp_tls_security_level", CT_CHOICE, O(smtp_tls_security_level), "may",
	    0, 0, tls_level_words, NULL },
	{ "smtp_tls_CAfile", CT_STRING, O(smtp_tls_CAfile), "", CF_EMPTY_OK, 0,
	    NULL, NULL },
	{ "smtp_tls_policy_maps", CT_LIST, O(smtp_tls_policy_maps), "", 0, 0,
	    NULL, NULL },
	{ "smtp_rset_timeout", CT_TIME, O(smtp_rset_timeout), "20s", 0, 1,
	    NULL, NULL },
	{ "smtp_connection_cache_time_limit", CT_TIME,
	    O(smtp_connection_cache_time_limit), "2s", 0, 0, NULL, NULL },
	{ "smtp_connection_reuse_count_limit", CT_COUNT,
	    O(smtp_connection_reuse_count_limit), "0", 0, 0, NULL, NULL },
	{ "smtp_connection_reuse_time_limit", CT_TIME,
	    O(smtp_connection_reuse_time_limit), "300s", 0, 1, NULL, NULL },
	{ "lmtp_connect_timeout", CT_TIME, O(lmtp_connect_timeout), "0s", 0, 0,
	    NULL, NULL },
	{ "lmtp_lhlo_timeout", CT_TIME, O(lmtp_lhlo_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "lmtp_mail_timeout", CT_TIME, O(lmtp_mail_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "lmtp_rcpt_timeout", CT_TIME, O(lmtp_rcpt_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "lmtp_data_init_timeout", CT_TIME, O(lmtp_data_init_timeout), "120s",
	    0, 1, NULL, NULL },
	{ "lmtp_data_xfer_timeout", CT_TIME, O(lmtp_data_xfer_timeout), "180s",
	    0, 1, NULL, NULL },
	{ "lmtp_data_done_timeout", CT_TIME, O(lmtp_data_done_timeout), "600s",
	    0, 1, NULL, NULL },
	{ "lmtp_quit_timeout", CT_TIME, O(lmtp_quit_timeout), "300s", 0, 1,
	    NULL, NULL },
	{ "lmtp_rset_timeout", CT_TIME, O(lmtp_rset_timeout), "20s", 0, 1,
	    NULL, NULL },
	{ "lmtp_lhlo_name", CT_STRING, O(lmtp_lhlo_name), "$myhostname",
	    CF_EXPAND, 0, NULL, NULL },
	{ "lmtp_bind_address", CT_STRING, O(lmtp_bind_address), "", CF_EMPTY_OK,
	    0, NULL, NULL },
	{ "lmtp_bind_address6", CT_STRING, O(lmtp_bind_address6), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
};

const struct config_table smtp_params_table =
    CONFIG_TABLE("smtp", smtp_keys, struct smtp_params);
