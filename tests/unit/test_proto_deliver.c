/*
 * test_proto_deliver - the delivery protocol's codec (common/proto_deliver.c):
 * requests and replies survive encode, the wire and decode unchanged; the
 * step-wise request builder stops at the frame's end and the count's
 * limit; and every malformed message is refused: a repeated or
 * unannounced attribute, a recipient index out of range or spelt oddly,
 * a bad next hop, a wrong count, unknown status words and malformed
 * enhanced status codes (which never count as delivered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "ipc.h"
#include "proto_deliver.h"

#define ID	"0ABCDEFGHIJ12345"

/* m through ipc_encode and ipc_decode, into *out. */
static void
wire(const struct ipc_msg *m, struct ipc_msg *out)
{
	char	*frame;
	size_t	 len;

	assert_int_equal(ipc_encode(m, &frame, &len), 0);
	assert_true(len <= IPC_FRAME_MAX + 4);
	assert_int_equal(ipc_decode(frame, len, out), 0);
	free(frame);
}

static void
head_make(struct deliver_request *r, const char *nexthop)
{
	memset(r, 0, sizeof(*r));
	r->id = ID;
	r->path = "active/" ID;
	r->offset = 4242;
	r->sender = "s@example.org";
	r->nexthop = nexthop;
}

static void
test_request_roundtrip(void **state)
{
	static const char *const hops[] = {
		"", "localhost", "example.org", "[192.0.2.1]:2525",
		"[IPv6:2001:db8::1]:25",
	};
	struct deliver_request	 in, got;
	struct ipc_msg		 m, d;
	const char		*err = NULL, **rcpt;
	char			 buf[DELIVER_RCPT_MAX][32];
	size_t			 h;
	int			 i;

	(void)state;
	rcpt = xcalloc(DELIVER_RCPT_MAX, sizeof(*rcpt));
	for (i = 0; i < DELIVER_RCPT_MAX; i++) {
		snprintf(buf[i], sizeof(buf[i]), "u%d@example.org", i);
		rcpt[i] = buf[i];
	}
	for (h = 0; h < sizeof(hops) / sizeof(hops[0]); h++) {
		head_make(&in, hops[h]);
		in.nrcpt = h == 0 ? DELIVER_RCPT_MAX : (int)h;
		in.rcpt = rcpt;
		assert_int_equal(proto_deliver_request_encode(&m, &in), 0);
		wire(&m, &d);
		assert_int_equal(proto_deliver_request_decode(&d, &got, &err),
		    0);
		assert_string_equal(got.id, ID);
		assert_string_equal(got.path, "active/" ID);
		assert_int_equal(got.offset, 4242);
		assert_string_equal(got.sender, "s@example.org");
		assert_string_equal(got.nexthop, hops[h]);
		assert_int_equal(got.nrcpt, in.nrcpt);
		assert_int_equal(proto_deliver_request_nrcpt(&d), in.nrcpt);
		for (i = 0; i < in.nrcpt; i++)
			assert_string_equal(got.rcpt[i], rcpt[i]);
		proto_deliver_request_free(&got);
		ipc_msg_free(&d);
		ipc_msg_free(&m);
	}
	free(rcpt);
}

/* Too many recipients, a missing field, no room: nothing is encoded. */
static void
test_request_encode_limits(void **state)
{
	struct deliver_request	 in;
	struct ipc_msg		 m;
	const char		**rcpt;
	int			 i;

	(void)state;
	rcpt = xcalloc(DELIVER_RCPT_MAX + 1, sizeof(*rcpt));
	for (i = 0; i <= DELIVER_RCPT_MAX; i++)
		rcpt[i] = "a@localhost";
	head_make(&in, "localhost");
	in.rcpt = rcpt;
	in.nrcpt = DELIVER_RCPT_MAX + 1;
	assert_int_equal(proto_deliver_request_encode(&m, &in), -1);
	assert_int_equal(m.nattr, 0);
	in.nrcpt = 0;
	assert_int_equal(proto_deliver_request_encode(&m, &in), -1);
	in.nrcpt = 1;
	in.nexthop = NULL;
	assert_int_equal(proto_deliver_request_encode(&m, &in), -1);
	in.nexthop = "";
	in.offset = -1;
	assert_int_equal(proto_deliver_request_encode(&m, &in), -1);
	in.offset = 6;
	in.sender = NULL;
	assert_int_equal(proto_deliver_request_encode(&m, &in), -1);
	free(rcpt);
}

