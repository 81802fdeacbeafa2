/*
 * Unit tests for master/queue_trust.c: the verdict on one directory's stat,
 * and, when the tests run as root, the whole check on real directories
 * (owner, group and world write bits of the queue directory and its parent,
 * a queue directory not made yet, a symbolic link in an open directory).
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "master/queue_trust.h"

static void
test_why(void **state)
{
	struct stat	 st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR | 0755;
	assert_null(queue_trust_why(&st));
	st.st_mode = S_IFDIR | 0700;
	assert_null(queue_trust_why(&st));
	st.st_mode = S_IFDIR | 01755;
	assert_null(queue_trust_why(&st));
	st.st_mode = S_IFDIR | 0775;
	assert_string_equal(queue_trust_why(&st), "group-writable");
	st.st_mode = S_IFDIR | 0757;
	assert_string_equal(queue_trust_why(&st), "world-writable");
	/* Sticky or not, others may create names in it. */
	st.st_mode = S_IFDIR | 01777;
	assert_string_equal(queue_trust_why(&st), "world-writable");
	st.st_mode = S_IFDIR | 0755;
	st.st_uid = 8;
	assert_string_equal(queue_trust_why(&st), "not owned by root");
	st.st_uid = 0;
	st.st_mode = S_IFREG | 0644;
	assert_string_equal(queue_trust_why(&st), "not a directory");
}

static void
test_why_above(void **state)
{
	struct stat	 st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR | 0755;
	assert_null(queue_trust_why_above(&st));
	/* /tmp: nobody else may move root's directories in it. */
	st.st_mode = S_IFDIR | 01777;
	assert_null(queue_trust_why_above(&st));
	st.st_mode = S_IFDIR | 0777;
	assert_string_equal(queue_trust_why_above(&st), "world-writable");
	st.st_mode = S_IFDIR | 0775;
	assert_string_equal(queue_trust_why_above(&st), "group-writable");
	st.st_mode = S_IFDIR | 01777;
	st.st_uid = 8;
	assert_string_equal(queue_trust_why_above(&st), "not owned by root");
}

struct tree {
	char	 top[64];	/* the parent, mode 0755 */
	char	 queue[96];	/* top/queue */
};

static int
tree_setup(void **state)
{
	struct tree	*t = calloc(1, sizeof(*t));

	assert_non_null(t);
	strcpy(t->top, "/tmp/tern-trust-XXXXXX");
	assert_non_null(mkdtemp(t->top));
	assert_int_equal(chmod(t->top, 0755), 0);
	snprintf(t->queue, sizeof(t->queue), "%s/queue", t->top);
	*state = t;
	return 0;
}

static int
tree_teardown(void **state)
{
	struct tree	*t = *state;
	char		 path[128];

	snprintf(path, sizeof(path), "%s/open/link", t->top);
	unlink(path);
	snprintf(path, sizeof(path), "%s/open", t->top);
	rmdir(path);
	rmdir(t->queue);
	rmdir(t->top);
	free(t);
	return 0;
}

static void
test_check_as_root(void **state)
{
	struct tree	*t = *state;
	char		 open_dir[128], link[160];

	if (geteuid() != 0)
		skip();
	/* Not made yet: its parent is what counts. */
	assert_int_equal(queue_trust_check(t->queue), 0);
	assert_int_equal(mkdir(t->queue, 0755), 0);
	assert_int_equal(queue_trust_check(t->queue), 0);

	assert_int_equal(chmod(t->queue, 0775), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(chmod(t->queue, 0757), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(chmod(t->queue, 0755), 0);
	assert_int_equal(chown(t->queue, 65534, 0), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(chown(t->queue, 0, 0), 0);
	assert_int_equal(queue_trust_check(t->queue), 0);

	/* The parent, whether the queue exists or not. */
	assert_int_equal(chmod(t->top, 0775), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(chmod(t->top, 0755), 0);
	assert_int_equal(chown(t->top, 65534, 0), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(rmdir(t->queue), 0);
	assert_int_equal(queue_trust_check(t->queue), -1);
	assert_int_equal(chown(t->top, 0, 0), 0);
	assert_int_equal(mkdir(t->queue, 0755), 0);

	/* A link to a good queue, from a directory anybody may write. */
	snprintf(open_dir, sizeof(open_dir), "%s/open", t->top);
	assert_int_equal(mkdir(open_dir, 0777), 0);
	assert_int_equal(chmod(open_dir, 01777), 0);
	snprintf(link, sizeof(link), "%s/link", open_dir);
	assert_int_equal(symlink(t->queue, link), 0);
	assert_int_equal(queue_trust_check(link), -1);
	assert_int_equal(chmod(open_dir, 0755), 0);
	assert_int_equal(queue_trust_check(link), 0);
}

/* A user who owns (or may write) any directory above could rename the
 * root-owned ones below it away and put their own in their place. */
static void
test_ancestors_as_root(void **state)
{
	struct tree	*t = *state;
	char		 mid[96], spool[128], queue[160];

	if (geteuid() != 0)
		skip();
	snprintf(mid, sizeof(mid), "%s/open", t->top);
	snprintf(spool, sizeof(spool), "%s/link", mid);
	snprintf(queue, sizeof(queue), "%s/queue", spool);
	assert_int_equal(mkdir(mid, 0755), 0);
	assert_int_equal(mkdir(spool, 0755), 0);
	assert_int_equal(queue_trust_check(queue), 0);
	assert_int_equal(mkdir(queue, 0755), 0);
	assert_int_equal(queue_trust_check(queue), 0);

	assert_int_equal(chown(mid, 65534, 0), 0);
	assert_int_equal(queue_trust_check(queue), -1);
	assert_int_equal(rmdir(queue), 0);
	assert_int_equal(queue_trust_check(queue), -1);
	assert_int_equal(mkdir(queue, 0755), 0);
	assert_int_equal(chown(mid, 0, 0), 0);
	assert_int_equal(chmod(mid, 0775), 0);
	assert_int_equal(queue_trust_check(queue), -1);
	/* Sticky above the parent will do, as /tmp does. */
	assert_int_equal(chmod(mid, 01777), 0);
	assert_int_equal(queue_trust_check(queue), 0);
	/* The queue's parent may not be sticky and open. */
	assert_int_equal(chmod(spool, 01777), 0);
	assert_int_equal(queue_trust_check(queue), -1);
	assert_int_equal(chmod(spool, 0755), 0);
	assert_int_equal(rmdir(queue), 0);
	assert_int_equal(rmdir(spool), 0);
	assert_int_equal(chmod(mid, 0755), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_why_above),
		cmocka_unit_test_setup_teardown(test_check_as_root, tree_setup,
		    tree_teardown),
		cmocka_unit_test_setup_teardown(test_ancestors_as_root,
		    tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
