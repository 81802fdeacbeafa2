/*
 * rcpt_lookup - the one question smtpd's RCPT check asks, answered by the
 * lookup service (lookup(8), proto_lookup.h) so that smtpd itself reads no
 * password database and no table: does this recipient in one of our
 * domains reach a mailbox, and which one?  The answer is deliver's own
 * (local_recipient.h: alias_maps, recipient_delimiter, the password
 * database), so smtpd never accepts what deliver then bounces.  Every
 * table the RCPT check needs (alias_maps, and the virtual tables of
 * virtual.h) is opened here, once, at the first
 * lookup, and kept: the map layer reopens a table whose file changed.
 *
 * A table or database that cannot answer is RCPT_LOOKUP_TEMPFAIL (smtpd
 * replies 451), never UNKNOWN (550): a broken name service must not bounce
 * real mail.
 */
#ifndef TERN_RCPT_LOOKUP_H
#define TERN_RCPT_LOOKUP_H

#include <stddef.h>

#include "local_recipient.h"
#include "map.h"

struct tern_config;
struct virtual_maps;

enum rcpt_lookup_status {
	RCPT_LOOKUP_FOUND,	/* a mailbox gets its mail: account is set */
	RCPT_LOOKUP_UNKNOWN,	/* no such recipient, for good */
	RCPT_LOOKUP_TEMPFAIL,	/* a table or database could not say */
	RCPT_LOOKUP_VIRTUAL,	/* a virtual alias or virtual mailbox: no
				   account, the address is its own key */
	RCPT_LOOKUP_FOREIGN	/* not in one of our domains, local or
				   virtual: relay control decides */
};

/* The longest account (mailbox key) an answer carries, without NUL. */
#define RCPT_LOOKUP_ACCOUNT_MAX	(LOCAL_USER_NAME_SIZE - 1)

struct rcpt_lookup {
	const struct tern_config *cfg;
	struct map_list		 aliases;	/* alias_maps */
	int			 aliases_open;	/* 0 not yet, 1 open, -1 a bad
						   spec (every lookup fails) */
	char			 aliases_err[MAP_ERR_MAX];
	struct virtual_maps	*virt;		/* virtual tables, or NULL */
	int			 virt_open;	/* as aliases_open */
	char			 virt_err[MAP_ERR_MAX];
	/* The password database; tests put a fake here. */
	local_recipient_lookup_fn getpw;
	void			*getpw_arg;
};

/* Set up (nothing is opened before the first lookup); cfg must outlive
 * it.  The password database is the system's (local_recipient_getpw). */
void	rcpt_lookup_init(struct rcpt_lookup *, const struct tern_config *);
/*
 * The answer for rcpt: an address in canonical spelling
 * (addr_canonical), or a bare "postmaster".  When virtual domains are
 * configured (virtual.h), virtual_recipient() answers first: VIRTUAL for
 * a virtual alias or mailbox, UNKNOWN for another address of a virtual
 * domain, and FOREIGN for an address outside mydestination it does not
 * know.  Otherwise the address is taken as one of our domains'.  FOUND puts the mailbox's key into account[0..len): the
 * account, or the alias name, that receives the mail (the one smtpd keeps
 * a recipient once per); addresses with the same key share a mailbox.
 * TEMPFAIL sets *why to a short reason for the log (valid until the next
 * call).
 */
enum rcpt_lookup_status rcpt_lookup_resolve(struct rcpt_lookup *,
	    const char *rcpt, char *account, size_t len, const char **why);
void	rcpt_lookup_free(struct rcpt_lookup *);

#endif
