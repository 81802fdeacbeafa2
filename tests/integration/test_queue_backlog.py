"""The queue under a backlog (qmgr(8), docs/ARCHITECTURE.md "The queue"):
with a small qmgr_message_active_limit and hundreds of messages waiting in
incoming/, qmgr never holds more than the limit (files in active/, and the
count its scans log), takes them oldest first, and delivers every one once;
and new mail is delivered while a deferred backlog to a slow destination
that answers 4xx waits, not after it."""

import os
import re
import time

import pytest

from backlog import ActiveWatch, fill, qmgr_down, qmgr_up
from conftest import INSTANCE_ROOT, maildir_new, wait_for
from fakesmtp import FakeSmtp, write_map

LIMIT = 10


def tokens(user, prefix):
    out = []
    for p in maildir_new(user):
        m = re.search(rf"^X-Token: ({prefix}-\d+)$", p.read_text(errors="replace"), re.M)
        if m:
            out.append(m.group(1))
    return out


def test_bounded_active_set_drains_oldest_first(make_instance):
    n = 300
    inst = make_instance(f"qmgr_message_active_limit = {LIMIT}\n")
    row = qmgr_down(inst)
    fill(inst, n, "terntest1@localhost", token="bl")
    queued = inst.queue_files("incoming")
    assert len(queued) == n
    watch = ActiveWatch(inst)
    try:
        qmgr_up(inst, row)
        wait_for(lambda: len(maildir_new("terntest1")) >= n, timeout=90,
                 what=f"{n} deliveries")
        wait_for(lambda: not any(inst.queue_files(d) for d in ("incoming", "active")),
                 what="an empty queue")
    finally:
        most = watch.stop()
    got = tokens("terntest1", "bl")
    assert sorted(got) == sorted(f"bl-{i}" for i in range(n))   # each once
    assert 0 < most <= LIMIT, (most, watch.samples)
    log = inst.log()
    # The scans' own count: never above the limit, and it did fill up.
    counts = [(int(a), int(p)) for a, p in
              re.findall(rf"active=(\d+)/{LIMIT} \(peak (\d+)\)", log)]
    assert counts, log[-3000:]
    assert all(a <= LIMIT and p <= LIMIT for a, p in counts), counts
    assert max(p for _, p in counts) == LIMIT
    assert re.search(r"scan of incoming/: \d+ files in \d+ ms, the 10 oldest", log)
    # Oldest first: the order qmgr took them in is their arrival order.
    taken = re.findall(r"([0-9A-Z]+): from=<sender@example\.org>.*\(queue active\)", log)
    assert len(taken) == n
    assert taken == sorted(queued)


# The fake's threads may answer a request after qmgr has gone at the end.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_new_mail_not_starved_by_deferred_backlog(make_instance):
    n = 120
    tmap = write_map(INSTANCE_ROOT, f"transport-backlog-{id(n)}", "slow.test smtp:[slow.test]\n")
    inst = make_instance(f"qmgr_message_active_limit = {LIMIT}\n"
                         f"transport_maps = texthash:{tmap}\n"
                         "smtp_destination_concurrency_limit = 1\n")
    inst.drop_service("smtp")       # the fake stands in for it

    def answer(nexthop, rcpt):
        time.sleep(0.1)             # a slow server...
        return ("defer", "4.7.1", "fake: try again later")   # ...that says 4xx

    fake = FakeSmtp(inst.queue, answer=answer)
    try:
        row = qmgr_down(inst)
        fill(inst, n, "someone@slow.test", token="slow")
        # The backlog: all of them waiting in deferred/, due now.
        now = time.time()
        for qid in inst.queue_files("incoming"):
            src = inst.queue / "incoming" / qid
            dst = inst.queue / "deferred" / qid
            src.rename(dst)
            os.utime(dst, (now - 5, now - 5))
        assert len(inst.queue_files("deferred")) == n
        qmgr_up(inst, row)
        wait_for(lambda: len(fake.seen()) >= 3, what="the backlog to be worked on")
        start = time.monotonic()
        with inst.smtp() as s:
            s.sendmail("new@example.org", ["terntest1@localhost"],
                       "Subject: new\r\nX-Token: new-0\r\n\r\nnew mail\r\n")
        wait_for(lambda: tokens("terntest1", "new"), timeout=30, what="the new mail")
        took = time.monotonic() - start
        tried = len(fake.seen())
        # One attempt takes 0.1 s, one at a time: the backlog needs 12 s.
        print(f"new mail delivered in {took:.2f} s, after {tried} attempts of the backlog")
        assert tried < n // 2, (tried, took)
        assert took < 6, took
        assert "status=bounced" not in inst.log()
    finally:
        fake.close()
        tmap.unlink()
