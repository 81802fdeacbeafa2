"""The mail systems under test, and how their cost is measured.

An MTA object starts a fresh, private instance of one mail system on a
loopback port, under the directory of the file system being measured
(set_root), says when it is ready and when its queue is empty, and stops
it; for the long scenarios it also stops and restarts delivery
(set_delivery) and starts again on the same queue after a crash (restart).
`TernMTA` uses the tree's own instance script (mk/instance.sh) with the
build under test, and the same for an older tree run beside it
(--baseline, "tern-base"); `PostfixMTA` runs Debian's Postfix unpacked by
fetch-postfix.sh, with a main.cf and master.cf this module writes under the
bench work directory (never /etc/postfix or /var/spool/postfix).

Every instance is started inside its own process group of accounting, a
`ProcGroup`: a cgroup v2 directory (inside the run's own `RunCgroup`,
tern-bench.WORKDIR-NAME.PID) when the cgroup2 hierarchy is writable
(CPU comes from cpu.stat usage_usec, which includes every short-lived child,
and the member list is exact), otherwise the process tree under the MTA's
master, with CPU summed from /proc/PID/stat (utime+stime+cutime+cstime).
`RssSampler` sums VmRSS over the group's processes every 50 ms and keeps the
largest total.  `StraceCounter` attaches `strace -f -c` to every process of
the group to count fsync-like system calls.  `MachineCpu` reads the whole
machine's CPU from /proc/stat and every process's from /proc/PID/stat, for
the machine, kernel and kernel-thread figures of issue 13.
"""

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import trash

PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SYNC_CALLS = ("fsync", "fdatasync", "sync_file_range", "syncfs", "sync", "msync")


class BenchError(Exception):
    """A run could not be done; the message says why, for the report."""


def log(msg):
    print(f"bench: {msg}", flush=True)


def wait_for(cond, timeout, interval=0.05):
    """Poll cond() until it returns something true; None after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, lines=15):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} unreadable)"
    return "\n".join(text[-lines:])


# ---------------------------------------------------------------- processes

def read_stat(pid):
    """(ppid, cpu ticks incl. reaped children) of pid, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    fields = raw[raw.rindex(")") + 2:].split()
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ppid, ticks


def alive(pid):
    """True if pid runs and is not a zombie waiting for init to reap it."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2:][:1] not in ("Z", "X")


def rss_bytes(pid):
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def comm_of(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def pss_bytes(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def descendants(root):
    """root and every process below it (by ppid), from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = read_stat(int(entry))
            if st:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


PF_KTHREAD = 0x00200000


class MachineCpu:
    """The whole machine's CPU between two moments, split three ways.

    busy: /proc/stat's first line (user nice system irq softirq steal),
    everything any CPU did.  user_procs: utime+stime+cutime+cstime of every
    process that is not a kernel thread (the delta for one seen at both
    moments, all of it for one that started in between; one that started
    and exited in between counts in its parent's cutime if reaped).
    kthreads: utime+stime of the kernel threads (PF_KTHREAD), measured
    directly.  busy - user_procs is the CPU no user process was charged
    for: kernel threads, interrupts, and processes that ended unreaped.
    Both are approximate at the clock tick (10 ms) and, on a shared machine,
    include what other people's work made the kernel do."""

    def __init__(self):
        self.busy, self.irq = self._stat()
        self.procs = self._procs()
        self.t = time.monotonic()

    @staticmethod
    def _stat():
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        f += [0] * (8 - len(f))
        # user nice system idle iowait irq softirq steal
        return f[0] + f[1] + f[2] + f[5] + f[6] + f[7], f[5] + f[6]

    @staticmethod
    def _procs():
        out = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()
            kthread = bool(int(fields[6]) & PF_KTHREAD)
            own = int(fields[11]) + int(fields[12])
            # key: pid and start time, so a reused pid is a new process
            out[(int(entry), fields[19])] = (kthread, own if kthread else own + int(fields[13])
                                             + int(fields[14]))
        return out

    def since(self, before):
        """{busy_s, irq_s, user_procs_s, kthreads_s, elapsed_s} from before to self."""
        user = kthr = 0
        for key, (kthread, ticks) in self.procs.items():
            delta = ticks - before.procs.get(key, (kthread, 0))[1]
            if kthread:
                kthr += delta
            else:
                user += delta
        # A process that ended in between and was reaped by one seen at both
        # moments brought all its CPU into that parent's cutime, including
        # what it used before: take that part out again.
        for key, (kthread, ticks) in before.procs.items():
            if not kthread and key not in self.procs:
                user -= ticks
        return {"busy_s": (self.busy - before.busy) / CLK_TCK,
                "irq_s": (self.irq - before.irq) / CLK_TCK,
                "user_procs_s": user / CLK_TCK, "kthreads_s": kthr / CLK_TCK,
                "elapsed_s": self.t - before.t}


