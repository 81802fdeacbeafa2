/*
 * service_listen - prepare the queue directory and open the listening
 * sockets of the services.
 *
 * This runs as root before any daemon exists, so it is careful with paths
 * that an unprivileged daemon could have touched since the last run: the
 * queue subdirectories and private/ belong to mail_owner, so ownership and
 * modes are changed through descriptors opened without following symbolic
 * links, never through a path that could be swapped in between.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drop_file.h"
#include "log.h"
#include "privs.h"
#include "queue.h"
#include "service_listen.h"

/* Everything below the queue directory that the daemons share. */
static const char *const queue_subdirs[] = {
	"tmp", "incoming", "active", "deferred", "hold", "corrupt", "free",
	"private", "pid", "public"
};

/* public/ holds the sockets every local user may connect to (showq): others
 * may pass through it to a socket they know the name of, not list it. */
#define PUBLIC_DIR		"public/"
#define PUBLIC_DIR_MODE		0711
#define PUBLIC_SOCKET_MODE	0666

static mode_t
queue_dir_mode(const char *dir)
{
	return strcmp(dir, "public") == 0 ? PUBLIC_DIR_MODE : 0700;
}

/* A unix socket's mode: world-connectable in public/, else 0600. */
static mode_t
service_socket_mode(const struct service *s)
{
	return strncmp(s->address, PUBLIC_DIR, strlen(PUBLIC_DIR)) == 0 ?
	    PUBLIC_SOCKET_MODE : 0600;
}

