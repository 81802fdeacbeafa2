/*
 * supervise - start, watch, restart and stop the daemons.
 *
 * Signals arrive through a signalfd polled by the main loop, so everything
 * happens in ordinary code: no work in signal handlers, no globals.  Each
 * instance slot keeps its own restart back-off, so one crashing service can
 * neither spin the machine nor delay the others.  A reload is all or
 * nothing: both files are read and checked first, and on any error the old
 * configuration keeps running untouched.
 */
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "master_params.h"
#include "privs.h"
#include "proto_lookup.h"
#include "service_listen.h"
#include "service_spawn.h"
#include "supervise.h"

static const int handled_signals[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
#define HANDLED_COUNT	(int)(sizeof(handled_signals) / sizeof(handled_signals[0]))

int
supervise_block_signals(void)
{
	struct sigaction sa;
	sigset_t	 set;
	int		 i;

	/* Whoever started us may have left SIGCHLD ignored, which would make
	 * the kernel reap our children before we learn how they ended. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (i = 0; i < HANDLED_COUNT; i++) {
		sigaction(handled_signals[i], &sa, NULL);
		sigaddset(&set, handled_signals[i]);
	}
	/* With -f the log goes to stderr, maybe a pipe whose reader can go
	 * away; that must cost a lost line, not the supervisor.  (Children get
	 * SIGPIPE back: service_spawn resets every signal.) */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
		log_error("sigprocmask: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
supervise_open_signals(struct master *m)
{
	sigset_t	 set;
	int		 i;

	sigemptyset(&set);
	for (i = 0; i < HANDLED_COUNT; i++)
		sigaddset(&set, handled_signals[i]);
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sigfd == -1) {
		log_error("signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The config parser already makes master_config absolute when tern.conf's path
 * is; this is only a safety net that keeps to the same rule. */
static int
load_table_path(const char *config_path, const char *master_config,
    char *out, size_t outlen)
{
	const char	*slash;
	int		 len;

	if (master_config != NULL && master_config[0] == '/')
		len = snprintf(out, outlen, "%s", master_config);
	else {
		slash = strrchr(config_path, '/');
		len = snprintf(out, outlen, "%.*s/%s",
		    slash != NULL ? (int)(slash - config_path) : 1,
		    slash != NULL ? config_path : ".",
		    master_config != NULL ? master_config : "master.conf");
	}
	if (len < 0 || (size_t)len >= outlen) {
		log_error("%s: master_config path too long", config_path);
		return -1;
	}
	return 0;
}

/* Look up every user now: an unknown one is a configuration error with a
 * line number, not a daemon that dies at start again and again. */
static int
load_users(const char *config_path, const char *table_path,
    struct master_conf *mc)
{
	const char	*owner = mc->cfg.mail_owner;
	uid_t		 uid;
	gid_t		 gid;
	int		 i;

	if (!privs_is_root()) {
		mc->owner_uid = getuid();
		mc->owner_gid = getgid();
	} else if (privs_lookup(owner, &mc->owner_uid, &mc->owner_gid) == -1) {
		log_error("%s: unknown mail_owner \"%s\"", config_path, owner);
		return -1;
	}
	for (i = 0; i < mc->table.count; i++) {
		struct service_run *r = &mc->run[i];
		r->user = strcmp(r->svc->user, "-") == 0 ? owner : r->svc->user;
		if (r->user != owner && privs_is_root() &&
		    privs_lookup(r->user, &uid, &gid) == -1) {
			log_error("%s:%zu: unknown user \"%s\"", table_path,
			    r->svc->line, r->user);
			return -1;
		}
	}
	return 0;
}

/* A missing program is not fatal (it may be installed before it is
 * needed), but it deserves a word at start-up rather than a crash loop. */
static void
load_check_programs(const char *table_path, struct master_conf *mc)
{
	char		 path[SPAWN_PATH_MAX];
	char		*argv[SPAWN_ARGV_MAX];
	struct spawn_opts o = { "", mc->cfg.daemon_directory, 0, 0 };
	int		 i;

	for (i = 0; i < mc->table.count; i++) {
		const struct service *s = mc->run[i].svc;
		if (service_spawn_argv(&o, s, "", path, sizeof(path), argv) == -1)
			log_warn("%s:%zu: program path too long", table_path,
			    s->line);
		else if (access(path, X_OK) == -1)
			log_warn("%s:%zu: service %s: cannot execute %s: %s",
			    table_path, s->line, s->name, path,
			    strerror(errno));
	}
}

/* An installed master.conf from before the lookup service: smtpd would
 * answer every local recipient 451 without a word in the log about why
 * (say so at each start and reload). */
static void
load_check_lookup(const char *table_path, struct master_conf *mc)
{
	const struct service *s;

	if ((s = service_table_smtpd_without_lookup(&mc->table)) != NULL)
		log_warn("%s:%zu: service %s runs smtpd, but no service "
		    "listens on %s: every local recipient will get 451; "
		    "add \"lookup unix %s - n 4 lookup\" (master.conf(5))",
		    table_path, s->line, s->name, LOOKUP_SOCKET,
		    LOOKUP_SOCKET);
}

static int
load_runs(struct master_conf *mc)
{
	int	 i, j;

	mc->run = calloc((size_t)mc->table.count, sizeof(*mc->run));
	if (mc->run == NULL)
		return -1;
	for (i = 0; i < mc->table.count; i++) {
		struct service_run *r = &mc->run[i];
		r->svc = &mc->table.svc[i];
		r->fd = -1;
		r->inst = calloc((size_t)r->svc->limit, sizeof(*r->inst));
		if (r->inst == NULL)
			return -1;
		for (j = 0; j < r->svc->limit; j++) {
			r->inst[j].backoff = SUPERVISE_BACKOFF_MIN;
			r->inst[j].fd = -1;
		}
	}
	return 0;
}

/* The master and every daemon meet in the queue directory, which is where
 * relative names would be resolved: only absolute ones mean the same to all. */
static int
load_check_paths(const char *config_path, const struct tern_config *cfg)
{
	if (cfg->queue_directory[0] != '/') {
		log_error("%s: queue_directory must be an absolute path: %s",
		    config_path, cfg->queue_directory);
		return -1;
	}
	if (cfg->daemon_directory[0] != '/') {
		log_error("%s: daemon_directory must be an absolute path: %s",
		    config_path, cfg->daemon_directory);
		return -1;
	}
	return 0;
}

int
supervise_load(const char *config_path, struct master_conf *mc)
{
	char	 table_path[PATH_MAX], err[1024];

	memset(mc, 0, sizeof(*mc));
	if (master_params_load(config_path, &mc->cfg) == -1)
		return -1;
	if (load_check_paths(config_path, &mc->cfg) == -1)
		goto fail;
	if (load_table_path(config_path, mc->cfg.master_config, table_path,
	    sizeof(table_path)) == -1)
		goto fail;
	if (service_table_load(table_path, &mc->table, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto fail;
	}
	if (load_runs(mc) == -1) {
		log_error("out of memory");
		goto fail;
	}
	if (load_users(config_path, table_path, mc) == -1)
		goto fail;
	load_check_programs(table_path, mc);
	load_check_lookup(table_path, mc);
	return 0;
fail:
	supervise_conf_free(mc);
	return -1;
}

void
supervise_conf_free(struct master_conf *mc)
{
	int	 i;

	if (mc->run != NULL)
		for (i = 0; i < mc->table.count; i++)
			free(mc->run[i].inst);
	free(mc->run);
	mc->run = NULL;
	service_table_free(&mc->table);
	config_free(&mc->cfg);
}

/* A socket of r's group other than in's own, or -1. */
static int
group_peer(const struct service_run *r, const struct instance *in)
{
	int	 j;

	for (j = 0; j < r->svc->limit; j++)
		if (&r->inst[j] != in && r->inst[j].fd != -1)
			return r->inst[j].fd;
	return -1;
}

/* Give an instance of a grouped service its socket, if it has none: one
 * more in the group, or the first (checked like any new socket).  0, or
 * -1 (logged). */
static int
group_socket(struct master_conf *mc, struct service_run *r,
    struct instance *in)
{
	int	 peer;

	if (in->fd != -1)
		return 0;
	if ((peer = group_peer(r, in)) != -1)
		in->fd = service_listen_join(r->svc, peer);
	else
		in->fd = service_listen_open(r->svc, mc->owner_uid,
		    mc->owner_gid);
	return in->fd == -1 ? -1 : 0;
}

int
supervise_listen_all(struct master_conf *mc)
{
	int	 i, j;

	for (i = 0; i < mc->table.count; i++) {
		struct service_run *r = &mc->run[i];
		if (service_listen_grouped(r->svc)) {
			for (j = 0; j < r->svc->limit; j++)
				if (group_socket(mc, r, &r->inst[j]) == -1)
					return -1;
			continue;
		}
		r->fd = service_listen_open(r->svc, mc->owner_uid,
		    mc->owner_gid);
		if (r->fd == -1)
			return -1;
	}
	return 0;
}

static void
close_all(struct master_conf *mc)
{
	int	 i, j;

	for (i = 0; i < mc->table.count; i++) {
		struct service_run *r = &mc->run[i];
		service_listen_close(r->svc, r->fd);
		r->fd = -1;
		for (j = 0; j < r->svc->limit; j++) {
			service_listen_close(r->svc, r->inst[j].fd);
			r->inst[j].fd = -1;
		}
	}
}

/* "exited with status 1", "killed by signal 9 (SIGKILL), core dumped". */
static void
describe_status(int status, char *buf, size_t len)
{
	const char	*abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
		return;
	}
	if (!WIFSIGNALED(status)) {
		snprintf(buf, len, "ended with wait status 0x%x", status);
		return;
	}
	abbrev = sigabbrev_np(WTERMSIG(status));
	snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
	    abbrev != NULL ? abbrev : "?",
	    WCOREDUMP(status) ? ", core dumped" : "");
}

/* One that lived long enough was doing real work: restart it at once.
 * One that died young is probably failing at start-up: wait, and wait
 * longer each time, until one finally lives long enough to reset that. */
void
supervise_schedule(struct instance *in, long long lived, long long now)
{
	if (lived >= SUPERVISE_RESET_MS)
		in->backoff = SUPERVISE_BACKOFF_MIN;
	if (lived >= SUPERVISE_RESTART_MS) {
		in->start_at = now;
		return;
	}
	in->start_at = now + in->backoff;
	in->backoff = in->backoff * 2 > SUPERVISE_BACKOFF_MAX ?
	    SUPERVISE_BACKOFF_MAX : in->backoff * 2;
}

static void
instance_ended(struct master *m, struct service_run *r, struct instance *in,
    int status, long long now)
{
	char		 how[96];
	long long	 lived = now - in->started;
	pid_t		 pid = in->pid;

	describe_status(status, how, sizeof(how));
	in->pid = 0;
	if (m->stopping) {
		log_debug("service %s pid %ld %s", r->svc->name, (long)pid, how);
		return;
	}
	supervise_schedule(in, lived, now);
	/* An instance that is not started again at once gives up its own
	 * socket, so that the kernel sends its share of the connections to
	 * the others instead of leaving them waiting for the back-off; it
	 * gets a new one when it starts.  The last socket of the group stays:
	 * then clients wait in its backlog, as they would on a shared one. */
	if (in->start_at > now && in->fd != -1 && group_peer(r, in) != -1) {
		service_listen_close(r->svc, in->fd);
		in->fd = -1;
	}
	if (in->start_at <= now)
		log_warn("service %s pid %ld %s after %lld s; restarting",
		    r->svc->name, (long)pid, how, lived / 1000);
	else
		log_warn("service %s pid %ld %s %.1f s after its start; "
		    "restarting in %lld s", r->svc->name, (long)pid, how,
		    (double)lived / 1000.0, (in->start_at - now) / 1000);
}

static void
reap(struct master *m)
{
	struct master_conf *mc = &m->conf;
	long long	 now = io_now_ms();
	pid_t		 pid;
	int		 status, i, j, found;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		found = 0;
		for (i = 0; i < mc->table.count && !found; i++) {
			struct service_run *r = &mc->run[i];
			for (j = 0; j < r->svc->limit && !found; j++) {
				if (r->inst[j].pid != pid)
					continue;
				instance_ended(m, r, &r->inst[j], status, now);
				found = 1;
			}
		}
		/* One given up on by a stop that timed out, finally gone. */
		if (!found)
			log_debug("pid %ld (no longer a service) ended", (long)pid);
	}
}

/* Read what the signalfd holds, note requests, reap children. */
static void
read_signals(struct master *m)
{
	struct signalfd_siginfo si[16];
	ssize_t		 n;
	size_t		 i;

	while ((n = read(m->sigfd, si, sizeof(si))) > 0) {
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			switch (si[i].ssi_signo) {
			case SIGHUP:
				m->want_reload = 1;
				break;
			case SIGTERM:
			case SIGINT:
				m->want_stop = 1;
				break;
			default:	/* SIGCHLD: reaped below */
				break;
			}
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_error("signalfd read: %s", strerror(errno));
	/* Unconditionally: SIGCHLDs coalesce, and waitpid is cheap. */
	reap(m);
}

/* Wait for signals for at most timeout ms (-1: forever), then handle them. */
static void
wait_signals(struct master *m, int timeout)
{
	struct pollfd	 pfd;

	pfd.fd = m->sigfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout) == -1 && errno != EINTR) {
		log_error("poll: %s", strerror(errno));
		sleep(1);	/* never spin on a persistent error */
	}
	read_signals(m);
}

/* Send sig to every running instance; the number sent to. */
static int
signal_all(struct master_conf *mc, int sig)
{
	int	 i, j, n = 0;

	for (i = 0; i < mc->table.count; i++)
		for (j = 0; j < mc->run[i].svc->limit; j++)
			if (mc->run[i].inst[j].pid > 0 &&
			    kill(mc->run[i].inst[j].pid, sig) == 0)
				n++;
	return n;
}

static int
count_running(const struct master_conf *mc)
{
	int	 i, j, n = 0;

	for (i = 0; i < mc->table.count; i++)
		for (j = 0; j < mc->run[i].svc->limit; j++)
			n += mc->run[i].inst[j].pid > 0;
	return n;
}

/* Wait at most ms for every instance to end; the number still running. */
static int
wait_running(struct master *m, int ms)
{
	long long	 deadline = io_now_ms() + ms, now;
	int		 n;

	while ((n = count_running(&m->conf)) > 0 &&
	    (now = io_now_ms()) < deadline)
		wait_signals(m, (int)(deadline - now));
	return n;
}

/* SIGTERM every instance, SIGKILL what is left after a while, and after
 * another while give up on what still lingers rather than hang. */
static void
stop_all(struct master *m)
{
	int	 i, j, n;

	m->stopping = 1;
	if (signal_all(&m->conf, SIGTERM) > 0 &&
	    (n = wait_running(m, SUPERVISE_STOP_MS)) > 0) {
		log_warn("%d daemon(s) still running %d s after SIGTERM; "
		    "sending SIGKILL", n, SUPERVISE_STOP_MS / 1000);
		signal_all(&m->conf, SIGKILL);
		if ((n = wait_running(m, SUPERVISE_STOP_MS)) > 0)
			log_error("%d daemon(s) survived SIGKILL; no longer "
			    "waiting for them", n);
	}
	for (i = 0; i < m->conf.table.count; i++)
		for (j = 0; j < m->conf.run[i].svc->limit; j++)
			m->conf.run[i].inst[j].pid = 0;
	m->stopping = 0;
}

static void
instance_start(struct master *m, struct service_run *r, struct instance *in,
    long long now)
{
	struct spawn_opts o = { m->config_path, m->conf.cfg.daemon_directory,
	    m->verbose, m->foreground };
	pid_t	 pid;

	in->started = now;
	if ((service_listen_grouped(r->svc) && group_socket(&m->conf, r,
	    in) == -1) || (pid = service_spawn(&o, r->svc, r->user,
	    service_listen_grouped(r->svc) ? in->fd : r->fd)) == -1) {
		/* No fork, no process: back off exactly as for a crash. */
		supervise_schedule(in, 0, now);
		log_warn("service %s: retrying in %lld s", r->svc->name,
		    (in->start_at - now) / 1000);
		return;
	}
	in->pid = pid;
}

/* Start every idle slot whose time has come; the ms until the next one is
 * due, or -1 if none is waiting. */
static int
start_due(struct master *m)
{
	struct master_conf *mc = &m->conf;
	long long	 now = io_now_ms(), next = -1;
	int		 i, j;

	for (i = 0; i < mc->table.count; i++) {
		struct service_run *r = &mc->run[i];
		if (r->fd == -1 && !service_listen_grouped(r->svc))
			continue;	/* no socket: logged when it failed */
		for (j = 0; j < r->svc->limit; j++) {
			struct instance *in = &r->inst[j];
			if (in->pid > 0)
				continue;
			if (in->start_at <= now)
				instance_start(m, r, in, now);
			if (in->pid == 0 && (next == -1 || in->start_at < next))
				next = in->start_at;
		}
	}
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* Take one socket of o (its shared one, or an instance's) for the new
 * run r: r's shared socket, or the first of r's instances without one.
 * 1 if one moved. */
static int
move_one(struct service_run *o, struct service_run *r)
{
	int	*from = NULL, *to = NULL;
	int	 j;

	if (o->fd != -1)
		from = &o->fd;
	for (j = 0; j < o->svc->limit && from == NULL; j++)
		if (o->inst[j].fd != -1)
			from = &o->inst[j].fd;
	if (!service_listen_grouped(r->svc))
		to = r->fd == -1 ? &r->fd : NULL;
	for (j = 0; j < r->svc->limit && to == NULL &&
	    service_listen_grouped(r->svc); j++)
		if (r->inst[j].fd == -1)
			to = &r->inst[j].fd;
	if (from == NULL || to == NULL)
		return 0;
	*to = *from;
	*from = -1;
	return 1;
}

/*
 * Hand the sockets of the old configuration to the new one: a socket whose
 * type and address did not change is kept (clients queued on it are not
 * refused), as many as the new service uses (one, or one per instance of a
 * grouped service; every TCP socket is made with SO_REUSEPORT, so a
 * service can become grouped); the others are closed and the missing ones
 * bound (a grouped service's when its instances start).  Old ones are
 * closed first so that an address can move between services.
 */
static void
move_sockets(struct master_conf *old, struct master_conf *nc)
{
	int	 i, j;

	for (i = 0; i < nc->table.count; i++) {
		struct service_run *r = &nc->run[i];
		for (j = 0; j < old->table.count; j++) {
			if (!service_same_endpoint(old->run[j].svc, r->svc))
				continue;
			/* mail_owner may have changed. */
			while (move_one(&old->run[j], r))
				service_listen_chown(r->svc, nc->owner_uid,
				    nc->owner_gid);
		}
	}
	close_all(old);
	for (i = 0; i < nc->table.count; i++) {
		struct service_run *r = &nc->run[i];
		if (r->fd != -1 || service_listen_grouped(r->svc))
			continue;
		r->fd = service_listen_open(r->svc, nc->owner_uid,
		    nc->owner_gid);
		if (r->fd == -1)
			log_error("service %s: not started until the next "
			    "reload", r->svc->name);
	}
}

static void
reload(struct master *m)
{
	struct master_conf nc;

	log_info("reloading %s", m->config_path);
	if (supervise_load(m->config_path, &nc) == -1) {
		log_error("reload failed; keeping the old configuration");
		return;
	}
	/* Children would follow the new queue_directory but our sockets, pid
	 * file and working directory would not. */
	if (strcmp(nc.cfg.queue_directory, m->conf.cfg.queue_directory) != 0) {
		log_error("reload: queue_directory changed from %s to %s; "
		    "restart the master to move the queue; keeping the old "
		    "configuration", m->conf.cfg.queue_directory,
		    nc.cfg.queue_directory);
		supervise_conf_free(&nc);
		return;
	}
	stop_all(m);
	/* mail_owner may have changed. */
	if (service_listen_queue(nc.owner_uid, nc.owner_gid,
	    nc.cfg.setgid_group) == -1)
		log_warn("reload: queue directory set-up incomplete");
	move_sockets(&m->conf, &nc);
	supervise_conf_free(&m->conf);
	m->conf = nc;
	log_set_verbose(m->verbose || m->conf.cfg.verbose);
	log_info("reloaded: %d service(s)", m->conf.table.count);
}

void
supervise_run(struct master *m)
{
	int	 timeout;

	log_info("started, %d service(s)", m->conf.table.count);
	for (;;) {
		if (m->want_stop)
			break;
		if (m->want_reload) {
			m->want_reload = 0;
			reload(m);
			continue;
		}
		timeout = start_due(m);
		wait_signals(m, timeout);
	}
	log_info("stopping");
	stop_all(m);
	close_all(&m->conf);
}