/* The builder takes recipients while they fit (with room for the count
 * kept), refuses one that does not without harm, and the result decodes. */
static void
test_request_steps_fill_a_frame(void **state)
{
	struct deliver_request	 in, got;
	struct ipc_msg		 m, d;
	const char		*err;
	char			*big;
	int			 n = 0;

	(void)state;
	big = xmalloc(IPC_VALUE_MAX + 1);
	memset(big, 'b', IPC_VALUE_MAX);
	big[IPC_VALUE_MAX] = '\0';
	head_make(&in, "localhost");
	assert_int_equal(proto_deliver_request_start(&m, &in), 0);
	while (proto_deliver_request_add(&m, n, big) == 0)
		n++;
	assert_int_equal(n, 3);		/* four would pass IPC_FRAME_MAX */
	assert_int_equal(proto_deliver_request_add(&m, n, "a@localhost"), 0);
	n++;
	assert_int_equal(proto_deliver_request_add(&m, DELIVER_RCPT_MAX,
	    "a@localhost"), -1);
	assert_int_equal(proto_deliver_request_add(&m, -1, "a@localhost"), -1);
	assert_int_equal(proto_deliver_request_finish(&m, n), 0);
	wire(&m, &d);
	/* Addresses that long are refused by the decoder, not the builder. */
	assert_int_equal(proto_deliver_request_decode(&d, &got, &err), -1);
	assert_string_equal(err, "bad rcpt.<i>");
	proto_deliver_request_free(&got);
	ipc_msg_free(&d);
	ipc_msg_free(&m);

	assert_int_equal(proto_deliver_request_start(&m, &in), 0);
	assert_int_equal(proto_deliver_request_finish(&m, 0), -1);
	assert_int_equal(m.nattr, 0);
	assert_int_equal(proto_deliver_request_start(&m, &in), 0);
	assert_int_equal(proto_deliver_request_finish(&m,
	    DELIVER_RCPT_MAX + 1), -1);
	free(big);
}

/* A valid two-recipient request plus extra (name=value) attributes. */
static int
decode_with(const char *const *extra, const char **err)
{
	struct deliver_request	 in, got;
	struct ipc_msg		 m;
	const char		*rcpt[] = { "a@localhost", "b@localhost" };
	int			 i, r;

	head_make(&in, "localhost");
	in.nrcpt = 2;
	in.rcpt = rcpt;
	assert_int_equal(proto_deliver_request_encode(&m, &in), 0);
	for (i = 0; extra[i] != NULL; i += 2)
		assert_int_equal(ipc_msg_add(&m, extra[i], extra[i + 1]), 0);
	*err = NULL;
	r = proto_deliver_request_decode(&m, &got, err);
	proto_deliver_request_free(&got);
	ipc_msg_free(&m);
	return r;
}

static void
expect_refused(const char *name, const char *value, const char *why)
{
	const char	*extra[] = { name, value, NULL };
	const char	*err;

	if (decode_with(extra, &err) != -1)
		fail_msg("accepted %s=%s", name, value);
	assert_string_equal(err, why);
}

