/*
 * sendmail_submit - the submission itself: read the message from standard
 * input, gather the recipients (command line, and with -t the To:, Cc:
 * and Bcc: fields, added to each other as Postfix does), and hand one drop
 * file to ternpostdrop, which makes it durable in maildrop/.  Success only
 * when ternpostdrop says the file and its name are on disk; the daemons
 * need not run (pickup takes the file when it starts, or at once through
 * inotify).  Everything is checked here for the user's benefit; pickup
 * checks it all again, since it cannot trust this program's output.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "drop_file.h"
#include "io.h"
#include "mail_header.h"
#include "sendmail.h"

#define SM_POSTDROP	"ternpostdrop"

char *
sendmail_read_message(int fd, int ignore_dots, size_t max, size_t *len,
    const char **why)
{
	struct buf	 b;
	char		 in[65536];
	ssize_t		 n, i;
	int		 bol = 1, dot = 0, cr = 0;

	buf_init(&b, max + 2);
	for (;;) {
		n = read(fd, in, sizeof(in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*why = "cannot read the message";
			goto fail;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			char	 c = in[i];

			if (c == '\0') {
				*why = "the message holds a NUL byte";
				goto fail;
			}
			/* A CR is kept unless a LF follows it. */
			if (cr && c != '\n' && buf_append(&b, "\r", 1) < 0)
				goto big;
			cr = c == '\r';
			if (cr)
				continue;
			if (c == '\n' && dot && !ignore_dots) {
				b.len--;	/* the lone dot ends it */
				goto done;
			}
			dot = bol && c == '.';
			bol = c == '\n';
			if (buf_append(&b, &c, 1) < 0)
				goto big;
		}
	}
	if (cr && buf_append(&b, "\r", 1) < 0)
		goto big;
	if (dot && !ignore_dots)
		b.len--;	/* a last line of "." without LF */
done:
	/* Pickup stores whole lines. */
	if (b.len > 0 && b.data[b.len - 1] != '\n' && buf_append(&b, "\n", 1) < 0)
		goto big;
	if (b.len > max)
		goto big;
	*len = b.len;
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
big:
	*why = "message too big (message_size_limit)";
fail:
	buf_free(&b);
	return NULL;
}

void
sendmail_rcpt_add(struct sendmail_rcpts *l, const char *s, size_t len)
{
	char		 canon[ADDR_PATH_MAX + 1], probe[ADDR_PATH_MAX + 32];
	const char	*err = "bad address";
	int		 i;

	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	}
	if (memchr(s, '@', len) != NULL) {
		if (addr_canonical(s, len, canon, sizeof(canon)) < 0)
			goto bad;
	} else {
		/* A local name: checked as a mailbox at some domain;
		 * pickup appends myhostname. */
		if (len == 0 || len > ADDR_LOCAL_MAX)
			goto bad;
		snprintf(probe, sizeof(probe), "%.*s@localhost", (int)len, s);
		if (addr_canonical(probe, strlen(probe), canon,
		    sizeof(canon)) < 0)
			goto bad;
		*strrchr(canon, '@') = '\0';
	}
	for (i = 0; i < l->n; i++)
		if (strcmp(l->addr[i], canon) == 0)
			return;
	if (l->n >= DROP_RCPT_MAX) {
		err = "too many recipients";
		goto bad;
	}
	l->addr = xreallocarray(l->addr, (size_t)l->n + 1, sizeof(*l->addr));
	l->addr[l->n++] = xstrdup(canon);
	return;
bad:
	l->bad++;
	fprintf(stderr, "sendmail: %.*s: %s: recipient ignored\n",
	    len > 300 ? 300 : (int)len, s, err);
}

void
sendmail_rcpts_free(struct sendmail_rcpts *l)
{
	int	 i;

	for (i = 0; i < l->n; i++)
		free(l->addr[i]);
	free(l->addr);
	memset(l, 0, sizeof(*l));
}

static void
sendmail_rcpt_cb(void *arg, const char *a, size_t len)
{
	sendmail_rcpt_add(arg, a, len);
}

/* The recipients: arguments, then (-t) the header's To/Cc/Bcc. */
static void
sendmail_rcpts_gather(const struct sendmail_opts *o, const char *msg,
    size_t len, struct sendmail_rcpts *l)
{
	struct mail_field f;
	size_t		 hlen, body, off = 0;
	int		 i;

	for (i = 0; i < o->nrcpt; i++)
		if (mail_addrlist(o->rcpt[i], strlen(o->rcpt[i]),
		    sendmail_rcpt_cb, l) == 0) {
			l->bad++;
			fprintf(stderr, "sendmail: \"%s\": no address\n",
			    o->rcpt[i]);
		}
	if (!o->extract)
		return;
	hlen = mail_header_end(msg, len, &body);
	while (mail_header_next(msg, hlen, &off, &f))
		if (mail_field_is(&f, "To") || mail_field_is(&f, "Cc") ||
		    mail_field_is(&f, "Bcc"))
			mail_addrlist(f.value, f.valuelen, sendmail_rcpt_cb, l);
}

/* The envelope sender: -f (angle brackets taken off; "<>" or "" is the
 * null sender), or the user's login name.  NULL with a message. */
char *
sendmail_sender(const struct sendmail_opts *o)
{
	struct sendmail_rcpts one = { 0 };
	struct passwd	*pw;
	char		*s;

	if (o->sender == NULL) {
		if ((pw = getpwuid(getuid())) == NULL) {
			fprintf(stderr, "sendmail: uid %ld has no name\n",
			    (long)getuid());
			return NULL;
		}
		return xstrdup(pw->pw_name);
	}
	if (strcmp(o->sender, "") == 0 || strcmp(o->sender, "<>") == 0)
		return xstrdup("");
	sendmail_rcpt_add(&one, o->sender, strlen(o->sender));
	if (one.n != 1) {
		sendmail_rcpts_free(&one);
		return NULL;
	}
	s = xstrdup(one.addr[0]);
	sendmail_rcpts_free(&one);
	return s;
}

