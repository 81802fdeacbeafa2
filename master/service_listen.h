/*
 * service_listen - the queue directory and the listening sockets, as root.
 *
 * The master creates every socket itself, before any daemon runs, so a
 * daemon that restarts never refuses a connection: clients wait in the
 * listen backlog.  All paths are relative to the queue directory, which
 * service_listen_chdir() makes the working directory.
 */
#ifndef TERN_SERVICE_LISTEN_H
#define TERN_SERVICE_LISTEN_H

#include <sys/types.h>

#include "service_table.h"

#define SERVICE_LISTEN_BACKLOG	1024

/* chdir to queue_dir, creating it (mode 0755) if it is missing.  0, or -1
 * after logging why. */
int	service_listen_chdir(const char *queue_dir);

/*
 * In the queue directory: create the subdirectories that are missing and,
 * when running as root, give the whole set to uid/gid with mode 0700, so
 * that daemons running as mail_owner can use them.  0, or -1 (logged).
 */
int	service_listen_queue(uid_t uid, gid_t gid, const char *drop_group);

/*
 * Bind and listen on the service's address; a unix socket gets mode 0600
 * and, when running as root, owner uid/gid.  That is mail_owner whatever
 * user the service runs as: the clients of the internal sockets (smtpd,
 * qmgr, tools) run as mail_owner, and whoever accepts needs no permission.
 * The descriptor is close-on-exec.  Returns it, or -1 after logging why.
 */
int	service_listen_open(const struct service *, uid_t uid, gid_t gid);

/*
 * A TCP service with several instances gets a listening socket per
 * instance (SO_REUSEPORT), not one they all share: the kernel then hands
 * each new connection to one socket, so one process wakes for it rather
 * than every idle one, of which all but one find nothing to accept.  1 if
 * the service is run that way.
 */
int	service_listen_grouped(const struct service *);
/* One more listening socket of a grouped service, bound to the address
 * peer (another of its sockets) is bound to.  -1 after logging why. */
int	service_listen_join(const struct service *, int peer);

/* Give an existing unix socket (kept across a reload) to uid/gid, as root. */
int	service_listen_chown(const struct service *, uid_t uid, gid_t gid);

/* Close a socket that no service uses any more; unlink a unix one. */
void	service_listen_close(const struct service *, int fd);

#endif
