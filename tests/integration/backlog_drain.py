#!/usr/bin/python3
"""backlog_drain - how qmgr drains a backlog (issue 10; run as root, not in
make check).  It starts a tern instance from the build as the integration
tests do (conftest.Instance), takes qmgr out of master.conf, queues N
messages of SIZE bytes through smtpd (the real queue writer) from parallel
SMTP sessions, puts qmgr back and measures the drain: the time from qmgr's
start until incoming/, active/ and deferred/ are empty (and, with the local
sink, every message is in the Maildir), qmgr's peak RSS (VmHWM from
/proc/PID/status), its CPU time, and how long it kept a client waiting
for a reply on private/qmgr (a probe every 20 ms: a stalled event loop).

    /usr/bin/python3 tests/integration/backlog_drain.py -n 10000 [-n 100000]
        [--size 4096] [--sink local|discard] [--conf 'key = value']...
        [--build DIR] [--strace FILE] [--strace-deliver DIR]
        [--perf-deliver FILE]

--sink local delivers to terntest1@localhost (deliver(8), Maildir), or
with --user NAME to an account of its own (created like the test users,
home under /var/tmp/tern-test-home): its Maildir is nobody else's, so the
run does not take the integration tests' lock and can run beside them;
--sink discard routes the mail to transport_maps' discard: (no delivery
agent: qmgr's own cost).  --strace FILE attaches `strace -c -f` to qmgr
for the drain and writes its table of system calls to FILE: counts per
message, which the shared machine does not blur as it does timings
(strace slows qmgr down, so the rate of such a run means nothing).
--strace-deliver DIR attaches `strace -ff -T` to every deliver process
(and so to the mailbox workers they fork) and prints what the trace says
about the delivery side: how many messages each worker batch held (the
renames into new/ per reply), fsyncs and renames per message, the mean
time of an fsync of a message file and of new/, and how much of the
drain deliver spent idle, waiting for a request.  Every run also prints
the CPU time (utime + stime, from /proc) the drain cost each daemon per
message: counts that the load of a shared machine changes far less than
it changes the rate.  The figures and the method are in
docs/PERFORMANCE.md."""

