/*
 * Unit tests for common/virtual.c (virtual domains, Postfix's semantics):
 * the lookup order (user+ext@domain, user@domain, user only for our own
 * domains, @domain), domain lists (names, tables, $virtual_alias_maps and
 * $virtual_mailbox_maps), the RCPT answer (found, unknown, none, a table
 * that cannot be read is a temporary failure), the alias expansion
 * (recursion, an address that maps to itself, the recursion bound on a
 * loop, the expansion bound, each address once, bad targets), static:
 * tables, a virtual domain also in mydestination, qmgr's routing of
 * virtual recipients, and deliver's virtual mailbox paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "deliver/deliver.h"
#include "map.h"
#include "qmgr/qmgr.h"
#include "virtual.h"

struct fixture {
	struct tern_config	 cfg;
	struct virtual_maps	 vm;
};

static const char conf_base[] =
    "myhostname = here.example\n"
    "mydestination = localhost, here.example\n"
    "recipient_delimiter = +\n"
    "virtual_alias_maps = inline:{ alice@alias.example = bob@far.example, "
    "{ team@alias.example = alice@alias.example, carol@mbox.example }, "
    "{ sales@alias.example = sales@alias.example, "
    "sales-archive@here.example }, "
    "chain1@alias.example = chain2@alias.example, "
    "chain2@alias.example = chain3@alias.example, "
    "chain3@alias.example = end@far.example, "
    "loop1@alias.example = loop2@alias.example, "
    "loop2@alias.example = loop1@alias.example, "
    "{ dup@alias.example = x@far.example, X@far.example, x@FAR.example }, "
    "bad@alias.example = |/bin/true, "
    "postmaster = root@here.example, "
    "tagged+ext@alias.example = ext@far.example, "
    "tagged@alias.example = base@far.example, "
    "@catch.example = all@far.example, "
    "known@catch.example = known@far.example }\n"
    "virtual_alias_domains = alias.example, catch.example\n"
    "virtual_mailbox_maps = inline:{ carol@mbox.example = mbox.example/carol/, "
    "dave@mbox.example = mbox.example/dave, mbox.example = x, "
    "@catchbox.example = catchbox/ }\n"
    "virtual_mailbox_domains = $virtual_mailbox_maps, catchbox.example\n";

static int
setup_conf(void **state, const char *text)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 err[MAP_ERR_MAX];

	assert_non_null(f);
	assert_int_equal(config_parse("test", text, strlen(text), &f->cfg), 0);
	if (virtual_open(&f->vm, &f->cfg, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static int
setup(void **state)
{
	return setup_conf(state, conf_base);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	virtual_close(&f->vm);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static const char *
alias(struct fixture *f, const char *addr)
{
	const char	*v;
	int		 r = virtual_alias_find(&f->vm, addr, &v);

	assert_int_not_equal(r, MAP_TEMPFAIL);
	return r == MAP_FOUND ? v : NULL;
}

static void
test_lookup_order(void **state)
{
	struct fixture	*f = *state;

	assert_string_equal(alias(f, "alice@alias.example"),
	    "bob@far.example");
	assert_string_equal(alias(f, "ALICE@Alias.Example"),
	    "bob@far.example");
	/* user+ext@domain first, then user@domain */
	assert_string_equal(alias(f, "tagged+ext@alias.example"),
	    "ext@far.example");
	assert_string_equal(alias(f, "tagged+other@alias.example"),
	    "base@far.example");
	/* a specific entry before the catch-all, the catch-all else */
	assert_string_equal(alias(f, "known@catch.example"),
	    "known@far.example");
	assert_string_equal(alias(f, "anyone@catch.example"),
	    "all@far.example");
	/* "user" only for a domain of mydestination (or none) */
	assert_string_equal(alias(f, "postmaster@here.example"),
	    "root@here.example");
	assert_string_equal(alias(f, "postmaster+x@localhost"),
	    "root@here.example");
	assert_string_equal(alias(f, "postmaster"), "root@here.example");
	assert_null(alias(f, "postmaster@alias.example"));
	assert_null(alias(f, "nobody@alias.example"));
	assert_null(alias(f, "alice@far.example"));
	/* a quoted local part is looked up unquoted */
	assert_string_equal(alias(f, "\"alice\"@alias.example"),
	    "bob@far.example");
}

