/*
 * qmgr_record - the outcome records qmgr appends to a message's queue file
 * (format: common/queue_file.h): every bounce ('B'), and a deferred
 * recipient's reason ('T') whenever it differs from the recipient's latest
 * record, so a file retried every few minutes for days does not grow by a
 * line per attempt.  Records are written without a sync: the caller makes
 * them durable with the fdatasync that also covers the status bytes of the
 * same batch, so a reason survives a restart for the notifications service
 * to report.  What was recorded last for each recipient is kept in memory
 * as a 64-bit digest, read back from the file when the message is loaded;
 * a digest that is wrong (a failed sync, an unreadable tail) only costs one
 * repeated record.  A version 1 file cannot hold records: nothing is
 * written, and that is not an error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "qmgr.h"
#include "queue_outcome.h"

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static uint64_t
record_hash_bytes(uint64_t h, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Digest of a record as the file holds it (its text is cut and cleaned
 * the way queue_outcome_format() does), never 0. */
static uint64_t
record_digest(const struct queue_outcome *o)
{
	uint64_t	 h = FNV_OFFSET;
	size_t		 i, n = strnlen(o->text, QUEUE_TEXT_MAX);
	char		 c;

	h = record_hash_bytes(h, &o->action, 1);
	h = record_hash_bytes(h, o->code, strlen(o->code) + 1);
	h = record_hash_bytes(h, o->host, strlen(o->host) + 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)o->text[i] < 0x20 || o->text[i] == 0x7f ?
		    '?' : o->text[i];
		h = record_hash_bytes(h, &c, 1);
	}
	return h != 0 ? h : 1;
}

static int
record_note(const struct queue_outcome *o, void *arg)
{
	struct qmgr_msg	*m = arg;

	if ((o->action == OUTCOME_NOTICE_FAILED ||
	    o->action == OUTCOME_NOTICE_DELAYED ||
	    o->action == OUTCOME_NOTICE_DELIVERED) &&
	    strcmp(o->text, QMGR_NOTICE_PASSED) != 0)
		m->bounce_asked = 1;
	switch (o->action) {
	case OUTCOME_NOTICE_FAILED:
		m->noticed[o->rcpt] |= QMGR_NOTICED_FAILED;
		break;
	case OUTCOME_NOTICE_DELAYED:
		m->noticed[o->rcpt] |= QMGR_NOTICED_DELAYED;
		break;
	case OUTCOME_NOTICE_DELIVERED:
		m->noticed[o->rcpt] |= QMGR_NOTICED_DELIVERED;
		break;
	default:
		m->reason[o->rcpt] = record_digest(o);
	}
	return 0;
}

void
qmgr_record_load(struct qmgr_msg *m)
{
	free(m->reason);
	free(m->noticed);
	m->reason = xcalloc((size_t)(m->env.nrcpt > 0 ? m->env.nrcpt : 1),
	    sizeof(*m->reason));
	m->noticed = xcalloc((size_t)(m->env.nrcpt > 0 ? m->env.nrcpt : 1),
	    sizeof(*m->noticed));
	/* The usual file, which no round has touched yet, ends with its
	 * message (qmgr alone appends records to a file in active/, and
	 * queue_file_read() has just taken its size): no records to read,
	 * and a read and an fstat less per message. */
	if (m->env.version >= 2 && m->env.data_len >= 0 &&
	    m->env.file_size == m->env.data_off + m->env.data_len) {
		m->env.outcome_end = m->env.file_size;
		m->env.outcome_torn = 0;
		return;
	}
	if (queue_outcome_read(m->fd, &m->env, record_note, m) < 0) {
		/* Not fatal: the next write looks for the end again. */
		log_qid(LOG_LEVEL_WARN, m->id, "cannot read outcome records: "
		    "%s", strerror(errno));
		memset(m->reason, 0, (size_t)(m->env.nrcpt > 0 ?
		    m->env.nrcpt : 1) * sizeof(*m->reason));
		m->env.outcome_end = 0;
		/* Without the markers no notice can be known to be sent:
		 * none is sent until they can be read. */
		free(m->noticed);
		m->noticed = NULL;
	}
}

void
qmgr_record_forget(struct qmgr_msg *m)
{
	if (m->reason != NULL)
		memset(m->reason, 0, (size_t)(m->env.nrcpt > 0 ?
		    m->env.nrcpt : 1) * sizeof(*m->reason));
}

void
qmgr_record_free(struct qmgr_msg *m)
{
	free(m->reason);
	m->reason = NULL;
	free(m->noticed);
	m->noticed = NULL;
}


/* Fill o; a status code the format would refuse (a peer's garbage) is
 * left out rather than losing the record. */
static void
record_fill(struct queue_outcome *o, int i, char action, const char *dsn,
    const char *text)
{
	char	 line[QUEUE_OUTCOME_MAX + 1];

	memset(o, 0, sizeof(*o));
	o->rcpt = i;
	o->action = action;
	o->time = (long long)time(NULL);
	if (dsn != NULL)
		strlcpy(o->code, dsn, sizeof(o->code));
	strlcpy(o->text, text != NULL ? text : "", sizeof(o->text));
	if (o->code[0] != '\0' &&
	    queue_outcome_format(o, line, sizeof(line)) < 0 && errno == EINVAL)
		o->code[0] = '\0';
}

int
qmgr_record_write(struct qmgr_msg *m, int i, char action, const char *dsn,
    const char *text)
{
	struct queue_outcome	 o;
	unsigned long long	 d;

	if (m->env.version < 2)
		return 0;
	record_fill(&o, i, action, dsn, text);
	d = record_digest(&o);
	if (action == OUTCOME_DELAYED && m->reason != NULL &&
	    m->reason[i] == d)
		return 0;	/* the same reason as last time */
	if (queue_outcome_write(m->fd, &m->env, &o) == -1)
		return -1;
	if (m->reason != NULL)
		m->reason[i] = d;
	return 1;
}

int
qmgr_record_notice(struct qmgr_msg *m, int i, char letter,
    const char *notice_id)
{
	struct queue_outcome	 o;

	record_fill(&o, i, letter, NULL, notice_id);
	return queue_outcome_write(m->fd, &m->env, &o);
}
