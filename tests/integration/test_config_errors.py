"""A bad configuration stops start-up with "file:line: reason" on stderr and
a non-zero exit, before anything is bound or started; so does, for a master
running as root, a queue directory that anyone but root could change."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BUILD, INSTANCE_ROOT


def run_master(tmp_path, conf_text, master_text=None):
    conf = tmp_path / "tern.conf"
    conf.write_text(f"queue_directory = {tmp_path}/queue\n" + conf_text)
    if master_text is not None:
        (tmp_path / "master.conf").write_text(master_text)
    return subprocess.run([str(BUILD / "bin" / "master"), "-c", str(conf), "-f"],
                          capture_output=True, text=True, timeout=30)


def test_unknown_key(tmp_path):
    r = run_master(tmp_path, "\n# comment\nno_such_key = 1\n")
    assert r.returncode != 0
    assert f"{tmp_path}/tern.conf:4:" in r.stderr and "no_such_key" in r.stderr


def test_bad_value(tmp_path):
    r = run_master(tmp_path, "message_size_limit = lots\n")
    assert r.returncode != 0
    assert f"{tmp_path}/tern.conf:2:" in r.stderr and "message_size_limit" in r.stderr


@pytest.mark.parametrize("line", [
    "smtpd_timeout = 0",            # smtpd's table
    "maximal_backoff_time = soon",  # qmgr's
    "default_privs =",              # deliver's (home_mailbox may be empty)
    "resolver_timeout = 0",         # resolver's
    "anvil_rate_time_unit = 1y",    # anvil's
])
def test_every_daemons_keys_checked_by_master(tmp_path, line):
    """Daemons skip keys that are not theirs; the master checks the whole
    file against every daemon's table, at start and with -n."""
    key = line.split()[0]
    r = run_master(tmp_path, line + "\n")
    assert r.returncode != 0
    assert f"{tmp_path}/tern.conf:2: bad value for {key}" in r.stderr
    r = subprocess.run([str(BUILD / "bin" / "master"), "-n", "-c", str(tmp_path / "tern.conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and f"tern.conf:2: bad value for {key}" in r.stderr


def test_bad_service_table(tmp_path):
    r = run_master(tmp_path, "", "smtpd  tcp  127.0.0.1:1  -  n  1  smtpd\n")
    assert r.returncode != 0
    assert f"{tmp_path}/master.conf:1:" in r.stderr


def test_missing_config_file(tmp_path):
    r = subprocess.run([str(BUILD / "bin" / "master"), "-c", str(tmp_path / "nope.conf"), "-f"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "nope.conf" in r.stderr


def test_check_mode_touches_nothing(tmp_path):
    """master -n reads and checks both files, says so and exits; it creates
    no queue directory, binds nothing, starts nothing."""
    conf = tmp_path / "tern.conf"
    conf.write_text(f"queue_directory = {tmp_path}/queue\ndaemon_directory = {BUILD}/bin\n"
                    f"master_config = {tmp_path}/master.conf\n"
                    # an account every Debian system has: on a fresh machine
                    # no earlier test has created the tern user yet
                    f"mail_owner = nobody\n")
    (tmp_path / "master.conf").write_text("smtpd  inet  127.0.0.1:1  -  n  1  smtpd\n")
    r = subprocess.run([str(BUILD / "bin" / "master"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{conf}: configuration ok, 1 service(s)\n"
    assert not (tmp_path / "queue").exists()
    conf.write_text(conf.read_text() + "smtpd_timeout = soon\n")
    r = subprocess.run([str(BUILD / "bin" / "master"), "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert f"{conf}:5:" in r.stderr and "smtpd_timeout" in r.stderr


# Issue 8 finding 8: a root master refuses a queue directory that anyone but
# root could change.  Each case has smtpd listen on an address this test
# holds already, so that a master which gets past the check stops right after
# preparing the queue ("cannot listen on ADDRESS"), and the test can tell the
# two apart.
def master_with_queue(top, queue, preexec=None):
    """Run the master on queue -> (CompletedProcess, the address it was
    given)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        address = f"127.0.0.1:{held.getsockname()[1]}"
        conf = top / "tern.conf"
        conf.write_text(f"queue_directory = {queue}\ndaemon_directory = {BUILD}/bin\n"
                        f"master_config = {top}/master.conf\nmail_owner = nobody\n")
        (top / "master.conf").write_text(f"smtpd  inet  {address}  -  n  1  smtpd\n")
        for f in (conf, top / "master.conf"):
            f.chmod(0o644)
        return subprocess.run([str(BUILD / "bin" / "master"), "-c", str(conf), "-f"],
                              capture_output=True, text=True, timeout=30,
                              preexec_fn=preexec), address


@pytest.fixture
def top():
    """A root-owned directory, mode 0755, that unprivileged users can read."""
    if os.geteuid() != 0:
        pytest.skip("the queue owner check applies to a master running as root")
    INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="trust-", dir=INSTANCE_ROOT))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def expect_refused(run, queue, shown, why):
    r, _ = run
    assert r.returncode != 0
    assert f"unsafe queue directory: {shown} is {why}" in r.stderr, r.stderr
    # Refused before anything was made or given away.
    assert not (queue / "incoming").exists()


def test_safe_queue_directory_passes(top):
    queue = top / "queue"
    queue.mkdir(mode=0o755)
    r, address = master_with_queue(top, queue)
    assert r.returncode != 0 and "unsafe" not in r.stderr, r.stderr
    assert f"cannot listen on {address}" in r.stderr, r.stderr
    assert (queue / "incoming").is_dir()


def test_group_writable_queue_directory_refused(top):
    queue = top / "queue"
    queue.mkdir()
    queue.chmod(0o775)
    expect_refused(master_with_queue(top, queue), queue, queue, "group-writable")


def test_queue_directory_of_another_user_refused(top):
    queue = top / "queue"
    queue.mkdir(mode=0o755)
    os.chown(queue, pwd.getpwnam("nobody").pw_uid, 0)
    expect_refused(master_with_queue(top, queue), queue, queue, "not owned by root")


def test_world_writable_parent_refused(top):
    parent = top / "spool"
    parent.mkdir()
    parent.chmod(0o1777)
    queue = parent / "queue"
    queue.mkdir(mode=0o755)
    expect_refused(master_with_queue(top, queue), queue, parent, "world-writable")
    # Also when the master would make the queue directory itself.
    queue.rmdir()
    expect_refused(master_with_queue(top, queue), queue, parent, "world-writable")


def test_unprivileged_master_skips_the_check(top):
    """A developer's instance runs as one user throughout: its queue is that
    user's, which is all it can be."""
    nobody = pwd.getpwnam("nobody")
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    queue = top / "queue"
    queue.mkdir()
    queue.chmod(0o777)
    os.chown(queue, nobody.pw_uid, nobody.pw_gid)

    def become_nobody():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    r, address = master_with_queue(top, queue, become_nobody)
    assert r.returncode != 0 and "unsafe" not in r.stderr, r.stderr
    assert f"cannot listen on {address}" in r.stderr, r.stderr
    assert (queue / "incoming").is_dir()


def test_ancestor_of_another_user_refused(top):
    """Whoever owns a directory higher up may rename the root-owned ones
    below it away and plant their own tree: refused, however deep."""
    owned = top / "home"
    owned.mkdir(mode=0o755)
    os.chown(owned, pwd.getpwnam("nobody").pw_uid, 0)
    spool = owned / "spool"
    spool.mkdir(mode=0o755)
    queue = spool / "queue"
    queue.mkdir(mode=0o755)
    expect_refused(master_with_queue(top, queue), queue, owned, "not owned by root")
    queue.rmdir()
    expect_refused(master_with_queue(top, queue), queue, owned, "not owned by root")


def test_sticky_ancestor_passes(top):
    """A root-owned sticky directory above the queue's parent (/tmp,
    /var/tmp: where the test instances live) is safe: nobody else may move
    root's directories in it."""
    sticky = top / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (sticky / "spool").mkdir(mode=0o755)
    queue = sticky / "spool" / "queue"
    r, address = master_with_queue(top, queue)
    assert r.returncode != 0 and "unsafe" not in r.stderr, r.stderr
    assert f"cannot listen on {address}" in r.stderr, r.stderr


def test_daemon_refuses_another_queue_directory(top):
    """A daemon runs only in the very directory the master checked."""
    queue = top / "queue"
    queue.mkdir(mode=0o755)
    conf = top / "tern.conf"
    conf.write_text(f"queue_directory = {queue}\nmail_owner = nobody\n")
    st = os.stat(queue)
    env = dict(os.environ, TERN_QUEUE_ID=f"{st.st_dev}:{st.st_ino + 1}")
    r = subprocess.run([str(BUILD / "bin" / "anvil"), "-c", str(conf), "-f"],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode != 0
    assert "is not the one the master checked" in r.stderr, r.stderr