static void
test_domains(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(virtual_domain(&f->vm, "alias.example"),
	    VIRTUAL_DOMAIN_ALIAS);
	/* $virtual_mailbox_maps: the domain is a key of those tables */
	assert_int_equal(virtual_domain(&f->vm, "mbox.example"),
	    VIRTUAL_DOMAIN_MAILBOX);
	assert_int_equal(virtual_domain(&f->vm, "catchbox.example"),
	    VIRTUAL_DOMAIN_MAILBOX);
	assert_int_equal(virtual_domain(&f->vm, "far.example"),
	    VIRTUAL_DOMAIN_NONE);
	assert_int_equal(virtual_domain(&f->vm, "here.example"),
	    VIRTUAL_DOMAIN_NONE);
	assert_int_equal(virtual_domain(&f->vm, "[192.0.2.1]"),
	    VIRTUAL_DOMAIN_NONE);
	assert_true(virtual_configured(&f->vm));
}

static enum virtual_rcpt_status
rcpt(struct fixture *f, const char *addr)
{
	const char	*why;

	return virtual_recipient(&f->vm, addr, &why);
}

static void
test_recipient(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(rcpt(f, "alice@alias.example"), VIRTUAL_RCPT_FOUND);
	assert_int_equal(rcpt(f, "who@alias.example"), VIRTUAL_RCPT_UNKNOWN);
	assert_int_equal(rcpt(f, "who@catch.example"), VIRTUAL_RCPT_FOUND);
	assert_int_equal(rcpt(f, "carol@mbox.example"), VIRTUAL_RCPT_FOUND);
	assert_int_equal(rcpt(f, "carol+tag@mbox.example"),
	    VIRTUAL_RCPT_FOUND);
	assert_int_equal(rcpt(f, "erin@mbox.example"), VIRTUAL_RCPT_UNKNOWN);
	assert_int_equal(rcpt(f, "any@catchbox.example"), VIRTUAL_RCPT_FOUND);
	/* our own domain: an alias is found, the rest is local's to say */
	assert_int_equal(rcpt(f, "postmaster@here.example"),
	    VIRTUAL_RCPT_FOUND);
	assert_int_equal(rcpt(f, "root@here.example"), VIRTUAL_RCPT_NONE);
	/* a foreign domain is never made ours by the tables */
	assert_int_equal(rcpt(f, "alice@far.example"), VIRTUAL_RCPT_NONE);
}

static void
test_recipient_tempfail(void **state)
{
	static const char conf[] =
	    "virtual_mailbox_domains = mbox.example\n"
	    "virtual_mailbox_maps = texthash:/nonexistent/tern-test/vmailbox\n"
	    "virtual_alias_maps = hash:/nonexistent/tern-test/virtual\n"
	    "virtual_alias_domains =\n";
	struct fixture	*f;
	const char	*v;

	(void)state;
	setup_conf((void **)&f, conf);
	assert_int_equal(rcpt(f, "carol@mbox.example"), VIRTUAL_RCPT_TEMPFAIL);
	assert_int_equal(rcpt(f, "x@localhost"), VIRTUAL_RCPT_TEMPFAIL);
	/* a foreign domain does not need the tables (but with the default
	 * virtual_alias_domains = $virtual_alias_maps it would) */
	assert_int_equal(rcpt(f, "x@far.example"), VIRTUAL_RCPT_NONE);
	assert_int_equal(virtual_alias_find(&f->vm, "a@b.example", &v),
	    MAP_TEMPFAIL);
	teardown((void **)&f);
}

static void
test_unconfigured(void **state)
{
	struct fixture	*f;

	(void)state;
	setup_conf((void **)&f, "");
	assert_false(virtual_configured(&f->vm));
	assert_int_equal(rcpt(f, "x@far.example"), VIRTUAL_RCPT_NONE);
	assert_int_equal(rcpt(f, "x@localhost"), VIRTUAL_RCPT_NONE);
	teardown((void **)&f);
}