/* ternpostdrop beside this program (/proc/self/exe: mailq and sendmail
 * links still find it). */
static int
sendmail_postdrop_path(char *out, size_t outlen)
{
	char	 self[PATH_MAX];
	ssize_t	 n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	if ((size_t)snprintf(out, outlen, "%s/%s", dirname(self), SM_POSTDROP) >=
	    outlen)
		return -1;
	return 0;
}

/* Run ternpostdrop in the queue directory with hdr and msg on its input.
 * An exit code. */
static int
sendmail_postdrop(const struct tern_config *cfg, const char *hdr,
    size_t hlen, const char *msg, size_t mlen)
{
	char	 path[PATH_MAX];
	int	 p[2], status;
	pid_t	 pid;

	if (sendmail_postdrop_path(path, sizeof(path)) < 0 || pipe(p) < 0) {
		fprintf(stderr, "sendmail: cannot find %s\n", SM_POSTDROP);
		return SM_EX_TEMPFAIL;
	}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "sendmail: fork: %s\n", strerror(errno));
		return SM_EX_TEMPFAIL;
	}
	if (pid == 0) {
		if (dup2(p[0], STDIN_FILENO) < 0)
			_exit(SM_EX_TEMPFAIL);
		close(p[0]);
		close(p[1]);
		if (chdir(cfg->queue_directory) < 0) {
			fprintf(stderr, "sendmail: queue directory %s: %s\n",
			    cfg->queue_directory, strerror(errno));
			_exit(SM_EX_TEMPFAIL);
		}
		execl(path, SM_POSTDROP, (char *)NULL);
		fprintf(stderr, "sendmail: %s: %s\n", path, strerror(errno));
		_exit(SM_EX_TEMPFAIL);
	}
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	/* A failed write means postdrop gave up: its status says why. */
	if (io_write_all(p[1], hdr, hlen) == 0)
		io_write_all(p[1], msg, mlen);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return SM_EX_TEMPFAIL;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "sendmail: the message could not be queued\n");
		return SM_EX_TEMPFAIL;
	}
	return SM_EX_OK;
}

int
sendmail_enqueue(const struct sendmail_opts *o, const struct tern_config *cfg,
    const char *sender, const struct sendmail_rcpts *rcpts, const char *msg,
    size_t mlen)
{
	struct drop_envelope env;
	char		*hdr;
	size_t		 hlen;
	int		 rc;

	memset(&env, 0, sizeof(env));
	env.uid = (long long)getuid();
	env.sender = (char *)sender;
	env.fullname = (char *)o->fullname;
	env.body = o->body;
	env.ret = o->ret;
	env.envid = (char *)o->envid;
	env.notify = o->notify;
	env.nrcpt = rcpts->n;
	env.rcpt = rcpts->addr;
	env.data_len = mlen;
	if (o->fullname != NULL && !drop_value_ok(o->fullname,
	    strlen(o->fullname))) {
		fprintf(stderr, "sendmail: -F: control character in the name\n");
		return SM_EX_USAGE;
	}
	if ((hdr = drop_format(&env, &hlen)) == NULL) {
		fprintf(stderr, "sendmail: cannot build the drop file\n");
		return SM_EX_SOFTWARE;
	}
	rc = sendmail_postdrop(cfg, hdr, hlen, msg, mlen);
	if (rc == SM_EX_OK && o->verbose)
		fprintf(stderr, "sendmail: queued for %d recipient(s)\n",
		    rcpts->n);
	free(hdr);
	return rc;
}

int
sendmail_submit(const struct sendmail_opts *o, const struct tern_config *cfg)
{
	struct sendmail_rcpts rcpts = { 0 };
	const char	*why;
	char		*msg, *sender;
	size_t		 mlen;
	int		 rc;

	if ((sender = sendmail_sender(o)) == NULL) {
		fprintf(stderr, "sendmail: bad sender address\n");
		return SM_EX_USAGE;
	}
	msg = sendmail_read_message(STDIN_FILENO, o->ignore_dots,
	    cfg->message_size_limit, &mlen, &why);
	if (msg == NULL) {
		fprintf(stderr, "sendmail: %s\n", why);
		free(sender);
		return SM_EX_DATAERR;
	}
	sendmail_rcpts_gather(o, msg, mlen, &rcpts);
	if (rcpts.n == 0) {
		fprintf(stderr, "sendmail: no recipient addresses%s\n",
		    o->extract ? " (none in To:, Cc: or Bcc: either)" : "");
		free(msg);
		free(sender);
		sendmail_rcpts_free(&rcpts);
		return SM_EX_NOUSER;
	}
	rc = sendmail_enqueue(o, cfg, sender, &rcpts, msg, mlen);
	free(msg);
	free(sender);
	sendmail_rcpts_free(&rcpts);
	return rc;
}

int
sendmail_verify(const struct sendmail_opts *o, const struct tern_config *cfg)
{
	struct sendmail_rcpts rcpts = { 0 };
	int		 i;

	(void)cfg;
	sendmail_rcpts_gather(o, "", 0, &rcpts);
	for (i = 0; i < rcpts.n; i++)
		printf("%s: address ok\n", rcpts.addr[i]);
	i = rcpts.n;
	sendmail_rcpts_free(&rcpts);
	return i > 0 ? SM_EX_OK : SM_EX_NOUSER;
}
