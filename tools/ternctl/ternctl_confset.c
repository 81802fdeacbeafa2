/*
 * ternctl_confset - "config set key=value ...": edit tern.conf as a person
 * would, safely.  Only keys some program declares are taken (a typo is
 * refused, not written); the edit replaces the key's line (and its
 * continuation lines) or appends one, so comments and order stay; the
 * result must pass the master's whole-file check before it is written;
 * and it is written to a temporary file beside tern.conf with the same
 * owner and mode, fsynced, renamed over it and the directory fsynced, so
 * a crash leaves the old file or the new one, never half of either.
 * A symbolic link is followed to the file it names, which is edited.
 * The running daemons see the change after "ternctl reload".  The text
 * edit itself is ternctl_confedit.c.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../master/master_params.h"
#include "io.h"
#include "ternctl.h"

static int
ctl_key_in(const struct config_table *t, const char *key)
{
	size_t	 i;

	for (i = 0; i < t->nkey; i++)
		if (strcmp(t->key[i].name, key) == 0)
			return 1;
	return 0;
}

int
ctl_conf_known(const char *key)
{
	size_t	 i;

	if (ctl_key_in(&config_global_table, key))
		return 1;
	for (i = 0; i < master_params_ntables; i++)
		if (ctl_key_in(master_params_tables[i], key))
			return 1;
	return 0;
}

/* Does text pass the master's check?  Errors go to stderr. */
static int
ctl_conf_valid(const char *name, const char *text, size_t len)
{
	struct config_part	 part[64];
	struct tern_config	 cf;
	size_t			 i, n = master_params_ntables;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		part[i].table = master_params_tables[i];
		part[i].dest = NULL;
	}
	if (config_parse_parts(name, text, len, &cf, part, n,
	    CONFIG_ALL_KEYS) == -1)
		return 0;
	config_free(&cf);
	return 1;
}

/* Write text as file (same owner and mode as st), durably. */
static int
ctl_conf_replace(const char *file, const struct stat *st, const char *text,
    size_t len)
{
	char	 dir[PATH_MAX], tmp[PATH_MAX];
	int	 fd;

	if (strlen(file) >= sizeof(dir))
		return -1;
	memcpy(dir, file, strlen(file) + 1);
	if (snprintf(tmp, sizeof(tmp), "%s/.tern.conf.XXXXXX", dirname(dir)) >=
	    (int)sizeof(tmp) || (fd = mkstemp(tmp)) == -1)
		return -1;
	if (fchmod(fd, st->st_mode & 07777) == -1 ||
	    (geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) == -1) ||
	    io_write_all(fd, text, len) == -1 || fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, file) == -1) {
		unlink(tmp);
		return -1;
	}
	return io_fsync_dir(dir);
}

/* Split "key=value" (white space around either trimmed) in place. */
static int
ctl_split(char *arg, char **key, char **value)
{
	char	*eq = strchr(arg, '='), *e;
	size_t	 i;

	*eq = '\0';
	*key = arg;
	for (e = eq; e > arg && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	for (*value = eq + 1; **value == ' ' || **value == '\t'; (*value)++)
		;
	for (e = *value + strlen(*value); e > *value && (e[-1] == ' ' ||
	    e[-1] == '\t'); e--)
		e[-1] = '\0';
	for (i = 0; (*value)[i] != '\0'; i++)
		if ((unsigned char)(*value)[i] < 0x20 || (*value)[i] == 0x7f)
			return -1;
	return 0;
}

int
ctl_config_set(const struct ctl_opts *o, const char *path)
{
	struct stat	 st;
	char		 real[PATH_MAX], *text, *next, *key, *value;
	size_t		 len, nlen;
	int		 i;

	if (realpath(ctl_conf_path(path), real) == NULL ||
	    stat(real, &st) == -1 ||
	    (text = ctl_conf_read(real, &len)) == NULL) {
		fprintf(stderr, "ternctl: %s: %s\n", ctl_conf_path(path),
		    strerror(errno));
		return CTL_EX_CONFIG;
	}
	for (i = 0; i < o->nargs; i++) {
		if (ctl_split(o->args[i], &key, &value) == -1) {
			fprintf(stderr, "ternctl: %s: control character in "
			    "the value\n", key);
			free(text);
			return CTL_EX_USAGE;
		}
		if (!ctl_conf_known(key)) {
			fprintf(stderr, "ternctl: %s: unknown parameter; %s "
			    "unchanged\n", key, real);
			free(text);
			return CTL_EX_CONFIG;
		}
		if ((next = ctl_conf_edit(text, len, key, value, &nlen)) ==
		    NULL) {
			fprintf(stderr, "ternctl: %s: value too long\n", key);
			free(text);
			return CTL_EX_USAGE;
		}
		free(text);
		text = next;
		len = nlen;
	}
	if (!ctl_conf_valid(real, text, len)) {
		fprintf(stderr, "ternctl: the result would not be valid; %s "
		    "unchanged\n", real);
		free(text);
		return CTL_EX_CONFIG;
	}
	if (ctl_conf_replace(real, &st, text, len) == -1) {
		fprintf(stderr, "ternctl: cannot write %s: %s\n", real,
		    strerror(errno));
		free(text);
		return CTL_EX_CANTCREAT;
	}
	free(text);
	printf("%s updated; \"ternctl reload\" makes the daemons read it\n",
	    real);
	return CTL_EX_OK;
}
