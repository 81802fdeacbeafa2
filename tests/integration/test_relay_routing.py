"""Routing of relayed mail in qmgr (issue 9), against a fake SMTP client
service on private/smtp (fakesmtp.py) that records the next hop and the
recipients of each delivery request: transport_maps (texthash) entries and
relayhost give the right next hops, recipients are grouped per next hop and
split by smtp_destination_recipient_limit, "discard:" and "error:" need no
agent; without any smtp service the mail is deferred, never bounced; a next
hop that fails to connect repeatedly is marked dead and its mail deferred
without more attempts."""

import os
import re
from collections import defaultdict

from conftest import INSTANCE_ROOT, maildir_new, wait_for
from fakesmtp import FakeSmtp, write_map
from test_queue_retry import send

TRANSPORT = """\
# test transport table
exact.test      smtp:[MX.exact.test]:2525
.sub.test       smtp:[sub-hop.test]
hole.test       discard:dropped by policy
bad.test        error:5.1.1 no mail for bad.test
keep.test       smtp:
"""


def copies(user, token):
    return sum(f"X-Token: {token}\n".encode() in p.read_bytes() for p in maildir_new(user))


def test_transport_maps_and_relayhost_next_hops(make_instance):
    tmap = write_map(INSTANCE_ROOT, f"transport-relay-{os.getpid()}", TRANSPORT)
    inst = make_instance(f"relayhost = [smarthost.test]:2525\n"
                         f"transport_maps = texthash:{tmap}\n"
                         f"smtp_destination_recipient_limit = 2\n")
    inst.drop_service("smtp")       # the fake stands in for it
    fake = FakeSmtp(inst.queue)
    try:
        rcpts = ["a@exact.test", "b@Exact.Test", "c@exact.test", "d@x.sub.test",
                 "e@other.test", "f@keep.test", "g@hole.test", "h@bad.test",
                 "terntest1@localhost"]
        qid = send(inst, rcpts, "relay-1")
        wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=30,
                 what="the message to be finished")
        # h@bad.test bounced: the failure notice to the sender goes out
        # through the relayhost, like any mail for other.test's kind.
        wait_for(lambda: ("[smarthost.test]:2525", ["r@example.org"]) in fake.seen(),
                 timeout=30, what="the failure notice")
        got = defaultdict(list)
        for nexthop, rs in fake.seen():
            if rs != ["r@example.org"]:
                got[nexthop].append(rs)
        assert dict(got) == {
            # canonical recipients: smtpd lower-cased the domain
            "[mx.exact.test]:2525": [["a@exact.test", "b@exact.test"], ["c@exact.test"]],
            "[sub-hop.test]": [["d@x.sub.test"]],
            "[smarthost.test]:2525": [["e@other.test"]],
            "keep.test": [["f@keep.test"]],
        }, fake.seen()
        log = inst.log()
        assert f"{qid}: to=<g@hole.test>, status=sent (dropped by policy)" in log
        assert f"{qid}: to=<h@bad.test>, status=bounced (no mail for bad.test)" in log
        assert copies("terntest1", "relay-1") == 1
    finally:
        fake.close()
        tmap.unlink()


def test_no_smtp_service_defers(make_instance):
    # master.conf has no smtp row: connecting to private/smtp fails.
    inst = make_instance()
    inst.drop_service("smtp")
    qid = send(inst, ["someone@elsewhere.test", "terntest1@localhost"], "relay-2")
    wait_for(lambda: f"{qid}: deferred" in inst.log(), timeout=30,
             what="the relayed recipient to be deferred")
    assert copies("terntest1", "relay-2") == 1
    assert qid in inst.queue_files("deferred")
    log = inst.log()
    assert re.search(rf"{qid}: to=<someone@elsewhere\.test>, status=deferred", log), log[-3000:]
    assert "status=bounced" not in log
    assert "smtp: delivery service failed" in log


def test_dead_destination_deferred(make_instance):
    inst = make_instance("smtp_destination_concurrency_limit = 1\n")
    inst.drop_service("smtp")       # the fake stands in for it
    fake = FakeSmtp(inst.queue, answer=lambda nexthop, rcpt:
                    ("defer", "4.4.1", "fake: connect to dead.test: refused")
                    if nexthop == "dead.test" else ("ok", "2.0.0", "fake: sent"))
    try:
        qids = [send(inst, [f"u{i}@dead.test"], f"dead-{i}") for i in range(6)]
        alive = send(inst, ["v@alive.test"], "alive")
        wait_for(lambda: all(f"{q}: deferred" in inst.log() for q in qids) and
                 f"{alive}: removed" in inst.log(), timeout=40,
                 what="the dead destination's mail deferred, the other's sent")
        dead_requests = [r for h, r in fake.seen() if h == "dead.test"]
        # Three connection failures in a row (QMGR_DEAD_FAILS), then no more
        # attempts: the rest is deferred without a request.
        assert len(dead_requests) == 3, fake.seen()
        assert ("alive.test", ["v@alive.test"]) in fake.seen()
        assert "smtp:dead.test: 3 connection failures in a row" in inst.log()
        assert "destination is marked dead" in inst.log()
    finally:
        fake.close()