static void
test_request_extra_attributes(void **state)
{
	static const char *const single[] = {
		"v", "id", "path", "offset", "sender", "nexthop", "nrcpt",
	};
	const char	*ok[] = { "rcpt", "x", "rcptx.0", "y", "future", "z",
	    "nrcpt.0", "w", NULL };
	const char	*err;
	size_t		 i;

	(void)state;
	/* Names of other shapes are someone else's: ignored. */
	assert_int_equal(decode_with(ok, &err), 0);
	/* Every attribute that must be single, given twice. */
	for (i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		expect_refused(single[i], "x", "repeated attribute");
	expect_refused("rcpt.0", "c@localhost", "repeated rcpt.<i>");
	/* Recipients beyond the count, or indices spelt oddly. */
	expect_refused("rcpt.2", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.999", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.1000", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.00", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.01", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.1x", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.x", "c@localhost", "unannounced rcpt.<i>");
	expect_refused("rcpt.99999999999999999999", "c@localhost",
	    "unannounced rcpt.<i>");
}

/* The count must match the recipients, both ways, within the limit. */
static void
test_request_counts(void **state)
{
	struct ipc_msg		 m;
	struct deliver_request	 got;
	const char		*err;
	char			 name[32];
	int			 i;

	(void)state;
	ipc_msg_init(&m, DELIVER_T_REQUEST);
	ipc_msg_add(&m, "v", "3");
	ipc_msg_add(&m, "id", ID);
	ipc_msg_add(&m, "path", "active/" ID);
	ipc_msg_add(&m, "offset", "6");
	ipc_msg_add(&m, "sender", "");
	ipc_msg_add(&m, "nexthop", "");
	ipc_msg_add_int(&m, "nrcpt", DELIVER_RCPT_MAX + 1);
	for (i = 0; i <= DELIVER_RCPT_MAX; i++) {
		snprintf(name, sizeof(name), "rcpt.%d", i);
		assert_int_equal(ipc_msg_add(&m, name, "a@localhost"), 0);
	}
	assert_int_equal(proto_deliver_request_nrcpt(&m), -1);
	assert_int_equal(proto_deliver_request_decode(&m, &got, &err), -1);
	assert_string_equal(err, "bad nrcpt");
	proto_deliver_request_free(&got);
	ipc_msg_free(&m);
}

/* One recipient, next hop hop: 0 if it decodes, else -1 with *err. */
static int
decode_hop(const char *hop, const char **err)
{
	struct deliver_request	 in, got;
	struct ipc_msg		 m;
	const char		*rcpt[] = { "a@localhost" };
	int			 r;

	head_make(&in, hop);
	in.nrcpt = 1;
	in.rcpt = rcpt;
	assert_int_equal(proto_deliver_request_encode(&m, &in), 0);
	r = proto_deliver_request_decode(&m, &got, err);
	proto_deliver_request_free(&got);
	ipc_msg_free(&m);
	return r;
}

static void
test_request_nexthop(void **state)
{
	char		 longhop[DELIVER_NEXTHOP_MAX + 2];
	const char	*bad[] = { "a b", "x\ny", "\t", "x\x7f", longhop };
	const char	*err;
	size_t		 i;

	(void)state;
	memset(longhop, 'h', sizeof(longhop) - 1);
	longhop[sizeof(longhop) - 1] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode_hop(bad[i], &err), -1);
		assert_string_equal(err, "bad nexthop");
	}
	longhop[DELIVER_NEXTHOP_MAX] = '\0';	/* just fits */
	assert_int_equal(decode_hop(longhop, &err), 0);
	assert_int_equal(decode_hop("", &err), 0);
}

