/*
 * local_world - the real answers behind local_expand's callbacks: alias_maps
 * (ctx->aliases), ~/.forward files, :include: files and our domains.  Every
 * file a user could control is opened with that user's effective ids
 * (privs_become) and checked on its descriptor: a .forward counts only if
 * it is a regular file owned by its account and not group or world
 * writable, an :include: file only if it is a regular file that is not
 * world writable; a refused .forward is logged and treated as absent (for
 * the rest of the batch: local_memo.c).  A
 * table or file that cannot be read now is a temporary failure.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "log.h"
#include "map.h"
#include "privs.h"
#include "deliver.h"
#include "local_expand.h"

#define WORLD_FILE_MAX	MAP_VALUE_MAX	/* bytes of a .forward or include */

static int
world_alias(void *arg, const char *key, const char **value, const char **why)
{
	struct deliver_ctx	*ctx = arg;
	int			 r;

	if (ctx->aliases.count == 0)
		return 0;
	r = map_list_lookup(&ctx->aliases, key, value, ctx->lx_err,
	    sizeof(ctx->lx_err));
	*why = ctx->lx_err;
	return r == MAP_FOUND ? 1 : r == MAP_NOTFOUND ? 0 : -1;
}

/* Read fd (at most WORLD_FILE_MAX bytes, *size of them read), '#'
 * comment lines dropped and NULs refused; NULL with *why. */
static char *
world_read(int fd, size_t *size, const char **why)
{
	struct buf	 b;
	char		 chunk[4096], *line, *end, *out;
	size_t		 olen = 0;
	ssize_t		 n;

	buf_init(&b, WORLD_FILE_MAX);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || memchr(chunk, '\0', (size_t)n) != NULL ||
		    buf_append(&b, chunk, (size_t)n) < 0) {
			*why = n < 0 ? strerror(errno) :
			    "too long or holds a NUL";
			buf_free(&b);
			return NULL;
		}
	}
	*size = b.len;
	out = xmalloc(b.len + 1);
	out[0] = '\0';
	for (line = b.data; line != NULL && *line != '\0'; line = end) {
		end = line + strcspn(line, "\n");
		if (*end == '\n')
			end++;
		if (line[strspn(line, " \t")] != '#') {
			memcpy(out + olen, line, (size_t)(end - line));
			olen += (size_t)(end - line);
		}
	}
	out[olen] = '\0';
	buf_free(&b);
	return out;
}

/* Open path read-only with the effective ids of uid/gid. */
static int
world_open_as(const char *path, uid_t uid, gid_t gid)
{
	int	 fd, saved;

	if (privs_become(uid, gid) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	saved = errno;
	privs_restore();
	errno = saved;
	return fd;
}

static void
world_owner_of(const struct local_user *u, struct lx_owner *o)
{
	memset(o, 0, sizeof(*o));
	o->uid = u->uid;
	o->gid = u->gid;
	strlcpy(o->name, u->name, sizeof(o->name));
	strlcpy(o->home, u->home, sizeof(o->home));
}

static int
world_forward(void *arg, const char *name, const char *ext, char **text,
    struct lx_owner *owner, size_t *size, const char **why)
{
	struct deliver_ctx	*ctx = arg;
	struct local_user	 u;
	struct stat		 st;
	char			 path[DELIVER_PATH_SIZE];
	char			 login[LOCAL_USER_NAME_SIZE];
	int			 fd, r;

	/* Only a name that could be a login reaches the name service. */
	if (addr_local_user(name, login, sizeof(login)) < 0 ||
	    (r = local_memo_getpw(login, &u, ctx->memo)) == 0)
		return 0;
	if (r < 0) {
		*why = strerror(errno);
		return -1;
	}
	/* .forward+tag: ext is only ever set with a delimiter */
	if ((ext != NULL ? snprintf(path, sizeof(path), "%s/.forward%c%s",
	    u.home, ctx->cfg->recipient_delimiter[0], ext) :
	    snprintf(path, sizeof(path), "%s/.forward", u.home)) >=
	    (int)sizeof(path))
		return 0;
	if (ext == NULL && local_memo_no_forward(ctx->memo, login))
		return 0;
	if ((fd = world_open_as(path, u.uid, u.gid)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) {
			if (ext == NULL)
				local_memo_set_no_forward(ctx->memo, login);
			return 0;
		}
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != u.uid || (st.st_mode & 022) != 0) {
		log_warn("%s: ignored: not a regular file owned by %s and "
		    "writable only by it", path, u.name);
		close(fd);
		/* absent for the rest of the batch: logged once, not at
		 * every visit of the account */
		if (ext == NULL)
			local_memo_set_no_forward(ctx->memo, login);
		return 0;
	}
	*text = world_read(fd, size, why);
	close(fd);
	if (*text == NULL)
		return -1;
	world_owner_of(&u, owner);
	return 1;
}

/* Open include file path as as; its identity and owner's ids in *f,
 * from the descriptor (no second look at the path, which may have
 * changed).  Nothing more is asked until the file is to be read: a file
 * expanded already is only opened. */
static int
world_include(void *arg, const char *path, const struct lx_owner *as,
    struct lx_file *f, const char **why)
{
	struct stat	 st;
	int		 fd;

	(void)arg;
	if ((fd = world_open_as(path, as->uid, as->gid)) < 0) {
		if (errno == ENOENT)
			return 0;
		*why = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 002) != 0) {
		*why = "not a regular file, or world writable";
		close(fd);
		return -1;
	}
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->owner.uid = st.st_uid;
	f->owner.gid = st.st_gid;
	return 1;
}

