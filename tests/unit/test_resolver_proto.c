/*
 * test_resolver_proto - the resolver protocol as a client sees it: which
 * requests are refused with which text, and the exact attributes of ok,
 * temp/perm and error replies, including the largest possible ok reply,
 * which must still encode and decode as one frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_resolver.h"
#include "resolver/resolver.h"

static void
make_req(struct ipc_msg *m, uint8_t type, const char *v, const char *domain)
{
	ipc_msg_init(m, type);
	if (v != NULL)
		assert_int_equal(ipc_msg_add(m, "v", v), 0);
	if (domain != NULL)
		assert_int_equal(ipc_msg_add(m, "domain", domain), 0);
}

static void
expect_bad(uint8_t type, const char *v, const char *domain, const char *why)
{
	struct ipc_msg	 m;
	const char	*d = "unset", *err = NULL;

	make_req(&m, type, v, domain);
	assert_int_equal(resolver_request_check(&m, &d, &err), -1);
	assert_null(d);
	assert_non_null(err);
	assert_string_equal(err, why);
	ipc_msg_free(&m);
}

static void
test_request_ok(void **state)
{
	struct ipc_msg	 m;
	const char	*d, *err = NULL;
	char		 longest[DNS_NAME_MAX + 1];

	(void)state;
	make_req(&m, RESOLVER_T_MX, "1", "Example.ORG");
	assert_int_equal(ipc_msg_add(&m, "future", "ignored"), 0);
	assert_int_equal(resolver_request_check(&m, &d, &err), 0);
	assert_string_equal(d, "Example.ORG");
	ipc_msg_free(&m);

	/* 4 labels, 253 characters: the longest name a query can carry. */
	memset(longest, 'a', DNS_NAME_MAX);
	longest[63] = longest[127] = longest[191] = '.';
	longest[DNS_NAME_MAX] = '\0';
	make_req(&m, RESOLVER_T_MX, "1", longest);
	assert_int_equal(resolver_request_check(&m, &d, &err), 0);
	ipc_msg_free(&m);
}

static void
test_request_bad(void **state)
{
	char	 toolong[DNS_NAME_MAX + 2];

	(void)state;
	expect_bad(RESOLVER_T_REPLY, "1", "example.org", "unknown request type");
	expect_bad(IPC_T_OK, "1", "example.org", "unknown request type");
	expect_bad(RESOLVER_T_MX, NULL, "example.org", "missing v");
	expect_bad(RESOLVER_T_MX, "2", "example.org",
	    "unsupported protocol version");
	expect_bad(RESOLVER_T_MX, "one", "example.org",
	    "unsupported protocol version");
	expect_bad(RESOLVER_T_MX, "1", NULL, "missing domain");
	expect_bad(RESOLVER_T_MX, "1", "", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "a..b", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "example.org.", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "-a.example", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "a b.example", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "[192.0.2.1]", "invalid domain");
	expect_bad(RESOLVER_T_MX, "1", "x\\.example", "invalid domain");
	/* 254 characters: a valid RFC 5321 domain, but not a DNS name. */
	memset(toolong, 'a', DNS_NAME_MAX + 1);
	toolong[63] = toolong[127] = toolong[191] = '.';
	toolong[DNS_NAME_MAX + 1] = '\0';
	expect_bad(RESOLVER_T_MX, "1", toolong, "invalid domain");
}

/* Encode and decode, as the client will see it. */
static void
roundtrip(const struct ipc_msg *in, struct ipc_msg *out)
{
	char	*frame;
	size_t	 len;

	assert_int_equal(ipc_encode(in, &frame, &len), 0);
	assert_true(len <= IPC_FRAME_MAX + 4);
	assert_int_equal(ipc_decode(frame, len, out), 0);
	free(frame);
}