def machine_cpu_figures(before, msgs):
    """Per-message machine figures between before (a MachineCpu) and now."""
    d = MachineCpu().since(before)
    ncpu = os.cpu_count() or 1
    return {
        "machine_busy_pct": 100.0 * d["busy_s"] / max(1e-9, d["elapsed_s"] * ncpu),
        "machine_cpu_ms_per_msg": 1000.0 * d["busy_s"] / msgs,
        "kernel_cpu_ms_per_msg": 1000.0 * (d["busy_s"] - d["user_procs_s"]) / msgs,
        "kthread_cpu_ms_per_msg": 1000.0 * d["kthreads_s"] / msgs,
    }


def cgroup2_root():
    """Mount point of the cgroup v2 hierarchy if we may create groups in it."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            path = Path(parts[1])
            if os.access(path, os.W_OK) and (path / "cgroup.procs").exists():
                return path
    return None


RUN_CGROUP_PREFIX = "tern-bench."


class RunCgroup:
    """The cgroup v2 directory of one bench run, parent of its MTAs' groups.

    Named tern-bench.WORKDIR-NAME.PID (the driver's own pid), so that two
    benches running at once never share a group, however their work
    directories are named: the group of one is never emptied or removed by
    the other.  remove() takes it away at the end of the run; a run killed
    before that leaves it behind, and sweep() (at the start of every run)
    kills what is left in the groups whose bench process is gone and
    removes them.  path is None where no cgroup v2 may be made (CPU then
    comes from /proc)."""

    def __init__(self, workdir, use_cgroup=True):
        self.path = None
        self.root = cgroup2_root() if use_cgroup else None
        if self.root is None:
            return
        path = self.root / f"{RUN_CGROUP_PREFIX}{Path(workdir).name}.{os.getpid()}"
        try:
            path.mkdir(exist_ok=True)
            self.path = path
        except OSError as e:
            log(f"cannot make the cgroup {path} ({e}); CPU from /proc instead")

    def sweep(self):
        """Kill and remove the groups of benches that are no longer running."""
        if self.root is None:
            return
        for d in self.root.glob(RUN_CGROUP_PREFIX + "*"):
            pid = d.name.rsplit(".", 1)[-1]
            if d.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
                log(f"removing {d}, left by a bench (pid {pid}) that is no longer running")
                remove_cgroup_tree(d)

    def remove(self):
        if self.path is not None:
            remove_cgroup_tree(self.path)
            self.path = None


def remove_cgroup_tree(path):
    """SIGKILL every process in path's child groups, then remove them and
    path.  Only the bench's own groups come here: all their members are
    its instances' processes."""
    for child in [c for c in path.iterdir() if c.is_dir()]:
        group = ProcGroup(child.name, lambda: None, parent=path)
        group.clear()
        group.remove()
    try:
        path.rmdir()
    except OSError as e:
        log(f"cannot remove {path}: {e}")


class ProcGroup:
    """The processes of one MTA instance, for CPU, memory and clean-up.

    With cgroup v2 (parent: the run's RunCgroup directory) every process
    started through preexec() and all its descendants are members, however
    short-lived.  Without it, members are the live descendants of the pid
    that master_pid() returns."""

    def __init__(self, name, master_pid, parent=None):
        self.name = name
        self.master_pid = master_pid
        self.cg = None
        if parent is not None:
            cg = Path(parent) / name
            try:
                cg.mkdir(exist_ok=True)
                if (cg / "cpu.stat").exists():
                    self.cg = cg
            except OSError:
                self.cg = None
        self.method = f"cgroup v2 {self.cg}" if self.cg else "process tree (/proc)"

    def clear(self):
        """Kill what an earlier instance left in the cgroup (only the bench
        puts processes there) and wait until they are gone."""
        left = self.pids() if self.cg else []
        if left:
            log(f"killing {len(left)} processes left in {self.cg}")
            self.kill_all()
            wait_for(self.empty, 10)

    def preexec(self):
        """For subprocess.Popen(preexec_fn=...): join the group."""
        if self.cg:
            with open(self.cg / "cgroup.procs", "w") as f:
                f.write("0")

    def pids(self):
        if self.cg:
            try:
                return [int(x) for x in (self.cg / "cgroup.procs").read_text().split()]
            except OSError:
                return []
        master = self.master_pid()
        return descendants(master) if master else []

    def cpu_usec(self):
        if self.cg:
            for line in (self.cg / "cpu.stat").read_text().splitlines():
                key, _, val = line.partition(" ")
                if key == "usage_usec":
                    return int(val)
            raise BenchError(f"{self.cg}/cpu.stat has no usage_usec")
        total = 0
        for pid in self.pids():
            st = read_stat(pid)
            if st:
                total += st[1]
        return total * 1_000_000 // CLK_TCK

    def rss(self):
        return sum(rss_bytes(p) for p in self.pids())

    def pss(self):
        return sum(pss_bytes(p) for p in self.pids())

    def empty(self):
        return not self.pids()

    def kill_all(self, sig=signal.SIGKILL):
        """Signal every member, one pid at a time (they are all ours)."""
        for pid in self.pids():
            if pid == os.getpid():
                continue
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, timeout=20):
        """After a stop: wait for members to exit, then SIGKILL stragglers."""
        if wait_for(self.empty, timeout):
            return []
        left = self.pids()
        log(f"{self.name}: {len(left)} processes still running after stop; killing {left[:10]}")
        self.kill_all()
        wait_for(self.empty, 10)
        return left

    def remove(self):
        if self.cg:
            try:
                self.cg.rmdir()
            except OSError:
                pass