/* Give one queue subdirectory to uid/gid, mode 0700 (public/: 0711). */
static int
queue_dir_own(const char *dir, uid_t uid, gid_t gid)
{
	mode_t		 mode = queue_dir_mode(dir);
	struct stat	 st;
	int		 fd, rc = -1;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_error("queue directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		log_error("queue directory %s: %s", dir, strerror(errno));
	else if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1)
		log_error("queue directory %s: cannot change owner: %s", dir,
		    strerror(errno));
	else if ((st.st_mode & 07777) != mode && fchmod(fd, mode) == -1)
		log_error("queue directory %s: cannot change mode: %s", dir,
		    strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

int
service_listen_chdir(const char *queue_dir)
{
	if (mkdir(queue_dir, 0755) == -1 && errno != EEXIST) {
		log_error("cannot create queue directory %s: %s", queue_dir,
		    strerror(errno));
		return -1;
	}
	if (chdir(queue_dir) == -1) {
		log_error("queue directory %s: %s", queue_dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* maildrop/: owner uid, group drop_group (the set-gid group of
 * ternpostdrop), mode 1770: that group may add files, the sticky bit lets
 * nobody but a file's owner and the directory's owner (pickup) remove or
 * rename one, and others may not even enter.  Without the group (not
 * created yet) the directory is uid's own, and only root and the mail
 * owner can submit. */
static int
queue_maildrop_own(uid_t uid, gid_t gid, const char *drop_group)
{
	struct group	*gr;
	struct stat	 st;
	int		 fd, rc = -1;

	if (mkdir(DROP_DIR, 01770) == -1 && errno != EEXIST) {
		log_error("cannot create queue directory %s: %s", DROP_DIR,
		    strerror(errno));
		return -1;
	}
	if (privs_is_root()) {
		if ((gr = getgrnam(drop_group)) != NULL)
			gid = gr->gr_gid;
		else
			log_warn("setgid_group \"%s\" does not exist: only root "
			    "and the mail owner can submit local mail",
			    drop_group);
	}
	fd = open(DROP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_error("queue directory %s: %s", DROP_DIR, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		log_error("queue directory %s: %s", DROP_DIR, strerror(errno));
	else if (privs_is_root() && (st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) == -1)
		log_error("queue directory %s: cannot change owner: %s",
		    DROP_DIR, strerror(errno));
	else if ((st.st_mode & 07777) != 01770 && fchmod(fd, 01770) == -1)
		log_error("queue directory %s: cannot change mode: %s",
		    DROP_DIR, strerror(errno));
	else
		rc = 0;
	close(fd);
	return rc;
}

int
service_listen_queue(uid_t uid, gid_t gid, const char *drop_group)
{
	size_t	 i;

	if (queue_dirs_create() == -1) {
		log_error("cannot create the queue directories: %s",
		    strerror(errno));
		return -1;
	}
	/* queue_dirs_create() knows the mail directories; the master adds
	 * the ones only it and the sockets need. */
	for (i = 0; i < sizeof(queue_subdirs) / sizeof(queue_subdirs[0]); i++) {
		if (mkdir(queue_subdirs[i], 0700) == -1 && errno != EEXIST) {
			log_error("cannot create queue directory %s: %s",
			    queue_subdirs[i], strerror(errno));
			return -1;
		}
	}
	if (queue_maildrop_own(uid, gid, drop_group) == -1)
		return -1;
	/* Not root: everything already belongs to whoever runs us. */
	if (!privs_is_root())
		return 0;
	/* pid/ stays root's: only the master writes there, and a compromised
	 * mail_owner process must not be able to plant or swap its pid file. */
	for (i = 0; i < sizeof(queue_subdirs) / sizeof(queue_subdirs[0]); i++)
		if (queue_dir_own(queue_subdirs[i],
		    strcmp(queue_subdirs[i], "pid") == 0 ? 0 : uid,
		    strcmp(queue_subdirs[i], "pid") == 0 ? 0 : gid) == -1)
			return -1;
	return 0;
}

/* A bound TCP socket for sa (not listening yet); -1 with errno and *what
 * set on failure.  reuseport: SO_REUSEPORT, so that more sockets of the
 * same (root) user can join it on the address, each with its own accept
 * queue (service_listen_join). */
static int
inet_socket(const struct sockaddr *sa, socklen_t salen, int v6only,
    int reuseport, const char **what)
{
	int	 fd, on = 1, saved;

	*what = "socket";
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd == -1)
		return -1;
	/* Restart promptly even with old connections in TIME_WAIT. */
	*what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1)
		goto fail;
	/* A v6 address means only v6; "*" is both (v4 clients arrive as
	 * ::ffff:a.b.c.d, which smtpd logs as a.b.c.d). */
	if (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		goto fail;
	*what = "bind";
	if (bind(fd, sa, salen) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * One listening socket for one address, in a group of SO_REUSEPORT sockets
 * (service_listen_join); -1 with errno and *what set on failure.  With
 * SO_REUSEPORT set, a bind would also succeed where another program of the
 * same user (or another tern) already listens with it, and the two would
 * silently share the connections: so the address is first bound without
 * it, which fails (EADDRINUSE) whenever anyone listens there, as a plain
 * bind always did.
 */
static int
inet_bind(const struct addrinfo *ai, int v6only, const char **what)
{
	int	 fd, saved;

	if ((fd = inet_socket(ai->ai_addr, ai->ai_addrlen, v6only, 0,
	    what)) == -1)
		return -1;
	close(fd);
	if ((fd = inet_socket(ai->ai_addr, ai->ai_addrlen, v6only, 1,
	    what)) == -1)
		return -1;
	*what = "listen";
	if (listen(fd, SERVICE_LISTEN_BACKLOG) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* "*:port": every IPv6 and IPv4 address on one dual-stack socket, or
 * every IPv4 address where the kernel has no IPv6.  -1 with *err. */
static int
listen_any(const char *port, const char **what, int *err)
{
	struct addrinfo	 hints, *res;
	int		 fd = -1, family;

	for (family = AF_INET6; fd == -1; family = AF_INET) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if (getaddrinfo(NULL, port, &hints, &res) != 0) {
			*what = "getaddrinfo";
			*err = EINVAL;
		} else {
			fd = inet_bind(res, 0, what);
			*err = errno;
			freeaddrinfo(res);
		}
		if (family == AF_INET || (fd == -1 && *err != EAFNOSUPPORT &&
		    *err != EADDRNOTAVAIL))
			break;
	}
	return fd;
}

static int
listen_inet(const struct service *s)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[SERVICE_ADDR_MAX], port[8];
	const char	*why, *what = "bind";
	int		 fd = -1, gai, err = 0, n = 0;

	if (service_inet_split(s->address, host, sizeof(host), port,
	    sizeof(port), &why) == -1) {
		log_error("service %s: bad address %s: %s", s->name,
		    s->address, why);
		return -1;
	}
	if (strcmp(host, "*") == 0) {
		if ((fd = listen_any(port, &what, &err)) == -1)
			log_error("service %s: cannot listen on %s: %s: %s",
			    s->name, s->address, what, strerror(err));
		return fd;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_family = AF_UNSPEC;
	if (s->address[0] == '[')
		hints.ai_flags |= AI_NUMERICHOST;
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		log_error("service %s: cannot resolve %s: %s", s->name,
		    s->address, gai_strerror(gai));
		return -1;
	}
	/* A service has one socket: a name with several addresses gets the
	 * first one that binds. */
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		n++;
		if ((fd = inet_bind(ai, 1, &what)) == -1)
			err = errno;
	}
	if (fd != -1 && (ai != NULL || n > 1))
		log_warn("service %s: %s has several addresses; listening on "
		    "one only", s->name, host);
	freeaddrinfo(res);
	if (fd == -1)
		log_error("service %s: cannot listen on %s: %s: %s", s->name,
		    s->address, what, strerror(err));
	return fd;
}

int
service_listen_chown(const struct service *s, uid_t uid, gid_t gid)
{
	struct stat	 st;
	char		 proc[64];
	int		 pfd, rc = -1;

	if (s->type != SERVICE_UNIX)
		return 0;
	/* Work on the inode we bound, through a descriptor: private/ belongs
	 * to mail_owner, who could replace the name with a link. */
	pfd = open(s->address, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd == -1) {
		log_error("service %s: %s: %s", s->name, s->address,
		    strerror(errno));
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (fstat(pfd, &st) == -1)
		log_error("service %s: %s: %s", s->name, s->address,
		    strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		log_error("service %s: %s is not a socket", s->name,
		    s->address);
	else if ((st.st_mode & 07777) != service_socket_mode(s) &&
	    chmod(proc, service_socket_mode(s)) == -1)
		log_error("service %s: %s: cannot change mode: %s", s->name,
		    s->address, strerror(errno));
	else if (privs_is_root() && (st.st_uid != uid || st.st_gid != gid) &&
	    fchownat(pfd, "", uid, gid, AT_EMPTY_PATH) == -1)
		log_error("service %s: %s: cannot change owner: %s", s->name,
		    s->address, strerror(errno));
	else
		rc = 0;
	close(pfd);
	return rc;
}

/* Remove a stale socket left by an earlier run; refuse to remove anything
 * else that happens to have the name. */
static int
unix_unlink_stale(const struct service *s)
{
	struct stat	 st;

	if (lstat(s->address, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_error("service %s: %s: %s", s->name, s->address,
		    strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("service %s: %s exists and is not a socket", s->name,
		    s->address);
		return -1;
	}
	if (unlink(s->address) == -1) {
		log_error("service %s: cannot remove stale socket %s: %s",
		    s->name, s->address, strerror(errno));
		return -1;
	}
	return 0;
}

static int
listen_unix(const struct service *s, uid_t uid, gid_t gid)
{
	struct sockaddr_un sun;
	mode_t		 old;
	int		 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(s->address) >= sizeof(sun.sun_path)) {
		log_error("service %s: socket path too long: %s", s->name,
		    s->address);
		return -1;
	}
	memcpy(sun.sun_path, s->address, strlen(s->address) + 1);
	if (unix_unlink_stale(s) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_error("service %s: socket: %s", s->name, strerror(errno));
		return -1;
	}
	/* Born 0600: no moment in which another user could connect. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		log_error("service %s: cannot bind %s: %s", s->name,
		    s->address, strerror(errno));
		close(fd);
		return -1;
	}
	if (service_listen_chown(s, uid, gid) == -1)
		goto fail;
	if (listen(fd, SERVICE_LISTEN_BACKLOG) == -1) {
		log_error("service %s: cannot listen on %s: %s", s->name,
		    s->address, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	unlink(s->address);
	return -1;
}

int
service_listen_open(const struct service *s, uid_t uid, gid_t gid)
{
	int	 fd;

	fd = s->type == SERVICE_INET ? listen_inet(s) : listen_unix(s, uid,
	    gid);
	if (fd != -1)
		log_debug("service %s: listening on %s %s (fd %d)", s->name,
		    s->type == SERVICE_INET ? "inet" : "unix", s->address, fd);
	return fd;
}

int
service_listen_grouped(const struct service *s)
{
	return s->type == SERVICE_INET && s->limit > 1;
}

int
service_listen_join(const struct service *s, int peer)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss), olen;
	const char		*what = "getsockname";
	int			 fd = -1, v6only = 0;

	if (getsockname(peer, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	olen = sizeof(v6only);
	if (ss.ss_family == AF_INET6 && getsockopt(peer, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, &olen) == -1)
		goto fail;
	if ((fd = inet_socket((struct sockaddr *)&ss, len, v6only, 1,
	    &what)) == -1)
		goto fail;
	what = "listen";
	if (listen(fd, SERVICE_LISTEN_BACKLOG) == -1)
		goto fail;
	log_debug("service %s: another socket on %s (fd %d)", s->name,
	    s->address, fd);
	return fd;
fail:
	log_error("service %s: cannot listen on %s once more: %s: %s",
	    s->name, s->address, what, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

void
service_listen_close(const struct service *s, int fd)
{
	struct stat	 st;

	if (fd < 0)
		return;
	close(fd);
	if (s->type != SERVICE_UNIX)
		return;
	if (lstat(s->address, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(s->address) == -1)
		log_warn("service %s: cannot remove %s: %s", s->name,
		    s->address, strerror(errno));
}
