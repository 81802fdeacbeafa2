/*
 * queue_trust - check, as root, that only root controls the path to the
 * queue directory (see queue_trust.h).  Every directory is judged through
 * stat of the directory itself (the queue directory and its real parent
 * through a descriptor of the queue directory, so a symbolic link is judged
 * by its target), and any doubt, including a stat that fails, refuses.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"
#include "queue_trust.h"

const char *
queue_trust_why(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != 0)
		return "not owned by root";
	if (st->st_mode & S_IWOTH)
		return "world-writable";
	if (st->st_mode & S_IWGRP)
		return "group-writable";
	return NULL;
}

/* Judge name (relative to dirfd); shown names it in the message. */
static int
queue_trust_one(int dirfd, const char *name, const char *shown)
{
	struct stat	 st;
	const char	*why;

	if (fstatat(dirfd, name, &st, 0) == -1) {
		log_error("queue directory check: %s: %s", shown,
		    strerror(errno));
		return -1;
	}
	if ((why = queue_trust_why(&st)) == NULL)
		return 0;
	log_error("unsafe queue directory: %s is %s (owner uid %lu, mode %04o); "
	    "the queue directory and its parent must belong to root and be "
	    "writable by root only", shown, why, (unsigned long)st.st_uid,
	    (unsigned)(st.st_mode & 07777));
	return -1;
}

/* The directory that holds the name queue_dir, as written. */
static int
queue_trust_container(const char *queue_dir)
{
	char	 copy[PATH_MAX], *dir;

	if (strlcpy(copy, queue_dir, sizeof(copy)) >= sizeof(copy)) {
		log_error("queue directory %s: path too long", queue_dir);
		return -1;
	}
	dir = dirname(copy);
	return queue_trust_one(AT_FDCWD, dir, dir);
}

int
queue_trust_check(const char *queue_dir)
{
	char		 shown[PATH_MAX + 8];
	struct stat	 lst;
	int		 fd, rc;

	if (!privs_is_root())
		return 0;
	if (lstat(queue_dir, &lst) == -1) {
		if (errno != ENOENT) {
			log_error("queue directory %s: %s", queue_dir,
			    strerror(errno));
			return -1;
		}
		/* The master will create it, as root, mode 0755: only where
		 * it will be created matters. */
		return queue_trust_container(queue_dir);
	}
	/* Whoever may write where the link is may point it elsewhere. */
	if (S_ISLNK(lst.st_mode) && queue_trust_container(queue_dir) == -1)
		return -1;
	if ((fd = open(queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_error("queue directory %s: %s", queue_dir, strerror(errno));
		return -1;
	}
	snprintf(shown, sizeof(shown), "%s/..", queue_dir);
	rc = queue_trust_one(fd, ".", queue_dir) == -1 ||
	    queue_trust_one(fd, "..", shown) == -1 ? -1 : 0;
	close(fd);
	return rc;
}
