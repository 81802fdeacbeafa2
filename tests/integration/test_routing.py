"""Routing in qmgr: every recipient of a message gets a transport and a next
hop.  Recipients in two local domains (one destination: the local
transport to myhostname) are both delivered; a remote domain that
transport_maps sends to "error:" and an address that fails syntax go to
qmgr's internal error transport and bounce with their status and text,
without a delivery agent.  smtpd refuses such recipients, so the test
writes them into the queue file itself, while qmgr is down.  See qmgr(8)
and docs/ARCHITECTURE.md."""

import os
import re
import signal

from conftest import INSTANCE_ROOT, maildir_new, pid_alive, wait_for
from fakesmtp import write_map


def copies(user, token):
    return sum(f"X-Token: {token}\n".encode() in p.read_bytes() for p in maildir_new(user))


def test_recipients_routed_per_destination(make_instance):
    tmap = write_map(INSTANCE_ROOT, f"transport-routing-{os.getpid()}",
                     "remote.example error:5.1.2 remote delivery not available yet\n")
    inst = make_instance("myhostname = other.test\n"  # mydestination: localhost, $myhostname
                         "queue_scan_interval = 1h\n"
                         f"transport_maps = texthash:{tmap}")
    master = inst.master_pid()
    old_qmgr, = inst.services()["qmgr"]
    os.kill(master, signal.SIGSTOP)
    try:
        os.kill(old_qmgr, signal.SIGKILL)
        wait_for(lambda: not pid_alive(old_qmgr), what="qmgr to die")
        with inst.smtp() as s:
            s.ehlo("route.example")
            assert s.mail("r@example.org")[0] == 250
            assert s.rcpt("terntest1@localhost")[0] == 250
            assert s.rcpt("terntest2@Other.Test")[0] == 250
            code, text = s.data(b"Subject: route\r\nX-Token: route-1\r\n\r\nbody\r\n")
            assert code == 250, text
        qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
        path = inst.queued_path(qid)
        head, body = path.read_bytes().split(b"\ndata\n", 1)
        # format 2: each rcpt line has its orcpt and notify lines (queue_file.h)
        head += (b"\nrcpt P someone@remote.example\norcpt \nnotify "
                 b"\nrcpt P bad..dots@localhost\norcpt \nnotify ")
        path.write_bytes(head + b"\ndata\n" + body)
    finally:
        os.kill(master, signal.SIGCONT)
    wait_for(lambda: inst.services().get("qmgr", [old_qmgr]) != [old_qmgr], timeout=20,
             what="the master to restart qmgr")
    wait_for(lambda: copies("terntest1", "route-1") and copies("terntest2", "route-1"),
             timeout=30, what="both local recipients delivered")
    wait_for(lambda: not any(inst.queue_files(d) for d in ("incoming", "active", "deferred")),
             what="an empty queue")
    assert copies("terntest1", "route-1") == 1 and copies("terntest2", "route-1") == 1
    log = inst.log()
    assert ("to=<someone@remote.example>, status=bounced "
            "(remote delivery not available yet)") in log
    assert re.search(r"to=<bad\.\.dots@localhost>, status=bounced "
                     r"\(bad recipient address: [^)]+\)", log), log[-3000:]
    assert not inst.queue_files("corrupt")
    tmap.unlink()