class RssSampler(threading.Thread):
    """Every interval s, the sum of VmRSS over a ProcGroup; keeps the peak.

    The sum of RSS counts shared pages (libraries, Postfix's many small
    processes) once per process; the peak of the sum of PSS, sampled every
    fifth time because smaps_rollup costs more, shares them out instead."""

    def __init__(self, group, interval=0.05, comm=None):
        super().__init__(daemon=True)
        self.group, self.interval, self.comm = group, interval, comm
        self.peak = 0
        self.peak_pss = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            pids = self.group.pids()
            if self.comm:
                pids = [p for p in pids if comm_of(p) == self.comm]
            self.peak = max(self.peak, sum(rss_bytes(p) for p in pids))
            if self.samples % 5 == 0:
                self.peak_pss = max(self.peak_pss, sum(pss_bytes(p) for p in pids))
            self.samples += 1
            self._halt.wait(self.interval)

    def finish(self):
        self._halt.set()
        self.join(5)
        return self.peak


class StraceCounter:
    """strace -f -c on every process of a group: counts sync system calls.

    Processes the traced ones fork later are followed (-f), so attaching to
    the master and its running daemons covers the short-lived children too."""

    def __init__(self, group, outfile):
        self.group = group
        self.outfile = Path(outfile)
        self.proc = None

    def start(self):
        if not shutil.which("strace"):
            raise BenchError("strace is not installed (apt-get install strace)")
        pids = self.group.pids()
        if not pids:
            raise BenchError("no MTA process to attach strace to")
        cmd = ["strace", "-f", "-c", "-o", str(self.outfile),
               "-e", "trace=" + ",".join(SYNC_CALLS)]
        for p in pids:
            cmd += ["-p", str(p)]
        self.errfile = open(self.outfile.with_suffix(".err"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.errfile,
                                     start_new_session=True)
        # strace prints "Process N attached" for each pid (and each thread).
        def attached():
            self.errfile.flush()
            text = Path(self.errfile.name).read_text(errors="replace")
            return all(f"Process {p} attached" in text for p in pids) or self.proc.poll() is not None
        wait_for(attached, 15)
        if self.proc.poll() is not None:
            raise BenchError("strace exited at once: " + tail(self.errfile.name, 5))
        time.sleep(0.2)

    def finish(self):
        """Detach (SIGINT), parse the summary: {syscall: calls}."""
        if self.proc is None:
            return {}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise BenchError("strace did not detach within 30 s")
        self.errfile.close()
        counts = {}
        for line in self.outfile.read_text(errors="replace").splitlines():
            parts = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(parts) >= 5 and parts[-1] in SYNC_CALLS and parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
        return counts

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


# ---------------------------------------------------------------- the MTAs

class MTA:
    """Common part: a fresh instance per start(), in its own ProcGroup."""

    name = "?"

    def __init__(self, opts, port):
        self.opts = opts
        self.port = port
        self.group = None
        self.relay_to = None   # (host, port) of an SMTP sink for the relay scenario
        self.quick_retry = False   # soak: retry deferred mail within seconds
        self.defer_local = False   # Postfix, backlog: local delivery stopped
        self.set_root(Path(opts.workdir))

    def set_root(self, root):
        """Put the instance's directory under root (the file system under test)."""
        self.base = Path(root) / f"{self.name}-inst"
        self.queue = self.base / "queue"

    def comment_service(self, path, service, off):
        """Comment out (off) or restore the master.cf/master.conf row of service."""
        mark = "#bench-off "
        lines = Path(path).read_text().splitlines(keepends=True)
        out, changed = [], False
        for line in lines:
            if off and line.split()[:1] == [service]:
                line, changed = mark + line, True
            elif not off and line.startswith(mark + service):
                line, changed = line[len(mark):], True
            out.append(line)
        if not changed:
            raise BenchError(f"no {service} row to {'remove from' if off else 'restore in'} {path}")
        Path(path).write_text("".join(out))

    def settle_backlog(self, timeout):
        """After filling a backlog with delivery stopped: nothing to wait for."""

    def qmgr_pids(self):
        return [p for p in self.group.pids() if comm_of(p) == "qmgr"]

    def set_delivery(self, on, timeout=30):
        """Stop (on=False) or restart delivery: drop or restore the qmgr row of
        the running instance's master configuration, reload it, and wait until
        a qmgr runs or none does."""
        self.comment_service(self.master_conf_path(), "qmgr", not on)
        self.reload()
        if not wait_for(lambda: bool(self.qmgr_pids()) == on, timeout, 0.1):
            raise BenchError(f"{self.name}: qmgr still {'absent' if on else 'running'} "
                             f"{timeout} s after the reload\n{self.log_tail()}")

    def fresh_group(self):
        self.group = ProcGroup(self.name, self.master_pid, parent=self.opts.cgroup_dir)
        self.group.clear()

    def run_in_group(self, cmd, env=None, timeout=60):
        return subprocess.run(cmd, env=env, preexec_fn=self.group.preexec,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def stop_and_reap(self):
        """stop() then make sure nothing of this instance is left running."""
        if self.group is None:
            return
        try:
            self.stop()
        except Exception as e:  # noqa: BLE001 - reported, then killed below
            log(f"{self.name}: stop failed: {e}")
        self.group.reap()

    def wait_ready(self, timeout=30):
        if not wait_for(lambda: port_open(self.port), timeout, 0.1):
            raise BenchError(f"{self.name} does not accept connections on 127.0.0.1:{self.port} "
                             f"within {timeout} s\n{self.log_tail()}")

    def supports_relay(self):
        return True


class PostfixMTA(MTA):
    """Debian's Postfix from the unpacked package, one private instance."""

    name = "postfix"

    def __init__(self, opts, port):
        self.root = Path(opts.postfix_root)
        super().__init__(opts, port)

    def set_root(self, root):
        super().set_root(root)
        self.conf = self.base / "etc"
        self.data = self.base / "data"
        self.logfile = self.base / "log" / "maillog"
        self.env = dict(os.environ, LD_LIBRARY_PATH=str(self.root / "usr/lib/postfix"),
                        MAIL_CONFIG=str(self.conf))

    def master_conf_path(self):
        return self.conf / "master.cf"

    def reload(self):
        res = self.postfix("reload", timeout=60)
        if res.returncode != 0:
            raise BenchError(f"postfix reload failed: {res.stdout}{res.stderr}")

    def set_delivery(self, on, timeout=30):
        """Postfix's own way: defer_transports = local, and for the restart
        the setting removed, postfix reload, postqueue -f (deliver all
        deferred mail now).  Removing qmgr as for tern does not work here:
        each cleanup then waits about a second for a qmgr wake-up that
        nobody takes (20 msg/s with 20 sessions)."""
        self.defer_local = not on
        self.write_config()
        self.reload()
        if on:
            # postqueue is set-gid postdrop, so the loader would ignore
            # LD_LIBRARY_PATH: run it through the loader itself (as root).
            loader = next((p for p in ("/lib64/ld-linux-x86-64.so.2",
                                       "/lib/ld-linux-aarch64.so.1") if os.path.exists(p)), None)
            cmd = [str(self.root / "usr/sbin/postqueue"), "-c", str(self.conf), "-f"]
            if loader:
                cmd = [loader, "--library-path", str(self.root / "usr/lib/postfix")] + cmd
            res = self.run_in_group(cmd, env=self.env, timeout=timeout)
            if res.returncode != 0:
                raise BenchError(f"postqueue -f failed: {res.stdout}{res.stderr}")

    def settle_backlog(self, timeout):
        """Wait until qmgr has moved every message it deferred to deferred/."""
        if not wait_for(lambda: not any(self.queue_report()[d] for d in ("incoming", "active")),
                        timeout, 0.5):
            raise BenchError(f"postfix: messages still in incoming/ or active/ {timeout:.0f} s "
                             f"after the load: {self.queue_report()}")

    def restart(self):
        """Start again after a crash, keeping the queue (soak)."""
        res = self.postfix("start", timeout=60)
        if res.returncode != 0:
            raise BenchError(f"postfix start failed ({res.returncode}): {res.stdout}{res.stderr}")
        self.wait_ready()

    def daemons(self):
        master = self.master_pid()
        return [p for p in self.group.pids() if p != master]

    def postfix(self, *args, timeout=60):
        return self.run_in_group([str(self.root / "usr/sbin/postfix"), "-c", str(self.conf), *args],
                                 env=self.env, timeout=timeout)

    def master_pid(self):
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) else None

    def log_tail(self):
        return tail(self.logfile)

    def write_config(self):
        r, base = self.root, self.base
        for p in (self.conf, self.queue, self.data):
            # Guard: this instance must never touch the system's Postfix.
            assert str(p).startswith(str(Path(self.opts.workdir))), p
        relay = ""
        if self.relay_to:
            relay = f"relayhost = [{self.relay_to[0]}]:{self.relay_to[1]}\n"
        if self.defer_local:
            relay += "defer_transports = local\n"
        if self.quick_retry:
            # Soak: deferred mail retried within seconds, as tern's soak sets
            # its back-off; a service whose process was killed before it
            # served anything is throttled for 1 s, not 60.
            relay += ("queue_run_delay = 1s\nminimal_backoff_time = 1s\n"
                      "maximal_backoff_time = 2s\nservice_throttle_time = 1s\n")
        main_cf = f"""# main.cf of the tern benchmark's private Postfix (written by bench/mtas.py).
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
daemon_directory = {r}/usr/lib/postfix/sbin
command_directory = {r}/usr/sbin
shlib_directory = {r}/usr/lib/postfix
meta_directory = {r}/etc/postfix
manpage_directory = {r}/usr/share/man
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={r}/usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost.localdomain
mydomain = localdomain
myorigin = $myhostname
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
home_mailbox = Maildir/
alias_maps =
alias_database =
local_recipient_maps = unix:passwd.byname
smtpd_peername_lookup = no
smtp_host_lookup = native
lmtp_host_lookup = native
smtp_dns_support_level = disabled
biff = no
maillog_file = {self.logfile}
{relay}"""
        # Every service with chroot "n" (5th column).
        master_cf = f"""# master.cf of the tern benchmark's private Postfix (written by bench/mtas.py).
127.0.0.1:{self.port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        (self.conf / "main.cf").write_text(main_cf)
        (self.conf / "master.cf").write_text(master_cf)

    def start(self):
        if self.master_pid():
            raise BenchError(f"a Postfix is already running from {self.conf}")
        trash.set_aside(self.base)
        for d in (self.conf, self.queue, self.logfile.parent):
            d.mkdir(parents=True)
        # Owned by postfix: programs that have dropped privileges (postsuper
        # at a restart after a crash) write to it when postlogd is not up.
        pw = pwd.getpwnam("postfix")
        self.logfile.touch()
        os.chown(self.logfile, pw.pw_uid, pw.pw_gid)
        self.defer_local = False
        self.write_config()
        self.fresh_group()
        # "postfix start" runs post-install create-missing (queue
        # directories, owned by postfix/postdrop), postsuper, then master.
        try:
            res = self.postfix("start", timeout=60)
        except subprocess.TimeoutExpired:
            raise BenchError("postfix start did not finish within 60 s")
        if res.returncode != 0:
            raise BenchError(f"postfix start failed ({res.returncode}): {res.stdout}{res.stderr}"
                             f"\n{self.log_tail()}")
        self.wait_ready()

    def stop(self):
        if self.master_pid():
            try:
                subprocess.run([str(self.root / "usr/sbin/postfix"), "-c", str(self.conf), "stop"],
                               env=self.env, capture_output=True, timeout=30)
            except subprocess.TimeoutExpired:
                log("postfix stop did not finish within 30 s")

    def queue_empty(self):
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(self.queue / sub):
                if files:
                    return False
        return True

    def queue_report(self):
        counts = {}
        for sub in ("incoming", "active", "deferred", "hold", "corrupt"):
            counts[sub] = sum(len(f) for _, _, f in os.walk(self.queue / sub))
        return counts


def master_conf_services(path):
    """[(service, limit, program)] of the rows of a tern master.conf."""
    rows = []
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) >= 7 and not f[0].startswith("#"):
            rows.append((f[0], f[5], f[6]))
    return rows


class TernMTA(MTA):
    """tern from a build directory, started with its tree's instance script.

    The tree under test (`--build`, name "tern") and, with --baseline, an
    older tree run beside it (name "tern-base").  Nothing here assumes the
    daemons or keys of one tree: the instance is written by that tree's own
    mk/instance.sh (tools/instance.sh before it moved), the binaries it
    needs are the programs of that tree's etc/master.conf, start() waits for
    the services the written master.conf names, and a tern.conf key the
    harness adds (relay host, quick retries) is used only if that tree's
    etc/tern.conf documents it (an older master refuses unknown keys)."""

    name = "tern"

    def __init__(self, opts, port, name="tern", build=None, repo=None, conf_extra=None):
        self.name = name
        self.build = Path(build or opts.build)
        self.repo = Path(repo or opts.repo)
        self.conf_extra = opts.tern_conf_extra if conf_extra is None else conf_extra
        self.script = next((self.repo / d / "instance.sh" for d in ("mk", "tools")
                            if (self.repo / d / "instance.sh").is_file()),
                           self.repo / "mk" / "instance.sh")
        self.aliases = 0        # > 0: start with an aliases table of that many entries
        super().__init__(opts, port)

    def set_root(self, root):
        super().set_root(root)
        self.logfile = self.base / "log" / "tern.log"

    def master_conf_path(self):
        return self.base / "etc" / "master.conf"

    def reload(self):
        pid = self.master_pid()
        if not pid:
            raise BenchError(f"{self.name}'s master is not running")
        os.kill(pid, signal.SIGHUP)

    def daemons(self):
        return [p for ps in self.services().values() for p in ps]

    def programs(self):
        """The daemons this tree's etc/master.conf runs (from daemon_directory)."""
        try:
            rows = master_conf_services(self.repo / "etc" / "master.conf")
        except OSError as e:
            raise BenchError(f"{self.name}: cannot read the tree's master.conf: {e}")
        return sorted({prog for _, _, prog in rows if not prog.startswith("/")})

    def available(self):
        """None if the build looks complete, else the reason it is not."""
        if not self.script.is_file():
            return f"{self.repo} has no mk/instance.sh or tools/instance.sh"
        try:
            progs = self.programs()
        except BenchError as e:
            return str(e)
        missing = [d for d in ("master", *progs) if not os.access(self.build / "bin" / d, os.X_OK)]
        if missing:
            return f"not built: {', '.join(str(self.build / 'bin' / m) for m in missing)} missing"
        return None

    def documents(self, key):
        """True if the tree's etc/tern.conf documents key (set or commented)."""
        try:
            text = (self.repo / "etc" / "tern.conf").read_text()
        except OSError:
            return False
        for line in text.splitlines():
            line = line.lstrip("# ")
            if line.startswith(key + " =") or line.startswith(key + "="):
                return True
        return False

    def relay_key(self):
        """The tern.conf key for a relay host, if tern documents one."""
        return next((k for k in ("relayhost", "relay_host", "smtp_relayhost") if self.documents(k)),
                    None)

    def supports_relay(self):
        return self.relay_key() is not None

    def master_pid(self):
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) else None

    def log_tail(self):
        return tail(self.logfile)

    def services(self):
        """{service: [pid]} of the master's live children (as the tests do)."""
        master = self.master_pid()
        found = {}
        if not master:
            return found
        for pid in descendants(master):
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode(errors="replace") for a in args]
            if "-s" in args and args.index("-s") + 1 < len(args):
                found.setdefault(args[args.index("-s") + 1], []).append(pid)
        return found

    def start(self):
        why = self.available()
        if why:
            raise BenchError(why)
        if self.master_pid():
            raise BenchError(f"a tern master is already running in {self.base}")
        trash.set_aside(self.base)
        self.fresh_group()
        if self.aliases > 0:
            write_aliases(self.base / "etc" / "aliases", self.aliases, self.opts.user)
        self.instance_start()
        # Every service of the master.conf the tree's instance script wrote
        # (those with a process limit; the master starts them at once).
        want = [svc for svc, limit, _ in master_conf_services(self.master_conf_path())
                if limit != "0"]
        if not wait_for(lambda: all(self.services().get(s) for s in want), 15, 0.1):
            raise BenchError(f"not every {self.name} service is running after 15 s "
                             f"(running: {sorted(self.services())}; master.conf: {want})"
                             f"\n{self.log_tail()}")
        self.wait_ready()

    def restart(self):
        """Start again after a crash, keeping the queue (soak)."""
        self.instance_start()
        self.wait_ready()

    def instance_start(self):
        extra = [self.conf_extra] if self.conf_extra else []
        if self.relay_to:
            extra.append(f"{self.relay_key()} = [{self.relay_to[0]}]:{self.relay_to[1]}")
        if self.quick_retry:
            # As tests/integration/test_soak.py: retry within seconds.
            extra += [f"{k} = {v}" for k, v in (("minimal_backoff_time", 1),
                                               ("maximal_backoff_time", 2),
                                               ("queue_scan_interval", 1)) if self.documents(k)]
        env = dict(os.environ, TERN_CONF_EXTRA="\n".join(extra))
        cmd = ["sh", str(self.script), "start", str(self.base), f"127.0.0.1:{self.port}",
               str(self.build)]
        try:
            res = self.run_in_group(cmd, env=env, timeout=60)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.script} start did not finish within 60 s\n" + self.log_tail())
        if res.returncode != 0:
            err = res.stderr.strip().splitlines() or ["(no message)"]
            raise BenchError(f"{self.script} start failed ({res.returncode}): {err[-1]}\n"
                             + "\n".join(err[:-1]) + f"\n{self.log_tail()}")

    def stop(self):
        if self.master_pid():
            try:
                subprocess.run(["sh", str(self.script), "stop", str(self.base)],
                               capture_output=True, timeout=30)
            except subprocess.TimeoutExpired:
                log(f"{self.script} stop did not finish within 30 s")

    def queue_empty(self):
        for sub in ("tmp", "incoming", "active", "deferred"):
            d = self.queue / sub
            if d.is_dir() and any(d.iterdir()):
                return False
        return True

    def queue_report(self):
        counts = {}
        for sub in ("incoming", "active", "deferred", "hold", "corrupt"):
            d = self.queue / sub
            counts[sub] = len(list(d.iterdir())) if d.is_dir() else 0
        return counts


