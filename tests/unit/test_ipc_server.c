/*
 * test_ipc_server - the shared IPC server (common/ipc_server.c) on a real
 * event base, with real clients on a real UNIX listening socket (abstract
 * address, so nothing is left on disk): requests answered in order, an
 * async reply after its client has gone is harmless, a malformed or an
 * oversized frame drops the client, the cap on clients, the bound on
 * unread replies, the write time-out, and the pause when accept() runs out
 * of descriptors.  Every wait is a bounded poll of the event loop.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "ipc.h"
#include "ipc_server.h"

#define T_REQ		0x40
#define T_REPLY		0x41
#define WAIT_MS		5000	/* longest any condition may take */
#define MAX_IDS		64

/* What the daemon side of a test does and has seen. */
struct daemon {
	struct event_base	*base;
	struct ipc_server	*srv;
	int			 lfd;
	struct sockaddr_un	 addr;
	socklen_t		 addrlen;
	int			 async;		/* keep requests, reply later */
	size_t			 reply_size;	/* bytes of "pad" in a reply */
	int			 nreq;
	ipc_client_id		 ids[MAX_IDS];	/* of each request */
	int			 ngone;
	void			*gone_data;
};

static void
daemon_request(void *arg, ipc_client_id id, const struct ipc_msg *req)
{
	struct daemon	*d = arg;
	struct ipc_msg	 reply;
	char		*pad;
	const char	*seq = ipc_msg_get(req, "seq");

	assert_true(d->nreq < MAX_IDS);
	d->ids[d->nreq++] = id;
	if (d->async)
		return;
	ipc_msg_init(&reply, T_REPLY);
	assert_int_equal(ipc_msg_add(&reply, "seq", seq ? seq : ""), 0);
	if (d->reply_size > 0) {
		pad = malloc(d->reply_size + 1);
		assert_non_null(pad);
		memset(pad, 'x', d->reply_size);
		pad[d->reply_size] = '\0';
		assert_int_equal(ipc_msg_add(&reply, "pad", pad), 0);
		free(pad);
	}
	assert_int_equal(ipc_server_reply(d->srv, id, &reply), 0);
	ipc_msg_free(&reply);
}

static void
daemon_gone(void *arg, ipc_client_id id, void *data)
{
	struct daemon	*d = arg;

	(void)id;
	d->ngone++;
	d->gone_data = data;
}

static void
daemon_start(struct daemon *d, struct ipc_server_conf *conf)
{
	memset(d, 0, sizeof(*d));
	assert_non_null(d->base = event_base_new());
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(d->lfd >= 0);
	/* Autobind: the kernel picks a free abstract address. */
	d->addr.sun_family = AF_UNIX;
	assert_int_equal(bind(d->lfd, (struct sockaddr *)&d->addr,
	    sizeof(sa_family_t)), 0);
	d->addrlen = sizeof(d->addr);
	assert_int_equal(getsockname(d->lfd, (struct sockaddr *)&d->addr,
	    &d->addrlen), 0);
	assert_int_equal(listen(d->lfd, 16), 0);
	conf->request = daemon_request;
	conf->gone = daemon_gone;
	conf->arg = d;
	assert_non_null(d->srv = ipc_server_new(d->base, d->lfd, conf));
}

static void
daemon_stop(struct daemon *d)
{
	ipc_server_free(d->srv);
	close(d->lfd);
	event_base_free(d->base);
}

static struct ipc_server_conf
conf_default(void)
{
	struct ipc_server_conf conf = {
		.client_max = 8,
		.frame_max = 1024,
		.in_max = 2048,
		.out_max = 16 * 1024,
		.pending_max = 0,
		.write_timeout = 60,
	};

	return conf;
}

static long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Run the loop until cond(arg, fd) holds; fail after WAIT_MS. */
static void
run_until(struct daemon *d, int (*cond)(struct daemon *, int), int fd)
{
	long	 end = now_ms() + WAIT_MS;

	while (!cond(d, fd)) {
		if (now_ms() > end)
			fail_msg("condition not met within %d ms", WAIT_MS);
		assert_true(event_base_loop(d->base, EVLOOP_NONBLOCK) >= 0);
		poll(NULL, 0, 1);
	}
}

/* Run the loop for ms milliseconds (to show that something does NOT
 * happen). */
static void
run_for(struct daemon *d, long ms)
{
	long	 end = now_ms() + ms;

	while (now_ms() < end) {
		assert_true(event_base_loop(d->base, EVLOOP_NONBLOCK) >= 0);
		poll(NULL, 0, 1);
	}
}

static int
readable(struct daemon *d, int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLIN };

	(void)d;
	return poll(&p, 1, 0) == 1;
}

