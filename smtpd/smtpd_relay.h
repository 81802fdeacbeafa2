/*
 * smtpd_relay - relay control: may this client send mail to this
 * recipient through us?  One decision, as Postfix's permit_mynetworks and
 * reject_unauth_destination make it: yes when the recipient's domain is
 * ours (mydestination) or one we relay for (relay_domains), or when the
 * client is in mynetworks; no otherwise.  Future SMTP AUTH and access maps
 * add their reasons here, in front of the refusal.
 */
#ifndef TERN_SMTPD_RELAY_H
#define TERN_SMTPD_RELAY_H

struct cidr;
struct tern_config;

enum smtpd_relay_verdict {
	SMTPD_RELAY_LOCAL,	/* a local domain (or bare postmaster) */
	SMTPD_RELAY_DOMAIN,	/* a domain of relay_domains */
	SMTPD_RELAY_CLIENT,	/* anything: the client is in mynetworks */
	SMTPD_RELAY_DENIED	/* 554 5.7.1 Relay access denied */
};

/* mynetworks parsed once per process, beside the configuration. */
struct smtpd_relay {
	const struct tern_config *cfg;
	struct cidr		*nets;
	int			 nnets;
};

void	smtpd_relay_init(struct smtpd_relay *, const struct tern_config *);
void	smtpd_relay_free(struct smtpd_relay *);

/* The verdict for canonical recipient rcpt (addr_canonical; "postmaster"
 * alone when bare is set) from the client at address client (inet_ntop
 * text).  A local part that still routes (a '@', '%' or '!' in it, quoted
 * or not: "user%remote@us", "remote!user@us", "\"user@remote\"@us") never
 * counts as local or relay_domains mail, and an address literal never
 * names one of our domains: only a client in mynetworks may send those. */
enum smtpd_relay_verdict smtpd_relay_check(const struct smtpd_relay *,
	    const char *client, const char *rcpt, int bare);

/* Is domain (lower case) in relay_domains: the name itself, or below an
 * entry written ".parent"? */
int	smtpd_relay_domain(const struct tern_config *, const char *domain);

#endif
