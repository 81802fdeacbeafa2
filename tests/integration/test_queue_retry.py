"""Retries through the real queue: a temporary delivery failure leaves the
message in deferred/ with its next attempt time as mtime and the recipient
still pending in the file; QMGR_T_FLUSH retries it and it is delivered once
the cause is gone.  A recipient already delivered is never delivered again,
and messages left in incoming/ and active/ by a dead qmgr are delivered by
the next one.  See qmgr(8), common/queue.h and common/queue_file.h."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import ternipc
from conftest import maildir_new, pid_alive, wait_for

USER3 = "terntest3"
HOME3 = Path("/var/tmp/tern-test-home/terntest3-missing")
FLUSH = 0x11  # QMGR_T_FLUSH, common/proto_qmgr.h


@pytest.fixture
def homeless(test_users):
    """terntest3: a real user whose home directory does not exist (yet)."""
    try:
        pwd.getpwnam(USER3)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(HOME3),
                        "--shell", "/usr/sbin/nologin", USER3], check=True)
    assert Path(pwd.getpwnam(USER3).pw_dir) == HOME3
    shutil.rmtree(HOME3, ignore_errors=True)
    yield USER3
    shutil.rmtree(HOME3, ignore_errors=True)


def make_home():
    pw = pwd.getpwnam(USER3)
    HOME3.mkdir(mode=0o700)
    os.chown(HOME3, pw.pw_uid, pw.pw_gid)


def send(inst, rcpts, token):
    """Send one message; its queue id."""
    with inst.smtp() as s:
        s.ehlo("retry.example")
        assert s.mail("r@example.org")[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250
        code, text = s.data(f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody\r\n".encode())
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def copies(user, token):
    """How many of user's delivered files carry token (others may share the user)."""
    return sum(f"X-Token: {token}\n".encode() in read(p) for p in maildir_new(user))


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:  # removed under us by another test run
        return b""


def rcpt_status(path):
    """{address: status byte} from a queue file's header."""
    head = path.read_bytes().split(b"\ndata\n", 1)[0]
    return {a.decode(): s.decode() for s, a in re.findall(rb"^rcpt (\S) (.+)$", head, re.M)}


def flush(inst):
    reply = ternipc.call(inst.queue / "private" / "qmgr", FLUSH, {"v": ternipc.QMGR_VERSION})
    assert reply.type == ternipc.IPC_T_OK, reply


def queue_empty(inst):
    return not any(inst.queue_files(d) for d in ("incoming", "active", "deferred"))


def deferred(inst, qid):
    path = inst.queue / "deferred" / qid
    wait_for(lambda: path.exists() and not inst.queue_files("active"), timeout=20,
             what=f"{qid} in deferred/")
    return path


def test_temporary_failure_is_deferred_then_flushed(make_instance, homeless):
    inst = make_instance("minimal_backoff_time = 120")
    qid = send(inst, ["terntest3@localhost"], "retry-1")
    path = deferred(inst, qid)
    ahead = path.stat().st_mtime - time.time()
    assert 110 <= ahead <= 121, ahead
    assert rcpt_status(path) == {"terntest3@localhost": "P"}
    assert f"{qid}: deferred, 1 recipient(s) pending, next attempt in 120 s" in inst.log()
    assert f"home directory {HOME3} does not exist" in inst.log()
    assert not HOME3.exists()
    make_home()
    flush(inst)
    wait_for(lambda: copies(USER3, "retry-1") == 1, timeout=20, what="delivery after the flush")
    wait_for(lambda: queue_empty(inst), what="an empty queue")
    assert f"{qid}: removed" in inst.log()


def test_delivered_recipient_is_not_repeated(make_instance, homeless):
    inst = make_instance("minimal_backoff_time = 120")
    qid = send(inst, ["terntest1@localhost", "terntest3@localhost"], "retry-2")
    path = deferred(inst, qid)
    assert rcpt_status(path) == {"terntest1@localhost": "D", "terntest3@localhost": "P"}
    assert copies("terntest1", "retry-2") == 1
    make_home()
    flush(inst)
    wait_for(lambda: copies(USER3, "retry-2") == 1, timeout=20, what="terntest3's delivery")
    wait_for(lambda: queue_empty(inst), what="an empty queue")
    assert copies("terntest1", "retry-2") == 1
    sent = re.findall(rf"{qid}: to=<terntest1@localhost>, relay=local, .*status=sent", inst.log())
    assert len(sent) == 1


