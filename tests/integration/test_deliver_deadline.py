"""A hung mailbox does not stop local delivery (issue 8, finding 3).

terntest2's Maildir is made the mount point of a FUSE file system whose
server never answers: every open() of it blocks in the kernel, exactly as
on a hung NFS or FUSE server.  With local_time_limit = 3 s, a message to
terntest1 and terntest2 is delivered to terntest1 at once, and terntest2's
copy is deferred after the limit ("mailbox delivery timed out") with the
normal back-off; deliver goes on serving.  See deliver/local_run.c."""

import ctypes
import os
import re
import time

import pytest

from conftest import maildir_new, user_home, wait_for
from test_queue_retry import copies, rcpt_status, send
from test_virtual import build_map, maildir_files, virtual_instance

LIMIT = 3
MNT_DETACH = 2


class HungMount:
    """A FUSE mount on path whose server (us) never reads a request."""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.path = path
        path.mkdir(mode=0o700)
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,allow_other"
        if self.libc.mount(b"tern-hung", bytes(path), b"fuse", 0, opts.encode()) != 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            path.rmdir()
            pytest.skip(f"cannot mount a FUSE file system: {os.strerror(err)}")

    def release(self):
        # Closing the device aborts the connection: whatever still waits
        # on the mount gets ENOTCONN, and the mount can go.
        os.close(self.fd)
        self.libc.umount2(bytes(self.path), MNT_DETACH)
        os.rmdir(self.path)


def hung(make_instance, limit, extra=""):
    """An instance with local_time_limit = limit (and extra configuration)
    and terntest2's Maildir hung; the mount to release at the end."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse")
    inst = make_instance(f"{extra}local_time_limit = {limit}\nminimal_backoff_time = 120")
    return inst, HungMount(user_home("terntest2") / "Maildir")


@pytest.fixture
def hung_instance(make_instance):
    inst, mount = hung(make_instance, LIMIT)
    yield inst
    mount.release()


def test_hung_mailbox_is_deferred_and_others_delivered(hung_instance):
    inst = hung_instance
    start = time.monotonic()
    qid = send(inst, ["terntest1@localhost", "terntest2@localhost"], "hung-1")
    wait_for(lambda: copies("terntest1", "hung-1") == 1, timeout=LIMIT + 10,
             what="terntest1's delivery")
    path = inst.queue / "deferred" / qid
    wait_for(lambda: path.exists() and not inst.queue_files("active"),
             timeout=LIMIT + 10, what=f"{qid} in deferred/")
    # Neither recipient waited for qmgr's watchdog, only for the limit.
    assert time.monotonic() - start < LIMIT + 8
    assert rcpt_status(path) == {"terntest1@localhost": "D", "terntest2@localhost": "P"}
    ahead = path.stat().st_mtime - time.time()
    assert 100 <= ahead <= 121, ahead
    log = inst.log()
    assert re.search(rf"{qid}: to=<terntest2@localhost>, relay=local, .*"
                     rf"status=deferred.*mailbox delivery timed out", log), log[-3000:]
    assert "did not finish in time: killed" in log
    assert f"{qid}: to=<terntest2@localhost>" in log

    # deliver itself is not stuck: the next message goes through at once.
    send(inst, ["terntest1@localhost"], "hung-2")
    wait_for(lambda: copies("terntest1", "hung-2") == 1, timeout=LIMIT + 5,
             what="the next delivery")


def test_each_mailbox_in_its_own_process(tern):
    """Two users in one message: both delivered (the children report back),
    each under the stable name of its queue file line
    (<arrival>.T<queue id>R<line>.<host>, deliver/maildir.c), which no
    longer carries a pid; that the work runs in a separate process is what
    test_hung_mailbox_is_deferred shows, since only another process can
    keep a deadline on a mount that blocks in the kernel."""
    send(tern, ["terntest1@localhost", "terntest2@localhost"], "run-1")
    wait_for(lambda: copies("terntest1", "run-1") == 1 and copies("terntest2", "run-1") == 1,
             what="both deliveries")
    names = [p.name for u in ("terntest1", "terntest2") for p in maildir_new(u)]
    lines = {re.match(r"\d+\.T[0-9A-Z]+R(\d+)\.", n).group(1) for n in names}
    assert lines == {"0", "1"}, names


def test_a_mailbox_that_hung_is_not_waited_for_twice(make_instance):
    """With one connection to deliver, mail for terntest2 sent while its
    first message's batch hangs waits behind it, and its own batch would
    fork a new worker that hangs the whole limit again.  deliver remembers
    the mailbox whose worker it killed (deliver/local_hung.c) and defers the
    next deliveries into it at once: all three messages are deferred
    within about one limit, not two."""
    limit = 5
    inst, mount = hung(make_instance, limit, "deliver_concurrency = 1\n")
    try:
        start = time.monotonic()
        first = send(inst, ["terntest2@localhost"], "twice-0")
        wait_for(lambda: inst.queue_files("active") == [first],
                 what="the first message's request out")
        later = [send(inst, ["terntest2@localhost"], f"twice-{i}") for i in (1, 2)]
        wait_for(lambda: set(inst.queue_files("deferred")) == {first, *later},
                 timeout=3 * limit + 10, what="all three deferred")
        took = time.monotonic() - start
        assert took < 2 * limit - 1, f"{took:.1f} s: the hung mailbox was waited for twice"
        log = inst.log()
        for qid in later:
            assert re.search(rf"{qid}: to=<terntest2@localhost>, .*status=deferred.*"
                             rf"mailbox delivery timed out recently", log), log[-3000:]
        # No second worker was forked for the mailbox, only to hang.
        assert log.count("did not finish in time: killed") == 1, log[-3000:]
    finally:
        mount.release()


def test_only_the_mailbox_that_hung_is_remembered(make_instance):
    """One worker serves every virtual mailbox of its uid, one after
    another: when carol's hangs, erin's (after it, same uid) is never
    begun and is deferred with it at the deadline, but only carol's is
    remembered as hung.  The next message to erin alone is delivered."""
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse")
    inst, base = virtual_instance(
        make_instance, extra=f"local_time_limit = {LIMIT}\nminimal_backoff_time = 120\n")
    build_map(inst.dir / "etc" / "vmailbox",
              "carol@vdomain.test  vdomain.test/carol/\n"
              "erin@vdomain.test   vdomain.test/erin/\n")
    mount = HungMount(base / "vdomain.test" / "carol")
    try:
        erin = base / "vdomain.test" / "erin"
        qid = send(inst, ["carol@vdomain.test", "erin@vdomain.test"], "vhung-1")
        wait_for(lambda: (inst.queue / "deferred" / qid).exists(), timeout=LIMIT + 10,
                 what=f"{qid} deferred")
        assert not maildir_files(erin)
        send(inst, ["erin@vdomain.test"], "vhung-2")
        wait_for(lambda: len(maildir_files(erin)) == 1, timeout=LIMIT + 10,
                 what="erin's next message delivered")
        assert "timed out recently" not in inst.log()
    finally:
        mount.release()