static int nreq_want, ngone_want, nclients_want;

static int
got_requests(struct daemon *d, int fd)
{
	(void)fd;
	return d->nreq >= nreq_want;
}

static int
got_gone(struct daemon *d, int fd)
{
	(void)fd;
	return d->ngone >= ngone_want;
}

static int
got_clients(struct daemon *d, int fd)
{
	(void)fd;
	return ipc_server_nclients(d->srv) == nclients_want;
}

static int
client_connect(struct daemon *d)
{
	int	 fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&d->addr,
	    d->addrlen), 0);
	return fd;
}

static void
client_send(int fd, int seq)
{
	struct ipc_msg	 m;

	ipc_msg_init(&m, T_REQ);
	assert_int_equal(ipc_msg_add_int(&m, "seq", seq), 0);
	assert_int_equal(ipc_write(fd, &m, 1000), 0);
	ipc_msg_free(&m);
}

static void
client_send_raw(int fd, const void *p, size_t len)
{
	assert_int_equal(write(fd, p, len), (ssize_t)len);
}

/* Read exactly n bytes, running the loop while they are not there (a
 * blocking read could wait for a server that is not running). */
static void
client_read_exact(struct daemon *d, int fd, unsigned char *p, size_t n)
{
	long	 end = now_ms() + WAIT_MS;
	size_t	 got = 0;
	ssize_t	 r;

	while (got < n) {
		if ((r = recv(fd, p + got, n - got, MSG_DONTWAIT)) > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			fail_msg("the server closed the connection");
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		if (now_ms() > end)
			fail_msg("no reply within %d ms", WAIT_MS);
		assert_true(event_base_loop(d->base, EVLOOP_NONBLOCK) >= 0);
		poll(NULL, 0, 1);
	}
}

/* Read one reply; check its seq. */
static void
client_expect(struct daemon *d, int fd, int seq)
{
	unsigned char	*frame;
	struct ipc_msg	 m;
	long long	 v;
	long		 len;

	frame = malloc(IPC_FRAME_MAX + 4);
	assert_non_null(frame);
	client_read_exact(d, fd, frame, 4);
	assert_true((len = ipc_frame_length(frame, 4)) > 0);
	client_read_exact(d, fd, frame + 4, (size_t)len - 4);
	assert_int_equal(ipc_decode(frame, (size_t)len, &m), 0);
	free(frame);
	assert_int_equal(m.type, T_REPLY);
	assert_int_equal(ipc_msg_get_int(&m, "seq", 0, 1000000, &v), 0);
	assert_int_equal(v, seq);
	ipc_msg_free(&m);
}

/* The server has closed the connection: EOF (or a reset). */
static void
client_expect_eof(struct daemon *d, int fd)
{
	char	 c;

	run_until(d, readable, fd);
	assert_true(read(fd, &c, 1) <= 0);
}

static void
test_request_answered(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	int			 fd, i;

	(void)state;
	daemon_start(&d, &conf);
	fd = client_connect(&d);
	client_send(fd, 1);
	client_expect(&d, fd, 1);
	/* Pipelined requests are answered in order. */
	for (i = 2; i <= 10; i++)
		client_send(fd, i);
	for (i = 2; i <= 10; i++)
		client_expect(&d, fd, i);
	assert_int_equal(d.nreq, 10);
	assert_int_equal(ipc_server_nclients(d.srv), 1);
	close(fd);
	ngone_want = 1;
	run_until(&d, got_gone, -1);
	assert_int_equal(ipc_server_nclients(d.srv), 0);
	daemon_stop(&d);
}

static void
test_async_reply(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	struct ipc_msg		 reply;
	ipc_client_id		 old;
	int			 fd, fd2, tag;

	(void)state;
	conf.pending_max = 1;
	daemon_start(&d, &conf);
	d.async = 1;
	fd = client_connect(&d);
	client_send(fd, 1);
	client_send(fd, 2);
	nreq_want = 1;
	run_until(&d, got_requests, -1);
	/* One request in progress at a time: the second one waits. */
	run_for(&d, 50);
	assert_int_equal(d.nreq, 1);
	assert_int_equal(ipc_server_set_data(d.srv, d.ids[0], &tag), 0);
	ipc_msg_init(&reply, T_REPLY);
	assert_int_equal(ipc_msg_add_int(&reply, "seq", 1), 0);
	assert_int_equal(ipc_server_reply(d.srv, d.ids[0], &reply), 0);
	ipc_msg_free(&reply);
	client_expect(&d, fd, 1);
	nreq_want = 2;
	run_until(&d, got_requests, -1);
	assert_true(d.ids[1] == d.ids[0]);

	/* The client goes away with request 2 in progress. */
	close(fd);
	ngone_want = 1;
	run_until(&d, got_gone, -1);
	assert_ptr_equal(d.gone_data, &tag);
	old = d.ids[1];

	/* A new client may take the old one's slot, never its id. */
	fd2 = client_connect(&d);
	client_send(fd2, 3);
	nreq_want = 3;
	run_until(&d, got_requests, -1);
	assert_true(d.ids[2] != old);
	ipc_msg_init(&reply, T_REPLY);
	assert_int_equal(ipc_msg_add_int(&reply, "seq", 2), 0);
	assert_int_equal(ipc_server_reply(d.srv, old, &reply), -1);
	assert_int_equal(ipc_server_set_data(d.srv, old, &tag), -1);
	ipc_server_drop(d.srv, old);
	assert_int_equal(ipc_server_reply(d.srv, 0, &reply), -1);
	ipc_msg_free(&reply);
	assert_int_equal(d.ngone, 1);
	assert_int_equal(ipc_server_nclients(d.srv), 1);
	/* The new client got nothing meant for the old one. */
	run_for(&d, 50);
	assert_false(readable(&d, fd2));
	ipc_msg_init(&reply, T_REPLY);
	assert_int_equal(ipc_msg_add_int(&reply, "seq", 3), 0);
	assert_int_equal(ipc_server_reply(d.srv, d.ids[2], &reply), 0);
	ipc_msg_free(&reply);
	client_expect(&d, fd2, 3);

	/* Dropping a client closes it and reports it gone. */
	ipc_server_drop(d.srv, d.ids[2]);
	assert_int_equal(d.ngone, 2);
	client_expect_eof(&d, fd2);
	close(fd2);
	daemon_stop(&d);
}

static void
test_malformed_frame(void **state)
{
	/* version 9 instead of IPC_VERSION */
	static const unsigned char bad_version[] = { 0, 0, 0, 2, 9, T_REQ };
	/* an attribute name with a capital letter */
	static const unsigned char bad_name[] = {
		0, 0, 0, 6, IPC_VERSION, T_REQ, 'A', 0, 'x', 0 };
	/* a length below the header */
	static const unsigned char bad_len[] = { 0, 0, 0, 1, IPC_VERSION };
	static const struct { const unsigned char *p; size_t len; } bad[] = {
		{ bad_version, sizeof(bad_version) },
		{ bad_name, sizeof(bad_name) },
		{ bad_len, sizeof(bad_len) },
	};
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	size_t			 i;
	int			 fd, other;

	(void)state;
	daemon_start(&d, &conf);
	other = client_connect(&d);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = client_connect(&d);
		client_send(fd, 1);
		client_expect(&d, fd, 1);
		client_send_raw(fd, bad[i].p, bad[i].len);
		client_expect_eof(&d, fd);
		close(fd);
		assert_int_equal(d.ngone, (int)i + 1);
	}
	/* The other client is unaffected. */
	client_send(other, 7);
	client_expect(&d, other, 7);
	assert_int_equal(ipc_server_nclients(d.srv), 1);
	close(other);
	daemon_stop(&d);
}

