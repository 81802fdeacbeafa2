/*
 * ternctl_show - "queue show ID", like Postfix's postcat -q: the envelope
 * (every header record of the queue file, each recipient with its status
 * and latest outcome), the message's header and its body, each part under
 * a "*** ... ***" line as postcat prints them; -e, -h and -b choose parts.
 * Root and the mail owner only: the message is the sender's and the
 * recipients' business.  The message is read up to its end as the header
 * says (data_off + data_len), never to the end of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue_file.h"
#include "queue_outcome.h"
#include "ternctl.h"

static const enum queue_dir ctl_show_dirs[] = {
	QDIR_INCOMING, QDIR_ACTIVE, QDIR_DEFERRED, QDIR_HOLD, QDIR_CORRUPT
};

static const char *
ctl_rcpt_status(char s)
{
	return s == RCPT_PENDING ? "pending" : s == RCPT_DELIVERED ?
	    "delivered" : s == RCPT_BOUNCED ? "bounced" : "?";
}

static int
ctl_show_outcome(const struct queue_outcome *o, void *arg)
{
	const struct queue_envelope *env = arg;

	printf("outcome: %s %c %lld %s %s %s\n", env->rcpt[o->rcpt].addr,
	    o->action, o->time, o->code[0] ? o->code : "-",
	    o->host[0] ? o->host : "-", o->text);
	return 0;
}

static void
ctl_show_envelope(int fd, struct queue_envelope *env, const char *where)
{
	static const char *const body[] = { "", "7BIT", "8BITMIME" };
	static const char *const ret[] = { "", "FULL", "HDRS" };
	time_t		 t = (time_t)env->arrival;
	char		 when[64];
	int		 i;

	if (strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y",
	    localtime(&t)) == 0)
		when[0] = '\0';
	printf("*** ENVELOPE RECORDS %s ***\n", where);
	printf("queue_format: %d\nmessage_size: %lld\n"
	    "message_arrival_time: %s\nsender: %s\nclient: %s\nhelo: %s\n",
	    env->version, (long long)env->data_len, when, env->sender,
	    env->client ? env->client : "", env->helo ? env->helo : "");
	printf("body: %s\nsmtputf8: %d\nret: %s\nenvid: %s\n",
	    body[env->body], env->smtputf8, ret[env->ret],
	    env->envid ? env->envid : "");
	for (i = 0; i < env->nrcpt; i++) {
		printf("recipient: %s (%s)\n", env->rcpt[i].addr,
		    ctl_rcpt_status(env->rcpt[i].status));
		if (env->rcpt[i].orcpt != NULL && env->rcpt[i].orcpt[0])
			printf("orcpt: %s\n", env->rcpt[i].orcpt);
	}
	if (env->version >= 2)
		(void)queue_outcome_read(fd, env, ctl_show_outcome, env);
}

/* The message: its header (up to the first empty line) and/or body. */
static int
ctl_show_message(int fd, const struct queue_envelope *env, int what,
    const char *where)
{
	char		*m;
	size_t		 len = (size_t)env->data_len, hlen;
	ssize_t		 n;
	const char	*sep;

	if ((m = malloc(len + 1)) == NULL)
		return -1;
	if ((n = pread(fd, m, len, env->data_off)) < 0 || (size_t)n != len) {
		free(m);
		return -1;
	}
	m[len] = '\0';
	if (len > 0 && m[0] == '\n')
		hlen = 0;
	else
		hlen = (sep = memmem(m, len, "\n\n", 2)) != NULL ?
		    (size_t)(sep - m) + 1 : len;
	if (what & CTL_SHOW_HEADER) {
		printf("*** MESSAGE CONTENTS %s ***\n", where);
		fwrite(m, 1, hlen, stdout);
	}
	if (what & CTL_SHOW_BODY) {
		printf("*** MESSAGE BODY %s ***\n", where);
		if (hlen < len)
			fwrite(m + hlen + 1, 1, len - hlen - 1, stdout);
	}
	free(m);
	return 0;
}

int
ctl_queue_show(const struct ctl_opts *o, const struct tern_config *cfg)
{
	struct queue_envelope env;
	const char	*id = o->args[0], *err = NULL;
	char		 where[QUEUE_PATH_SIZE];
	size_t		 i;
	int		 fd = -1, what = o->show ? o->show : CTL_SHOW_ENVELOPE |
			    CTL_SHOW_HEADER | CTL_SHOW_BODY, rc;

	if (!ctl_may_admin(cfg, "queue show"))
		return CTL_EX_NOPERM;
	if (chdir(cfg->queue_directory) == -1) {
		fprintf(stderr, "ternctl: queue directory %s: %s\n",
		    cfg->queue_directory, strerror(errno));
		return CTL_EX_TEMPFAIL;
	}
	for (i = 0; i < sizeof(ctl_show_dirs) / sizeof(ctl_show_dirs[0]);
	    i++) {
		errno = 0;
		if (queue_file_open(ctl_show_dirs[i], id, O_RDONLY, &env, &fd,
		    &err) == 0)
			break;
		if (errno != ENOENT) {
			fprintf(stderr, "ternctl: %s/%s: %s\n",
			    queue_dir_name(ctl_show_dirs[i]), id,
			    err != NULL ? err : strerror(errno));
			return CTL_EX_DATAERR;
		}
	}
	if (i == sizeof(ctl_show_dirs) / sizeof(ctl_show_dirs[0])) {
		fprintf(stderr, "ternctl: %s: no such message\n", id);
		return CTL_EX_FAIL;
	}
	snprintf(where, sizeof(where), "%s/%s",
	    queue_dir_name(ctl_show_dirs[i]), id);
	if (what & CTL_SHOW_ENVELOPE)
		ctl_show_envelope(fd, &env, where);
	rc = 0;
	if (what & (CTL_SHOW_HEADER | CTL_SHOW_BODY))
		rc = ctl_show_message(fd, &env, what, where);
	if (rc == 0)
		printf("*** MESSAGE FILE END %s ***\n", where);
	else
		fprintf(stderr, "ternctl: %s: cannot read the message: %s\n",
		    where, strerror(errno));
	close(fd);
	queue_envelope_free(&env);
	return rc == 0 && fflush(stdout) == 0 ? CTL_EX_OK : CTL_EX_OSERR;
}