/* Expand addr with the given limits; the addresses joined by ' '. */
static enum virtual_expand_status
expand(struct fixture *f, const char *addr, int rlimit, int elimit,
    char *out, size_t outlen, const char **dsn)
{
	struct virtual_expansion x;
	enum virtual_expand_status st;
	char	 why[256];
	int	 i;

	st = virtual_alias_expand(&f->vm, addr, rlimit, elimit, &x, why,
	    sizeof(why), dsn);
	out[0] = '\0';
	if (st == VX_DEFER || st == VX_BOUNCE)
		snprintf(out, outlen, "%s", why);
	for (i = 0; i < x.n; i++) {
		if (i > 0)
			strlcat(out, " ", outlen);
		strlcat(out, x.addr[i], outlen);
	}
	if (st != VX_OK)
		assert_int_equal(x.n, 0);
	virtual_expansion_free(&x);
	return st;
}

static void
test_expand(void **state)
{
	struct fixture	*f = *state;
	const char	*dsn;
	char		 out[1024];

	assert_int_equal(expand(f, "nobody@far.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_NONE);
	assert_int_equal(expand(f, "alice@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "bob@far.example");
	/* recursive: team -> alice -> bob, and carol (a mailbox) */
	assert_int_equal(expand(f, "team@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "bob@far.example carol@mbox.example");
	assert_int_equal(expand(f, "chain1@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "end@far.example");
	/* an address that maps to itself is kept, not expanded again */
	assert_int_equal(expand(f, "sales@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "sales@alias.example "
	    "sales-archive@here.example");
	/* each address once, whatever its case */
	assert_int_equal(expand(f, "dup@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "x@far.example");
	/* catch-all */
	assert_int_equal(expand(f, "zed@catch.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	assert_string_equal(out, "all@far.example");
}

static void
test_expand_bounds(void **state)
{
	struct fixture	*f = *state;
	const char	*dsn;
	char		 out[1024];

	/* a loop ends at the recursion bound: deferred, as Postfix does */
	assert_int_equal(expand(f, "loop1@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_DEFER);
	assert_string_equal(dsn, "4.6.0");
	assert_non_null(strstr(out, "nesting"));
	/* a chain of three is too deep for a bound of two */
	assert_int_equal(expand(f, "chain1@alias.example", 2, 1000, out,
	    sizeof(out), &dsn), VX_DEFER);
	assert_int_equal(expand(f, "chain1@alias.example", 3, 1000, out,
	    sizeof(out), &dsn), VX_OK);
	/* two addresses do not fit an expansion bound of one */
	assert_int_equal(expand(f, "team@alias.example", 1000, 1, out,
	    sizeof(out), &dsn), VX_DEFER);
	assert_string_equal(dsn, "4.6.0");
	assert_non_null(strstr(out, "expansion size"));
	assert_int_equal(expand(f, "team@alias.example", 1000, 2, out,
	    sizeof(out), &dsn), VX_OK);
	/* a command is no virtual alias target */
	assert_int_equal(expand(f, "bad@alias.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_BOUNCE);
	assert_string_equal(dsn, "5.3.5");
}

static void
test_expand_tempfail(void **state)
{
	struct fixture	*f;
	const char	*dsn;
	char		 out[1024];

	(void)state;
	setup_conf((void **)&f, "virtual_alias_maps = "
	    "texthash:/nonexistent/tern-test/virtual\n");
	assert_int_equal(expand(f, "a@b.example", 1000, 1000, out,
	    sizeof(out), &dsn), VX_DEFER);
	assert_string_equal(dsn, "4.3.0");
	teardown((void **)&f);
}

static void
test_bad_domain_list(void **state)
{
	struct tern_config	 cfg;
	struct virtual_maps	 vm;
	char			 err[MAP_ERR_MAX];
	static const char	 conf[] = "virtual_alias_domains = $mydestination\n";

	(void)state;
	assert_int_equal(config_parse("test", conf, strlen(conf), &cfg), 0);
	assert_int_equal(virtual_open(&vm, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "$mydestination"));
	config_free(&cfg);
}

static void
test_mydestination_conflict(void **state)
{
	struct fixture	*f = *state, *g;
	char		 d[64];

	assert_int_equal(virtual_mydestination_conflict(&f->vm, d, sizeof(d)),
	    0);
	(void)setup_conf((void **)&g, "mydestination = localhost, mbox.example\n"
	    "virtual_mailbox_maps = inline:{ mbox.example = x }\n");
	assert_int_equal(virtual_mydestination_conflict(&g->vm, d, sizeof(d)),
	    1);
	assert_string_equal(d, "mbox.example");
	teardown((void **)&g);
}

static void
test_route(void **state)
{
	struct fixture		*f = *state, *g;
	struct qmgr_route	 r;

	/* a virtual alias, a virtual domain: deliver, at myhostname */
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm,
	    "far@catch.example", &r), 1);
	assert_string_equal(r.transport, "local");
	assert_string_equal(r.nexthop, "here.example");
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm,
	    "erin@mbox.example", &r), 1);
	assert_string_equal(r.transport, "local");
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm,
	    "who@alias.example", &r), 1);
	/* anything else: routing as before */
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm,
	    "someone@far.example", &r), 0);
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm, "postmaster",
	    &r), 0);
	assert_int_equal(qmgr_route_virtual(&f->cfg, &f->vm, "bad address@x",
	    &r), 0);
	assert_int_equal(qmgr_route_virtual(&f->cfg, NULL, "a@b.example",
	    &r), 0);
	/* a table that cannot be read defers, never bounces */
	(void)setup_conf((void **)&g, "virtual_alias_maps = "
	    "texthash:/nonexistent/tern-test/virtual\n");
	assert_int_equal(qmgr_route_virtual(&g->cfg, &g->vm, "a@b.example",
	    &r), 1);
	assert_string_equal(r.transport, "retry");
	assert_string_equal(r.dsn, "4.3.0");
	teardown((void **)&g);
}

static void
test_static_map(void **state)
{
	struct map	*m;
	const char	*v;
	char		 err[MAP_ERR_MAX];
	long		 id;

	(void)state;
	assert_non_null(m = map_open("static:5000", err, sizeof(err)));
	assert_int_equal(map_lookup(m, "anything@x", &v, err, sizeof(err)),
	    MAP_FOUND);
	assert_string_equal(v, "5000");
	assert_int_equal(virtual_parse_id(v, &id), 0);
	assert_int_equal(id, 5000);
	map_close(m);
	assert_non_null(m = map_open("static:{a b}", err, sizeof(err)));
	assert_int_equal(map_lookup(m, "k", &v, err, sizeof(err)), MAP_FOUND);
	assert_string_equal(v, "a b");
	map_close(m);
	assert_int_equal(virtual_parse_id("-1", &id), -1);
	assert_int_equal(virtual_parse_id("12x", &id), -1);
	assert_int_equal(virtual_parse_id("", &id), -1);
	assert_int_equal(virtual_parse_id("99999999999", &id), -1);
}

static void
test_mailbox_path(void **state)
{
	char		 home[64], box[64];
	const char	*why;

	(void)state;
	assert_int_equal(virtual_mailbox_path("/var/mail/vhosts",
	    "example.com/alice/", home, box, sizeof(home), &why), 0);
	assert_string_equal(home, "/var/mail/vhosts");
	assert_string_equal(box, "example.com/alice/");
	/* no base: the table's path is absolute */
	assert_int_equal(virtual_mailbox_path("", "/srv/mail/bob", home, box,
	    sizeof(home), &why), 0);
	assert_string_equal(home, "/");
	assert_string_equal(box, "srv/mail/bob");
	assert_int_equal(virtual_mailbox_path("", "srv/mail/bob", home, box,
	    sizeof(home), &why), -1);
	assert_int_equal(virtual_mailbox_path("relative", "a/", home, box,
	    sizeof(home), &why), -1);
	assert_int_equal(virtual_mailbox_path("/base", "a/../../etc/", home,
	    box, sizeof(home), &why), -1);
	assert_int_equal(virtual_mailbox_path("/base", "..", home, box,
	    sizeof(home), &why), -1);
	assert_int_equal(virtual_mailbox_path("/base", "a..b/", home, box,
	    sizeof(home), &why), 0);
	assert_int_equal(virtual_mailbox_path("/base", "/", home, box,
	    sizeof(home), &why), -1);
	assert_int_equal(virtual_mailbox_path("/base", "x/aaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/",
	    home, box, sizeof(home), &why), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recipient, setup,
		    teardown),
		cmocka_unit_test(test_recipient_tempfail),
		cmocka_unit_test(test_unconfigured),
		cmocka_unit_test_setup_teardown(test_expand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_bounds, setup,
		    teardown),
		cmocka_unit_test(test_expand_tempfail),
		cmocka_unit_test(test_bad_domain_list),
		cmocka_unit_test_setup_teardown(test_mydestination_conflict,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_route, setup, teardown),
		cmocka_unit_test(test_static_map),
		cmocka_unit_test(test_mailbox_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
