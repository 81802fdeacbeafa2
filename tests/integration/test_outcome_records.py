"""qmgr appends outcome records to a queue file (common/queue_file.h,
qmgr/qmgr_record.c): a bounced recipient's outcome, and a deferred one's
reason whenever it changes.  They survive a restart of qmgr, a repeated
reason is not written again (before or after the restart), and the message
deliver writes into a Maildir stops at the recorded size, without them."""

import os
import re

from conftest import maildir_new, wait_for
from test_queue_retry import (HOME3, copies, deferred, flush, homeless,  # noqa: F401
                              make_home, queue_empty, rcpt_status, send)

# D B T R E are outcomes; F W S mark a notice queued about the recipient.
RECORD_RE = re.compile(rb"^outcome (\d+) ([DBTREFWS]) (\d+) (\S+) (\S+) (.*)$")


def records(path):
    """[(rcpt index, action, code, host, text)] after the message, as
    queue_outcome_read() takes them: up to the first line that is not one."""
    data = path.read_bytes()
    head, rest = data.split(b"\ndata\n", 1)
    size = int(re.search(rb"^size (\d{20})$", head, re.M).group(1))
    out = []
    for line in rest[size:].split(b"\n")[:-1]:
        m = RECORD_RE.match(line)
        assert m, line
        out.append((int(m.group(1)), m.group(2).decode(), m.group(4).decode(),
                    m.group(5).decode(), m.group(6).decode()))
    return out


def deferrals(inst, qid):
    return inst.log().count(f"{qid}: deferred, ")


def retry(inst, qid):
    """Flush the queue and wait until qid is deferred once more."""
    n = deferrals(inst, qid)
    flush(inst)
    wait_for(lambda: deferrals(inst, qid) > n, timeout=20, what=f"{qid} deferred again")
    return deferred(inst, qid)


def restart_qmgr(inst):
    old, = inst.services()["qmgr"]
    os.kill(old, 9)
    wait_for(lambda: inst.services().get("qmgr", [old]) not in ([old], []), timeout=20,
             what="the master to restart qmgr")


def test_bounce_and_deferral_are_recorded(make_instance, homeless):  # noqa: F811
    inst = make_instance("minimal_backoff_time = 120\nlocal_recipient_check = no")
    qid = send(inst, ["nosuchuser@localhost", "terntest1@localhost",
                      "terntest3@localhost"], "outcome-1")
    path = deferred(inst, qid)
    assert rcpt_status(path) == {"nosuchuser@localhost": "B", "terntest1@localhost": "D",
                                 "terntest3@localhost": "P"}
    recs = records(path)
    # then the marker of the failure notice to the sender (issue 10)
    assert [(r[0], r[1], r[2]) for r in recs] == [(0, "B", "5.1.1"), (2, "T", "4.3.0"),
                                                  (0, "F", "-")], recs
    assert recs[1][3] == "-" and f"home directory {HOME3} does not exist" in recs[1][4]
    assert re.fullmatch(r"[0-9A-Z]+", recs[2][4]), recs  # the notice's queue id

    # The same reason again: nothing new, before and after a restart.
    path = retry(inst, qid)
    assert records(path) == recs
    restart_qmgr(inst)
    path = retry(inst, qid)
    assert records(path) == recs

    # The cause is gone: delivered, and the records are not part of the mail.
    make_home()
    flush(inst)
    wait_for(lambda: copies("terntest3", "outcome-1") == 1, timeout=20, what="the delivery")
    # The failure notice to r@example.org may still be on its way out (the
    # test has no route for it): the original is what must be done.
    wait_for(lambda: f"{qid}: removed" in inst.log(), what="the message to be done")
    mail, = [p.read_bytes() for p in maildir_new("terntest3")]
    assert mail.endswith(b"\n\nbody\n"), mail[-200:]
    assert b"outcome " not in mail


def test_changed_reason_is_recorded_again(make_instance, homeless):  # noqa: F811
    inst = make_instance("minimal_backoff_time = 120")
    qid = send(inst, ["terntest3@localhost"], "outcome-2")
    path = deferred(inst, qid)
    first = records(path)
    assert [(r[0], r[1]) for r in first] == [(0, "T")]
    # Now the home exists but cannot be written to: another reason.
    make_home()
    os.chown(HOME3, 0, 0)
    os.chmod(HOME3, 0o700)
    path = retry(inst, qid)
    recs = records(path)
    assert len(recs) == 2 and recs[0] == first[0], recs
    assert recs[1][1] == "T" and recs[1][4] != first[0][4], recs
