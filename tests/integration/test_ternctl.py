"""ternctl(8) and mailq on a real queue with deferred mail: a stand-in for
the SMTP client (fakesmtp.py) answers every recipient 450, so relayed mail
waits in deferred/ with its reason in the queue file's outcome records.
Every queue subcommand is run on it: the listing in Postfix's exact mailq
layout (checked line by line and column by column, as monitoring plugins
parse it) and as postqueue -j's JSON, filters, show, hold (which a flush
leaves alone), release (then delivered), requeue, delete by id, by pattern
and ALL (which empties the queue), flush; then config, config set, check
and status/stop/start.  An unprivileged user (terntest1, through runuser)
lists and flushes through the showq service and is refused show, hold and
delete with a clear message and exit 77, the queue's modes enforcing it."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import ternipc
from conftest import BUILD, wait_for
from fakesmtp import FakeSmtp
from test_queue_retry import send

T1 = "terntest1"
REASON = "host relay.test[192.0.2.7] said: 450 4.7.1 try again later (in reply to RCPT TO command)"
SHOWQ_T_LIST = 0x50
SHOWQ_T_PAGE = 0x51


def defer(nexthop, rcpt):
    return ("defer", "4.7.1", REASON)


def accept(nexthop, rcpt):
    return ("ok", "2.0.0", "fake: sent")


def ternctl(inst, *args, user=None, stdin=None):
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    cmd = [str(BUILD / "bin" / "ternctl"), *args]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                          timeout=60)


def mailq(inst, user=None):
    prog = inst.dir / "bin" / "mailq"
    if not prog.exists():
        prog.symlink_to("sendmail")
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    cmd = [str(prog)] if user is None else ["runuser", "-u", user, "--", str(prog)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def listing(inst, *args, user=None):
    r = ternctl(inst, "queue", "list", "--json", *args, user=user)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def in_queue(inst, qid):
    return [d for d in ("incoming", "active", "deferred", "hold", "corrupt")
            if qid in inst.queue_files(d)]


@pytest.fixture
def deferring(make_instance):
    """An instance relaying everything to the fake, which defers it all."""
    inst = make_instance("relayhost = [relay.test]:2525\n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue, answer=defer)
    yield inst, fake
    fake.close()


def send_deferred(inst, rcpts, token):
    qid = send(inst, rcpts, token)
    wait_for(lambda: in_queue(inst, qid) == ["deferred"] and
             f"{qid}: deferred" in inst.log(), timeout=30,
             what=f"{qid} to be deferred")
    return qid


def tries(fake, rcpt):
    return sum(rcpt in rs for _, rs in fake.seen())


def test_mailq_layout_json_and_filters(deferring):
    inst, fake = deferring
    a = send_deferred(inst, ["a1@remote.test", "a2@remote.test"], "layout-a")
    b = send_deferred(inst, ["b1@other.test"], "layout-b")
    # The text is the same for root (who reads the queue) and for a user
    # (through showq), from ternctl and from mailq: one code path.
    outs = [ternctl(inst, "queue", "list"), ternctl(inst, "queue", "list", user=T1),
            mailq(inst), mailq(inst, user=T1)]
    for r in outs:
        assert r.returncode == 0, r.stderr
        assert r.stdout == outs[0].stdout
    js = {m["queue_id"]: m for m in listing(inst)}
    assert set(js) == {a, b}
    for m in js.values():
        assert m["queue_name"] == "deferred" and m["sender"] == "r@example.org"
        assert m["forced_expire"] is False
        assert abs(m["arrival_time"] - time.time()) < 120
        assert m["message_size"] > 0
        for r in m["recipients"]:
            assert r["delay_reason"] == REASON
    assert [r["address"] for r in js[a]["recipients"]] == ["a1@remote.test", "a2@remote.test"]
    assert listing(inst, user=T1) == listing(inst)

    # Postfix's layout, line by line: the header; per message the id
    # (%-11s), size (%7d), asctime's first 20 characters, two spaces and the
    # sender; the reason right-aligned to column 78 when it fits; each
    # recipient at column 41; a blank line; the total in Kbytes rounded down.
    lines = outs[0].stdout.split("\n")
    assert lines[0] == "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
    want = []
    for qid in sorted(js):
        m = js[qid]
        when = time.asctime(time.localtime(m["arrival_time"]))[:20]
        want.append(f"{qid:<11s} {m['message_size']:7d} {when} r@example.org")
        pad = max(0, 76 - len(REASON))
        want.append(" " * pad + f"({REASON})")
        want += [" " * 41 + r["address"] for r in m["recipients"]]
        want.append("")
    kb = sum(m["message_size"] for m in js.values()) // 1024
    want += [f"-- {kb} Kbytes in 2 Requests.", ""]
    assert lines[1:] == want, outs[0].stdout
    # What check_mailq and friends take from it.
    assert re.search(r"^-- \d+ Kbytes in (\d+) Requests?\.$", outs[0].stdout, re.M).group(1) == "2"

    # Filters, as root and as a user.
    assert [m["queue_id"] for m in listing(inst, "--recipient", "@OTHER.test")] == [b]
    assert [m["queue_id"] for m in listing(inst, "--sender", "r@example", user=T1)] == sorted([a, b])
    assert listing(inst, "--sender", "nobody@") == []
    assert listing(inst, "--queue", "hold") == []
    assert len(listing(inst, "--queue", "deferred,hold")) == 2
    assert listing(inst, "--older-than", "1h") == []
    assert len(listing(inst, "--older-than", "0")) == 2
    r = ternctl(inst, "queue", "list", "--sender", "nobody@")
    assert r.returncode == 0 and r.stdout == "Mail queue is empty\n"
    r = ternctl(inst, "queue", "list", "--queue", "corrupt")
    assert r.returncode == 64 and "usage" in r.stderr


def test_show_hold_flush_release_delivers(deferring):
    inst, fake = deferring
    held = send_deferred(inst, ["h@remote.test"], "held-one")
    other = send_deferred(inst, ["o@remote.test"], "other-one")

    r = ternctl(inst, "queue", "show", held)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"*** ENVELOPE RECORDS deferred/{held} ***" in out
    assert "sender: r@example.org" in out and "recipient: h@remote.test (pending)" in out
    assert f"outcome: h@remote.test T " in out and "4.7.1" in out
    assert "X-Token: held-one" in out and "\nbody\n" in out
    assert out.endswith(f"*** MESSAGE FILE END deferred/{held} ***\n")
    r = ternctl(inst, "queue", "show", "-h", held)
    assert "X-Token: held-one" in r.stdout and "*** MESSAGE BODY" not in r.stdout
    r = ternctl(inst, "queue", "show", "-e", held)
    assert "X-Token" not in r.stdout and "sender: r@example.org" in r.stdout
    r = ternctl(inst, "queue", "show", "NOSUCHID")
    assert r.returncode == 1 and "no such message" in r.stderr

    r = ternctl(inst, "queue", "hold", held)
    assert r.returncode == 0 and r.stdout == "Placed on hold: 1 message\n", r
    assert in_queue(inst, held) == ["hold"]
    js = {m["queue_id"]: m["queue_name"] for m in listing(inst)}
    assert js == {held: "hold", other: "deferred"}
    assert re.search(rf"^{held}!\s+\d+ ", ternctl(inst, "queue", "list").stdout, re.M)

    # A flush (by an unprivileged user, through showq) retries the deferred
    # message and leaves the held one alone.
    before_h, before_o = tries(fake, "h@remote.test"), tries(fake, "o@remote.test")
    r = ternctl(inst, "queue", "flush", user=T1)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: tries(fake, "o@remote.test") > before_o and
             in_queue(inst, other) == ["deferred"], timeout=30,
             what="the deferred message retried by the flush")
    assert tries(fake, "h@remote.test") == before_h
    assert in_queue(inst, held) == ["hold"]

    # Released, it is tried at once, and delivered now that the relay takes it.
    fake.answer = accept
    r = ternctl(inst, "queue", "release", held)
    assert r.returncode == 0 and r.stdout == "Released from hold: 1 message\n", r
    wait_for(lambda: f"{held}: removed" in inst.log(), timeout=30,
             what="the released message delivered")
    assert in_queue(inst, held) == []
    assert tries(fake, "h@remote.test") == before_h + 1
    # Releasing what is not held is an error for a named id.
    r = ternctl(inst, "queue", "release", other)
    assert r.returncode == 1 and "not changed" in r.stderr


def test_requeue_delete_and_all(deferring):
    inst, fake = deferring
    q1 = send_deferred(inst, ["x1@remote.test"], "rq-1")
    q2 = send_deferred(inst, ["x2@remote.test"], "rq-2")
    q3 = send_deferred(inst, ["spam@junk.test"], "rq-3")
    q4 = send_deferred(inst, ["x4@remote.test"], "rq-4")

    n = tries(fake, "x1@remote.test")
    r = ternctl(inst, "queue", "requeue", q1)
    assert r.returncode == 0 and r.stdout == "Requeued: 1 message\n", r
    wait_for(lambda: tries(fake, "x1@remote.test") > n and in_queue(inst, q1) == ["deferred"],
             timeout=30, what="the requeued message tried again")

    # Delete by pattern, by id, and what a user may not do.
    r = ternctl(inst, "queue", "delete", "--recipient", "@junk.test")
    assert r.returncode == 0 and r.stdout == "Deleted: 1 message\n", r
    assert in_queue(inst, q3) == []
    for args in (["delete", q2], ["delete", "ALL"], ["hold", q2], ["show", q2],
                 ["requeue", q2], ["release", "ALL"]):
        r = ternctl(inst, "queue", *args, user=T1)
        assert r.returncode == 77, (args, r)
        assert "permission denied" in r.stderr and "only root" in r.stderr
    assert in_queue(inst, q2) == ["deferred"]
    r = ternctl(inst, "queue", "delete", q2, "NOSUCHID0")
    assert r.returncode == 1 and r.stdout == "Deleted: 1 message\n"
    assert "NOSUCHID0: no such message" in r.stderr
    assert in_queue(inst, q2) == []

    # Ids on standard input, as postsuper -d - takes them.
    r = ternctl(inst, "queue", "hold", "-", stdin=f"{q4}\n")
    assert r.returncode == 0 and in_queue(inst, q4) == ["hold"]

    # ALL: held and deferred alike; the files are really gone.
    q5 = send_deferred(inst, ["x5@remote.test"], "rq-5")
    r = ternctl(inst, "queue", "delete", "ALL")
    assert r.returncode == 0 and r.stdout == "Deleted: 3 messages\n", r
    for d in ("incoming", "active", "deferred", "hold"):
        assert inst.queue_files(d) == [], d
    for q in (q1, q4, q5):
        assert q not in inst.queue_files("free")
    assert ternctl(inst, "queue", "list").stdout == "Mail queue is empty\n"
    assert mailq(inst, user=T1).stdout == "Mail queue is empty\n"
    assert listing(inst) == []


def test_unprivileged_access_is_by_modes(deferring):
    inst, _ = deferring
    send_deferred(inst, ["u@remote.test"], "modes")
    q = inst.queue
    assert (q / "public").stat().st_mode & 0o7777 == 0o711
    assert (q / "public" / "showq").stat().st_mode & 0o7777 == 0o666
    for d in ("deferred", "private", "hold"):
        assert (q / d).stat().st_mode & 0o7777 == 0o700
    # The user cannot read the queue itself, only ask showq.
    probe = subprocess.run(["runuser", "-u", T1, "--", "ls", str(q / "deferred")],
                           capture_output=True, text=True)
    assert probe.returncode != 0
    probe = subprocess.run(["runuser", "-u", T1, "--", "python3", "-c",
                            "import socket,sys; s=socket.socket(socket.AF_UNIX); "
                            "s.connect(sys.argv[1])", str(q / "private" / "qmgr")],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr
    # showq answers the protocol, and a bad request gets an error, not a crash.
    reply = ternipc.call(q / "public" / "showq", SHOWQ_T_LIST, {"v": "1"})
    assert reply.type == SHOWQ_T_PAGE and reply["queue"] == "deferred"
    reply = ternipc.call(q / "public" / "showq", SHOWQ_T_LIST, {"v": "9"})
    assert reply.type == ternipc.IPC_T_ERROR
    reply = ternipc.call(q / "public" / "showq", SHOWQ_T_LIST,
                         {"v": "1", "queue": "hold", "after": "../../etc"})
    assert reply.type == ternipc.IPC_T_ERROR
    assert len(listing(inst, user=T1)) == 1


def test_config_check_status(tern):
    conf = tern.dir / "etc" / "tern.conf"
    text = conf.read_text()
    conf.write_text("# admin's note\n" + text + "queue_scan_interval = 30\n  # kept\n")
    r = ternctl(tern, "config")
    assert r.returncode == 0
    keys = [l.split(" =")[0] for l in r.stdout.splitlines()]
    for k in ("myhostname", "queue_directory", "smtpd_banner", "relayhost",
              "home_mailbox", "smtp_connect_timeout", "anvil_rate_time_unit"):
        assert k in keys, k
    assert len(keys) == len(set(keys)) > 40
    r = ternctl(tern, "config", "-n")
    assert "queue_scan_interval = 30\n" in r.stdout and "smtpd_banner" not in r.stdout
    assert ternctl(tern, "config", "-d", "queue_scan_interval").stdout == "queue_scan_interval = 60\n"
    assert ternctl(tern, "config", "nosuchkey").returncode == 1

    st = conf.stat()
    r = ternctl(tern, "config", "set", "queue_scan_interval=45", "relayhost = [smart.test]:587")
    assert r.returncode == 0, r.stderr
    new = conf.read_text()
    assert new.startswith("# admin's note\n") and "  # kept\n" in new
    assert "queue_scan_interval = 45\n" in new and "relayhost = [smart.test]:587\n" in new
    assert "queue_scan_interval = 30" not in new
    assert conf.stat().st_mode == st.st_mode and conf.stat().st_uid == st.st_uid
    assert ternctl(tern, "config", "queue_scan_interval").stdout == "queue_scan_interval = 45\n"
    for bad in ("no_such_key=1", "queue_scan_interval=soon"):
        r = ternctl(tern, "config", "set", bad)
        assert r.returncode == 78 and "unchanged" in r.stderr, r
        assert conf.read_text() == new
    assert not [p for p in conf.parent.iterdir() if p.name.startswith(".tern.conf.")]

    r = ternctl(tern, "check")
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr
    hold = tern.queue / "hold"
    hold.chmod(0o755)
    stray = tern.queue / "deferred" / "stray.tmp"     # no queue id: qmgr ignores it
    stray.write_text("x")
    r = ternctl(tern, "check")
    assert r.returncode == 1
    assert "problem: hold/: mode 0755, should be 0700" in r.stdout
    assert "problem: deferred/stray.tmp" in r.stdout
    hold.chmod(0o700)
    stray.unlink()
    assert ternctl(tern, "check").returncode == 0
    r = ternctl(tern, "check", user=T1)
    assert r.returncode == 1 and "cannot read" in r.stdout

    r = ternctl(tern, "status")
    assert r.returncode == 0 and f"master pid {tern.master_pid()}" in r.stdout
    r = ternctl(tern, "status", user=T1)
    assert r.returncode == 0 and "running" in r.stdout
    assert ternctl(tern, "stop", user=T1).returncode == 77
    assert ternctl(tern, "reload").returncode == 0
    r = ternctl(tern, "stop")
    assert r.returncode == 0, r.stderr
    assert tern.master_pid() is None
    r = ternctl(tern, "status")
    assert r.returncode == 3 and "not running" in r.stdout
    assert ternctl(tern, "status", user=T1).returncode == 3
    r = ternctl(tern, "start")
    assert r.returncode == 0, r.stderr
    limits = tern.service_limits()
    wait_for(lambda: all(len(tern.services().get(s, ())) == n for s, n in limits.items()),
             what="every service back after ternctl start")
    assert ternctl(tern, "status").returncode == 0
