/*
 * ternctl_config - "config": every parameter of every program with its
 * value, as postconf prints them ("key = value", the global table first,
 * then each daemon's in tern.conf(5)'s order); -n only the keys tern.conf
 * sets, -d the defaults; named keys only those (an unknown name is an
 * error).  The values are what the programs would get: tern.conf is parsed
 * by the same tables the master checks it with (master_params.c), so a
 * file the master would refuse is refused here too, with its reasons.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../master/master_params.h"
#include "ternctl.h"

#define CTL_CONF_MAX	(1024 * 1024)	/* tern.conf we read whole */
#define CTL_NTABLES_MAX	32

struct ctl_conf {
	struct tern_config	 cf;
	struct config_part	 part[CTL_NTABLES_MAX];
	size_t			 n;
};

static void
ctl_conf_free(struct ctl_conf *c)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		config_free_part(c->part[i].table, c->part[i].dest);
		free(c->part[i].dest);
	}
	config_free(&c->cf);
}

/* Every table with a struct of its own; defaults only, or the file. */
static int
ctl_conf_load(const char *path, struct ctl_conf *c, int defaults)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	c->n = master_params_ntables < CTL_NTABLES_MAX ?
	    master_params_ntables : CTL_NTABLES_MAX;
	for (i = 0; i < c->n; i++) {
		c->part[i].table = master_params_tables[i];
		if ((c->part[i].dest = calloc(1, master_params_tables[i]->size))
		    == NULL)
			return -1;
	}
	if (defaults) {
		config_defaults_parts(&c->cf, c->part, c->n);
		return 0;
	}
	if (config_load_parts(path, &c->cf, c->part, c->n,
	    CONFIG_ALL_KEYS) == -1) {
		for (i = 0; i < c->n; i++)
			free(c->part[i].dest);
		c->n = 0;
		return -1;
	}
	return 0;
}

/* config_print of every table, into a malloc'd NUL-terminated string. */
static char *
ctl_conf_render(const struct ctl_conf *c)
{
	struct stat	 st;
	char		*out = NULL;
	size_t		 i;
	int		 fd;

	if ((fd = memfd_create("ternctl-config", MFD_CLOEXEC)) == -1)
		return NULL;
	config_print(&config_global_table, &c->cf, fd);
	for (i = 0; i < c->n; i++)
		config_print(c->part[i].table, c->part[i].dest, fd);
	if (fstat(fd, &st) == 0 && (out = malloc(st.st_size + 1)) != NULL) {
		if (pread(fd, out, st.st_size, 0) != st.st_size) {
			free(out);
			out = NULL;
		} else
			out[st.st_size] = '\0';
	}
	close(fd);
	return out;
}

static int
ctl_in(char **v, const char *key, size_t klen)
{
	for (; v != NULL && *v != NULL; v++)
		if (strlen(*v) == klen && strncmp(*v, key, klen) == 0)
			return 1;
	return 0;
}

char *
ctl_conf_read(const char *path, size_t *len)
{
	struct stat	 st;
	char		*text = NULL;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > CTL_CONF_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		if ((n = read(fd, text + got, (size_t)st.st_size - got)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	*len = got;
	return text;
fail:
	free(text);
	close(fd);
	return NULL;
}

const char *
ctl_conf_path(const char *path)
{
	return path != NULL ? path : TERN_SYSCONFDIR "/tern.conf";
}

int
ctl_config(const struct ctl_opts *o, const char *path)
{
	struct ctl_conf	 c;
	char		*all, *line, *eol, **set = NULL, *text;
	size_t		 klen, len;
	int		 i, rc = CTL_EX_OK;

	for (i = 0; i < o->nargs; i++)
		if (!ctl_conf_known(o->args[i])) {
			fprintf(stderr, "ternctl: %s: unknown parameter\n",
			    o->args[i]);
			rc = CTL_EX_FAIL;
		}
	if (rc != CTL_EX_OK)
		return rc;
	if (ctl_conf_load(path, &c, o->config_mode == 'd') == -1)
		return CTL_EX_CONFIG;
	if (o->config_mode == 'n') {
		if ((text = ctl_conf_read(ctl_conf_path(path), &len)) == NULL) {
			fprintf(stderr, "ternctl: %s: %s\n", ctl_conf_path(path),
			    strerror(errno));
			ctl_conf_free(&c);
			return CTL_EX_CONFIG;
		}
		set = ctl_conf_keys(text, len);
		free(text);
	}
	if ((all = ctl_conf_render(&c)) == NULL) {
		ctl_conf_free(&c);
		ctl_conf_keys_free(set);
		return CTL_EX_OSERR;
	}
	for (line = all; *line != '\0'; line = eol + 1) {
		if ((eol = strchr(line, '\n')) == NULL)
			break;
		klen = strcspn(line, " =");
		if (o->config_mode == 'n' && !ctl_in(set, line, klen))
			continue;
		if (o->nargs > 0 && !ctl_in(o->args, line, klen))
			continue;
		fwrite(line, 1, (size_t)(eol - line) + 1, stdout);
	}
	free(all);
	ctl_conf_keys_free(set);
	ctl_conf_free(&c);
	return fflush(stdout) == 0 ? CTL_EX_OK : CTL_EX_OSERR;
}
