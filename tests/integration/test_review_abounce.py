"""Outside review of branch abounce (qmgr's asynchronous bounce client,
issue 10).  Promises under attack: a notice is sent once (twice only in a
crash window), never lost; the original never stuck; qmgr never blocks on
bounce; markers only after bounce confirmed the notice durable.

Slow disk: strace injects a delay into bounce's fsync/fdatasync (a stalled
or overloaded disk: no process is killed, nothing crashes).  Fake bounce:
the real service is dropped from master.conf and a Python server answers
on private/bounce instead (garbage, late, closed mid-reply, refusals)."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

import ternipc
from conftest import wait_for
from test_dsn import GOOD, SENDER, copies, dsn_instance, empty_queue, notices, send
from test_smtp_client import receiver  # noqa: F401 (fixture)

BOUNCE_T_NOTICE = 0x50
BOUNCE_T_REPLY = 0x51
# qmgr's time-out for bounce is 5 minutes; the fake bounce tests are about
# what qmgr does after one, so they shorten it
SHORT_TIMEOUT = "qmgr_bounce_timeout = 10s\n"


def slow_fsync(pid, usec):
    """Every fsync/fdatasync of pid takes usec longer (strace inject)."""
    p = subprocess.Popen(["strace", "-f", "-qq", "-p", str(pid), "-o", "/dev/null",
                          "-e", "trace=fsync,fdatasync",
                          "-e", f"inject=fsync,fdatasync:delay_exit={usec}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # strace attaches
    return p


def warm_then_slow(inst, token, usec):
    """One notice made while bounce runs (it is up and serving), then its
    fsyncs slowed by usec: the strace process."""
    send(inst, SENDER, ["alice@gone.test"], token)
    wait_for(lambda: notices("terntest1", token), timeout=30, what="warm notice")
    pid, = inst.services()["bounce"]
    return slow_fsync(pid, usec)


def unslow(p):
    p.send_signal(signal.SIGINT)
    p.wait(timeout=20)


needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
# The slowest (half a minute or more each, about 4 minutes together) run
# only on request, not in make check:
#   TERN_SLOW=1 TERN_BUILD=$PWD/build python3 -m pytest tests/integration/test_review_abounce.py
slow = pytest.mark.skipif(not os.environ.get("TERN_SLOW"), reason="slow: set TERN_SLOW=1")


@needs_strace
def test_slow_bounce_two_at_once_sends_one_twice(make_instance, receiver):
    """bounce takes ~6 s per notice (two fsyncs of 3 s: a slow disk, under
    QMGR_BOUNCE_TIMEOUT).  Two messages fail at once: qmgr sends both
    requests at once (QMGR_BOUNCE_CONCURRENCY 2), and the second's 10 s
    clock runs while bounce composes the first; bounce reads it at ~6 s
    (qmgr still connected, so it is served), commits at ~12 s, after qmgr
    gave up at 10 s: the sender gets that notice twice although nothing
    crashed."""
    inst, _ = dsn_instance(make_instance, receiver)
    st = warm_then_slow(inst, "rv-slow-warm", 3_000_000)
    try:
        tokens = ["rv-slow-a", "rv-slow-b"]
        for t in tokens:
            send(inst, SENDER, ["alice@gone.test"], t)
        wait_for(lambda: all(notices("terntest1", t + "\n") for t in tokens), timeout=120,
                 what="both notices")
        wait_for(lambda: empty_queue(inst), timeout=120, what="an empty queue")
    finally:
        unslow(st)
    time.sleep(3)
    counts = {t: len(notices("terntest1", t + "\n")) for t in tokens}
    assert counts == {t: 1 for t in tokens}, (counts, inst.log().count("timed out"))


@slow
@needs_strace
def test_very_slow_bounce_sends_notices_for_ever(make_instance, receiver):
    """bounce takes ~12 s per notice (a stalled disk, over the 10 s
    time-out).  Each request times out while bounce composes it; bounce had
    found qmgr still connected, so it commits the notice anyway; qmgr
    never marks it and asks again at every retry: the sender receives the
    same notice again and again, without any crash."""
    inst, _ = dsn_instance(make_instance, receiver)
    st = warm_then_slow(inst, "rv-vslow-warm", 6_000_000)
    try:
        qid = send(inst, SENDER, ["alice@gone.test"], "rv-vslow")
        t0 = time.monotonic()
        # watch for 70 s: how many notices about one message arrive?
        while time.monotonic() - t0 < 70:
            if len(notices("terntest1", "rv-vslow\n")) >= 3:
                break
            time.sleep(1)
        n = len(notices("terntest1", "rv-vslow\n"))
        still = qid in inst.queue_files("deferred") + inst.queue_files("active")
    finally:
        unslow(st)
    assert n <= 1, f"{n} copies of one notice in 70 s, original still queued: {still}"


@needs_strace
def test_bounce_slower_than_timeout_publishes_nothing_then_once(make_instance, receiver):
    """qmgr_bounce_timeout 4 s, and bounce's fsync takes 6 s: qmgr gives up
    on every request while bounce fsyncs the notice; bounce, asking again
    after the fsync whether qmgr still waits, removes it unpublished (no
    notice, nothing left in tmp/).  Once the disk is fast again the next
    request sends the notice, once."""
    inst, _ = dsn_instance(make_instance, receiver, extra="qmgr_bounce_timeout = 4s\n")
    st = warm_then_slow(inst, "rv-abort-warm", 6_000_000)
    try:
        qid = send(inst, SENDER, ["alice@gone.test"], "rv-abort")
        wait_for(lambda: inst.log().count(f"{qid}: no answer from private/bounce: timed out")
                 >= 2, timeout=60, what="two time-outs")
        # the first request's fsync has ended by now: it was not published
        wait_for(lambda: inst.log().count(
            f"{qid}: no notification: qmgr no longer waits for the answer") >= 1,
            timeout=30, what="bounce drops the notice after its fsync")
        assert not notices("terntest1", "rv-abort\n"), "published after qmgr gave up"
    finally:
        unslow(st)
    wait_for(lambda: notices("terntest1", "rv-abort\n"), timeout=60, what="the notice")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    time.sleep(2)
    assert len(notices("terntest1", "rv-abort\n")) == 1
    assert inst.queue_files("tmp") == []


def test_noticed_message_not_recycled(make_instance, receiver):
    """A message bounce was asked about leaves active/ unlinked, not moved
    to free/ (where smtpd would write another message into the file that
    a bounce stuck on an old request may still read); a message without
    notices is recycled as before."""
    inst, _ = dsn_instance(make_instance, receiver)
    bad = send(inst, SENDER, ["alice@gone.test"], "rv-recycle-bad")
    wait_for(lambda: f"{bad}: removed" in inst.log(), timeout=30, what="bounced removed")
    assert bad not in inst.queue_files("free"), inst.queue_files("free")
    wait_for(lambda: empty_queue(inst), timeout=30, what="the notice delivered")
    good = send(inst, SENDER, [GOOD], "rv-recycle-good")
    wait_for(lambda: f"{good}: removed" in inst.log(), timeout=30, what="good removed")
    assert good in inst.queue_files("free"), inst.queue_files("free")


# ---------------------------------------------------------------- fake bounce

class FakeBounce:
    """A server on private/bounce.  behave(conn, req) answers one request
    (req: ternipc.Message, or None if unreadable)."""

    def __init__(self, inst, behave):
        self.path = str(inst.queue / "private" / "bounce")
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(64)
        self.behave = behave
        self.requests = []   # (time, id, event)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self.sock.settimeout(0.5)
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            req = ternipc.read_message(conn, 5)
        except Exception:
            req = None
        if req is not None:
            self.requests.append((time.monotonic(), req.get("id"), req.get("event")))
        try:
            self.behave(conn, req)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


def fake_instance(make_instance, receiver, behave):
    inst, _ = dsn_instance(make_instance, receiver, extra=SHORT_TIMEOUT)
    inst.drop_service("bounce")
    return inst, FakeBounce(inst, behave)


def pid_of(inst, name):
    pid, = inst.services()[name]
    return pid


def reply_none(conn, req):
    conn.sendall(ternipc.encode(BOUNCE_T_REPLY, {"status": "none"}))


def check_hostile(make_instance, receiver, behave, what):
    """A hostile bounce: qmgr survives, other mail flows, the failed message
    stays queued with its notice due, asked again with a back-off (no hot
    loop); once a sane bounce answers, the original leaves the queue."""
    mode = {"bad": True}

    def switch(conn, req):
        if mode["bad"]:
            behave(conn, req)
        else:
            reply_none(conn, req)

    inst, fake = fake_instance(make_instance, receiver, switch)
    try:
        qmgr = pid_of(inst, "qmgr")
        qid = send(inst, SENDER, ["alice@gone.test"], f"rv-{what}")
        wait_for(lambda: any(r[1] == qid for r in fake.requests), timeout=30,
                 what="qmgr asks the fake bounce")
        t0 = time.monotonic()
        send(inst, SENDER, [GOOD], f"rv-{what}-good")
        wait_for(lambda: copies("terntest2", f"rv-{what}-good"), timeout=30,
                 what="good mail while bounce misbehaves")
        assert time.monotonic() - t0 < 8, "good mail held up by a hostile bounce"
        time.sleep(25)
        asked = [r for r in fake.requests if r[1] == qid]
        assert 1 <= len(asked) <= 6, f"{len(asked)} requests in ~25 s: hot loop?"
        assert pid_of(inst, "qmgr") == qmgr, "qmgr died"
        assert f"{qid}: removed" not in inst.log(), "removed without its notice"
        assert qid in inst.queue_files("deferred") + inst.queue_files("active")
        mode["bad"] = False
        wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=60,
                 what="the original leaves once bounce answers")
    finally:
        fake.stop()


@slow
def test_fake_garbage(make_instance, receiver):
    check_hostile(make_instance, receiver,
                  lambda c, r: c.sendall(b"\x00\x00\x00\x10garbage-garbage!"), "garbage")


@slow
def test_fake_bad_version(make_instance, receiver):
    check_hostile(make_instance, receiver,
                  lambda c, r: c.sendall(ternipc.encode_raw(BOUNCE_T_REPLY, b"status\0sent\0",
                                                            version=9)), "badver")


@slow
def test_fake_huge_length(make_instance, receiver):
    check_hostile(make_instance, receiver,
                  lambda c, r: c.sendall(struct.pack(">I", 0x7fffffff) + b"\x01\x51"), "huge")


@slow
def test_fake_closes_mid_reply(make_instance, receiver):
    def half(c, r):
        f = ternipc.encode(BOUNCE_T_REPLY, {"status": "sent", "id": "A" * 12})
        c.sendall(f[:len(f) // 2])
    check_hostile(make_instance, receiver, half, "half")


@slow
def test_fake_sent_with_bad_id(make_instance, receiver):
    check_hostile(make_instance, receiver,
                  lambda c, r: c.sendall(ternipc.encode(BOUNCE_T_REPLY,
                                                        {"status": "sent", "id": "../x"})),
                  "badid")


@slow
def test_fake_late_answer(make_instance, receiver):
    """Answers after qmgr's 10 s time-out: the late 'sent' must not be taken
    as the answer to another request."""
    def late(c, r):
        time.sleep(12)
        c.sendall(ternipc.encode(BOUNCE_T_REPLY, {"status": "none"}))
    check_hostile(make_instance, receiver, late, "late")


def test_fake_refusal_of_one_pauses_everyones_notices(make_instance, receiver):
    """bounce refuses one message's notice (a per-message error, e.g. its
    notice recipient too long, unreadable file): qmgr takes that as bounce
    being down and pauses every request for QMGR_BOUNCE_RETRY; the other
    messages whose rounds end meanwhile are deferred without bounce being
    asked at all.  With a poison message retried at every back-off, other
    senders' notices are delayed again and again."""
    poison = {}

    def behave(c, r):
        if r is not None and r.get("id") == poison.get("id"):
            c.sendall(ternipc.encode(ternipc.IPC_T_ERROR, {"text": "notice recipient too long"}))
        else:
            reply_none(c, r)

    inst, fake = fake_instance(make_instance, receiver, behave)
    try:
        # one connection, poison first: its request goes first
        poison["id"] = send(inst, SENDER, ["alice@gone.test"], "rv-poison")
        wait_for(lambda: any(r[1] == poison["id"] for r in fake.requests), timeout=30,
                 what="poison asked")
        others = [send(inst, SENDER, ["alice@gone.test"], f"rv-other-{i}") for i in range(5)]
        wait_for(lambda: all(f"{q}: to=<alice@gone.test>" in inst.log() for q in others),
                 timeout=30, what="others failed")
        time.sleep(2)
        unasked = [q for q in others if not any(r[1] == q for r in fake.requests)]
        deferred_unasked = [q for q in unasked if f"{q}: deferred" in inst.log()]
        assert not deferred_unasked, \
            f"{len(deferred_unasked)}/5 healthy messages deferred without asking bounce " \
            "because another message's notice was refused"
    finally:
        fake.stop()


