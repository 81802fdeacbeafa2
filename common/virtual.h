/*
 * virtual - virtual domains, with Postfix's parameters and meanings
 * (virtual(5), virtual(8), postconf(5)): the tables and the rules every
 * program asks them by.  qmgr routes with it, smtpd's RCPT check is
 * virtual_recipient(), deliver expands and places the mail.
 *
 *   virtual_alias_maps		address -> one or more addresses (local,
 *				virtual or remote), looked up as
 *				user+ext@domain, user@domain, then (only
 *				for a domain of mydestination, or none)
 *				user+ext and user, then @domain (catch-all)
 *   virtual_alias_domains	domains whose every address must be a
 *				virtual alias: any other is unknown
 *   virtual_mailbox_domains	domains of hosted mailboxes
 *   virtual_mailbox_maps	address -> mailbox path (user+ext@domain,
 *				user@domain, @domain)
 *
 * A domain list holds domain names, "type:name" tables (the domain is
 * looked up as a key; any value counts) and "$virtual_alias_maps" or
 * "$virtual_mailbox_maps" (those tables, looked up the same way): the
 * defaults are Postfix's, virtual_alias_domains = $virtual_alias_maps and
 * virtual_mailbox_domains = $virtual_mailbox_maps.  A domain in both
 * lists is an alias domain (Postfix's order, which warns about it).
 *
 * Every table failure is a temporary failure (-1, VIRTUAL_RCPT_TEMPFAIL,
 * VX_DEFER), never "unknown": a table that cannot be read must give 4xx.
 * The expansion (virtual_alias_expand) follows Postfix's cleanup: each
 * address is replaced by its lookup's addresses until none has an entry;
 * an address that maps to itself (a -> a, b) is kept and not expanded
 * again; nesting deeper than the recursion limit (a loop a -> b -> a) or
 * more addresses than the expansion limit defer with 4.6.0, as Postfix
 * refuses such mail "try again later".  The final list holds each address
 * once.
 */
#ifndef TERN_VIRTUAL_H
#define TERN_VIRTUAL_H

#include <stddef.h>

#include "config.h"
#include "map.h"

struct virtual_maps {
	const struct tern_config *cfg;	/* mydestination, delimiter */
	struct map_list	 alias;		/* virtual_alias_maps */
	struct map_list	 mailbox;	/* virtual_mailbox_maps */
	struct map_list	 alias_dom;	/* tables of virtual_alias_domains */
	struct map_list	 mailbox_dom;	/* tables of virtual_mailbox_domains */
	/* "$virtual_alias_maps" / "$virtual_mailbox_maps" in a domain list,
	 * by bit: 1 the alias tables, 2 the mailbox tables */
	int		 alias_dom_refs, mailbox_dom_refs;
	char		 err[MAP_ERR_MAX];	/* why the last lookup failed */
};

/* Open the four lists of cfg (which must outlive vm).  0, or -1 with err
 * (a spec that can never work; what was opened is closed). */
int	virtual_open(struct virtual_maps *, const struct tern_config *,
	    char *err, size_t errlen);
void	virtual_close(struct virtual_maps *);
/* 1 if any virtual table or domain is configured. */
int	virtual_configured(const struct virtual_maps *);

enum virtual_domain_kind { VIRTUAL_DOMAIN_NONE, VIRTUAL_DOMAIN_ALIAS,
    VIRTUAL_DOMAIN_MAILBOX };

/* The kind of domain (lower case, no trailing dot), or -1 (vm->err). */
int	virtual_domain(struct virtual_maps *, const char *domain);

/* addr (a mailbox, or a bare local name) in tables by the lookup order
 * above; bare_user: also the "user" keys (virtual_alias_maps only).
 * MAP_FOUND with *value (valid until the next lookup), MAP_NOTFOUND, or
 * MAP_TEMPFAIL with err. */
int	virtual_addr_find(struct map_list *, const struct tern_config *,
	    const char *addr, int bare_user, const char **value, char *err,
	    size_t errlen);
/* The same in virtual_alias_maps and virtual_mailbox_maps. */
int	virtual_alias_find(struct virtual_maps *, const char *addr,
	    const char **value);
int	virtual_mailbox_find(struct virtual_maps *, const char *addr,
	    const char **value);

enum virtual_rcpt_status {
	VIRTUAL_RCPT_NONE,	/* not ours to say: a local or foreign
				   address without a virtual alias (the
				   caller's local and relay checks decide) */
	VIRTUAL_RCPT_FOUND,	/* a virtual alias or a virtual mailbox */
	VIRTUAL_RCPT_UNKNOWN,	/* in a virtual domain, and unknown */
	VIRTUAL_RCPT_TEMPFAIL	/* a table failed: *why */
};

/* The RCPT check (smtpd) for rcpt, a canonical address: a virtual alias
 * of an address in one of our domains (mydestination or virtual), or a
 * virtual mailbox, is FOUND; any other address in a virtual domain is
 * UNKNOWN.  A virtual alias of a foreign address is NONE: it does not
 * make us that domain's destination (relay control still decides). */
enum virtual_rcpt_status virtual_recipient(struct virtual_maps *,
	    const char *rcpt, const char **why);

/* The final addresses of an expansion, each malloc'ed, each once. */
struct virtual_expansion {
	char	**addr;
	int	  n, cap;
};

enum virtual_expand_status {
	VX_NONE,	/* addr has no virtual alias */
	VX_OK,		/* out holds its final addresses */
	VX_DEFER,	/* a failed lookup, or a limit: why */
	VX_BOUNCE	/* a target that is not an address: why */
};

/* Expand addr through virtual_alias_maps (rules above).  out is emptied
 * first and filled on VX_OK only; why[0..whylen) on VX_DEFER/VX_BOUNCE,
 * *dsn their status. */
enum virtual_expand_status virtual_alias_expand(struct virtual_maps *,
	    const char *addr, int recursion_limit, int expansion_limit,
	    struct virtual_expansion *out, char *why, size_t whylen,
	    const char **dsn);
void	virtual_expansion_free(struct virtual_expansion *);

/* A domain of mydestination that is also a virtual domain (Postfix warns
 * about it: mydestination wins, so its virtual addresses would never be
 * reached) in out[0..outlen): 1, 0 if there is none, -1 if a table failed
 * (vm->err). */
int	virtual_mydestination_conflict(struct virtual_maps *, char *out,
	    size_t outlen);

/* A uid or gid as a virtual_uid_maps value: decimal, at most 2^31 - 1.
 * 0, or -1 if it is not one. */
int	virtual_parse_id(const char *value, long *id);

#endif
