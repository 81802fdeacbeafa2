/*
 * master_pid - lock and record the master's pid.
 *
 * The pid directory belongs to mail_owner, so the root master opens the file
 * without following a symbolic link and refuses anything but a plain file
 * with one link: it must never truncate or write a file it was pointed at.
 * The file is only truncated once the lock is ours, so a refused second
 * master leaves the running one's pid intact.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master_pid.h"

/* The pid recorded by the master that holds the lock, or 0. */
static long
master_pid_read(int fd)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || pid <= 0)
		return 0;
	return pid;
}

int
master_pid_lock(const char *path)
{
	struct stat	 st;
	long		 pid;
	int		 fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1) {
		log_error("pid file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_error("pid file %s: not a plain file with one link; "
		    "refusing to use it", path);
		close(fd);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK && (pid = master_pid_read(fd)) > 0)
			log_error("master already running, pid %ld", pid);
		else if (errno == EWOULDBLOCK)
			log_error("master already running (pid file %s is "
			    "locked)", path);
		else
			log_error("pid file %s: flock: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
master_pid_write(int fd, pid_t pid)
{
	char	 buf[32];
	int	 len;

	len = snprintf(buf, sizeof(buf), "%ld\n", (long)pid);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len) {
		log_error("cannot write pid file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
master_pid_remove(const char *path, int fd)
{
	/* Unlink while still holding the lock, so no new master can have
	 * taken the file over in between. */
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove pid file %s: %s", path,
		    strerror(errno));
	close(fd);
}