import argparse
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def cpu_seconds(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuTally:
    """CPU seconds each process of the instance used from the start of
    the drain: the daemons the master runs and the mailbox workers deliver
    forks (children of a deliver process), sampled with the drain's poll;
    a process's last sample counts (one that ended between two samples
    loses at most 0.2 s of its work)."""

    def __init__(self, inst):
        self.inst = inst
        self.first = {}
        self.last = {}
        self.group = {}
        self.sample(first=True)

    def _pids(self):
        found = {}
        for name, pids in self.inst.services().items():
            for pid in pids:
                found[pid] = name
        deliver = {p for p, n in found.items() if n == "deliver"}
        if deliver:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        ppid = int(open(f"/proc/{entry.name}/stat").read()
                                   .rsplit(")", 1)[1].split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
                    if ppid in deliver:
                        found[int(entry.name)] = "worker"
        return found

    def sample(self, first=False):
        for pid, name in self._pids().items():
            cpu = cpu_seconds(pid)
            if cpu is None:
                continue
            self.group[pid] = name
            self.first.setdefault(pid, cpu if first else 0.0)
            self.last[pid] = cpu

    def per_group(self):
        out = {}
        for pid, cpu in self.last.items():
            g = self.group[pid]
            out[g] = out.get(g, 0.0) + cpu - self.first[pid]
        return out


def strace_deliver_summary(directory, n):
    """What strace -ff -T of deliver and its workers says per message:
    {figure: value}.  A worker's batch is the renames into new/ between two
    replies (send); its last fsync before the reply is new/'s."""
    import re
    call = re.compile(r"^(\d+:\d+:\d+\.\d+) (\w+)\((.*)\) += (-?\d+|\?).*<([\d.]+)>$")
    batches, fsync_file, fsync_dir, idle = [], [], [], 0.0
    counts = {}
    span = [None, None]
    for f in Path(directory).iterdir():
        renames, fsyncs = 0, []
        for line in f.read_text(errors="replace").splitlines():
            m = call.match(line)
            if not m:
                continue
            when, name, argv, dur = m.group(1), m.group(2), m.group(3), float(m.group(5))
            h, mi, sec = when.split(":")
            t = int(h) * 3600 + int(mi) * 60 + float(sec)
            span[0] = t if span[0] is None else min(span[0], t)
            span[1] = t if span[1] is None else max(span[1], t)
            counts[name] = counts.get(name, 0) + 1
            if name == "poll" and argv.endswith(", 2, -1"):
                idle += dur      # deliver waiting for a request
            elif name == "renameat2" and argv.endswith("RENAME_NOREPLACE"):
                renames += 1     # a worker's move into new/
            elif name in ("fsync", "fdatasync"):
                fsyncs.append(dur)
            elif name in ("send", "sendto") and renames:    # a worker's reply
                batches.append(renames)
                fsync_file.extend(fsyncs[:-1])
                fsync_dir.extend(fsyncs[-1:])
                renames, fsyncs = 0, []
    hist = {}
    for b in batches:
        hist[b] = hist.get(b, 0) + 1
    mean = lambda v: sum(v) / len(v) * 1000 if v else 0.0
    wall = (span[1] - span[0]) if span[0] is not None else 0.0
    ndeliver = sum(1 for f in Path(directory).iterdir() if f.stat().st_size > 0)
    return {
        "worker batches": len(batches),
        "messages per worker batch (mean)": sum(batches) / len(batches) if batches else 0,
        "batch sizes (size: count)": dict(sorted(hist.items())),
        "fsync+fdatasync per message": (counts.get("fsync", 0) + counts.get("fdatasync", 0)) / n,
        "renameat2 per message": counts.get("renameat2", 0) / n,
        "sync_file_range per message": counts.get("sync_file_range", 0) / n,
        "system calls per message (deliver and workers)": sum(counts.values()) / n,
        "message fsync ms (mean)": mean(fsync_file),
        "new/ fsync ms (mean)": mean(fsync_dir),
        "deliver idle, waiting for a request (s, all processes)": idle,
        "traced span s": wall,
        "traced processes": ndeliver,
    }


class Probe:
    """Every 20 ms, a QMGR_T_NOTIFY for a file that does not exist over one
    connection to private/qmgr: its reply time is how long qmgr's event
    loop kept a client waiting (a stalled loop shows as a slow reply)."""

    def __init__(self, sock):
        import threading
        self.sock = sock
        self.times = []
        self.when = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import ternipc
        with ternipc.Client(str(self.sock), 60) as c:
            while not self.stopping:
                t = time.monotonic()
                c.call(0x10, {"v": ternipc.QMGR_VERSION, "id": "0PROBE"})   # QMGR_T_NOTIFY
                self.times.append(time.monotonic() - t)
                self.when.append(t)
                time.sleep(0.02)

    def stop(self):
        self.stopping = True
        self.thread.join()
        t = sorted(self.times) or [0]
        if os.environ.get("BACKLOG_VERBOSE"):
            slow = sorted(zip(self.times, self.when), reverse=True)[:5]
            print("slowest replies (ms, s after the first):",
                  [(round(a * 1000), round(w - self.when[0], 1)) for a, w in slow],
                  file=sys.stderr)
        return t[-1] * 1000, t[int(len(t) * 0.99)] * 1000


def run_one(n, args):
    import conftest
    from backlog import count_dir, fill, proc_kib, qmgr_down, qmgr_up

    def empty_maildir():
        if args.user in conftest.TEST_USERS:
            conftest._empty_maildirs()
        else:
            shutil.rmtree(conftest.user_home(args.user) / "Maildir", ignore_errors=True)

    if args.sink == "local":
        empty_maildir()
    d = Path(tempfile.mkdtemp(prefix="backlog-", dir=conftest.INSTANCE_ROOT))
    d.chmod(0o755)
    extra = "\n".join(args.conf)
    tmap = None
    if args.sink == "discard":
        tmap = d / "transport"
        tmap.write_text("sink.test discard:backlog drain\n")
        tmap.chmod(0o644)
        extra += f"\ntransport_maps = texthash:{tmap}\n"
        rcpt = "someone@sink.test"
    else:
        rcpt = f"{args.user}@localhost"
    inst = conftest.Instance(d, conftest.free_port(), extra)
    inst.start()
    try:
        row = qmgr_down(inst)
        t = time.monotonic()
        fill(inst, n, rcpt, sessions=8, size=args.size, token="drain")
        fill_s = time.monotonic() - t
        queued = count_dir(inst.queue / "incoming")
        assert queued == n, f"{queued} of {n} messages in incoming/"
        t0 = time.monotonic()
        pid = qmgr_up(inst, row)
        tally = CpuTally(inst)
        tracers = []
        if args.strace:
            import subprocess
            tracers.append(subprocess.Popen(["strace", "-c", "-f", "-o", args.strace,
                                             "-p", str(pid)], stderr=subprocess.DEVNULL))
        if args.strace_deliver:
            import subprocess
            sdir = Path(args.strace_deliver)
            shutil.rmtree(sdir, ignore_errors=True)
            sdir.mkdir(parents=True)
            for dpid in inst.services().get("deliver", []):
                tracers.append(subprocess.Popen(
                    ["strace", "-ff", "-tt", "-T", "-o", str(sdir / f"d{dpid}"),
                     "-p", str(dpid)], stderr=subprocess.DEVNULL))
        if args.perf_deliver:
            import subprocess
            tracers.append(subprocess.Popen(
                ["perf", "record", "-q", "-g", "-o", args.perf_deliver, "-p",
                 ",".join(str(p) for p in inst.services().get("deliver", []))],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        probe = Probe(inst.queue / "private" / "qmgr")
        rss_max = 0
        maildir = conftest.user_home(args.user) / "Maildir" / "new"
        while True:
            rss_max = max(rss_max, proc_kib(pid, "VmRSS") or 0)
            hwm = proc_kib(pid, "VmHWM")
            cpu = cpu_seconds(pid)
            tally.sample()
            left = sum(count_dir(inst.queue / q) for q in ("incoming", "active", "deferred"))
            if left == 0 and (args.sink == "discard" or count_dir(maildir) >= n):
                break
            if time.monotonic() - t0 > args.timeout:
                raise SystemExit(f"not drained after {args.timeout} s: {left} left")
            time.sleep(0.2)
        drain_s = time.monotonic() - t0
        probe_max, probe_p99 = probe.stop()
        for tracer in tracers:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=60)
        assert inst.services().get("qmgr") == [pid], "qmgr restarted during the drain"
        if args.sink == "local":
            assert count_dir(maildir) == n, f"{count_dir(maildir)} deliveries of {n}"
        return {"n": n, "size": args.size, "sink": args.sink, "fill_s": fill_s,
                "drain_s": drain_s, "rate": n / drain_s, "qmgr_hwm_mib": hwm / 1024,
                "qmgr_rss_max_mib": rss_max / 1024, "qmgr_cpu_s": cpu,
                "probe_max_ms": probe_max, "probe_p99_ms": probe_p99,
                "cpu": tally.per_group(),
                "strace_deliver": (strace_deliver_summary(args.strace_deliver, n)
                                   if args.strace_deliver else None)}
    finally:
        inst.stop()
        shutil.rmtree(d, ignore_errors=True)
        if args.sink == "local":
            empty_maildir()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, action="append", help="messages (repeatable)")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sink", choices=("local", "discard"), default="local")
    ap.add_argument("--conf", action="append", default=[], help="a tern.conf line")
    ap.add_argument("--build", help="build directory (default: TERN_BUILD or ./build)")
    ap.add_argument("--user", default="terntest1",
                    help="the local sink's account (another than the test users: "
                    "created if need be, and no test lock is taken)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--strace", help="write strace -c -f's table of qmgr's system calls "
                    "during the drain to this file")
    ap.add_argument("--strace-deliver", help="strace -ff -T every deliver process "
                    "and its mailbox workers during the drain into this directory, "
                    "and summarize it")
    ap.add_argument("--perf-deliver", help="perf record -g the deliver processes "
                    "and the mailbox workers they fork during the drain into this file")
    ap.add_argument("--no-lock", action="store_true",
                    help="do not take the test lock: the caller holds it (flock "
                    "/var/tmp/tern-test.lock ...), or --sink discard (no Maildir is used)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (real users, privilege separation)")
    # A kill stops the instance too (the finally clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    if args.build:
        os.environ["TERN_BUILD"] = str(Path(args.build).resolve())
    import conftest
    if not args.no_lock and args.user in conftest.TEST_USERS:  # shared Maildirs
        lock = os.open(conftest.RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
    conftest.INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    conftest.INSTANCE_ROOT.chmod(0o755)
    conftest.TEST_HOME_ROOT.mkdir(parents=True, exist_ok=True)
    conftest.TEST_HOME_ROOT.chmod(0o755)
    for u in set(conftest.TEST_USERS) | {args.user}:
        conftest._ensure_user(u)
    print(f"build {conftest.BUILD}")
    print(f"{'n':>7} {'size':>5} {'sink':>7} {'fill s':>7} {'drain s':>8} {'msg/s':>7} "
          f"{'qmgr VmHWM MiB':>15} {'qmgr CPU s':>10} {'reply max ms':>12} {'p99 ms':>7}")
    for n in args.n or [10000]:
        r = run_one(n, args)
        print(f"{r['n']:>7} {r['size']:>5} {r['sink']:>7} {r['fill_s']:>7.1f} "
              f"{r['drain_s']:>8.1f} {r['rate']:>7.0f} {r['qmgr_hwm_mib']:>15.1f} "
              f"{r['qmgr_cpu_s']:>10.1f} {r['probe_max_ms']:>12.1f} "
              f"{r['probe_p99_ms']:>7.1f}", flush=True)
        print("  CPU ms per message during the drain: " + ", ".join(
            f"{g} {v * 1000 / n:.3f}" for g, v in sorted(r["cpu"].items())) +
            f"; all {sum(r['cpu'].values()) * 1000 / n:.3f}", flush=True)
        for k, v in (r["strace_deliver"] or {}).items():
            print(f"  {k}: {v if not isinstance(v, float) else round(v, 3)}", flush=True)


if __name__ == "__main__":
    main()
