"""Remote recipients route to the smtp transport (issue 9).  With no smtp
service in master.conf, as in the test instances, qmgr cannot connect to
private/smtp: after QMGR_DEAD_FAILS attempts the service counts as dead and
the remote recipients are deferred to deferred/ - never bounced, and never
handed to deliver (the local transport only); the local recipients of the
same message are delivered as usual.  The queue files are edited while no
qmgr runs, as a pickup service or an older configuration could leave them
(an address literal is a remote recipient too)."""

import os
import signal

from conftest import pid_alive, wait_for
from test_queue_retry import copies, send


def readdress(path, old, new):
    data = path.read_bytes()
    line = f"\nrcpt P {old}\n".encode()
    assert line in data
    path.write_bytes(data.replace(line, f"\nrcpt P {new}\n".encode(), 1))


def test_qmgr_defers_remote_recipients_without_smtp_service(make_instance):
    inst = make_instance("queue_scan_interval = 1h")
    inst.drop_service("smtp")
    master = inst.master_pid()
    old_qmgr, = inst.services()["qmgr"]
    os.kill(master, signal.SIGSTOP)
    try:
        os.kill(old_qmgr, signal.SIGKILL)
        wait_for(lambda: not pid_alive(old_qmgr), what="qmgr to die")
        mixed = send(inst, ["terntest1@localhost", "terntest2@localhost"], "remote-1")
        alone = send(inst, ["terntest2@localhost"], "remote-2")
        readdress(inst.queued_path(mixed), "terntest2@localhost",
                  "someone@example.net")
        readdress(inst.queued_path(alone), "terntest2@localhost",
                  "other@[192.0.2.1]")
    finally:
        os.kill(master, signal.SIGCONT)
    wait_for(lambda: inst.services().get("qmgr", [old_qmgr]) != [old_qmgr], timeout=20,
             what="the master to restart qmgr")
    wait_for(lambda: f"{mixed}: deferred" in inst.log() and f"{alone}: deferred" in inst.log(),
             timeout=30, what="both messages deferred")
    log = inst.log()
    assert f"{mixed}: to=<someone@example.net>, status=deferred" in log
    assert f"{alone}: to=<other@[192.0.2.1]>, status=deferred" in log
    assert "status=bounced" not in log
    assert copies("terntest1", "remote-1") == 1
    assert {mixed, alone} <= set(inst.queue_files("deferred"))
    # deliver never saw them: it logs every recipient it is handed with relay=.
    assert "to=<someone@example.net>, relay=" not in log
    assert "to=<other@[192.0.2.1]>, relay=" not in log
