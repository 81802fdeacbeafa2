/*
 * ternpostdrop - store one drop file (drop_file.h) from standard input in
 * maildrop/ of the current directory, for the pickup service.  Installed
 * set-gid to the group that may write maildrop/ (terndrop; never set-uid),
 * and run by sendmail(1) with the queue directory as its current
 * directory.  Like Postfix's postdrop it does not parse what it stores:
 * pickup treats every drop file as hostile.  Its only job is to make the
 * file appear complete and durable, owned by the user who ran it (which
 * is how pickup knows the submitter): it writes maildrop/.<id>, fsyncs it,
 * makes it readable by the pickup service, renames it to maildrop/<id>
 * without replacing anything and fsyncs maildrop/.  Exit 0 only then; 75
 * (EX_TEMPFAIL) on any failure, with the temporary file removed.  It reads
 * no configuration and no environment, so the group it runs with reaches
 * only maildrop/ directories, wherever the caller points it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drop_file.h"
#include "io.h"
#include "queue.h"

#define POSTDROP_MAX	(256LL * 1024 * 1024)	/* bytes stored at most */
#define EX_TEMPFAIL	75

/* A set-gid process is not dumpable, and LeakSanitizer cannot inspect
 * such a process: it would fail every run of a SANITIZE=1 build.  This one
 * lives for one message; leak checks happen in the unit tests. */
#if defined(__SANITIZE_ADDRESS__)
#define POSTDROP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POSTDROP_ASAN 1
#endif
#endif
#ifdef POSTDROP_ASAN
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static int
postdrop_fail(const char *what, const char *tmp)
{
	int	 saved = errno;

	if (tmp != NULL)
		unlink(tmp);
	fprintf(stderr, "ternpostdrop: %s: %s\n", what, strerror(saved));
	return EX_TEMPFAIL;
}

/* Copy standard input to fd, at most POSTDROP_MAX bytes.  0 or -1. */
static int
postdrop_copy(int fd)
{
	char		 b[65536];
	long long	 total = 0;
	ssize_t		 n;

	for (;;) {
		n = read(STDIN_FILENO, b, sizeof(b));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		total += n;
		if (total > POSTDROP_MAX) {
			errno = EFBIG;
			return -1;
		}
		if (io_write_all(fd, b, (size_t)n) < 0)
			return -1;
	}
}

int
main(int argc, char **argv)
{
	char	 id[QUEUE_ID_SIZE], tmp[QUEUE_PATH_SIZE], final[QUEUE_PATH_SIZE];
	int	 fd;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: ternpostdrop < dropfile (run by sendmail)\n");
		return 64;
	}
	/* A signal must not leave us half done without our noticing; the
	 * temporary name is never taken by pickup, and it removes old ones. */
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	queue_id_new(id);
	snprintf(tmp, sizeof(tmp), "%s/.%s", DROP_DIR, id);
	snprintf(final, sizeof(final), "%s/%s", DROP_DIR, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return postdrop_fail("cannot create a file in maildrop/", NULL);
	/* pickup runs as the queue's owner, "others" to this file; the
	 * directory lets nobody but that owner and this group in. */
	if (postdrop_copy(fd) < 0 || fsync(fd) < 0 || fchmod(fd, 0604) < 0) {
		close(fd);
		return postdrop_fail("cannot write the message", tmp);
	}
	if (close(fd) < 0)
		return postdrop_fail("cannot write the message", tmp);
	if (queue_rename(tmp, final) < 0)
		return postdrop_fail("cannot commit the message", tmp);
	if (io_fsync_dir(DROP_DIR) < 0) {
		/* Withdraw: the caller will report a failure. */
		unlink(final);
		return postdrop_fail("cannot sync maildrop/", NULL);
	}
	return 0;
}
