"""Crash safety: the master restarts dead daemons, and no acknowledged
message is ever lost, whatever is killed and when."""

import os
import re
import shutil
import signal
import smtplib
import threading
import time

import pytest

from conftest import SERVICES, maildir_new, pid_alive, proc_status, wait_for


def send(inst, user, token):
    with inst.smtp() as s:
        s.ehlo("crash.example")
        s.sendmail("c@example.org", [f"{user}@localhost"],
                   f"Subject: {token}\r\nX-Token: {token}\r\n\r\n{token}\r\n".encode())


def delivered_tokens(user):
    out = []
    for p in maildir_new(user):
        m = re.search(rb"^X-Token: (\S+)$", p.read_bytes(), re.M)
        if m:
            out.append(m.group(1).decode())
    return out


def test_daemons_run_as_their_own_users(tern):
    import pwd
    expected = {"smtpd": "tern", "qmgr": "tern", "resolver": "tern", "deliver": "root"}

    def owners():
        """{service: set of user names over all real/effective/saved uids}."""
        out = {}
        for name, pids in tern.services().items():
            for pid in pids:
                uids = proc_status(pid).get("Uid", "").split()
                out.setdefault(name, set()).update(pwd.getpwuid(int(u)).pw_name for u in uids)
        return out

    # A daemon starts as root and drops privileges once initialised: wait
    # (bounded) for every daemon to have done so.
    wait_for(lambda: all(owners().get(n) == {u} for n, u in expected.items()),
             what="every daemon to run as its own user")
    services = tern.services()
    assert len(services["smtpd"]) == 2 and len(services["deliver"]) == 4
    assert proc_status(tern.master_pid())["Uid"].split()[0] == "0"


@pytest.mark.parametrize("service", SERVICES)
def test_kill9_daemon_is_restarted_and_mail_flows(tern, service):
    send(tern, "terntest1", f"before-{service}")
    wait_for(lambda: f"before-{service}" in delivered_tokens("terntest1"), what="first delivery")
    old = tern.services()[service]
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in old), what="the old processes to die")
    new = wait_for(lambda: len(tern.services().get(service, [])) == len(old)
                   and tern.services()[service], timeout=20, what=f"{service} restarted")
    assert not set(new) & set(old)
    send(tern, "terntest1", f"after-{service}")
    wait_for(lambda: f"after-{service}" in delivered_tokens("terntest1"), timeout=30,
             what="delivery after the restart")


def test_kill_everything_after_250_loses_nothing(make_instance):
    inst = make_instance()
    acknowledged = []
    errors = []
    lock = threading.Lock()

    def sender(k):
        try:
            with inst.smtp() as s:
                s.ehlo(f"batch{k}.example")
                for n in range(25):
                    token = f"batch-{k}-{n}"
                    s.sendmail("b@example.org", ["terntest2@localhost"],
                               f"Subject: {token}\r\nX-Token: {token}\r\n\r\nx\r\n".encode())
                    with lock:
                        acknowledged.append(token)
        except (smtplib.SMTPException, OSError) as e:
            errors.append(e)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(acknowledged) == 250
    # Power cut right after the last 250: master and every daemon at once.
    inst.kill_everything()
    inst.start()
    want = set(acknowledged)
    wait_for(lambda: want <= set(delivered_tokens("terntest2")), timeout=90,
             what="every acknowledged message to be delivered after the restart")
    wait_for(lambda: not inst.queue_files("active") and not inst.queue_files("incoming")
             and not inst.queue_files("deferred"), timeout=30, what="an empty queue")


def test_daemons_exit_when_the_master_dies(tern):
    """A daemon must not outlive its master: it would keep the listening
    sockets, and a new master could not bind them."""
    children = [p for pids in tern.services().values() for p in pids]
    assert len(children) == sum(tern.service_limits().values())
    os.kill(tern.master_pid(), signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in children), timeout=20,
             what="every daemon to exit after the master died")
    tern.start()
    send(tern, "terntest1", "after-master-death")
    wait_for(lambda: "after-master-death" in delivered_tokens("terntest1"), timeout=30,
             what="delivery by the new master's daemons")


def test_abandoned_tmp_files_are_removed(tern):
    """A reception cut off by an smtpd crash leaves tmp/<id>; qmgr removes it
    once it is older than any transfer could take, and only then."""
    tmp = tern.queue / "tmp"
    old, fresh = tmp / "0ABANDONED0001", tmp / "0RECEIVING0001"
    for f in (old, fresh):
        f.write_bytes(b"tern-queue 1\npartial")
        shutil.chown(f, "tern", "tern")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    for pid in tern.services()["qmgr"]:
        os.kill(pid, signal.SIGKILL)      # its start-up scan does the work
    wait_for(lambda: not old.exists(), timeout=30, what="the abandoned file to go")
    assert fresh.exists()


def process_age(pid):
    """Seconds since pid started."""
    with open(f"/proc/{pid}/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start / os.sysconf("SC_CLK_TCK")


def test_mail_after_a_qmgr_crash_is_not_left_for_the_scan(make_instance):
    """smtpd pauses its notices for a moment after losing qmgr; what it
    commits meanwhile must not wait for queue_scan_interval (an hour here)
    once qmgr is back."""
    inst = make_instance("queue_scan_interval = 1h")
    acknowledged = []
    errors = []
    stop = threading.Event()

    def sender():
        try:
            with inst.smtp() as s:
                s.ehlo("qmgr-crash.example")
                n = 0
                while not stop.is_set():
                    token = f"qcrash-{n}"
                    s.sendmail("q@example.org", ["terntest1@localhost"],
                               f"Subject: {token}\r\nX-Token: {token}\r\n\r\nx\r\n".encode())
                    acknowledged.append(token)
                    n += 1
                    time.sleep(0.01)
        except (smtplib.SMTPException, OSError) as e:
            errors.append(e)

    t = threading.Thread(target=sender)
    t.start()
    try:
        wait_for(lambda: len(acknowledged) >= 5, what="mail flowing")
        (qmgr,) = inst.services()["qmgr"]
        # The master restarts at once only a daemon that lived 10 s
        # (SUPERVISE_RESTART_MS); a younger one waits out smtpd's pause.
        wait_for(lambda: process_age(qmgr) > 10.5, timeout=20, interval=0.1,
                 what="qmgr to be 10 s old")
        os.kill(qmgr, signal.SIGKILL)
        wait_for(lambda: inst.services().get("qmgr") not in (None, [], [qmgr]),
                 timeout=20, what="qmgr restarted")
        time.sleep(2)       # keep sending through smtpd's pause and after
    finally:
        stop.set()
        t.join(timeout=60)
    assert not errors, errors
    want = set(acknowledged)
    wait_for(lambda: want <= set(delivered_tokens("terntest1")), timeout=15,
             what="every acknowledged message delivered well within the scan interval")
