/*
 * virtual_mailbox - Postfix's virtual(8) delivery in deliver: a hosted
 * mailbox with no system account.  virtual_mailbox_maps gives the
 * address's path under virtual_mailbox_base (user+ext@domain,
 * user@domain, @domain); a path ending in '/' is a Maildir, anything else
 * an mbox file.  virtual_uid_maps and virtual_gid_maps (static:N, or a
 * table by the same keys) give the ids the delivery runs with, never
 * root's: a uid below virtual_minimum_uid, or group 0, is a configuration
 * error that defers (4.3.5) with a warning, as Postfix does for the uid.
 *
 * The work is local delivery's: a Maildir job goes to the mailbox worker
 * of those ids (local_collect, local_worker.c: maildir.c creates the
 * Maildir and what is missing of its path below the base, fsyncs the
 * file and new/ before the delivery counts), an mbox is appended to by a
 * helper with those ids under a dot-lock and an fcntl lock
 * (local_command.c, mbox.c).  A table that fails defers (4.3.0); an
 * address with no mailbox bounces 5.1.1.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "deliver.h"

int
virtual_mailbox_path(const char *base, const char *value, char *home,
    char *box, size_t len, const char **why)
{
	const char	*p;
	size_t		 n;

	if (base[0] == '\0' ? value[0] != '/' : base[0] != '/') {
		*why = "not an absolute path (virtual_mailbox_base)";
		return -1;
	}
	for (p = value; *p != '\0'; p += n) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*why = "path has a \"..\" component";
			return -1;
		}
	}
	value += strspn(value, "/");
	if (value[0] == '\0') {
		*why = "empty mailbox path";
		return -1;
	}
	if (strlcpy(home, base[0] != '\0' ? base : "/", len) >= len ||
	    strlcpy(box, value, len) >= len ||
	    strlen(home) + strlen(box) + 2 > len) {
		*why = "mailbox path too long";
		return -1;
	}
	return 0;
}

/* addr's id in maps (what: the key, for messages): 0, or -1 with res. */
static int
vmb_id(struct deliver_ctx *ctx, struct map_list *maps, const char *what,
    const char *addr, long *id, struct deliver_result *res)
{
	const char	*value;
	char		 err[MAP_ERR_MAX];
	int		 r;

	r = virtual_addr_find(maps, ctx->cfg, addr, 0, &value, err,
	    sizeof(err));
	if (r == MAP_TEMPFAIL) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "%s lookup failed: %s", what, err);
		return -1;
	}
	if (r == MAP_NOTFOUND || virtual_parse_id(value, id) < 0) {
		log_warn("recipient %s: %s in %s", addr, r == MAP_NOTFOUND ?
		    "no entry" : "bad value", what);
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mail system configuration error");
		return -1;
	}
	return 0;
}

/* The account a virtual mailbox is written as: 0, or -1 with res. */
static int
vmb_user(struct deliver_ctx *ctx, const char *addr, const char *value,
    struct local_user *u, char *box, size_t boxlen,
    struct deliver_result *res)
{
	const char	*why;
	long		 uid, gid;

	if (vmb_id(ctx, &ctx->virt_uid, "virtual_uid_maps", addr, &uid,
	    res) < 0 ||
	    vmb_id(ctx, &ctx->virt_gid, "virtual_gid_maps", addr, &gid,
	    res) < 0)
		return -1;
	if (uid < ctx->par->virtual_minimum_uid || gid == 0) {
		log_warn("recipient %s: bad %s %ld: below virtual_minimum_uid "
		    "%d, or group 0", addr, uid < ctx->par->virtual_minimum_uid ?
		    "uid" : "gid", uid < ctx->par->virtual_minimum_uid ? uid :
		    gid, ctx->par->virtual_minimum_uid);
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mail system configuration error");
		return -1;
	}
	memset(u, 0, sizeof(*u));
	if (virtual_mailbox_path(ctx->par->virtual_mailbox_base, value,
	    u->home, box, boxlen < sizeof(u->home) ? boxlen :
	    sizeof(u->home), &why) < 0) {
		log_warn("recipient %s: virtual mailbox %s: %s", addr, value,
		    why);
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mail system configuration error");
		return -1;
	}
	/* the batch tells mailboxes apart by home and box, not by name */
	snprintf(u->name, sizeof(u->name), "%.200s", box);
	u->uid = (uid_t)uid;
	u->gid = (gid_t)gid;
	return 0;
}

/* An mbox file: appended to by a helper with u's ids (local_command.c),
 * locked as a spool mailbox is. */
static void
vmb_mbox(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    const char *rcpt, const struct local_user *u, const char *path,
    struct deliver_result *res)
{
	struct lx_target	 t;
	struct lx_owner		 owner;

	memset(&t, 0, sizeof(t));
	memset(&owner, 0, sizeof(owner));
	t.kind = LX_MAILBOX;
	t.text = (char *)path;
	t.ext = t.errors_to = (char *)"";
	t.owner = &owner;
	owner.uid = u->uid;
	owner.gid = u->gid;
	snprintf(owner.name, sizeof(owner.name), "%s", u->name);
	snprintf(owner.home, sizeof(owner.home), "%s", u->home);
	local_command_deliver(ctx, msg, rcpt, &t, res);
}

void
virtual_mailbox_deliver(struct deliver_ctx *ctx, const struct deliver_msg *msg,
    int j, const char *addr, struct deliver_result *res, int record)
{
	const char		*rcpt = msg->req->rcpt[j], *value;
	char			 box[DELIVER_PATH_SIZE], path[DELIVER_PATH_SIZE];
	char			 copy[DELIVER_PATH_SIZE];
	struct local_user	 u;
	size_t			 len;
	int			 r;

	path[0] = '\0';
	r = virtual_mailbox_find(&ctx->virt, addr, &value);
	if (r == MAP_TEMPFAIL)
		deliver_result_set(res, DELIVER_DEFER, "4.3.0",
		    "virtual_mailbox_maps lookup failed: %s", ctx->virt.err);
	else if (r == MAP_NOTFOUND)
		deliver_result_set(res, DELIVER_BOUNCE, "5.1.1",
		    "user unknown in virtual mailbox table: %s", addr);
	else if (strlcpy(copy, value, sizeof(copy)) >= sizeof(copy)) {
		deliver_result_set(res, DELIVER_DEFER, "4.3.5",
		    "mail system configuration error");
		log_warn("recipient %s: virtual mailbox path too long", addr);
	} else if (vmb_user(ctx, addr, copy, &u, box, sizeof(box), res) == 0) {
		/* fits: virtual_mailbox_path() checked */
		strlcpy(path, u.home, sizeof(path));
		strlcat(path, "/", sizeof(path));
		strlcat(path, box, sizeof(path));
		len = strlen(box);
		if (box[len - 1] == '/') {
			local_collect(ctx, msg, j, &u, box, 1, res, record);
			return;
		}
		vmb_mbox(ctx, msg, rcpt, &u, path, res);
	}
	deliver_log(msg->req->id, rcpt, "virtual", path[0] != '\0' ? path :
	    NULL, res);
}