def test_new_qmgr_recovers_incoming_and_active(make_instance):
    # No periodic scan during the test: only start-up recovery can find them.
    inst = make_instance("queue_scan_interval = 1h")
    master = inst.master_pid()
    old_qmgr, = inst.services()["qmgr"]
    smtpd = set(inst.services()["smtpd"])  # start() waited for all of them
    # Freeze the master so that it cannot restart qmgr while we work.
    os.kill(master, signal.SIGSTOP)
    try:
        os.kill(old_qmgr, signal.SIGKILL)
        wait_for(lambda: not pid_alive(old_qmgr), what="qmgr to die")
        id1 = send(inst, ["terntest1@localhost"], "recover-1")
        id2 = send(inst, ["terntest1@localhost"], "recover-2")
        # With no qmgr to answer its notices, smtpd commits into incoming/,
        # where every qmgr looks and ternctl may hold or delete (not into
        # active/, where only a qmgr that was told would look soon).
        assert sorted(inst.queue_files("incoming")) == sorted([id1, id2])
        # As if the dead qmgr had taken id2 and crashed before delivering.
        os.rename(inst.queue / "incoming" / id2, inst.queue / "active" / id2)
        assert inst.queue_files("incoming") == [id1]
        assert inst.queue_files("active") == [id2]
    finally:
        os.kill(master, signal.SIGCONT)
    wait_for(lambda: inst.services().get("qmgr", [old_qmgr]) != [old_qmgr], timeout=20,
             what="the master to restart qmgr")
    wait_for(lambda: copies("terntest1", "recover-1") and copies("terntest1", "recover-2"),
             timeout=30, what="both messages delivered")
    wait_for(lambda: queue_empty(inst), what="an empty queue")
    assert copies("terntest1", "recover-1") == 1 and copies("terntest1", "recover-2") == 1
    assert "recovered 1 message(s) from active/" in inst.log()
    assert set(inst.services()["smtpd"]) == smtpd  # smtpd did not mind


def test_queue_file_keeps_mail_parameters(make_instance, homeless):
    """smtpd writes format 2 (common/queue_file.h): MAIL's BODY= is kept,
    and the size record says where the message ends; what follows it is
    qmgr's outcome record of the deferral."""
    inst = make_instance("minimal_backoff_time = 120")
    with inst.smtp() as s:
        s.ehlo("retry.example")
        assert s.mail("r@example.org", ["BODY=8BITMIME"])[0] == 250
        assert s.rcpt("terntest3@localhost")[0] == 250
        code, text = s.data(b"Subject: body\r\n\r\n8bit \xc3\xa9\r\n")
        assert code == 250, text
        qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
    data = deferred(inst, qid).read_bytes()
    head, rest = data.split(b"\ndata\n", 1)
    head += b"\n"
    assert head.startswith(b"tern-queue 2\n")
    assert b"\nbody 8BITMIME\n" in head
    assert b"\nnotify \n" in head
    size = int(re.search(rb"^size (\d{20})$", head, re.M).group(1))
    message, records = rest[:size], rest[size:]
    assert message.endswith("Subject: body\n\n8bit é\n".encode())
    assert re.fullmatch(rb"outcome 0 T \d+ 4\.3\.0 - home directory [^\n]* does not exist\n",
                        records), records


def test_file_in_active_without_a_notice_is_delivered(make_instance):
    """smtpd commits into active/ and tells qmgr; a notice that is lost
    (dropped while qmgr was behind, or its connection broke) must not leave
    the message there until qmgr restarts: qmgr's scan of active/ (every
    QMGR_ORPHAN_INTERVAL seconds) takes on a file no writer holds locked."""
    inst = make_instance("queue_scan_interval = 1h")   # no incoming/ scan helps
    inst.put_queue_file("active", ["terntest1@localhost"], "orphan-1", prefix="0ORPHAN")
    wait_for(lambda: copies("terntest1", "orphan-1") == 1, timeout=30,
             what="the message found in active/ delivered")
    wait_for(lambda: queue_empty(inst), what="an empty queue")
    assert "took on 1 message(s) found in active/ without a notice" in inst.log()
    assert copies("terntest1", "orphan-1") == 1


def test_mail_is_committed_straight_into_active(make_instance):
    """Once qmgr has answered a notice on smtpd's connection, smtpd commits
    into active/ and says so (QMGR_T_COMMITTED): qmgr takes the file where
    it is, one rename fewer per message.  Until that answer has been read,
    a message goes through incoming/ (QMGR_T_NOTIFY), as before: per smtpd
    process, every notified message comes before every committed one."""
    inst = make_instance("verbose = yes")
    n = 10
    ids = [send(inst, ["terntest1@localhost"], f"straight-{i}") for i in range(n)]
    wait_for(lambda: all(copies("terntest1", f"straight-{i}") == 1 for i in range(n)),
             timeout=30, what="the messages delivered")
    log = inst.log()
    kinds = {}
    for qid in ids:
        pid = re.search(rf"smtpd\[(\d+)\]: {qid}: client=", log).group(1)
        committed = f"{qid}: committed" in log
        assert committed != (f"{qid}: notify" in log), qid
        kinds.setdefault(pid, []).append(committed)
    for pid, seq in kinds.items():
        assert seq == sorted(seq), (pid, seq)        # False (notified) first
    assert sum(sum(seq) for seq in kinds.values()) >= 3, kinds
