/*
 * local_targets - the list of targets one recipient's expansion ends at
 * (local_expand.c: aliases, .forward, :include:; virtual_alias.c: a
 * virtual alias's final addresses): mailboxes, commands, files, remote
 * addresses, virtual mailboxes.  The list grows on the heap as targets
 * come and is bounded by the limit its owner sets (local_expansion_limit
 * for a local expansion, virtual_alias_expansion_limit for a virtual
 * one); each target is held once.  A target is small (pointers; the
 * owner's record only for a command or a file), so a list at its default
 * bound of 10000 takes about a MiB, not the 49 MiB of a fixed array of
 * whole records.  Whether a target is held already is answered by a hash
 * index kept beside the list (open addressing over the hash of kind and
 * text, at most half full, grown with the list and so bounded by it), so
 * adding n targets costs O(n), not the O(n^2) of a search of the list.
 * lx_result_free() releases everything and leaves an empty list that may
 * be used again.
 */
#ifndef TERN_LOCAL_TARGETS_H
#define TERN_LOCAL_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LX_NAME_MAX	256	/* a local name, extension included */

/* Whose rights a command or file target gets. */
struct lx_owner {
	uid_t	 uid;
	gid_t	 gid;
	char	 name[LX_NAME_MAX];	/* for USER and the log */
	char	 home[4096];		/* for HOME and the working directory */
};

/* LX_VIRTUAL is deliver's, never the local expansion's: a virtual mailbox
 * (text: its address) among a virtual alias's targets. */
enum lx_kind { LX_MAILBOX, LX_COMMAND, LX_FILE, LX_REMOTE, LX_VIRTUAL };

struct lx_target {
	enum lx_kind	 kind;
	char		*text;	/* mailbox: the account name; command (after
				   '|'); absolute path; remote address */
	char		*ext;	/* the extension, "" if none */
	char		*errors_to;	/* "owner-NAME" of the nearest alias
				   above with one, or "" */
	struct lx_owner	*owner;	/* command and file: whose rights; else
				   NULL */
};

/* A slot of the index: target[at - 1], whose lx_target_hash() is hash;
 * at 0: free. */
struct lx_slot {
	uint32_t	 hash;
	int		 at;
};

struct lx_result {
	struct lx_target *target;	/* [0..n) of [0..cap) */
	int		 n, cap;
	int		 max;		/* no more than this many */
	struct lx_slot	*slot;		/* the index: [0..nslot), a power
					   of two >= 2 * n, or NULL */
	int		 nslot;
};

/* An empty list of at most max (>= 1) targets. */
void	lx_result_init(struct lx_result *, int max);
/* Add a target (ext, errors_to NULL: ""; owner NULL: none).  1 if added,
 * 0 if the list holds it already (same kind and text, and, when both have
 * an owner, the same owner uid), -1 if the list is full.  The uid alone is
 * the owner's identity, as in Postfix's duplicate filter (a command keyed
 * by uid): two passwd entries of one uid are taken as two names of one
 * account, and the first owner met gives the run its gid, HOME and USER. */
int	lx_result_add(struct lx_result *, enum lx_kind, const char *text,
	    const char *ext, const char *errors_to, const struct lx_owner *);
/* Move every target of from into to, each once; from is left empty.  0,
 * or -1 if to filled up (what fitted stays in to, the rest is freed). */
int	lx_result_merge(struct lx_result *to, struct lx_result *from);
/* Free every target and the array; the list is empty (same max). */
void	lx_result_free(struct lx_result *);
/* The index's hash of a target (equal targets hash alike: the owner is
 * not part of it); for the tests, which make collisions with it. */
uint32_t lx_target_hash(enum lx_kind, const char *text);

#endif
