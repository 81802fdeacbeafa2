/*
 * local_expand - what a local recipient's mail turns into: the aliases
 * (alias_maps), ~/.forward files, :include: files and address extensions
 * (recipient_delimiter) of Postfix's local(8), expanded into a flat list
 * of targets -- mailboxes of accounts, commands, files, remote addresses.
 * It is pure: every table, file and account is asked through the
 * callbacks in struct lx_ops, so the rules are unit-tested without a
 * system, and deliver (local.c) supplies the real ones.
 *
 * Rules.  A name (a lower-cased local part) is looked up in the aliases,
 * "user+tag" before "user"; found, each target of its value is expanded
 * with the privileges of default_privs (the aliases file is root's, its
 * commands must not be).  Not found, the name is an account: its
 * .forward ("forward+tag" first) is read if the callback finds one owned
 * by the account, and its targets run as the account; without one the
 * account's mailbox is the target.  An address in one of our domains is
 * expanded as its name; any other is a remote target.  A name met again
 * below itself (an alias or .forward naming itself, or a -> b -> a) is
 * its account's mailbox, not expanded again, so no expansion loops.  An
 * :include: file runs its commands and files as its owner when that is
 * not root, else with the privileges of whoever named it.  "postmaster"
 * and "mailer-daemon" without an alias are "root".  Equal targets are
 * made once.  An :include: file already expanded in this expansion with
 * the same rights (and owner-NAME) is skipped, as Postfix's local(8)
 * skips it, so files naming the next one many times are read once each,
 * not exponentially often; "the same file" is its identity (device and
 * inode of the descriptor opened), so "/a/f", "//a/f" and "/a/./f" are
 * one file, read once (and a spelling met again is not even opened).  Bounds: LX_DEPTH_MAX levels, beyond which the
 * expansion fails for good (LX_BOUNCE, 5.4.6, a loop), as it does on a
 * target that cannot be parsed (5.3.5); the bound of the caller's target
 * list (local_expansion_limit for deliver, tern's own), and LX_WORK_MAX
 * units of work, beyond either of which it defers (LX_DEFER, 4.6.0, as
 * Postfix defers a virtual alias expansion over its limit: the
 * administrator may raise the limit, and no mail is lost meanwhile).  A
 * name or target visited is one unit; a file opened (.forward or
 * :include:, skipped or not) LX_OPEN_COST more, and each LX_READ_UNIT
 * bytes read one more, so the bound holds the time of an expansion near
 * a second whatever mix of names, targets and files it is made of; as the
 * kernel's cost of an open is not the same for every path (a walk through
 * forty symlinks costs a thousand times more), the expansion also defers
 * (4.6.0) past LX_CPU_MAX_MS of CPU time, looked at every LX_CPU_CHECK
 * units and every file opened.  A
 * table or file that cannot be read now is LX_DEFER, never a bounce.

 * Owners (aliases(5), sendmail's and Postfix's owner-NAME): when the
 * aliases also hold "owner-NAME" for an alias NAME, every target below
 * NAME carries that owner (the nearest such alias above it wins), and
 * deliver reports the failures of those targets to the owner instead of
 * the message's sender (local.c).
 */
#ifndef TERN_LOCAL_EXPAND_H
#define TERN_LOCAL_EXPAND_H

#include <stddef.h>
#include <sys/types.h>

#include "local_targets.h"

#define LX_DEPTH_MAX	16	/* nested aliases, includes, forwards */
#define LX_WORK_MAX	1000000	/* units of work of one expansion */
#define LX_OPEN_COST	20	/* units of a file opened */
#define LX_READ_UNIT	64	/* bytes read per unit */
#define LX_SEEN_MAX	(3 * LX_WORK_MAX / LX_OPEN_COST)	/* include
				   files remembered as expanded, by identity
				   and by spelling (as named and as
				   lx_spelling's): every file opened can be,
				   see lx_include() */
#define LX_CPU_MAX_MS	2000	/* CPU time of one expansion, whatever
				   its units: a path walk through many
				   symlinks costs the kernel far more than
				   LX_OPEN_COST */
#define LX_CPU_CHECK	256	/* units between two looks at the clock
				   (and at every file opened) */
#define LX_WHY_MAX	256
/* The reasons of a 4.6.0 deferral, which deliver's warning names the
 * bound of (local.c) */
#define LX_WHY_TARGETS	"alias expansion has too many targets"
#define LX_WHY_WORK	"alias expansion visits too many targets"
#define LX_WHY_CPU	"alias expansion takes too much CPU time"

/* An :include: file opened by lx_ops.include and not yet read. */
struct lx_file {
	dev_t		 dev;	/* its identity, from the open descriptor */
	ino_t		 ino;
	struct lx_owner	 owner;	/* its owner: uid and gid once opened,
				   the rest once read */
	size_t		 size;	/* bytes read (set by include_read) */
	int		 fd;	/* the callbacks' */
};

enum lx_status { LX_OK, LX_DEFER, LX_BOUNCE };

/* The world, as the expansion sees it.  Each returns 1 (found), 0 (not
 * found) or -1 (could not tell now: *why set).  Text returned in *text is
 * malloc'ed and freed by the expansion. */
struct lx_ops {
	/* key in alias_maps: *value valid until the next call */
	int	(*alias)(void *arg, const char *key, const char **value,
		    const char **why);
	/* the .forward (ext NULL) or .forward<delim>ext of account name, if
	 * it is one to obey (owned by the account, not group or world
	 * writable); *owner the account, *size the bytes read */
	int	(*forward)(void *arg, const char *name, const char *ext,
		    char **text, struct lx_owner *owner, size_t *size,
		    const char **why);
	/* open an :include: file with as's rights: its identity and
	 * owner's ids in *f, which include_read must then be given */
	int	(*include)(void *arg, const char *path,
		    const struct lx_owner *as, struct lx_file *f,
		    const char **why);
	/* read the file include opened into *text (f->size: the bytes
	 * read; f->owner complete) and close it; text NULL: only close
	 * it.  1, or -1 */
	int	(*include_read)(void *arg, struct lx_file *f, char **text,
		    const char **why);
	/* address in one of our domains: 1 and its lower-cased local part
	 * in name[0..len); 0 remote; -1 not an address (a bounce) */
	int	(*local)(void *arg, const char *addr, char *name, size_t len);
	void	*arg;
	const struct lx_owner *default_privs;
	char	 delimiter;	/* recipient_delimiter, or '\0' */
	long	*work;		/* not NULL: the expansion's units of work
				   (or its CPU time as units, if more:
				   LX_WORK_MAX per LX_CPU_MAX_MS) are added
				   to it, whatever its outcome */
	/* the CPU time used so far, in ms (NULL: the thread's, from
	 * clock_gettime); a test's clock can be given instead */
	long	(*cpu_ms)(void *arg);
};

/* Expand local name (lower-cased local part) into *res, an empty list
 * (lx_result_init) whose bound is the expansion's.  LX_OK, or LX_DEFER /
 * LX_BOUNCE with why[0..LX_WHY_MAX) and *dsn set and res empty.  The
 * caller frees res (lx_result_free) in every case. */
enum lx_status local_expand(const struct lx_ops *, const char *name,
	    struct lx_result *res, char *why, const char **dsn);

/* Split name at the first delimiter (not its first byte): base in
 * base[0..len), the extension in ext[0..len) ("" if none).  0, or -1 if
 * it does not fit. */
int	local_expand_split(const char *name, char delimiter, char *base,
	    char *ext, size_t len);

#endif
