/*
 * qmgr_params - qmgr's key table: data only, so the master can link it for
 * its whole-file check without any of qmgr's code.
 */
#include "qmgr_params.h"

#define O(f)	offsetof(struct qmgr_params, f)

static const struct config_key qmgr_keys[] = {
	{ "queue_scan_interval", CT_TIME, O(queue_scan_interval), "60", 0, 1,
	    NULL, NULL },
	{ "minimal_backoff_time", CT_TIME, O(minimal_backoff_time), "300", 0, 1,
	    NULL, "maximal_backoff_time" },
	{ "maximal_backoff_time", CT_TIME, O(maximal_backoff_time), "4000", 0, 1,
	    NULL, NULL },
	{ "maximal_queue_lifetime", CT_TIME, O(maximal_queue_lifetime), "5d", 0,
	    0, NULL, NULL },
	{ "bounce_queue_lifetime", CT_TIME, O(bounce_queue_lifetime), "5d", 0,
	    0, NULL, NULL },
	{ "delay_warning_time", CT_TIME, O(delay_warning_time), "0h", 0, 0,
	    NULL, NULL },
	{ "deliver_concurrency", CT_COUNT, O(deliver_concurrency), "4", 0, 1,
	    NULL, NULL },
	{ "relayhost", CT_STRING, O(relayhost), "", CF_EMPTY_OK, 0, NULL, NULL },
	{ "transport_maps", CT_LIST, O(transport_maps), "", 0, 0, NULL, NULL },
	{ "default_process_limit", CT_COUNT, O(default_process_limit), "100", 0,
	    1, NULL, NULL },
	{ "smtp_destination_concurrency_limit", CT_COUNT,
	    O(smtp_destination_concurrency_limit), "20", 0, 1, NULL, NULL },
	{ "smtp_destination_recipient_limit", CT_COUNT,
	    O(smtp_destination_recipient_limit), "50", 0, 1, NULL, NULL },
	{ "lmtp_destination_concurrency_limit", CT_COUNT,
	    O(lmtp_destination_concurrency_limit), "20", 0, 1, NULL, NULL },
	{ "lmtp_destination_recipient_limit", CT_COUNT,
	    O(lmtp_destination_recipient_limit), "50", 0, 1, NULL, NULL },
	{ "qmgr_message_active_limit", CT_COUNT,
	    O(qmgr_message_active_limit), "20000", 0, 1, NULL, NULL },
	{ "qmgr_message_recipient_limit", CT_COUNT,
	    O(qmgr_message_recipient_limit), "20000", 0, 1, NULL, NULL },
	{ "qmgr_bounce_timeout", CT_TIME, O(qmgr_bounce_timeout), "300s", 0, 1,
	    NULL, NULL },
};

const struct config_table qmgr_params_table =
    CONFIG_TABLE("qmgr", qmgr_keys, struct qmgr_params);
