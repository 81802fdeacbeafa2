/*
 * smtpd_params - smtpd's key table: data only, so the master can link it
 * for its whole-file check without any of smtpd's code.
 */
#include "smtpd_params.h"

#define O(f)	offsetof(struct smtpd_params, f)

static const char *const bare_newline_words[] = { "no", "reject", NULL };
/* In the order of SMTPD_TLS_*; "none" first: an empty value (CF_EMPTY_OK)
 * is the first word. */
static const char *const tls_level_words[] = { "none", "may", "encrypt", NULL };

static const struct config_key smtpd_keys[] = {
	{ "smtpd_banner", CT_STRING, O(smtpd_banner), "$myhostname ESMTP tern",
	    CF_EXPAND | CF_EMPTY_OK, 0, NULL, NULL },
	{ "smtpd_recipient_limit", CT_COUNT, O(smtpd_recipient_limit), "1000", 0,
	    1, NULL, NULL },
	{ "smtpd_timeout", CT_TIME, O(smtpd_timeout), "300", 0, 1, NULL, NULL },
	{ "smtpd_client_limit", CT_COUNT, O(smtpd_client_limit), "20000", 0, 1,
	    NULL, NULL },
	{ "local_recipient_check", CT_BOOL, O(local_recipient_check), "yes", 0, 0,
	    NULL, NULL },
	{ "smtpd_lookup_timeout", CT_TIME, O(smtpd_lookup_timeout), "10s", 0, 1,
	    NULL, NULL },
	{ "smtpd_forbid_bare_newline", CT_CHOICE, O(smtpd_forbid_bare_newline),
	    "reject", 0, 0, bare_newline_words, NULL },
	{ "smtpd_junk_command_limit", CT_COUNT, O(smtpd_junk_command_limit),
	    "100", 0, 1, NULL, NULL },
	{ "smtpd_min_data_rate", CT_COUNT, O(smtpd_min_data_rate), "500", 0, 1,
	    NULL, NULL },
	{ "smtpd_session_time_limit", CT_TIME, O(smtpd_session_time_limit), "1h",
	    0, 0, NULL, NULL },
	{ "queue_minfree", CT_SIZE, O(queue_minfree), "0", 0, 0, NULL, NULL },
	{ "smtpd_client_connection_count_limit", CT_COUNT,
	    O(smtpd_client_connection_count_limit), "50", 0, 0, NULL, NULL },
	{ "smtpd_client_connection_rate_limit", CT_COUNT,
	    O(smtpd_client_connection_rate_limit), "0", 0, 0, NULL, NULL },
	{ "smtpd_client_event_limit_exceptions", CT_LIST,
	    O(smtpd_client_event_limit_exceptions), "127.0.0.0/8, ::1",
	    CF_NETWORKS, 0, NULL, NULL },
	{ "smtpd_client_ipv6_prefix_length", CT_COUNT,
	    O(smtpd_client_ipv6_prefix_length), "84", 0, 0, NULL, NULL },
	/* Empty is none, as Postfix's default (an empty value) is. */
	{ "smtpd_tls_security_level", CT_CHOICE, O(smtpd_tls_security_level),
	    "none", CF_EMPTY_OK, 0, tls_level_words, NULL },
	{ "smtpd_tls_cert_file", CT_STRING, O(smtpd_tls_cert_file), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	/* Empty: the key is in smtpd_tls_cert_file (Postfix's default,
	 * $smtpd_tls_cert_file, said the same). */
	{ "smtpd_tls_key_file", CT_STRING, O(smtpd_tls_key_file), "",
	    CF_EMPTY_OK, 0, NULL, NULL },
	{ "smtpd_starttls_timeout", CT_TIME, O(smtpd_starttls_timeout), "300s",
	    0, 1, NULL, NULL },
};

const struct config_table smtpd_params_table =
    CONFIG_TABLE("smtpd", smtpd_keys, struct smtpd_params);
