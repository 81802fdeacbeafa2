/*
 * fuzz_config - tern.conf (config_parse_parts in common/config.c), parsed
 * as the master checks it: the global table and every daemon's table
 * (master/master_params.c), every key known.  The file is root's, but it
 * is read by every daemon and by admin tools, and one mistake in it must be
 * reported, not obeyed.  Invariants, checked generically from each key's
 * descriptor: strings clean (and non-empty unless allowed), lists bounded
 * with clean items, counts, sizes and times at least their minimum and
 * never above their not_above key, booleans 0 or 1, choices within their
 * words; printing every table with config_print and parsing that again
 * gives the same printout (round trip; skipped when a value holds '$',
 * since "$myhostname" is expanded again and the file format has no escape
 * for it); a refused file leaves everything zeroed; the same text parses
 * the same way twice.
 */
#include <sys/mman.h>

#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "fuzz.h"
#include "master/master_params.h"

#define NPART_MAX	16

struct parsed {
	struct tern_config	 cf;
	struct config_part	 part[NPART_MAX];
	size_t			 npart;
};

static int print_fd = -1;

static int
parse(const char *text, size_t len, struct parsed *p)
{
	size_t	 i;

	memset(p, 0, sizeof(*p));
	p->npart = master_params_ntables;
	FUZZ_ASSERT(p->npart <= NPART_MAX);
	for (i = 0; i < p->npart; i++) {
		p->part[i].table = master_params_tables[i];
		FUZZ_ASSERT((p->part[i].dest =
		    calloc(1, master_params_tables[i]->size)) != NULL);
	}
	return config_parse_parts("fuzz.conf", text, len, &p->cf, p->part,
	    p->npart, CONFIG_ALL_KEYS);
}

static void
parsed_free(struct parsed *p)
{
	size_t	 i;

	config_free(&p->cf);
	for (i = 0; i < p->npart; i++) {
		config_free_part(p->part[i].table, p->part[i].dest);
		free(p->part[i].dest);
	}
}

/* Every table's config_print output, NUL-terminated, malloc'd. */
static char *
printout(const struct parsed *p, size_t *lenp)
{
	char	*text;
	off_t	 len;
	size_t	 i;

	if (print_fd < 0)
		print_fd = memfd_create("fuzz_config", MFD_CLOEXEC);
	FUZZ_ASSERT(print_fd >= 0 && ftruncate(print_fd, 0) == 0 &&
	    lseek(print_fd, 0, SEEK_SET) == 0);
	config_print(&config_global_table, &p->cf, print_fd);
	for (i = 0; i < p->npart; i++)
		config_print(p->part[i].table, p->part[i].dest, print_fd);
	FUZZ_ASSERT((len = lseek(print_fd, 0, SEEK_CUR)) > 0);
	FUZZ_ASSERT((text = malloc((size_t)len + 1)) != NULL);
	FUZZ_ASSERT(pread(print_fd, text, (size_t)len, 0) == len);
	text[len] = '\0';
	*lenp = (size_t)len;
	return text;
}

static void
check_string(const char *s, int empty_ok)
{
	FUZZ_ASSERT(s != NULL && (empty_ok || s[0] != '\0'));
	for (; *s != '\0'; s++)
		FUZZ_ASSERT((unsigned char)*s >= 0x20 || *s == '\t');
}

static void
check_list(const struct config_list *l)
{
	int	 i;

	FUZZ_ASSERT(l->count >= 0 && l->count <= CONFIG_LIST_MAX);
	for (i = 0; i < l->count; i++)
		FUZZ_ASSERT(l->item[i] != NULL && l->item[i][0] != '\0' &&
		    strpbrk(l->item[i], ", \t") == NULL);
}

static long long
key_number(const struct config_key *k, const char *base)
{
	if (k->type == CT_SIZE)
		return (long long)*(const size_t *)(const void *)(base + k->off);
	return *(const int *)(const void *)(base + k->off);
}

static const struct config_key *
key_find(const struct config_table *t, const char *name)
{
	size_t	 i;

	for (i = 0; i < t->nkey; i++)
		if (strcmp(t->key[i].name, name) == 0)
			return &t->key[i];
	return NULL;
}

static void
check_table(const struct config_table *t, const void *dest)
{
	const char		*base = dest;
	const struct config_key	*k, *top;
	size_t			 i, n;
	int			 v;

	for (i = 0; i < t->nkey; i++) {
		k = &t->key[i];
		switch (k->type) {
		case CT_STRING:
			check_string(*(char *const *)(const void *)(base +
			    k->off), (k->flags & CF_EMPTY_OK) != 0);
			break;
		case CT_LIST:
			check_list((const struct config_list *)(const void *)
			    (base + k->off));
			break;
		case CT_BOOL:
			v = *(const int *)(const void *)(base + k->off);
			FUZZ_ASSERT(v == 0 || v == 1);
			break;
		case CT_CHOICE:
			v = *(const int *)(const void *)(base + k->off);
			for (n = 0; k->words[n] != NULL; n++)
				;
			FUZZ_ASSERT(v >= 0 && (size_t)v < n);
			break;
		default:
			FUZZ_ASSERT(key_number(k, base) >= k->min);
			if (k->not_above != NULL) {
				FUZZ_ASSERT((top = key_find(t, k->not_above)) !=
				    NULL);
				FUZZ_ASSERT(key_number(k, base) <=
				    key_number(top, base));
			}
			break;
		}
	}
}

static void
check_parsed(const struct parsed *p)
{
	size_t	 i;

	check_table(&config_global_table, &p->cf);
	for (i = 0; i < p->npart; i++)
		check_table(p->part[i].table, p->part[i].dest);
}

static void
check_round_trip(const struct parsed *p)
{
	struct parsed	 again;
	char		*text, *text2;
	size_t		 len, len2;

	text = printout(p, &len);
	/* A default myhostname comes from gethostname(), not the file. */
	if (strchr(text, '$') == NULL &&
	    addr_valid_domain(p->cf.myhostname, strlen(p->cf.myhostname))) {
		FUZZ_ASSERT(parse(text, len, &again) == 0);
		text2 = printout(&again, &len2);
		FUZZ_ASSERT(len2 == len && memcmp(text, text2, len) == 0);
		free(text2);
		parsed_free(&again);
	}
	free(text);
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char	*c = p;

	while (n-- > 0)
		if (*c++ != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parsed	 a, b;
	char		*ta, *tb;
	size_t		 alen, blen, i;
	int		 r;

	r = parse((const char *)data, size, &a);
	FUZZ_ASSERT(parse((const char *)data, size, &b) == r);
	if (r < 0) {
		FUZZ_ASSERT(r == -1);
		FUZZ_ASSERT(all_zero(&a.cf, sizeof(a.cf)));
		for (i = 0; i < a.npart; i++)
			FUZZ_ASSERT(all_zero(a.part[i].dest,
			    a.part[i].table->size));
		parsed_free(&a);
		parsed_free(&b);
		return 0;
	}
	check_parsed(&a);
	ta = printout(&a, &alen);
	tb = printout(&b, &blen);
	FUZZ_ASSERT(alen == blen && memcmp(ta, tb, alen) == 0);
	free(ta);
	free(tb);
	check_round_trip(&a);
	parsed_free(&a);
	parsed_free(&b);
	return 0;
}
