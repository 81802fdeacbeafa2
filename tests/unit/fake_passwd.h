/*
 * A fake password database for the unit tests of recipient resolution
 * (test_local_recipient.c, test_deliver_user.c): a table of accounts, an
 * errno to fail every lookup with, and a record of the names asked, so a
 * test can see which names ever reached the database.
 */
#ifndef TERN_TEST_FAKE_PASSWD_H
#define TERN_TEST_FAKE_PASSWD_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "local_recipient.h"

struct fake_pw {
	const char	*name;
	uid_t		 uid;
	const char	*home;
};

struct fake_db {
	const struct fake_pw	*users;
	int			 fail;		/* errno to fail with, or 0 */
	int			 calls;
	char			 asked[256];	/* names asked, space-separated */
};

/* gid is uid + 1, so a test can tell them apart. */
static const struct fake_pw fake_users[] = {
	{ "root", 0, "/root" },
	{ "alice", 1001, "/home/alice" },
	{ "bob.smith", 1002, "/home/bob" },
	{ NULL, 0, NULL },
};

/* A local_recipient_lookup_fn; arg is a struct fake_db. */
static int
fake_lookup(const char *name, struct local_user *u, void *arg)
{
	struct fake_db		*db = arg;
	const struct fake_pw	*p;
	size_t			 n = strlen(db->asked);

	db->calls++;
	snprintf(db->asked + n, sizeof(db->asked) - n, "%s%s", n ? " " : "",
	    name);
	if (db->fail) {
		errno = db->fail;
		return -1;
	}
	for (p = db->users; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0) {
			snprintf(u->name, sizeof(u->name), "%s", p->name);
			snprintf(u->home, sizeof(u->home), "%s", p->home);
			u->uid = p->uid;
			u->gid = p->uid + 1;
			return 1;
		}
	return 0;
}

#endif