def write_aliases(path, n, user):
    """An aliases(5) file of n entries that mk/instance.sh builds into the
    instance's alias_maps (hash:, as newaliases does) when it finds no .db:
    postmaster, then aliases of the bench user that the load never names,
    so every recipient of the load is a lookup that misses, as a user's
    mail is on a host with a large aliases file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("postmaster: root\n")
        for i in range(1, n):
            f.write(f"bench-alias-{i}: {user}\n")
    path.chmod(0o644)


# ---------------------------------------------------------------- accounts

def ensure_accounts(bench_user, home_root):
    """postfix/postdrop for the private Postfix; the recipient user."""
    try:
        grp.getgrnam("postdrop")
    except KeyError:
        subprocess.run(["groupadd", "--system", "postdrop"], check=True)
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        "postfix"], check=True)
    try:
        pwd.getpwnam(bench_user)
    except KeyError:
        Path(home_root).mkdir(parents=True, exist_ok=True)
        Path(home_root).chmod(0o755)
        subprocess.run(["useradd", "-m", "-d", str(Path(home_root) / bench_user),
                        "-s", "/usr/sbin/nologin", bench_user], check=True)


def reset_maildir(user):
    """Set ~user/Maildir aside (trash.py) and make an empty one: cur/ new/
    tmp/ owned by user."""
    pw = pwd.getpwnam(user)
    md = Path(pw.pw_dir) / "Maildir"
    trash.set_aside(md)
    for sub in ("", "cur", "new", "tmp"):
        d = md / sub
        d.mkdir(mode=0o700, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return md / "new"


def fix_postdrop_perms(root):
    """What "postfix set-permissions" would do for the two set-gid tools
    (in the unpacked tree only), so postfix-script check-warn is quiet."""
    gid = grp.getgrnam("postdrop").gr_gid
    for prog in ("postdrop", "postqueue"):
        p = Path(root) / "usr/sbin" / prog
        if p.exists():
            os.chown(p, 0, gid)
            p.chmod(0o2755)
