/*
 * smtpd_policy - recipient acceptance.  The checks are cheap and local:
 * mydestination decides what is ours (an address literal never is, so
 * "user@[127.0.0.1]" cannot be used to relay), and the password database
 * decides which local users exist.  A failed lookup is a temporary error,
 * never a 550, so a broken name service (or a password database left
 * outside a chroot) does not bounce real mail.
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "smtpd_policy.h"

/* 1 the user exists, 0 it does not, -1 the lookup failed. */
static int
smtpd_policy_user_exists(const char *name)
{
	errno = 0;
	if (getpwnam(name) != NULL)
		return 1;
	/* getpwnam(3) lists these as "not found" for some implementations. */
	if (errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF ||
	    errno == EPERM)
		return 0;
	return -1;
}

static int
smtpd_user_cached(struct smtpd_user_cache *c, const char *name)
{
	long long	 now = io_now_ms();
	int		 i;

	for (i = 0; i < SMTP_USER_CACHE_SIZE; i++)
		if (c->until_ms[i] > now && strcmp(c->name[i], name) == 0)
			return 1;
	return 0;
}

static void
smtpd_user_remember(struct smtpd_user_cache *c, const char *name)
{
	unsigned int	 i = c->next++ % SMTP_USER_CACHE_SIZE;

	strlcpy(c->name[i], name, sizeof(c->name[i]));
	c->until_ms[i] = io_now_ms() + SMTP_USER_CACHE_MS;
}

/* Does the account that deliver would pick for rcpt exist?  The same rule
 * (addr_local_user) on both sides, so that nothing smtpd accepts turns
 * into a bounce at delivery. */
static int
smtpd_policy_user(struct smtpd_user_cache *cache, const char *rcpt,
    struct smtpd_result *res)
{
	char	 name[ADDR_LOCAL_MAX + 1];
	int	 r = 0;

	if (addr_local_user(rcpt, name, sizeof(name)) == 0) {
		if (smtpd_user_cached(cache, name))
			return 0;
		if ((r = smtpd_policy_user_exists(name)) > 0) {
			smtpd_user_remember(cache, name);
			return 0;
		}
	}
	/* Without root, the database itself is missing (smtpd chrooted,
	 * say): that must not turn into 550 for every user. */
	if (r == 0 && smtpd_policy_user_exists("root") <= 0) {
		log_warn("password database unusable: no user root");
		r = -2;
	} else if (r < 0)
		log_warn("password database lookup failed: %s", strerror(errno));
	if (r < 0)
		return smtpd_fail(res, 451, "4.3.0",
		    "Error: recipient lookup failed, try again later");
	return smtpd_fail(res, 550, "5.1.1",
	    "Recipient address rejected: User unknown in local recipient table");
}

int
smtpd_policy_rcpt(const struct tern_config *cfg, struct smtpd_user_cache *cache,
    const struct smtpd_path *path, struct smtpd_result *res)
{
	char		 local[ADDR_LOCAL_MAX + 1];
	const char	*domain;

	memset(res, 0, sizeof(*res));
	if (path->postmaster)
		return 0;
	domain = addr_domain(path->addr);
	if (domain == NULL || domain[0] == '[' ||
	    !config_is_local_domain(cfg, domain))
		return smtpd_fail(res, 554, "5.7.1", "Relay access denied");
	if (addr_local_part(path->addr, local, sizeof(local)) < 0)
		return smtpd_fail(res, 501, "5.1.3",
		    "Bad recipient address syntax");
	/* RFC 5321 4.5.1: postmaster at every local domain, in any case. */
	if (strcasecmp(local, "postmaster") == 0 || !cfg->local_recipient_check)
		return 0;
	return smtpd_policy_user(cache, path->addr, res);
}