# ------------------------------------------------------------ bursts, crashes

def send_burst(inst, n, prefix, rcpts=("alice@gone.test",)):
    """n messages over few SMTP sessions; their queue ids."""
    import re
    qids = []
    for k in range(0, n, 50):
        with inst.smtp() as s:
            s.ehlo("client.example")
            for i in range(k, min(n, k + 50)):
                tok = f"{prefix}-{i}"
                code, text = s.mail(SENDER)
                assert code == 250, text
                for r in rcpts:
                    code, text = s.rcpt(r)
                    assert code == 250, text
                code, text = s.data(f"From: <{SENDER}>\r\nSubject: {tok}\r\n"
                                    f"X-Token: {tok}\r\n\r\nbody of {tok}\r\n".encode())
                assert code == 250, text
                qids.append(re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode())
    return qids


def notice_counts(prefix, n):
    import collections
    c = collections.Counter()
    for m in notices("terntest1", prefix):
        raw = m.as_string()
        for i in range(n):
            if f"X-Token: {prefix}-{i}\n" in raw:
                c[i] += 1
    return c


def qmgr_fds(inst):
    pid, = inst.services()["qmgr"]
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_burst_of_notices_exactly_once_bounded(make_instance, receiver):
    """300 failing messages at once: every notice once, queue empty,
    qmgr's open files stay bounded (QMGR_NOTICE_WAIT_MAX) meanwhile."""
    n = 300
    inst, _ = dsn_instance(make_instance, receiver)
    peak = [0]
    stop = [False]

    def watch():
        while not stop[0]:
            try:
                peak[0] = max(peak[0], qmgr_fds(inst))
            except Exception:
                pass
            time.sleep(0.05)
    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        send_burst(inst, n, "rv-burst")
        wait_for(lambda: len(notice_counts("rv-burst", n)) == n, timeout=300,
                 what="a notice for each message")
        wait_for(lambda: empty_queue(inst), timeout=120, what="an empty queue")
    finally:
        stop[0] = True
        th.join(2)
    c = notice_counts("rv-burst", n)
    dup = {i: k for i, k in c.items() if k != 1}
    assert not dup, f"duplicates without any crash: {dup}"
    assert peak[0] < 400, f"qmgr peak open files {peak[0]}"
    assert inst.log().count("timed out") == 0


