/*
 * fuzz_anvil - both ends of the anvil protocol (common/proto_anvil.h):
 * anvil's check of a request (anvil_request_check in anvil/anvil_listen.c)
 * and smtpd's reading of a reply (smtpd_anvil_reply_decode in
 * smtpd/smtpd_anvil.c).  Any local process that can reach the socket may
 * talk to anvil, and smtpd must survive whatever comes back.  Input: one
 * message as fuzz_msg.h builds it, tried as a request and as a reply.
 *
 * Invariants: a request is accepted exactly when it is a CONNECT or
 * DISCONNECT with v=1 and an ident of 1..ANVIL_IDENT_MAX bytes, and then
 * the ident is that attribute; otherwise there is a reason.  The answer
 * survives an ipc_encode/ipc_decode round trip unchanged.  An accepted
 * ident can be counted: connect, disconnect and a second disconnect go
 * through anvil's table, and the replies anvil would send for them decode
 * in smtpd to those counts (1 and 1, then 0, then no counts).  Any reply
 * decodes to counts within [0, 2^30], both 0 unless status=ok; any type
 * but ANVIL_T_REPLY is a refusal with a text.  Every answer is the same
 * twice.
 */
#include <string.h>

#include "anvil/anvil.h"
#include "fuzz.h"
#include "fuzz_msg.h"
#include "proto_anvil.h"
#include "smtpd/smtpd_anvil.h"

/* The request rule written out again. */
static int
request_ok(const struct ipc_msg *m)
{
	const char	*v = ipc_msg_get(m, "v"), *id = ipc_msg_get(m, "ident");
	long long	 n;

	return (m->type == ANVIL_T_CONNECT || m->type == ANVIL_T_DISCONNECT) &&
	    v != NULL && ipc_msg_get_int(m, "v", 1, 1, &n) == 0 &&
	    id != NULL && id[0] != '\0' && strlen(id) <= ANVIL_IDENT_MAX;
}

static int
check_request(const struct ipc_msg *m, char *ident, size_t identlen)
{
	const char	*id = NULL, *id2 = NULL, *err = NULL, *err2 = NULL;
	int		 r;

	r = anvil_request_check(m, &id, &err);
	FUZZ_ASSERT(r == anvil_request_check(m, &id2, &err2));
	FUZZ_ASSERT(r == (request_ok(m) ? 0 : -1));
	if (r < 0) {
		FUZZ_ASSERT(err != NULL && err[0] != '\0');
		return -1;
	}
	FUZZ_ASSERT(id == ipc_msg_get(m, "ident") && id == id2);
	FUZZ_ASSERT(strlcpy(ident, id, identlen) < identlen);
	return 0;
}

static void
check_reply(const struct ipc_msg *m, int *count, int *rate)
{
	const char	*why = NULL, *status = ipc_msg_get(m, "status");
	int		 r, c2, r2;

	r = smtpd_anvil_reply_decode(m, count, rate, &why);
	FUZZ_ASSERT(r == smtpd_anvil_reply_decode(m, &c2, &r2, &why));
	FUZZ_ASSERT(c2 == *count && r2 == *rate);
	FUZZ_ASSERT(r == (m->type == ANVIL_T_REPLY ? 0 : -1));
	if (r < 0)
		FUZZ_ASSERT(why != NULL);
	FUZZ_ASSERT(*count >= 0 && *count <= 1 << 30);
	FUZZ_ASSERT(*rate >= 0 && *rate <= 1 << 30);
	if (r < 0 || status == NULL || strcmp(status, "ok") != 0)
		FUZZ_ASSERT(*count == 0 && *rate == 0);
}

/* A reply as anvil_listen.c builds it, read by smtpd. */
static void
check_answer(const char *status, int count, int rate, int want_count,
    int want_rate)
{
	struct ipc_msg	 m, back;
	int		 c, r;

	ipc_msg_init(&m, ANVIL_T_REPLY);
	FUZZ_ASSERT(ipc_msg_add(&m, "status", status) == 0);
	if (count >= 0)
		FUZZ_ASSERT(ipc_msg_add_int(&m, "count", count) == 0);
	if (rate >= 0)
		FUZZ_ASSERT(ipc_msg_add_int(&m, "rate", rate) == 0);
	fuzz_msg_round_trip(&m, &back);
	check_reply(&back, &c, &r);
	FUZZ_ASSERT(c == want_count && r == want_rate);
	ipc_msg_free(&back);
	ipc_msg_free(&m);
}

/* The ident counted through anvil's table, and the replies read back. */
static void
check_counted(const char *ident)
{
	struct anvil_table	 t;
	int			 count, rate;

	anvil_table_init(&t, 4, 60000);
	FUZZ_ASSERT(anvil_table_connect(&t, ident, 1000, &count, &rate) == 0);
	FUZZ_ASSERT(count == 1 && rate == 1);
	check_answer("ok", count, rate, 1, 1);
	FUZZ_ASSERT(anvil_table_disconnect(&t, ident, 2000, &count) == 0);
	FUZZ_ASSERT(count == 0);
	check_answer("ok", count, -1, 0, 0);
	FUZZ_ASSERT(anvil_table_disconnect(&t, ident, 3000, &count) == -1);
	check_answer("unknown", -1, -1, 0, 0);
	FUZZ_ASSERT(anvil_table_expire(&t, 1000000) == 1 && t.n == 0);
	anvil_table_free(&t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in	 in = { data, size };
	struct ipc_msg	 m, back;
	char		 ident[ANVIL_IDENT_MAX + 1], ident2[ANVIL_IDENT_MAX + 1];
	int		 r, c, rt, c2, rt2;

	fuzz_msg_build(&in, &m);
	r = check_request(&m, ident, sizeof(ident));
	check_reply(&m, &c, &rt);
	fuzz_msg_round_trip(&m, &back);
	FUZZ_ASSERT(check_request(&back, ident2, sizeof(ident2)) == r);
	if (r == 0)
		FUZZ_ASSERT(strcmp(ident, ident2) == 0);
	check_reply(&back, &c2, &rt2);
	FUZZ_ASSERT(c == c2 && rt == rt2);
	if (r == 0)
		check_counted(ident);
	ipc_msg_free(&back);
	ipc_msg_free(&m);
	return 0;
}
