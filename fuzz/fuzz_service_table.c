/*
 * fuzz_service_table - master.conf (service_table_parse in
 * master/service_table.c), read by the master as root.  Invariants: an
 * accepted table has 1..SERVICE_TABLE_MAX services, each with bounded,
 * NUL-terminated fields of the documented syntax, distinct names and
 * endpoints; writing it out again one service per line and parsing that
 * gives the same table (round trip); a refusal empties the table and says
 * "name:line: reason" or "name: reason"; same answer twice.
 */
#include <string.h>

#include "fuzz.h"
#include "master/service_table.h"

static void
check_field(const char *s, size_t size)
{
	FUZZ_ASSERT(memchr(s, '\0', size) != NULL);
	for (; *s != '\0'; s++)
		FUZZ_ASSERT((unsigned char)*s > 0x20 && *s != 0x7f);
}

/* Every component of a relative path is a real name: not empty, ".", "..". */
static void
check_below(const char *p)
{
	const char	*c = p, *end;
	size_t		 n;

	for (;;) {
		end = strchr(c, '/');
		n = end != NULL ? (size_t)(end - c) : strlen(c);
		FUZZ_ASSERT(n > 0 && !(n == 1 && c[0] == '.') &&
		    !(n == 2 && c[0] == '.' && c[1] == '.'));
		if (end == NULL)
			return;
		c = end + 1;
	}
}

static int
same_service(const struct service *a, const struct service *b)
{
	int	 j;

	if (strcmp(a->name, b->name) != 0 || a->type != b->type ||
	    strcmp(a->address, b->address) != 0 ||
	    strcmp(a->user, b->user) != 0 || a->chroot != b->chroot ||
	    a->limit != b->limit || strcmp(a->program, b->program) != 0 ||
	    a->nargs != b->nargs)
		return 0;
	for (j = 0; j < a->nargs; j++)
		if (strcmp(a->args[j], b->args[j]) != 0)
			return 0;
	return 1;
}

static void
check_service(const struct service_table *tab, int i)
{
	const struct service	*s = &tab->svc[i];
	char			 host[SERVICE_ADDR_MAX], port[8];
	const char		*why;
	int			 j;

	check_field(s->name, sizeof(s->name));
	check_field(s->address, sizeof(s->address));
	check_field(s->user, sizeof(s->user));
	check_field(s->program, sizeof(s->program));
	FUZZ_ASSERT(s->name[0] != '\0' && s->name[0] != '-' && s->name[0] != '.');
	FUZZ_ASSERT(s->limit >= 1 && s->limit <= SERVICE_LIMIT_MAX);
	FUZZ_ASSERT(s->chroot == 0 || s->chroot == 1);
	FUZZ_ASSERT(s->nargs >= 0 && s->nargs <= SERVICE_ARGS_MAX);
	for (j = 0; j < s->nargs; j++)
		check_field(s->args[j], sizeof(s->args[j]));
	check_below(s->program + (s->program[0] == '/'));
	if (s->type == SERVICE_INET)
		FUZZ_ASSERT(service_inet_split(s->address, host, sizeof(host),
		    port, sizeof(port), &why) == 0);
	else {
		FUZZ_ASSERT(s->type == SERVICE_UNIX);
		FUZZ_ASSERT(s->address[0] != '/' &&
		    strlen(s->address) < SERVICE_UNIX_MAX);
		check_below(s->address);
	}
	FUZZ_ASSERT(service_table_find(tab, s->name) == s);
	for (j = 0; j < i; j++)
		FUZZ_ASSERT(!service_same_endpoint(&tab->svc[j], s));
}

/* The table as master.conf text, one line per service. */
static char *
render(const struct service_table *tab, size_t *lenp)
{
	size_t	 cap = (size_t)tab->count * sizeof(struct service) + 1;
	char	*out = malloc(cap);
	size_t	 n = 0;
	int	 i, j;

	FUZZ_ASSERT(out != NULL);
	for (i = 0; i < tab->count; i++) {
		const struct service *s = &tab->svc[i];

		n += (size_t)snprintf(out + n, cap - n, "%s %s %s %s %s %d %s",
		    s->name, s->type == SERVICE_INET ? "inet" : "unix",
		    s->address, s->user, s->chroot ? "y" : "n", s->limit,
		    s->program);
		for (j = 0; j < s->nargs; j++)
			n += (size_t)snprintf(out + n, cap - n, " %s", s->args[j]);
		n += (size_t)snprintf(out + n, cap - n, "\n");
		FUZZ_ASSERT(n < cap);
	}
	*lenp = n;
	return out;
}

static void
check_round_trip(const struct service_table *tab)
{
	struct service_table	 again;
	char			 err[512], *text;
	size_t			 len;
	int			 i;

	text = render(tab, &len);
	FUZZ_ASSERT(service_table_parse("again", text, len, &again, err,
	    sizeof(err)) == 0);
	FUZZ_ASSERT(again.count == tab->count);
	for (i = 0; i < tab->count; i++)
		FUZZ_ASSERT(same_service(&tab->svc[i], &again.svc[i]) &&
		    again.svc[i].line == (size_t)i + 1);
	service_table_free(&again);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_table	 tab, tab2;
	char			 err[512], err2[512];
	int			 r, i;

	r = service_table_parse("fuzz", (const char *)data, size, &tab, err,
	    sizeof(err));
	FUZZ_ASSERT(service_table_parse("fuzz", (const char *)data, size,
	    &tab2, err2, sizeof(err2)) == r);
	if (r < 0) {
		FUZZ_ASSERT(r == -1 && tab.count == 0 && tab.svc == NULL);
		FUZZ_ASSERT(strncmp(err, "fuzz:", 5) == 0 &&
		    strcmp(err, err2) == 0);
		/* A tiny buffer is cut, never overrun. */
		FUZZ_ASSERT(service_table_parse("fuzz", (const char *)data,
		    size, &tab2, err2, 3) == -1 && strlen(err2) <= 2);
		return 0;
	}
	FUZZ_ASSERT(r == 0 && err[0] == '\0');
	FUZZ_ASSERT(tab.count >= 1 && tab.count <= SERVICE_TABLE_MAX);
	FUZZ_ASSERT(tab2.count == tab.count);
	for (i = 0; i < tab.count; i++) {
		FUZZ_ASSERT(same_service(&tab.svc[i], &tab2.svc[i]) &&
		    tab.svc[i].line == tab2.svc[i].line);
		check_service(&tab, i);
	}
	check_round_trip(&tab);
	service_table_free(&tab);
	service_table_free(&tab2);
	return 0;
}
