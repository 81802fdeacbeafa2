/*
 * fuzz_virtual - the virtual domain rules (common/virtual.c) on a hostile
 * recipient address, as smtpd's RCPT check and deliver meet it: the key
 * building of the lookups (local part, extension, domain), the RCPT
 * answer and the alias expansion, over a fixed table with catch-alls,
 * chains, a loop and a self-mapping.  Invariants: every answer is one of
 * its enum's; the same address gets the same answers twice; a failed
 * expansion leaves no addresses and names a DSN of its class; a successful
 * one holds 1 to the expansion limit addresses, none empty, none twice.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"
#include "virtual.h"

#define FUZZ_VX_LIMIT	8

static const char fuzz_conf[] =
    "mydestination = localhost, here\n"
    "recipient_delimiter = +\n"
    "virtual_alias_maps = inline:{ a@v = b@v, b@v = c@far, "
    "{ l@v = l@v, x@here }, m@v = n@v, n@v = m@v, "
    "{ wide@v = 1@far, 2@far, 3@far, 4@far, 5@far, 6@far, 7@far, 8@far, "
    "9@far }, @c = postmaster, postmaster = root@here, "
    "t+x@v = tag@far }\n"
    "virtual_alias_domains = v, c\n"
    "virtual_mailbox_maps = inline:{ box@m = m/box/, @cm = cm/, m = x }\n"
    "virtual_mailbox_domains = $virtual_mailbox_maps, cm\n";

static struct tern_config	 cfg;
static struct virtual_maps	 vm;
static int			 ready;

static void
fuzz_setup(void)
{
	char	 err[MAP_ERR_MAX];

	FUZZ_ASSERT(config_parse("fuzz", fuzz_conf, strlen(fuzz_conf),
	    &cfg) == 0);
	FUZZ_ASSERT(virtual_open(&vm, &cfg, err, sizeof(err)) == 0);
	ready = 1;
}

static enum virtual_expand_status
fuzz_expand(const char *addr, struct virtual_expansion *x)
{
	enum virtual_expand_status st;
	const char	*dsn;
	char		 why[256];
	int		 i, k;

	st = virtual_alias_expand(&vm, addr, FUZZ_VX_LIMIT, FUZZ_VX_LIMIT, x,
	    why, sizeof(why), &dsn);
	FUZZ_ASSERT(st == VX_NONE || st == VX_OK || st == VX_DEFER ||
	    st == VX_BOUNCE);
	if (st != VX_OK)
		FUZZ_ASSERT(x->n == 0);
	if (st == VX_DEFER || st == VX_BOUNCE)
		FUZZ_ASSERT(dsn != NULL && dsn[0] == (st == VX_DEFER ? '4' :
		    '5') && why[0] != '\0');
	if (st == VX_OK)
		FUZZ_ASSERT(x->n >= 1 && x->n <= FUZZ_VX_LIMIT);
	for (i = 0; i < x->n; i++) {
		FUZZ_ASSERT(x->addr[i][0] != '\0');
		for (k = 0; k < i; k++)
			FUZZ_ASSERT(strcasecmp(x->addr[k], x->addr[i]) != 0);
	}
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtual_expansion x1, x2;
	enum virtual_rcpt_status r1, r2;
	const char	*why;
	char		*addr;
	int		 i;

	if (size > 1024 || memchr(data, '\0', size) != NULL)
		return 0;
	if (!ready)
		fuzz_setup();
	if ((addr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(addr, data, size);
	addr[size] = '\0';
	r1 = virtual_recipient(&vm, addr, &why);
	r2 = virtual_recipient(&vm, addr, &why);
	FUZZ_ASSERT(r1 == r2 && r1 >= VIRTUAL_RCPT_NONE &&
	    r1 <= VIRTUAL_RCPT_TEMPFAIL);
	FUZZ_ASSERT(r1 != VIRTUAL_RCPT_TEMPFAIL);	/* inline: never fails */
	FUZZ_ASSERT(fuzz_expand(addr, &x1) == fuzz_expand(addr, &x2));
	FUZZ_ASSERT(x1.n == x2.n);
	for (i = 0; i < x1.n; i++)
		FUZZ_ASSERT(strcmp(x1.addr[i], x2.addr[i]) == 0);
	virtual_expansion_free(&x1);
	virtual_expansion_free(&x2);
	free(addr);
	return 0;
}