static void
test_oversized_frame(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	struct ipc_msg		 m;
	char			 pad[200];
	char			*frame;
	size_t			 len, plen;
	int			 fd;

	(void)state;
	conf.frame_max = 128;
	conf.in_max = 128;
	daemon_start(&d, &conf);

	/* Exactly frame_max bytes: served.  The frame is the header, then
	 * "seq\0" "5\0" "pad\0", then the pad and its NUL. */
	plen = conf.frame_max - IPC_HEADER_LEN - 4 - 2 - 4 - 1;
	ipc_msg_init(&m, T_REQ);
	assert_int_equal(ipc_msg_add_int(&m, "seq", 5), 0);
	memset(pad, 'x', sizeof(pad));
	pad[plen] = '\0';
	assert_int_equal(ipc_msg_add(&m, "pad", pad), 0);
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(len, conf.frame_max);
	fd = client_connect(&d);
	client_send_raw(fd, frame, len);
	client_expect(&d, fd, 5);
	free(frame);
	ipc_msg_free(&m);

	/* One byte more: the client is dropped, before the frame's bytes
	 * have even arrived (only the length field is sent). */
	pad[plen] = 'x';
	pad[plen + 1] = '\0';
	ipc_msg_init(&m, T_REQ);
	assert_int_equal(ipc_msg_add_int(&m, "seq", 6), 0);
	assert_int_equal(ipc_msg_add(&m, "pad", pad), 0);
	assert_int_equal(ipc_encode(&m, &frame, &len), 0);
	assert_int_equal(len, conf.frame_max + 1);
	client_send_raw(fd, frame, 4);
	client_expect_eof(&d, fd);
	assert_int_equal(d.nreq, 1);
	assert_int_equal(d.ngone, 1);
	free(frame);
	ipc_msg_free(&m);
	close(fd);
	daemon_stop(&d);
}