static void
test_status_and_dsn_words(void **state)
{
	static const char *const good2[] = { "2.0.0", "2.1.5", "2.999.999" };
	static const char *const bad[] = {
		"", "2", "2.", "2.0", "2.0.", "2..0", "2.0.0.0", "2.1234.0",
		"2.0.1234", "20.0.0", "2.a.0", "2.0.0 ", " 2.0.0", "2,0,0",
		"3.0.0", "x.0.0",
	};
	enum deliver_status	 st;
	size_t			 i;

	(void)state;
	assert_int_equal(proto_deliver_status_parse("ok", &st), 0);
	assert_int_equal(st, DELIVER_OK);
	assert_int_equal(proto_deliver_status_parse("defer", &st), 0);
	assert_int_equal(st, DELIVER_DEFER);
	assert_int_equal(proto_deliver_status_parse("bounce", &st), 0);
	assert_int_equal(st, DELIVER_BOUNCE);
	assert_int_equal(proto_deliver_status_parse("OK", &st), -1);
	assert_int_equal(proto_deliver_status_parse("", &st), -1);
	assert_int_equal(proto_deliver_status_parse("ok ", &st), -1);
	assert_int_equal(proto_deliver_status_parse("delivered", &st), -1);
	assert_string_equal(proto_deliver_status_name(DELIVER_BOUNCE),
	    "bounce");
	assert_string_equal(proto_deliver_status_name((enum deliver_status)7),
	    "defer");
	for (i = 0; i < sizeof(good2) / sizeof(good2[0]); i++)
		assert_int_equal(proto_deliver_dsn_valid(good2[i], DELIVER_OK),
		    1);
	assert_int_equal(proto_deliver_dsn_valid("4.2.2", DELIVER_DEFER), 1);
	assert_int_equal(proto_deliver_dsn_valid("5.1.1", DELIVER_BOUNCE), 1);
	/* The class must agree with the status. */
	assert_int_equal(proto_deliver_dsn_valid("5.1.1", DELIVER_OK), 0);
	assert_int_equal(proto_deliver_dsn_valid("2.0.0", DELIVER_BOUNCE), 0);
	assert_int_equal(proto_deliver_dsn_valid("4.0.0", DELIVER_BOUNCE), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (proto_deliver_dsn_valid(bad[i], DELIVER_OK))
			fail_msg("accepted dsn \"%s\"", bad[i]);
}

static void
test_reply_roundtrip(void **state)
{
	struct deliver_outcome	 in[3] = {
		{ DELIVER_OK, "2.0.0", "delivered to maildir", DELIVER_ACTION_DELIVERED, 0 },
		{ DELIVER_BOUNCE, "5.1.1", "user unknown", DELIVER_ACTION_DELIVERED, 0 },
		{ DELIVER_DEFER, "4.2.2", "mailbox full", DELIVER_ACTION_DELIVERED, 0 },
	};
	struct deliver_outcome	 out[3];
	struct ipc_msg		 m, d;
	const char		*err = NULL;
	int			 i;

	(void)state;
	assert_int_equal(proto_deliver_reply_encode(&m, in, 3), 0);
	wire(&m, &d);
	assert_int_equal(proto_deliver_reply_decode(&d, 3, out, &err), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(out[i].status, in[i].status);
		assert_string_equal(out[i].dsn, in[i].dsn);
		assert_string_equal(out[i].text, in[i].text);
	}
	ipc_msg_free(&d);
	ipc_msg_free(&m);

	assert_int_equal(proto_deliver_reply_encode(&m, in, 0), -1);
	assert_int_equal(m.nattr, 0);
	assert_int_equal(proto_deliver_reply_encode(&m, in,
	    DELIVER_RCPT_MAX + 1), -1);
}

/* action.<i> (issue 10): only with "ok", absent for "delivered". */
static void
test_reply_action(void **state)
{
	struct deliver_outcome	 in[4] = {
		{ DELIVER_OK, "2.0.0", "250 ok", DELIVER_ACTION_RELAYED, 0 },
		{ DELIVER_OK, "2.0.0", "250 ok", DELIVER_ACTION_PASSED, 0 },
		{ DELIVER_OK, "2.0.0", "in the mailbox", DELIVER_ACTION_DELIVERED, 0 },
		{ DELIVER_OK, "2.0.0", "to 2 targets", DELIVER_ACTION_EXPANDED, 0 },
	};
	struct deliver_outcome	 out[4];
	struct ipc_msg		 m, d;
	const char		*err = NULL;

	(void)state;
	assert_int_equal(proto_deliver_reply_encode(&m, in, 4), 0);
	assert_string_equal(ipc_msg_get(&m, "action.0"), "relayed");
	assert_string_equal(ipc_msg_get(&m, "action.1"), "passed");
	assert_null(ipc_msg_get(&m, "action.2"));
	assert_string_equal(ipc_msg_get(&m, "action.3"), "expanded");
	wire(&m, &d);
	assert_int_equal(proto_deliver_reply_decode(&d, 4, out, &err), 0);
	assert_int_equal(out[0].action, DELIVER_ACTION_RELAYED);
	assert_int_equal(out[1].action, DELIVER_ACTION_PASSED);
	assert_int_equal(out[2].action, DELIVER_ACTION_DELIVERED);
	assert_int_equal(out[3].action, DELIVER_ACTION_EXPANDED);
	ipc_msg_free(&d);
	ipc_msg_free(&m);

	/* With a deferral, or an unknown word: unclear, and ignored. */
	ipc_msg_init(&m, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_add(&m, "nrcpt", "2"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.0", "defer"), 0);
	assert_int_equal(ipc_msg_add(&m, "action.0", "relayed"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.1", "ok"), 0);
	assert_int_equal(ipc_msg_add(&m, "action.1", "teleported"), 0);
	assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err), 2);
	assert_int_equal(out[0].status, DELIVER_DEFER);
	assert_int_equal(out[1].status, DELIVER_OK);
	assert_int_equal(out[1].action, DELIVER_ACTION_DELIVERED);
	ipc_msg_free(&m);
	/* Given twice: the reply is unusable, as for the other kinds. */
	ipc_msg_init(&m, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_add(&m, "nrcpt", "1"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.0", "ok"), 0);
	assert_int_equal(ipc_msg_add(&m, "action.0", "relayed"), 0);
	assert_int_equal(ipc_msg_add(&m, "action.0", "relayed"), 0);
	assert_int_equal(proto_deliver_reply_decode(&m, 1, out, &err), -1);
	ipc_msg_free(&m);
}

/* mailbox.<i> (2026-11-28): "1" with "ok" only, absent otherwise; any
 * other value, or one with another status, is unclear and ignored. */
static void
test_reply_mailbox(void **state)
{
	struct deliver_outcome	 in[3] = {
		{ DELIVER_OK, "2.0.0", "in the mailbox", DELIVER_ACTION_DELIVERED, 1 },
		{ DELIVER_OK, "2.0.0", "by a command", DELIVER_ACTION_DELIVERED, 0 },
		{ DELIVER_DEFER, "4.3.0", "timed out", DELIVER_ACTION_DELIVERED, 1 },
	};
	struct deliver_outcome	 out[3];
	struct ipc_msg		 m, d;
	const char		*err = NULL;

	(void)state;
	assert_int_equal(proto_deliver_reply_encode(&m, in, 3), 0);
	assert_string_equal(ipc_msg_get(&m, "mailbox.0"), "1");
	assert_null(ipc_msg_get(&m, "mailbox.1"));
	assert_null(ipc_msg_get(&m, "mailbox.2"));
	wire(&m, &d);
	assert_int_equal(proto_deliver_reply_decode(&d, 3, out, &err), 0);
	assert_int_equal(out[0].mailbox, 1);
	assert_int_equal(out[0].action, DELIVER_ACTION_DELIVERED);
	assert_int_equal(out[1].mailbox, 0);
	assert_int_equal(out[2].mailbox, 0);
	ipc_msg_free(&d);
	ipc_msg_free(&m);

	ipc_msg_init(&m, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_add(&m, "nrcpt", "3"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.0", "defer"), 0);
	assert_int_equal(ipc_msg_add(&m, "mailbox.0", "1"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.1", "ok"), 0);
	assert_int_equal(ipc_msg_add(&m, "mailbox.1", "yes"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.2", "ok"), 0);
	assert_int_equal(ipc_msg_add(&m, "mailbox.2", "1"), 0);
	assert_int_equal(proto_deliver_reply_decode(&m, 3, out, &err), 2);
	assert_int_equal(out[0].mailbox, 0);
	assert_int_equal(out[1].status, DELIVER_OK);
	assert_int_equal(out[1].mailbox, 0);
	assert_int_equal(out[2].mailbox, 1);
	ipc_msg_free(&m);
	/* Given twice: the reply is unusable, as for the other kinds. */
	ipc_msg_init(&m, DELIVER_T_REPLY);
	assert_int_equal(ipc_msg_add(&m, "nrcpt", "1"), 0);
	assert_int_equal(ipc_msg_add(&m, "status.0", "ok"), 0);
	assert_int_equal(ipc_msg_add(&m, "mailbox.0", "1"), 0);
	assert_int_equal(ipc_msg_add(&m, "mailbox.0", "1"), 0);
	assert_int_equal(proto_deliver_reply_decode(&m, 1, out, &err), -1);
	ipc_msg_free(&m);
}

/* A thousand long texts are cut, never the outcomes. */
static void
test_reply_long_texts_cut(void **state)
{
	struct deliver_outcome	*in, *out;
	struct ipc_msg		 m, d;
	const char		*err;
	char			*text;
	int			 i;

	(void)state;
	text = xmalloc(1001);
	memset(text, 't', 1000);
	text[1000] = '\0';
	in = xcalloc(DELIVER_RCPT_MAX, sizeof(*in));
	out = xcalloc(DELIVER_RCPT_MAX, sizeof(*out));
	for (i = 0; i < DELIVER_RCPT_MAX; i++) {
		in[i].status = i % 3 == 0 ? DELIVER_OK : DELIVER_BOUNCE;
		in[i].dsn = i % 3 == 0 ? "2.0.0" : "5.1.1";
		in[i].text = text;
	}
	assert_int_equal(proto_deliver_reply_encode(&m, in, DELIVER_RCPT_MAX),
	    0);
	wire(&m, &d);
	assert_int_equal(proto_deliver_reply_decode(&d, DELIVER_RCPT_MAX, out,
	    &err), 0);
	for (i = 0; i < DELIVER_RCPT_MAX; i++) {
		assert_int_equal(out[i].status, in[i].status);
		assert_int_equal(strlen(out[i].text), DELIVER_REPLY_SHORT_TEXT);
	}
	ipc_msg_free(&d);
	ipc_msg_free(&m);
	free(in);
	free(out);
	free(text);
}

/* A reply of n outcomes with extra name=value pairs; decoded for n. */
static int
reply_with(int n, const char *const *extra, struct deliver_outcome *out,
    const char **err)
{
	struct deliver_outcome	 in[2] = {
		{ DELIVER_OK, "2.0.0", "fine", DELIVER_ACTION_DELIVERED, 0 },
		{ DELIVER_BOUNCE, "5.1.1", "no", DELIVER_ACTION_DELIVERED, 0 },
	};
	struct ipc_msg		 m;
	int			 i, r;

	assert_int_equal(proto_deliver_reply_encode(&m, in, 2), 0);
	for (i = 0; extra[i] != NULL; i += 2)
		assert_int_equal(ipc_msg_add(&m, extra[i], extra[i + 1]), 0);
	*err = NULL;
	r = proto_deliver_reply_decode(&m, n, out, err);
	ipc_msg_free(&m);
	return r;
}

static void
expect_unusable(const char *name, const char *value)
{
	struct deliver_outcome	 out[2];
	const char		*extra[] = { name, value, NULL };
	const char		*err;
	int			 i;

	if (reply_with(2, extra, out, &err) != -1)
		fail_msg("used a reply with %s=%s", name, value);
	assert_non_null(err);
	for (i = 0; i < 2; i++) {
		assert_int_equal(out[i].status, DELIVER_DEFER);
		assert_string_equal(out[i].dsn, "4.3.0");
	}
}

static void
test_reply_unannounced_or_repeated(void **state)
{
	struct deliver_outcome	 out[3];
	const char		*none[] = { NULL };
	const char		*err;

	(void)state;
	expect_unusable("status.2", "ok");
	expect_unusable("dsn.2", "2.0.0");
	expect_unusable("text.7", "x");
	expect_unusable("status.01", "ok");
	expect_unusable("status.", "ok");
	expect_unusable("status.x", "ok");
	expect_unusable("status.0", "ok");	/* twice */
	expect_unusable("dsn.1", "5.1.1");
	expect_unusable("text.0", "again");
	/* The count must be the request's. */
	assert_int_equal(reply_with(1, none, out, &err), -1);
	assert_string_equal(err, "wrong recipient count");
	assert_int_equal(reply_with(3, none, out, &err), -1);
	assert_int_equal(reply_with(0, none, out, &err), -1);
	assert_int_equal(reply_with(2, none, out, &err), 0);
}

/* An unclear outcome is deferred (never delivered), a bad dsn is replaced
 * by the status's own default; each counts as unclear. */
static void
test_reply_bad_words(void **state)
{
	static const char *const words[] = {
		"OK", "", "delivered", "ok ", "Bounce", "1",
	};
	struct deliver_outcome	 out[2];
	struct ipc_msg		 m;
	const char		*err;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		ipc_msg_init(&m, DELIVER_T_REPLY);
		ipc_msg_add(&m, "nrcpt", "2");
		ipc_msg_add(&m, "status.0", words[i]);
		ipc_msg_add(&m, "dsn.0", "2.0.0");
		ipc_msg_add(&m, "status.1", "ok");
		ipc_msg_add(&m, "dsn.1", "2.0.0");
		assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err),
		    1);
		assert_int_equal(out[0].status, DELIVER_DEFER);
		assert_string_equal(out[0].dsn, "4.3.0");
		assert_int_equal(out[1].status, DELIVER_OK);
		ipc_msg_free(&m);
	}
	ipc_msg_init(&m, DELIVER_T_REPLY);
	ipc_msg_add(&m, "nrcpt", "2");
	ipc_msg_add(&m, "status.0", "ok");
	ipc_msg_add(&m, "dsn.0", "5.1.1");	/* wrong class */
	ipc_msg_add(&m, "status.1", "bounce");
	ipc_msg_add(&m, "dsn.1", "5.1");	/* malformed */
	assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err), 2);
	assert_int_equal(out[0].status, DELIVER_OK);
	assert_string_equal(out[0].dsn, "2.0.0");
	assert_string_equal(out[0].text, "");
	assert_int_equal(out[1].status, DELIVER_BOUNCE);
	assert_string_equal(out[1].dsn, "5.0.0");
	ipc_msg_free(&m);
}

static void
test_reply_other_types(void **state)
{
	struct deliver_outcome	 out[2];
	struct ipc_msg		 m;
	const char		*err;

	(void)state;
	assert_int_equal(proto_deliver_error_encode(&m, "missing id"), 0);
	assert_int_equal(m.type, IPC_T_ERROR);
	assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err), -1);
	assert_string_equal(err, "missing id");
	assert_int_equal(out[1].status, DELIVER_DEFER);
	ipc_msg_free(&m);
	ipc_msg_init(&m, IPC_T_ERROR);
	assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err), -1);
	assert_string_equal(err, "request refused");
	ipc_msg_free(&m);
	ipc_msg_init(&m, DELIVER_T_REQUEST);
	ipc_msg_add(&m, "nrcpt", "2");
	assert_int_equal(proto_deliver_reply_decode(&m, 2, out, &err), -1);
	assert_string_equal(err, "unexpected message type");
	ipc_msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_encode_limits),
		cmocka_unit_test(test_request_steps_fill_a_frame),
		cmocka_unit_test(test_request_extra_attributes),
		cmocka_unit_test(test_request_counts),
		cmocka_unit_test(test_request_nexthop),
		cmocka_unit_test(test_status_and_dsn_words),
		cmocka_unit_test(test_reply_roundtrip),
		cmocka_unit_test(test_reply_long_texts_cut),
		cmocka_unit_test(test_reply_unannounced_or_repeated),
		cmocka_unit_test(test_reply_bad_words),
		cmocka_unit_test(test_reply_action),
		cmocka_unit_test(test_reply_mailbox),
		cmocka_unit_test(test_reply_other_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
