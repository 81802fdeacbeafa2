/*
 * qmgr_params - the tern.conf keys qmgr reads (besides the global ones in
 * struct tern_config), parsed by common/config.c from qmgr_params_table.
 * Defaults and meanings: etc/tern.conf and tern.conf(5).
 */
#ifndef QMGR_PARAMS_H
#define QMGR_PARAMS_H

#include "config.h"

struct qmgr_params {
	int	 queue_scan_interval;	/* seconds, default 60 */
	int	 minimal_backoff_time;	/* seconds, default 300 */
	int	 maximal_backoff_time;	/* seconds, default 4000 */
	int	 maximal_queue_lifetime; /* seconds, default 5d */
	int	 bounce_queue_lifetime;	/* the same for mail from <>, 5d */
	int	 delay_warning_time;	/* seconds; 0 (default): no warnings */
	int	 deliver_concurrency;	/* parallel deliveries, default 4 */
	char	*relayhost;		/* "" (none), "host", "[host]:port" */
	struct config_list transport_maps; /* "texthash:/path", ...; empty */
	int	 default_process_limit;	/* smtp connections in all, 100 */
	int	 smtp_destination_concurrency_limit; /* per next hop, 20 */
	int	 smtp_destination_recipient_limit; /* per request, 50 */
	int	 lmtp_destination_concurrency_limit; /* the same for lmtp, 20 */
	int	 lmtp_destination_recipient_limit; /* 50 */
	int	 qmgr_message_active_limit;	/* messages in memory, 20000 */
	int	 qmgr_message_recipient_limit;	/* recipients of loaded
						   messages; dead
						   destinations kept, 20000 */
	int	 qmgr_bounce_timeout;	/* s for bounce(8) to answer the
					   request it works on, 300 */
};

extern const struct config_table qmgr_params_table;

#endif