def test_kill_qmgr_and_bounce_during_burst(make_instance, receiver):
    """kill -9 qmgr, then bounce, while a burst's notices are being made
    (bounce running, not stopped): every notice at least once, at most
    twice, and the originals leave the queue."""
    n = 120
    inst, _ = dsn_instance(make_instance, receiver)
    send_burst(inst, n, "rv-kill")
    wait_for(lambda: len(notice_counts("rv-kill", n)) >= 10, timeout=120,
             what="some notices made")
    qmgr, = inst.services()["qmgr"]
    os.kill(qmgr, signal.SIGKILL)
    wait_for(lambda: inst.services().get("qmgr", [qmgr]) not in ([qmgr], []), timeout=30,
             what="qmgr restarted")
    wait_for(lambda: len(notice_counts("rv-kill", n)) >= 40, timeout=120,
             what="more notices made")
    b, = inst.services()["bounce"]
    os.kill(b, signal.SIGKILL)
    wait_for(lambda: inst.services().get("bounce", [b]) not in ([b], []), timeout=30,
             what="bounce restarted")
    wait_for(lambda: len(notice_counts("rv-kill", n)) == n, timeout=300,
             what="a notice for each message")
    wait_for(lambda: empty_queue(inst), timeout=120, what="an empty queue")
    c = notice_counts("rv-kill", n)
    assert all(1 <= k <= 2 for k in c.values()), {i: k for i, k in c.items() if k > 2}
    assert sum(k == 2 for k in c.values()) <= 4, f"{sum(k == 2 for k in c.values())} twice"