static void
test_reply_ok(void **state)
{
	struct mx_set	 s;
	struct ipc_msg	 m, d;

	(void)state;
	mx_set_init(&s);
	mx_set_add(&s, 10, "mx1.example");
	mx_set_add(&s, 20, "mx2.example");
	mx_host_add_addr(&s.host[0], DNS_TYPE_A, "192.0.2.1");
	mx_host_add_addr(&s.host[0], DNS_TYPE_AAAA, "2001:db8::1");
	assert_int_equal(resolver_reply_ok(&m, &s, 0, "MX hosts found"), 0);
	roundtrip(&m, &d);
	assert_int_equal(d.type, RESOLVER_T_REPLY);
	assert_int_equal(d.nattr, 8);
	assert_string_equal(d.attr[0].name, "status");
	assert_string_equal(d.attr[0].value, "ok");
	assert_string_equal(ipc_msg_get(&d, "text"), "MX hosts found");
	assert_string_equal(ipc_msg_get(&d, "implicit"), "0");
	assert_string_equal(ipc_msg_get(&d, "nmx"), "2");
	assert_string_equal(ipc_msg_get(&d, "mx.0"), "10 mx1.example");
	assert_string_equal(ipc_msg_get(&d, "addr.0"), "2001:db8::1 192.0.2.1");
	assert_string_equal(ipc_msg_get(&d, "mx.1"), "20 mx2.example");
	assert_string_equal(ipc_msg_get(&d, "addr.1"), "");
	assert_null(ipc_msg_get(&d, "dsn"));
	ipc_msg_free(&m);
	ipc_msg_free(&d);

	mx_set_init(&s);
	mx_set_add(&s, 0, "example.org");
	assert_int_equal(resolver_reply_ok(&m, &s, 1, "implicit"), 0);
	assert_string_equal(ipc_msg_get(&m, "implicit"), "1");
	assert_string_equal(ipc_msg_get(&m, "mx.0"), "0 example.org");
	ipc_msg_free(&m);
}

static void
test_reply_fail_and_error(void **state)
{
	struct ipc_msg	 m, d;

	(void)state;
	assert_int_equal(resolver_reply_fail(&m, RESOLVER_PERM, "5.1.10",
	    "domain does not accept mail"), 0);
	roundtrip(&m, &d);
	assert_int_equal(d.type, RESOLVER_T_REPLY);
	assert_int_equal(d.nattr, 3);
	assert_string_equal(ipc_msg_get(&d, "status"), "perm");
	assert_string_equal(ipc_msg_get(&d, "dsn"), "5.1.10");
	assert_string_equal(ipc_msg_get(&d, "text"),
	    "domain does not accept mail");
	ipc_msg_free(&m);
	ipc_msg_free(&d);

	assert_int_equal(resolver_reply_fail(&m, RESOLVER_TEMP, "4.4.3",
	    "DNS lookup timed out"), 0);
	assert_string_equal(ipc_msg_get(&m, "status"), "temp");
	ipc_msg_free(&m);

	assert_int_equal(resolver_reply_error(&m, "missing domain"), 0);
	assert_int_equal(m.type, IPC_T_ERROR);
	assert_int_equal(m.nattr, 1);
	assert_string_equal(ipc_msg_get(&m, "text"), "missing domain");
	ipc_msg_free(&m);

	assert_string_equal(resolver_status_name(RESOLVER_OK), "ok");
}

/* RESOLVER_MX_MAX hosts with the longest names and every address slot
 * filled with the longest text: the reply must still fit in one frame. */
static void
test_reply_largest(void **state)
{
	struct mx_set	*s;
	struct ipc_msg	 m, d;
	char		 name[DNS_NAME_MAX + 1], key[16];
	const char	*v6 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	int		 i, j;

	(void)state;
	assert_int_equal(strlen(v6), DNS_ADDR_TEXT_MAX - 1);
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	mx_set_init(s);
	for (i = 0; i < RESOLVER_MX_MAX; i++) {
		memset(name, 'a', DNS_NAME_MAX);
		name[63] = name[127] = name[191] = '.';
		name[DNS_NAME_MAX] = '\0';
		/* Distinct names: the host number in the first label. */
		name[0] = (char)('a' + i / 26);
		name[1] = (char)('a' + i % 26);
		assert_int_equal(mx_set_add(s, 65535, name), 1);
		for (j = 0; j < MX_ADDR_MAX; j++) {
			assert_int_equal(mx_host_add_addr(&s->host[i],
			    DNS_TYPE_AAAA, v6), 0);
			assert_int_equal(mx_host_add_addr(&s->host[i],
			    DNS_TYPE_A, "255.255.255.255"), 0);
		}
	}
	assert_int_equal(resolver_reply_ok(&m, s, 0, "MX hosts found"), 0);
	roundtrip(&m, &d);
	assert_string_equal(ipc_msg_get(&d, "nmx"), "32");
	snprintf(key, sizeof(key), "addr.%d", RESOLVER_MX_MAX - 1);
	assert_int_equal(strlen(ipc_msg_get(&d, key)),
	    MX_ADDR_MAX * (DNS_ADDR_TEXT_MAX - 1 + 15 + 2) - 1);
	ipc_msg_free(&m);
	ipc_msg_free(&d);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_ok),
		cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_reply_fail_and_error),
		cmocka_unit_test(test_reply_largest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
