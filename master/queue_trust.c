/*
 * queue_trust - check, as root, that only root controls the path to the
 * queue directory (see queue_trust.h).  Every directory of its real path is
 * judged, from / down, through descriptors opened one from the other (so a
 * symbolic link is judged by its target, and where the link is, too), and
 * any doubt, including a stat that fails, refuses.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
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

const char *
queue_trust_why_above(const struct stat *st)
{
	/* Others may add names to a sticky directory (/tmp, /var/tmp), but
	 * not rename or remove root's: a root-owned child stays where it is. */
	if (S_ISDIR(st->st_mode) && st->st_uid == 0 &&
	    (st->st_mode & S_ISVTX))
		return NULL;
	return queue_trust_why(st);
}

static int
queue_trust_verdict(const struct stat *st, const char *shown, int strict)
{
	const char	*why;

	why = strict ? queue_trust_why(st) : queue_trust_why_above(st);
	if (why == NULL)
		return 0;
	log_error("unsafe queue directory: %s is %s (owner uid %lu, mode %04o); "
	    "every directory on the way to the queue must belong to root and "
	    "be writable by root only (above the queue's parent, sticky will "
	    "do)", shown, why, (unsigned long)st->st_uid,
	    (unsigned)(st->st_mode & 07777));
	return -1;
}

/* Judge name (relative to dirfd) strictly; shown names it in the message. */
static int
queue_trust_one(int dirfd, const char *name, const char *shown)
{
	struct stat	 st;

	if (fstatat(dirfd, name, &st, 0) == -1) {
		log_error("queue directory check: %s: %s", shown,
		    strerror(errno));
		return -1;
	}
	return queue_trust_verdict(&st, shown, 1);
}

/*
 * Every directory of real (absolute, without links: realpath's), from /
 * down, each opened from the one above without following links so that
 * what is judged is what is on the path; the last nstrict strictly.
 */
static int
queue_trust_walk(const char *real, int nstrict)
{
	char		 shown[PATH_MAX];
	const char	*p, *e;
	struct stat	 st;
	int		 fd, nfd, n = 0, i = 0, rc = 0;
	size_t		 len;

	for (p = real; *p != '\0'; p++)
		if (*p == '/' && p[1] != '/' && p[1] != '\0')
			n++;
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 ||
	    queue_trust_verdict(&st, "/", n < nstrict) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (p = real; rc == 0 && *p != '\0'; p = e) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = p + strcspn(p, "/");
		len = (size_t)(e - real);
		if (len >= sizeof(shown))
			len = sizeof(shown) - 1;
		memcpy(shown, real, len);
		shown[len] = '\0';
		i++;
		/* (shown ends with this component: open it by that name.) */
		nfd = openat(fd, shown + (p - real),
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1 || fstat(nfd, &st) == -1) {
			log_error("queue directory check: %s: %s", shown,
			    strerror(errno));
			rc = -1;
		} else
			rc = queue_trust_verdict(&st, shown, n - i < nstrict);
		close(fd);
		fd = nfd;
	}
	if (fd != -1)
		close(fd);
	return rc;
}

/* The real path of dir, then the walk. */
static int
queue_trust_real(const char *dir, int nstrict)
{
	char	 real[PATH_MAX];

	if (realpath(dir, real) == NULL) {
		log_error("queue directory check: %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return queue_trust_walk(real, nstrict);
}

/*
 * Whoever may write where a link on the written path is may point it
 * elsewhere: the directory holding each link is judged strictly.
 */
static int
queue_trust_links(const char *queue_dir)
{
	char		 prefix[PATH_MAX], copy[PATH_MAX], *dir;
	struct stat	 lst;
	size_t		 len;
	const char	*p;

	if (strlen(queue_dir) >= sizeof(prefix)) {
		log_error("queue directory %s: path too long", queue_dir);
		return -1;
	}
	for (p = queue_dir; *p != '\0'; p++) {
		if (p[1] != '/' && p[1] != '\0')
			continue;
		len = (size_t)(p - queue_dir) + 1;
		memcpy(prefix, queue_dir, len);
		prefix[len] = '\0';
		if (lstat(prefix, &lst) == -1 || !S_ISLNK(lst.st_mode))
			continue;	/* (the walk judges what is missing) */
		memcpy(copy, prefix, len + 1);
		dir = dirname(copy);
		if (queue_trust_one(AT_FDCWD, dir, dir) == -1)
			return -1;
	}
	return 0;
}

int
queue_trust_check(const char *queue_dir)
{
	char		 copy[PATH_MAX];
	struct stat	 lst;

	if (!privs_is_root())
		return 0;
	if (queue_trust_links(queue_dir) == -1)
		return -1;
	if (lstat(queue_dir, &lst) == -1) {
		if (errno != ENOENT) {
			log_error("queue directory %s: %s", queue_dir,
			    strerror(errno));
			return -1;
		}
		/* The master will create it, as root, mode 0755: only where
		 * it will be created matters. */
		if (strlcpy(copy, queue_dir, sizeof(copy)) >= sizeof(copy)) {
			log_error("queue directory %s: path too long",
			    queue_dir);
			return -1;
		}
		return queue_trust_real(dirname(copy), 1);
	}
	return queue_trust_real(queue_dir, 2);
}

int
queue_trust_mark(void)
{
	char		 id[DAEMON_QUEUE_ID_SIZE];
	struct stat	 st;

	if (stat(".", &st) == -1) {
		log_error("queue directory: %s", strerror(errno));
		return -1;
	}
	daemon_queue_id(id, &st);
	if (setenv(DAEMON_QUEUE_ID_ENV, id, 1) == -1) {
		log_error("setenv: %s", strerror(errno));
		return -1;
	}
	return 0;
}
