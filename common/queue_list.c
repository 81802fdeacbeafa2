/*
 * queue_list - reading the queue directories into listing records
 * (queue_list.h): each queue file's envelope and, for each pending
 * recipient, the text of its latest outcome record as the delay reason.
 * Directories are read in full and their names sorted, so ids come in
 * arrival order and a page of showq can go on after a given id.  A file
 * that cannot be read is skipped, never fatal.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "drop_file.h"
#include "queue_file.h"
#include "queue_list.h"
#include "queue_outcome.h"

static const char *const ql_names[QL_COUNT] = {
	"incoming", "active", "deferred", "hold", "maildrop"
};
static const enum queue_dir ql_dirs[QL_COUNT] = {
	QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_COUNT
};

const char *
queue_list_queue_name(enum queue_list_queue q)
{
	return (unsigned)q < QL_COUNT ? ql_names[q] : "?";
}

int
queue_list_queue_parse(const char *s)
{
	int	 i;

	for (i = 0; i < QL_COUNT; i++)
		if (strcmp(s, ql_names[i]) == 0)
			return i;
	return -1;
}

void
queue_list_msg_free(struct queue_list_msg *m)
{
	int	 i;

	for (i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].reason);
	}
	free(m->rcpt);
	free(m->sender);
	m->rcpt = NULL;
	m->sender = NULL;
	m->nrcpt = 0;
}

/* Latest outcome text per recipient index, into reasons[]. */
struct ql_reasons {
	char	**text;
	int	 n;
};

static int
ql_reason_cb(const struct queue_outcome *o, void *arg)
{
	struct ql_reasons *r = arg;
	char	*t;

	if (o->rcpt < 0 || o->rcpt >= r->n || (t = strdup(o->text)) == NULL)
		return 0;
	free(r->text[o->rcpt]);
	r->text[o->rcpt] = t;
	return 0;
}

static int
ql_from_envelope(struct queue_list_msg *m, struct queue_envelope *env,
    int fd)
{
	struct ql_reasons r = { NULL, env->nrcpt };
	int	 i, rc = -1;

	if (env->nrcpt > 0 && (r.text = calloc(env->nrcpt,
	    sizeof(*r.text))) == NULL)
		return -1;
	if (env->version >= 2)
		(void)queue_outcome_read(fd, env, ql_reason_cb, &r);
	m->arrival = env->arrival;
	m->size = env->data_len > 0 ? (long long)env->data_len : 0;
	if ((m->sender = strdup(env->sender ? env->sender : "")) == NULL)
		goto out;
	if ((m->rcpt = calloc(env->nrcpt + 1, sizeof(*m->rcpt))) == NULL)
		goto out;
	for (i = 0; i < env->nrcpt; i++) {
		if (env->rcpt[i].status != RCPT_PENDING)
			continue;
		if (m->nrcpt == QL_RCPT_MAX) {
			m->rcpt_cut++;
			continue;
		}
		if ((m->rcpt[m->nrcpt].addr = strdup(env->rcpt[i].addr)) == NULL)
			goto out;
		m->rcpt[m->nrcpt++].reason = r.text[i];
		r.text[i] = NULL;
	}
	rc = 0;
out:
	for (i = 0; i < r.n && r.text != NULL; i++)
		free(r.text[i]);
	free(r.text);
	return rc;
}

static int
ql_load_drop(const char *id, struct queue_list_msg *m)
{
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE];

	if (snprintf(path, sizeof(path), "%s/%s", DROP_DIR, id) >=
	    (int)sizeof(path) || lstat(path, &st) == -1 ||
	    !S_ISREG(st.st_mode))
		return -1;
	m->arrival = (long long)st.st_mtime;
	m->size = (long long)st.st_size;
	m->uid = (unsigned)st.st_uid;
	return 0;
}

int
queue_list_load(enum queue_list_queue q, const char *id,
    struct queue_list_msg *m)
{
	struct queue_envelope env;
	const char	*err;
	int		 fd, rc;

	memset(m, 0, sizeof(*m));
	if ((unsigned)q >= QL_COUNT || !queue_id_valid(id))
		return -1;
	m->queue = q;
	memcpy(m->id, id, strlen(id) + 1);
	if (q == QL_MAILDROP)
		return ql_load_drop(id, m);
	if (queue_file_open(ql_dirs[q], id, O_RDONLY, &env, &fd, &err) == -1)
		return -1;
	rc = ql_from_envelope(m, &env, fd);
	close(fd);
	queue_envelope_free(&env);
	if (rc == -1)
		queue_list_msg_free(m);
	return rc;
}

static int
ql_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The valid ids in dir, sorted; *n of them.  -1 (errno) if unreadable. */
static int
ql_read_names(const char *dir, char ***out, size_t *n)
{
	struct dirent	*de;
	DIR		*dp;
	char		**v = NULL, **nv;

	*out = NULL;
	size_t		 cap = 0;

	*n = 0;
	if ((dp = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dp)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
	}
	closedir(dp);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), ql_name_cmp);
	*out = v;
	return 0;
}

static void
ql_names_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

int
queue_list_scan_from(enum queue_list_queue q, const char *after, int max,
    int (*fn)(const struct queue_list_msg *, void *), void *arg,
    enum queue_list_queue *next_q, char next_id[QUEUE_ID_SIZE])
{
	struct queue_list_msg m;
	enum queue_list_queue last_q = q;
	char		**names, last_id[QUEUE_ID_SIZE] = "", from[QUEUE_ID_SIZE];
	size_t		 n, i;
	int		 done = 0, rc = 0;

	if (after != NULL) {	/* it may be next_id itself */
		snprintf(from, sizeof(from), "%s", after);
		after = from;
	}
	*next_q = QL_COUNT;
	next_id[0] = '\0';
	for (; q < QL_COUNT; q++, after = NULL) {
		if (ql_read_names(ql_names[q], &names, &n) == -1) {
			if (q == QL_MAILDROP)	/* may be closed to us */
				continue;
			return -1;
		}
		for (i = 0; i < n && rc == 0; i++) {
			if (after != NULL && strcmp(names[i], after) <= 0)
				continue;
			if (done == max) {	/* a page is full */
				*next_q = last_q;
				memcpy(next_id, last_id, sizeof(last_id));
				ql_names_free(names, n);
				return 0;
			}
			if (queue_list_load(q, names[i], &m) == -1)
				continue;
			last_q = q;
			memcpy(last_id, m.id, sizeof(last_id));
			rc = fn(&m, arg);
			queue_list_msg_free(&m);
			done++;
		}
		ql_names_free(names, n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
queue_list_scan(int (*fn)(const struct queue_list_msg *, void *), void *arg)
{
	enum queue_list_queue next_q;
	char		 next_id[QUEUE_ID_SIZE];

	return queue_list_scan_from(QL_INCOMING, NULL, -1, fn, arg, &next_q,
	    next_id);
}

int
queue_list_match(const struct queue_list_filter *f,
    const struct queue_list_msg *m)
{
	int	 i;

	if (f->queues != 0 && !(f->queues & (1u << m->queue)))
		return 0;
	if (f->min_age > 0 && f->now - m->arrival < f->min_age)
		return 0;
	if (f->sender != NULL && (m->sender == NULL ||
	    strcasestr(m->sender, f->sender) == NULL))
		return 0;
	if (f->rcpt == NULL)
		return 1;
	for (i = 0; i < m->nrcpt; i++)
		if (strcasestr(m->rcpt[i].addr, f->rcpt) != NULL)
			return 1;
	return 0;
}
