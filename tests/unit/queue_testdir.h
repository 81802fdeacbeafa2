/*
 * queue_testdir - shared by the queue unit tests: each test runs in a fresh
 * mkdtemp queue directory (setup_dir, teardown_dir), and put_file() writes
 * raw bytes under a queue name, as a crash or an old version would leave
 * them.  Static functions: include it once, from the test program.
 */
#ifndef TERN_QUEUE_TESTDIR_H
#define TERN_QUEUE_TESTDIR_H

struct qdir {
	char	 dir[64];
	char	 oldcwd[4096];
};

static void	queue_testdir_reset(void);	/* the program's own state */

static int
setup_dir(void **state)
{
	struct qdir	*q = calloc(1, sizeof(*q));

	assert_non_null(q);
	assert_non_null(getcwd(q->oldcwd, sizeof(q->oldcwd)));
	strcpy(q->dir, "/tmp/tern-queue-XXXXXX");
	assert_non_null(mkdtemp(q->dir));
	assert_int_equal(chdir(q->dir), 0);
	assert_int_equal(queue_dirs_create(), 0);
	queue_testdir_reset();
	*state = q;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown_dir(void **state)
{
	struct qdir	*q = *state;

	assert_int_equal(chdir(q->oldcwd), 0);
	nftw(q->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(q);
	return 0;
}

/* Write text[0..len) as <dir>/<id>; its descriptor, open O_RDWR.  (Not
 * every test program needs it.) */
static int __attribute__((unused))
put_file(enum queue_dir d, const char *id, const char *text, size_t len)
{
	char	 path[QUEUE_PATH_SIZE];
	int	 fd;

	assert_int_equal(queue_path(path, sizeof(path), d, id), 0);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	return fd;
}

#endif