def test_ternctl_on_message_waiting_for_notice(make_instance, receiver):
    """ternctl hold/delete/requeue on a message whose notice is in flight
    (bounce stopped): active/ is left alone; the notice arrives once and
    the original leaves the queue once bounce runs."""
    from test_ternctl import ternctl
    inst, _ = dsn_instance(make_instance, receiver)
    send(inst, SENDER, ["alice@gone.test"], "rv-ctl-warm")
    wait_for(lambda: notices("terntest1", "rv-ctl-warm"), timeout=30, what="warm")
    b, = inst.services()["bounce"]
    os.kill(b, signal.SIGSTOP)
    try:
        qid = send(inst, SENDER, ["alice@gone.test"], "rv-ctl")
        wait_for(lambda: f"{qid}: to=<alice@gone.test>" in inst.log(), timeout=30,
                 what="failure")
        for op in ("hold", "requeue", "delete"):
            ternctl(inst, "queue", op, qid)
            time.sleep(0.5)
        # whatever ternctl did, the file is somewhere or was deleted by admin
        deleted = not any(qid in inst.queue_files(d)
                          for d in ("incoming", "active", "deferred", "hold"))
    finally:
        os.kill(b, signal.SIGCONT)
    qmgr, = inst.services()["qmgr"]
    if not deleted:
        ternctl(inst, "queue", "release", qid)
        wait_for(lambda: notices("terntest1", "rv-ctl\n"), timeout=90, what="notice")
        wait_for(lambda: empty_queue(inst), timeout=90, what="empty queue")
        assert len(notices("terntest1", "rv-ctl\n")) == 1
    time.sleep(12)
    assert inst.services()["qmgr"] == [qmgr]
    assert "panic" not in inst.log() and "fatal" not in inst.log().lower()
