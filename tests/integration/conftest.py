"""Integration-test harness: the real tern suite in a temporary instance.

Each test that asks for the `tern` fixture gets a fresh instance directory
started with mk/instance.sh, exactly as `make run` starts ./run, on a free
loopback port.  Test users (terntest1, terntest2) are real system users whose
Maildirs are emptied before every test.  Every wait is a poll with a bounded
time-out (wait_for), never a fixed sleep.
"""

import fcntl
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("TERN_BUILD", REPO / "build"))
INSTANCE_SH = REPO / "mk" / "instance.sh"
TEST_USERS = ("terntest1", "terntest2")
TEST_HOME_ROOT = Path("/var/tmp/tern-test-home")
INSTANCE_ROOT = Path("/var/tmp/tern-test-instances")
SERVICES = ("smtpd", "qmgr", "deliver", "resolver", "anvil", "smtp", "lmtp", "pickup",
            "showq", "bounce", "lookup")
SANITIZER_RE = re.compile(r"(Address|Leak|UndefinedBehavior|Thread)Sanitizer|runtime error:")


def wait_for(cond, timeout=15.0, interval=0.02, what="condition"):
    """Poll cond() until it returns something true; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cmdline(pid):
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def proc_status(pid):
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, val = line.partition(":")
            out[key] = val.strip()
    except OSError:
        pass
    return out


def pid_alive(pid):
    st = proc_status(pid)
    return bool(st) and not st.get("State", "").startswith("Z")


class Instance:
    """A running tern instance: paths, process table, and crash tools."""

    def __init__(self, directory, port, extra_conf="", host="127.0.0.1"):
        self.dir = Path(directory)
        self.port = port
        self.listen = f"{host}:{port}"
        self.extra_conf = extra_conf
        self.queue = self.dir / "queue"
        self.logfile = self.dir / "log" / "tern.log"

    def start(self):
        env = dict(os.environ, TERN_CONF_EXTRA=self.extra_conf)
        r = subprocess.run(["sh", str(INSTANCE_SH), "start", str(self.dir),
                            self.listen, str(BUILD)], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"instance start failed: {r.stdout}{r.stderr}\n{self.log()}"
        limits = self.service_limits()
        wait_for(lambda: all(len(self.services().get(s, ())) == n for s, n in limits.items()),
                 what=f"every instance of every service to be running: {limits}")

    def service_limits(self):
        """{service: process limit} from the instance's master.conf."""
        limits = {}
        for line in (self.dir / "etc" / "master.conf").read_text().splitlines():
            f = line.split()
            if f and not f[0].startswith("#"):
                limits[f[0]] = int(f[5])
        return limits

    def drop_service(self, name):
        """Take service name out of master.conf and reload, as an admin
        would (tests that stand in for a service, or need it absent)."""
        conf = self.dir / "etc" / "master.conf"
        lines = [l for l in conf.read_text().splitlines(keepends=True)
                 if not (l.split() and l.split()[0] == name)]
        conf.write_text("".join(lines))
        os.kill(self.master_pid(), signal.SIGHUP)
        limits = self.service_limits()
        wait_for(lambda: name not in self.services() and
                 all(len(self.services().get(s, ())) == n for s, n in limits.items()),
                 what=f"{name} gone and the other services back after the reload")

    def stop(self):
        subprocess.run(["sh", str(INSTANCE_SH), "stop", str(self.dir)],
                       capture_output=True, text=True, timeout=60)

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def master_pid(self):
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def services(self):
        """{service name: [pid, ...]} of the live children of the master."""
        master = self.master_pid()
        found = {}
        if master is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            st = proc_status(pid)
            if st.get("PPid") != str(master) or st.get("State", "").startswith("Z"):
                continue
            args = proc_cmdline(pid)
            if "-s" in args and args.index("-s") + 1 < len(args):
                found.setdefault(args[args.index("-s") + 1], []).append(pid)
        return found

    def kill_everything(self):
        """kill -9 the master and every daemon at once (a power cut)."""
        pids = [p for pids in self.services().values() for p in pids]
        master = self.master_pid()
        if master:
            pids.append(master)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not any(pid_alive(p) for p in pids),
                 what="every process to die")

    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.port, timeout=30)

    def queue_files(self, subdir):
        d = self.queue / subdir
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []

    def put_queue_file(self, subdir, rcpts, token, prefix="0PUT"):
        """A version 1 queue file in subdir/ (written in tmp/, owned as the
        queue is, then renamed) from o@example.org to rcpts as they are,
        carrying X-Token: token; nobody is told.  Its queue id."""
        qid = "%s%X" % (prefix, time.time_ns() % (1 << 40))
        head = [b"tern-queue 1", b"id " + qid.encode(), b"time %d" % time.time(),
                b"from o@example.org", b"client 127.0.0.1", b"helo put.example"]
        head += [b"rcpt P " + r.encode() for r in rcpts]
        body = f"Subject: {token}\nX-Token: {token}\n\nbody\n".encode()
        owner = os.stat(self.queue / subdir)
        tmp = self.queue / "tmp" / qid
        tmp.write_bytes(b"\n".join(head) + b"\ndata\n" + body)
        os.chown(tmp, owner.st_uid, owner.st_gid)
        tmp.chmod(0o600)
        os.rename(tmp, self.queue / subdir / qid)
        return qid

    def queued_path(self, qid):
        """Where smtpd committed qid while qmgr was not delivering it:
        active/ (qmgr's socket, which the master holds, took the notice)
        or incoming/ (it could not)."""
        for d in ("active", "incoming"):
            if (self.queue / d / qid).exists():
                return self.queue / d / qid
        raise AssertionError(f"{qid} is neither in active/ nor in incoming/")


