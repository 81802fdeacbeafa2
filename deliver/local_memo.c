/*
 * local_memo - what one batch of deliveries has learnt about accounts: the
 * password database's answer for a login name, and that an account has no
 * ~/.forward.  Every message of a batch for the same user otherwise asked
 * both again (a read of the password file, and a switch to the user's ids
 * and back around a failed open: about twenty system calls per message).
 *
 * The memo lives for one batch only (deliver_batch() makes and frees
 * it), a few milliseconds, so it answers as the system did at the batch's
 * start: a .forward created meanwhile counts from the next batch on, as if
 * the batch had run a moment earlier.  Only answers are kept, never
 * failures: a lookup error or a .forward that could not be opened is asked
 * again.  A .forward that exists is not remembered (it is read each time),
 * except one refused (local_world.c): it is absent for the batch.
 * The memo is bounded (LOCAL_MEMO_MAX accounts); past that, lookups go to
 * the system as before.  A NULL memo (outside a batch) remembers nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "deliver.h"

#define LOCAL_MEMO_MAX	16

struct local_memo_entry {
	char			 login[LOCAL_USER_NAME_SIZE];
	int			 found;		/* getpw's answer, 1 or 0 */
	int			 no_forward;	/* ~/.forward is absent or
						   refused */
	struct local_user	 u;		/* when found */
};

struct local_memo {
	local_recipient_lookup_fn lookup;	/* the database */
	void			*arg;
	struct local_memo_entry	 e[LOCAL_MEMO_MAX];
	int			 n;
};

struct local_memo *
local_memo_new(local_recipient_lookup_fn lookup, void *arg)
{
	struct local_memo	*m = xmalloc(sizeof(*m));

	m->lookup = lookup;
	m->arg = arg;
	m->n = 0;
	return m;
}

void
local_memo_reset(struct local_memo *m)
{
	if (m != NULL)
		m->n = 0;
}

void
local_memo_free(struct local_memo *m)
{
	free(m);
}

static struct local_memo_entry *
memo_find(struct local_memo *m, const char *login)
{
	int	 i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < m->n; i++)
		if (strcmp(m->e[i].login, login) == 0)
			return &m->e[i];
	return NULL;
}

/* A local_recipient_lookup_fn (arg: the memo, or NULL for the password
 * database itself). */
int
local_memo_getpw(const char *name, struct local_user *u, void *arg)
{
	struct local_memo	*m = arg;
	struct local_memo_entry	*e;
	int			 r;

	if ((e = memo_find(m, name)) != NULL) {
		if (e->found)
			*u = e->u;
		return e->found;
	}
	r = m != NULL ? m->lookup(name, u, m->arg) :
	    local_recipient_getpw(name, u, NULL);
	if (r < 0 || m == NULL || m->n == LOCAL_MEMO_MAX ||
	    strlen(name) >= sizeof(e->login))
		return r;
	e = &m->e[m->n++];
	strlcpy(e->login, name, sizeof(e->login));
	e->found = r;
	e->no_forward = 0;
	if (r == 1)
		e->u = *u;
	return r;
}

int
local_memo_no_forward(struct local_memo *m, const char *login)
{
	struct local_memo_entry	*e = memo_find(m, login);

	return e != NULL && e->no_forward;
}

void
local_memo_set_no_forward(struct local_memo *m, const char *login)
{
	struct local_memo_entry	*e = memo_find(m, login);

	if (e != NULL)
		e->no_forward = 1;
}
