/*
 * queue_client - the queue tools' way to the queue (queue_client.h):
 * directly when the directories are ours to read, else through the
 * showq service, a page at a time.  A page that does not decode ends the
 * listing with an error, never with half-trusted output.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "proto_qmgr.h"
#include "proto_showq.h"
#include "queue_client.h"

#define QC_TIMEOUT_MS	30000

int
queue_client_direct(void)
{
	return access("incoming", R_OK | X_OK) == 0 &&
	    access("deferred", R_OK | X_OK) == 0;
}

int
queue_client_showq(int (*fn)(const struct queue_list_msg *, void *),
    void *arg)
{
	enum queue_list_queue q = QL_COUNT;
	struct ipc_msg	 req, page;
	const char	*err;
	char		 after[QUEUE_ID_SIZE] = "";
	int		 fd, rc = 0, e;

	if ((fd = ipc_connect(SHOWQ_SOCKET)) == -1)
		return QC_DOWN;
	do {
		ipc_msg_init(&req, SHOWQ_T_LIST);
		if (ipc_msg_add_int(&req, "v", PROTO_SHOWQ_VERSION) == -1 ||
		    (q != QL_COUNT && (ipc_msg_add(&req, "queue",
		    queue_list_queue_name(q)) == -1 ||
		    ipc_msg_add(&req, "after", after) == -1)) ||
		    ipc_call(fd, &req, &page, QC_TIMEOUT_MS) == -1) {
			e = errno;
			ipc_msg_free(&req);
			close(fd);
			errno = e;
			return QC_DOWN;
		}
		ipc_msg_free(&req);
		rc = showq_page_decode(&page, fn, arg, &q, after, &err);
		if (rc == -1 && err != NULL)
			fprintf(stderr, "showq: %s\n", err);
		ipc_msg_free(&page);
	} while (rc == 0 && q != QL_COUNT);
	close(fd);
	return rc;
}

struct qc_print {
	FILE			*out;
	const struct queue_list_filter *f;
	enum queue_client_fmt	 fmt;
	struct queue_list_total	 tot;
};

static int
qc_print_one(const struct queue_list_msg *m, void *arg)
{
	struct qc_print *p = arg;

	if (p->f != NULL && !queue_list_match(p->f, m))
		return 0;
	if (p->fmt == QC_JSON)
		queue_list_json_msg(p->out, m);
	else
		queue_list_text_msg(p->out, m, &p->tot);
	return ferror(p->out) ? -1 : 0;
}

int
queue_client_list(const struct tern_config *cfg, FILE *out,
    const struct queue_list_filter *f, enum queue_client_fmt fmt,
    const char *prog)
{
	struct qc_print	 p = { out, f, fmt, { 0, 0 } };
	int		 rc;

	if (chdir(cfg->queue_directory) == -1) {
		fprintf(stderr, "%s: queue directory %s: %s\n", prog,
		    cfg->queue_directory, strerror(errno));
		return -1;
	}
	if (queue_client_direct()) {
		if ((rc = queue_list_scan(qc_print_one, &p)) == -1 &&
		    !ferror(out))
			fprintf(stderr, "%s: cannot read the queue: %s\n",
			    prog, strerror(errno));
	} else if ((rc = queue_client_showq(qc_print_one, &p)) == QC_DOWN) {
		fprintf(stderr, "%s: queue report unavailable: the showq "
		    "service does not answer (%s/%s: %s); is tern running?\n",
		    prog, cfg->queue_directory, SHOWQ_SOCKET, strerror(errno));
		return QC_DOWN;
	}
	if (rc == 0 && fmt == QC_TEXT)
		queue_list_text_end(out, &p.tot);
	return rc == 0 ? 0 : -1;
}

/* One request, one IPC_T_OK expected.  0, -1 refused, QC_DOWN. */
static int
qc_call(const char *path, int type, int version)
{
	struct ipc_msg	 req, reply;
	int		 fd, rc;

	if ((fd = ipc_connect(path)) == -1)
		return QC_DOWN;
	ipc_msg_init(&req, (uint8_t)type);
	if (ipc_msg_add_int(&req, "v", version) == -1 ||
	    ipc_call(fd, &req, &reply, QC_TIMEOUT_MS) == -1)
		rc = QC_DOWN;
	else {
		rc = reply.type == IPC_T_OK ? 0 : -1;
		if (rc == -1)
			fprintf(stderr, "flush refused: %s\n",
			    ipc_msg_get(&reply, IPC_A_TEXT) ?
			    ipc_msg_get(&reply, IPC_A_TEXT) : "no reason");
		ipc_msg_free(&reply);
	}
	ipc_msg_free(&req);
	close(fd);
	return rc;
}

int
queue_client_flush(const struct tern_config *cfg, const char *prog)
{
	int	 rc;

	if (chdir(cfg->queue_directory) == -1) {
		fprintf(stderr, "%s: queue directory %s: %s\n", prog,
		    cfg->queue_directory, strerror(errno));
		return QC_DOWN;
	}
	if (access(QMGR_SOCKET, W_OK) == 0)
		rc = qc_call(QMGR_SOCKET, QMGR_T_FLUSH, PROTO_QMGR_VERSION);
	else
		rc = qc_call(SHOWQ_SOCKET, SHOWQ_T_FLUSH, PROTO_SHOWQ_VERSION);
	if (rc == QC_DOWN)
		fprintf(stderr, "%s: cannot reach qmgr (directly or through "
		    "%s/%s): %s\n", prog, cfg->queue_directory, SHOWQ_SOCKET,
		    strerror(errno));
	return rc;
}

int
queue_client_notify(const char *id, int timeout_ms)
{
	struct ipc_msg	 req, reply;
	int		 fd, rc = -1;

	if ((fd = ipc_connect(QMGR_SOCKET)) < 0)
		return -1;
	ipc_msg_init(&req, QMGR_T_NOTIFY);
	if (ipc_msg_add_int(&req, "v", PROTO_QMGR_VERSION) == 0 &&
	    ipc_msg_add(&req, "id", id) == 0 &&
	    ipc_call(fd, &req, &reply, timeout_ms) == 0) {
		ipc_msg_free(&reply);
		rc = 0;
	}
	ipc_msg_free(&req);
	close(fd);
	return rc;
}