/* The owner of an include file: its account's, or, without one, its
 * ids with "/" as home. */
static void
world_include_owner(struct lx_owner *o)
{
	struct passwd	 pw, *found = NULL;
	char		 pwbuf[16 * 1024];

	snprintf(o->name, sizeof(o->name), "#%ld", (long)o->uid);
	snprintf(o->home, sizeof(o->home), "/");
	if (getpwuid_r(o->uid, &pw, pwbuf, sizeof(pwbuf), &found) == 0 &&
	    found != NULL) {
		o->gid = pw.pw_gid;
		strlcpy(o->name, pw.pw_name, sizeof(o->name));
		strlcpy(o->home, pw.pw_dir, sizeof(o->home));
	}
}

static int
world_include_read(void *arg, struct lx_file *f, char **text,
    const char **why)
{
	(void)arg;
	if (text != NULL) {
		*text = world_read(f->fd, &f->size, why);
		world_include_owner(&f->owner);
	}
	close(f->fd);
	f->fd = -1;
	return text == NULL || *text != NULL ? 1 : -1;
}

static int
world_local(void *arg, const char *addr, char *name, size_t len)
{
	struct deliver_ctx	*ctx = arg;
	const char		*domain, *why;
	char			 local[ADDR_LOCAL_MAX + 1];

	if (strchr(addr, '@') == NULL) {
		if (strlen(addr) >= sizeof(local) || addr[0] == '\0')
			return -1;
		addr_lower(addr, name, len);
		return 1;
	}
	if (!addr_valid_mailbox(addr, strlen(addr), &why) ||
	    (domain = addr_domain(addr)) == NULL)
		return -1;
	if (!config_is_local_domain(ctx->cfg, domain))
		return 0;
	if (addr_local_part(addr, local, sizeof(local)) < 0 ||
	    strlen(local) >= len)
		return -1;
	addr_lower(local, name, len);
	return 1;
}

void
local_world_ops(struct deliver_ctx *ctx, struct lx_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->alias = world_alias;
	ops->forward = world_forward;
	ops->include = world_include;
	ops->include_read = world_include_read;
	ops->local = world_local;
	ops->arg = ctx;
	ops->default_privs = &ctx->default_privs;
	ops->delimiter = ctx->cfg->recipient_delimiter[0];
}

/* Look up default_privs: 0, or -1 if there is no such user. */
int
local_world_init(struct deliver_ctx *ctx)
{
	struct local_user	 u;
	char			 err[MAP_ERR_MAX];

	if (local_recipient_getpw(ctx->par->default_privs, &u, NULL) <= 0 ||
	    u.uid == 0)
		return -1;
	world_owner_of(&u, &ctx->default_privs);
	if (map_list_open(&ctx->aliases, ctx->cfg->alias_maps.item,
	    ctx->cfg->alias_maps.count, err, sizeof(err)) < 0)
		log_fatal("alias_maps: %s", err);
	return 0;
}