def user_home(user):
    return Path(pwd.getpwnam(user).pw_dir)


def maildir_new(user):
    d = user_home(user) / "Maildir" / "new"
    return sorted(d.iterdir()) if d.is_dir() else []


# The test users and their Maildirs are shared by every checkout on this
# machine: two test runs at once (say, two worktrees) would empty each
# other's Maildirs.  One run at a time holds this lock; a second one waits.
RUN_LOCK = Path("/var/tmp/tern-test.lock")


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        return
    fd = os.open(RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    session.config._tern_run_lock = fd


def pytest_sessionfinish(session):
    fd = getattr(session.config, "_tern_run_lock", None)
    if fd is not None:
        os.close(fd)


def _ensure_user(user):
    home = TEST_HOME_ROOT / user
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home),
                        "--shell", "/usr/sbin/nologin", user], check=True)
    pw = pwd.getpwnam(user)
    home = Path(pw.pw_dir)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    home.chmod(0o700)


@pytest.fixture(scope="session")
def test_users():
    if os.geteuid() != 0:
        pytest.skip("integration tests need root (real users, privilege separation)")
    TEST_HOME_ROOT.mkdir(parents=True, exist_ok=True)
    TEST_HOME_ROOT.chmod(0o755)
    for u in TEST_USERS:
        _ensure_user(u)
    return TEST_USERS


def _empty_maildirs():
    for u in TEST_USERS:
        shutil.rmtree(user_home(u) / "Maildir", ignore_errors=True)


@pytest.fixture
def make_instance(test_users, request):
    """Factory: make_instance(extra_conf="", host="127.0.0.1") -> started
    Instance, smtpd listening on host:<a free port>.

    Instances live under /var/tmp (not pytest's 0700 tmp dir) so that the
    unprivileged daemons can reach them."""
    made = []
    INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    INSTANCE_ROOT.chmod(0o755)

    def make(extra_conf="", host="127.0.0.1"):
        _empty_maildirs()
        d = Path(tempfile.mkdtemp(prefix="inst-", dir=INSTANCE_ROOT))
        d.chmod(0o755)
        inst = Instance(d, free_port(), extra_conf, host)
        made.append(inst)
        inst.start()
        return inst

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    reports = []
    for inst in made:
        inst.stop()
        log = inst.log()
        # A daemon that trips a sanitizer dies and is quietly restarted by
        # the master: its report in the log is the only trace, so it fails
        # the test here.
        reports += [l for l in log.splitlines() if SANITIZER_RE.search(l)]
        if failed or reports:
            print(f"----- tern log of {inst.dir} -----\n{log[-20000:]}")
        else:
            shutil.rmtree(inst.dir, ignore_errors=True)
    if reports:
        pytest.fail("sanitizer reports in the daemons' log:\n" + "\n".join(reports[:20]))


@pytest.fixture
def tern(make_instance):
    return make_instance()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