static void
test_client_cap(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	int			 fd[3];

	(void)state;
	conf.client_max = 2;
	daemon_start(&d, &conf);
	fd[0] = client_connect(&d);
	fd[1] = client_connect(&d);
	fd[2] = client_connect(&d);	/* waits in the listen backlog */
	client_send(fd[0], 0);
	client_send(fd[1], 1);
	client_send(fd[2], 2);
	client_expect(&d, fd[0], 0);
	client_expect(&d, fd[1], 1);
	run_for(&d, 100);
	assert_int_equal(ipc_server_nclients(d.srv), 2);
	assert_false(readable(&d, fd[2]));
	/* Room again: the third is accepted and answered. */
	close(fd[0]);
	client_expect(&d, fd[2], 2);
	assert_int_equal(ipc_server_nclients(d.srv), 2);
	close(fd[1]);
	close(fd[2]);
	nclients_want = 0;
	run_until(&d, got_clients, -1);
	daemon_stop(&d);
}

/* Replies the client does not read stop the server from reading its
 * requests; reading them lets it go on. */
static void
test_output_bound(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	int			 fd, i, n = 40;

	(void)state;
	conf.out_max = 1024;
	daemon_start(&d, &conf);
	d.reply_size = 60 * 1024;	/* 40 of them: far over any socket
					 * buffer */
	fd = client_connect(&d);
	for (i = 0; i < n; i++)
		client_send(fd, i);
	run_for(&d, 200);
	assert_true(d.nreq > 0);
	assert_true(d.nreq < n);
	for (i = 0; i < n; i++)
		client_expect(&d, fd, i);
	assert_int_equal(d.nreq, n);
	close(fd);
	daemon_stop(&d);
}

/* A client that does not read its replies is dropped after the write
 * time-out. */
static void
test_write_timeout(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	int			 fd, i;

	(void)state;
	conf.write_timeout = 1;
	daemon_start(&d, &conf);
	d.reply_size = 60 * 1024;
	fd = client_connect(&d);
	for (i = 0; i < 10; i++)
		client_send(fd, i);
	ngone_want = 1;
	run_until(&d, got_gone, -1);
	assert_int_equal(ipc_server_nclients(d.srv), 0);
	close(fd);
	daemon_stop(&d);
}

/* uid_max: one peer uid holds at most that many clients (a further one
 * is closed at once); idle_timeout: a client that sends nothing goes. */
static void
test_uid_cap_and_idle(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	int			 fd[3], i;

	(void)state;
	conf.uid_max = 2;
	conf.idle_timeout = 1;
	daemon_start(&d, &conf);
	for (i = 0; i < 3; i++)
		fd[i] = client_connect(&d);
	nclients_want = 2;
	run_until(&d, got_clients, -1);
	run_for(&d, 100);
	assert_int_equal(ipc_server_nclients(d.srv), 2);
	/* The third was refused: it reads end of file. */
	client_expect_eof(&d, fd[2]);
	/* The first is served; both go once idle. */
	client_send(fd[0], 1);
	client_expect(&d, fd[0], 1);
	ngone_want = 2;
	run_until(&d, got_gone, -1);
	assert_int_equal(ipc_server_nclients(d.srv), 0);
	for (i = 0; i < 3; i++)
		close(fd[i]);
	daemon_stop(&d);
}

/* Out of descriptors, the server stops accepting for a while instead of
 * spinning on a listening socket that stays readable, then goes on. */
static void
test_accept_pause(void **state)
{
	struct ipc_server_conf	 conf = conf_default();
	struct daemon		 d;
	struct rlimit		 old, low;
	int			 fd, spare;

	(void)state;
	daemon_start(&d, &conf);
	fd = client_connect(&d);
	client_send(fd, 1);
	/* Leave no descriptor free for accept(). */
	spare = dup(0);
	assert_true(spare >= 0);
	close(spare);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)spare;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	run_for(&d, 100);
	assert_int_equal(ipc_server_nclients(d.srv), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	/* Resumed by the timer (ACCEPT_PAUSE, 1 s). */
	client_expect(&d, fd, 1);
	close(fd);
	daemon_stop(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_answered),
		cmocka_unit_test(test_async_reply),
		cmocka_unit_test(test_malformed_frame),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_client_cap),
		cmocka_unit_test(test_output_bound),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_uid_cap_and_idle),
		cmocka_unit_test(test_accept_pause),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
