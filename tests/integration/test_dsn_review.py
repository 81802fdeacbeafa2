"""Review of the notifications (issue 10) from outside: hostile or large
inputs that must neither leave a message stuck in the queue nor hold up
the notices of other messages."""

import os
import re
import signal
import time

from conftest import wait_for
from test_dsn import GOOD, SENDER, copies, dsn_instance, empty_queue, notices, parts
from test_smtp_client import receiver  # noqa: F401 (fixture)


def send_many(inst, sender, rcpts, token):
    """One message to many recipients, the RCPTs pipelined by hand."""
    with inst.smtp() as s:
        s.ehlo("client.example")
        code, text = s.mail(sender)
        assert code == 250, text
        for k in range(0, len(rcpts), 500):
            chunk = rcpts[k:k + 500]
            s.send("".join(f"RCPT TO:<{r}>\r\n" for r in chunk).encode())
            for r in chunk:
                code, text = s.getreply()
                assert code == 250, (r, code, text)
        code, text = s.data(f"From: <{sender}>\r\nSubject: {token}\r\n"
                            f"X-Token: {token}\r\n\r\nbody of {token}\r\n".encode())
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def test_notice_about_very_many_failures(make_instance, receiver):
    """More failing recipients than one bounce request's list can name
    (BOUNCE_RCPTS_MAX, about 12,000 indices): every one is still reported
    and the original leaves the queue."""
    n = 12500
    inst, _ = dsn_instance(make_instance, receiver,
                           extra=f"smtpd_recipient_limit = {n}\n")
    rcpts = [f"u{i}@gone.test" for i in range(n)]
    qid = send_many(inst, SENDER, rcpts, "dsn-many")
    # before the fix, qmgr logged this and kept the message for ever
    wait_for(lambda: empty_queue(inst) or "notification request too large" in inst.log(),
             timeout=120, what="an empty queue")
    assert "notification request too large" not in inst.log()
    assert empty_queue(inst)
    got = notices("terntest1", "dsn-many")
    assert 1 <= len(got) <= 3
    reported = []
    for m in got:
        _, blocks, _ = parts(m)
        reported += [b["Final-Recipient"] for b in blocks[1:]]
    assert sorted(reported) == sorted(f"rfc822; {r}" for r in rcpts)
    assert f"{qid}: removed" in inst.log()


def test_hung_bounce_does_not_stop_deliveries(make_instance, receiver):
    """bounce(8) hangs (here: SIGSTOP; in life, a stalled disk): a failure
    notice cannot be made, and the original waits in the queue, which is
    right; but mail that needs no notice must still be delivered."""
    inst, _ = dsn_instance(make_instance, receiver)
    send_many(inst, SENDER, ["alice@gone.test"], "dsn-hang-warm")
    wait_for(lambda: notices("terntest1", "dsn-hang-warm"), timeout=30,
             what="a first notice (bounce running)")
    pid, = inst.services()["bounce"]
    os.kill(pid, signal.SIGSTOP)
    try:
        qid = send_many(inst, SENDER, ["alice@gone.test"], "dsn-hang-fail")
        wait_for(lambda: f"{qid}: to=<alice@gone.test>" in inst.log(), timeout=30,
                 what="the failure, and qmgr calling bounce")
        t0 = time.monotonic()
        send_many(inst, SENDER, [GOOD], "dsn-hang-good")
        wait_for(lambda: copies("terntest2", "dsn-hang-good"), timeout=30,
                 what="the good message delivered")
        took = time.monotonic() - t0
        assert took < 5, f"mail that needs no notice took {took:.1f} s"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: notices("terntest1", "dsn-hang-fail"), timeout=60,
             what="the failure notice, once bounce runs again")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    assert f"{qid}: removed" in inst.log()
