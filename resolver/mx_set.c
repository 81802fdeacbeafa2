/*
 * mx_set - bookkeeping for one domain's mail exchangers.  The set is a
 * fixed array: a domain that publishes hundreds of MX records costs no more
 * memory than one that publishes RESOLVER_MX_MAX, and only the best of them
 * are kept, since a client never gets past the first few anyway.
 */
#include <stdio.h>
#include <string.h>

#include "mx_set.h"

void
mx_set_init(struct mx_set *s)
{
	memset(s, 0, sizeof(*s));
}

static int
mx_set_find(const struct mx_set *s, const char *name)
{
	int	 i;

	for (i = 0; i < s->nhost; i++)
		if (strcmp(s->host[i].name, name) == 0)
			return i;
	return -1;
}

/* Index of the entry a newcomer would replace: the highest preference. */
static int
mx_set_worst(const struct mx_set *s)
{
	int	 i, worst = 0;

	for (i = 1; i < s->nhost; i++)
		if (s->host[i].pref > s->host[worst].pref)
			worst = i;
	return worst;
}

static void
mx_host_set(struct mx_host *h, uint16_t pref, const char *name, size_t len)
{
	memset(h, 0, sizeof(*h));
	h->pref = pref;
	memcpy(h->name, name, len + 1);
}

int
mx_set_add(struct mx_set *s, uint16_t pref, const char *name)
{
	size_t	 len = strnlen(name, DNS_NAME_MAX + 1);
	int	 i;

	if (len == 0 || len > DNS_NAME_MAX)
		return -1;
	if ((i = mx_set_find(s, name)) >= 0) {
		if (pref >= s->host[i].pref)
			return 0;
		s->host[i].pref = pref;
		return 1;
	}
	if (s->nhost < RESOLVER_MX_MAX) {
		mx_host_set(&s->host[s->nhost++], pref, name, len);
		return 1;
	}
	i = mx_set_worst(s);
	if (pref >= s->host[i].pref)
		return 0;
	mx_host_set(&s->host[i], pref, name, len);
	return 1;
}

static void
mx_set_swap(struct mx_set *s, int a, int b)
{
	struct mx_host	 tmp;

	if (a == b)
		return;
	tmp = s->host[a];
	s->host[a] = s->host[b];
	s->host[b] = tmp;
}

/* Shuffle everything (Fisher-Yates), then a stable sort by preference:
 * hosts of equal preference end up in uniformly random order.  n is at
 * most RESOLVER_MX_MAX, so insertion sort is the simple right choice. */
void
mx_set_sort(struct mx_set *s, mx_random_fn rnd, void *arg)
{
	int	 i, j;

	for (i = s->nhost - 1; i > 0; i--)
		mx_set_swap(s, i, (int)rnd((uint32_t)i + 1, arg));
	for (i = 1; i < s->nhost; i++)
		for (j = i; j > 0 && s->host[j - 1].pref > s->host[j].pref; j--)
			mx_set_swap(s, j - 1, j);
}

int
mx_host_add_addr(struct mx_host *h, int rrtype, const char *text)
{
	char	(*slot)[DNS_ADDR_TEXT_MAX];
	int	*n;

	if (rrtype == DNS_TYPE_AAAA) {
		slot = h->addr6;
		n = &h->naddr6;
	} else if (rrtype == DNS_TYPE_A) {
		slot = h->addr4;
		n = &h->naddr4;
	} else
		return -1;
	if (*n >= MX_ADDR_MAX || strlen(text) >= DNS_ADDR_TEXT_MAX)
		return -1;
	memcpy(slot[*n], text, strlen(text) + 1);
	(*n)++;
	return 0;
}

int
mx_set_count_reachable(const struct mx_set *s)
{
	int	 i, n = 0;

	for (i = 0; i < s->nhost; i++)
		if (s->host[i].naddr6 + s->host[i].naddr4 > 0)
			n++;
	return n;
}

/* Append word to out[*len..], space-separated; -1 if it does not fit. */
static int
mx_append_word(char *out, size_t outlen, size_t *len, const char *word)
{
	int	 n;

	n = snprintf(out + *len, outlen - *len, "%s%s", *len > 0 ? " " : "",
	    word);
	if (n < 0 || (size_t)n >= outlen - *len) {
		out[*len] = '\0';
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

int
mx_host_format_addrs(const struct mx_host *h, char *out, size_t outlen)
{
	size_t	 len = 0;
	int	 i;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	for (i = 0; i < h->naddr6; i++)
		if (mx_append_word(out, outlen, &len, h->addr6[i]) < 0)
			return -1;
	for (i = 0; i < h->naddr4; i++)
		if (mx_append_word(out, outlen, &len, h->addr4[i]) < 0)
			return -1;
	return 0;
}
