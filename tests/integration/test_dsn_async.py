"""qmgr asks bounce(8) for notices without waiting for it (issue 10,
qmgr/qmgr_bounce_client.c): a stopped, killed or slow bounce holds up only
the messages whose notices it owes, never the rest of the mail; a request
bounce does not answer in qmgr_bounce_timeout (5 min, here 10 s) leaves its message
deferred with the notice still due; and whoever is killed, every notice
arrives once (twice only when bounce had queued it just before), none is
lost, and the originals leave the queue."""

import os
import signal
import time

from conftest import wait_for
from test_dsn import GOOD, SENDER, copies, dsn_instance, empty_queue, notices, send
from test_smtp_client import receiver  # noqa: F401 (fixture)

TIMED_OUT = "no answer from private/bounce: timed out"
ABANDONED = "no notification: qmgr no longer waits for the answer"
SHORT_TIMEOUT = "qmgr_bounce_timeout = 10s\n"


def failed(inst, qid):
    return f"{qid}: to=<alice@gone.test>" in inst.log()


def stop(pid):
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T",
             what="bounce stopped")


def fail_while_stopped(inst, bounce, tokens, rcpts):
    """Stop bounce; send one message per token to rcpts (alice@gone.test
    first, who fails), and wait for the failures: their requests are out
    (or waiting their turn) at the stopped bounce.  The queue ids."""
    stop(bounce)
    qids = [send(inst, SENDER, rcpts, t) for t in tokens]
    wait_for(lambda: all(failed(inst, q) for q in qids), timeout=30, what="the failures")
    return qids


def warm(inst):
    """One notice made while bounce runs: it is up and serving."""
    send(inst, SENDER, ["alice@gone.test"], "dsn-async-warm")
    wait_for(lambda: notices("terntest1", "dsn-async-warm"), timeout=30,
             what="a first notice (bounce running)")


def test_bounce_stopped_for_30_seconds(make_instance, receiver):
    """bounce stopped for 30 s (three of qmgr's time-outs): mail that needs
    no notice is delivered promptly all along; once bounce runs again, the
    failure notice arrives, and only once, although qmgr asked for it
    several times meanwhile (bounce drops the requests qmgr gave up on)."""
    inst, _ = dsn_instance(make_instance, receiver, extra=SHORT_TIMEOUT)
    warm(inst)
    pid, = inst.services()["bounce"]
    stop(pid)
    t_stop = time.monotonic()
    try:
        qid = send(inst, SENDER, ["alice@gone.test"], "dsn-async-fail")
        wait_for(lambda: failed(inst, qid), timeout=30, what="the failure")
        k = 0
        while time.monotonic() - t_stop < 30 or k < 6:
            t0 = time.monotonic()
            token = f"dsn-async-good-{k}"
            send(inst, SENDER, [GOOD], token)
            wait_for(lambda: copies("terntest2", token), timeout=30,
                     what=f"good message {k} delivered")
            took = time.monotonic() - t0
            assert took < 5, f"good message {k} took {took:.1f} s while bounce was stopped"
            k += 1
            time.sleep(1)
        # Continue just after a time-out, the second or a later one (qmgr
        # asked at least twice): then no request is out (the next waits
        # QMGR_BOUNCE_RETRY), so exactly one notice must follow.
        n = inst.log().count(TIMED_OUT)
        wait_for(lambda: inst.log().count(TIMED_OUT) > max(n, 1), timeout=40,
                 what="another time-out")
        # the message waits in the queue with its notice due
        assert not notices("terntest1", "dsn-async-fail")
        assert f"{qid}: removed" not in inst.log()
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: notices("terntest1", "dsn-async-fail"), timeout=60,
             what="the failure notice, once bounce runs again")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    # every request qmgr gave up on was dropped by bounce, none served
    wait_for(lambda: inst.log().count(ABANDONED) >= inst.log().count(TIMED_OUT),
             timeout=30, what="bounce to drop the requests qmgr gave up on")
    assert inst.log().count(ABANDONED) == inst.log().count(TIMED_OUT)
    assert len(notices("terntest1", "dsn-async-fail")) == 1
    assert f"{qid}: removed" in inst.log()
    assert inst.services()["bounce"] == [pid]


def test_bounce_killed_with_requests_out(make_instance, receiver):
    """Requests out to a bounce that is killed before it served them: qmgr
    sees the connections close, keeps the messages, asks the new bounce,
    and every notice arrives once; the good mail sent meanwhile is
    delivered at once."""
    inst, _ = dsn_instance(make_instance, receiver, extra=SHORT_TIMEOUT)
    warm(inst)
    pid, = inst.services()["bounce"]
    tokens = [f"dsn-async-kb-{i}" for i in range(6)]
    try:
        qids = fail_while_stopped(inst, pid, tokens, ["alice@gone.test", GOOD])
        wait_for(lambda: all(copies("terntest2", t) for t in tokens), timeout=10,
                 what="the good recipients delivered while bounce is stopped")
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: inst.services().get("bounce", [pid]) not in ([pid], []), timeout=30,
             what="bounce restarted")
    wait_for(lambda: all(notices("terntest1", t + "\n") for t in tokens), timeout=90,
             what="a notice about every message")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    for t, q in zip(tokens, qids):
        assert len(notices("terntest1", t + "\n")) == 1, t
        assert copies("terntest2", t) == 1, t
        assert f"{q}: removed" in inst.log()


def test_qmgr_killed_with_requests_out(make_instance, receiver):
    """qmgr killed while its requests wait at a stopped bounce: nothing was
    marked, so the new qmgr finds the messages in active/ and asks again;
    bounce, continued, drops the dead qmgr's requests; every notice
    arrives once and the originals leave the queue."""
    inst, _ = dsn_instance(make_instance, receiver, extra=SHORT_TIMEOUT)
    warm(inst)
    bounce, = inst.services()["bounce"]
    tokens = [f"dsn-async-kq-{i}" for i in range(6)]
    try:
        qids = fail_while_stopped(inst, bounce, tokens, ["alice@gone.test"])
        qmgr, = inst.services()["qmgr"]
        os.kill(qmgr, signal.SIGKILL)
        wait_for(lambda: inst.services().get("qmgr", [qmgr]) not in ([qmgr], []),
                 timeout=30, what="qmgr restarted")
        assert all(q in inst.queue_files("active") for q in qids)
    finally:
        os.kill(bounce, signal.SIGCONT)
    wait_for(lambda: all(notices("terntest1", t + "\n") for t in tokens), timeout=90,
             what="a notice about every message")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    assert ABANDONED in inst.log()
    for t, q in zip(tokens, qids):
        assert len(notices("terntest1", t + "\n")) == 1, t
        assert f"{q}: removed" in inst.log()
