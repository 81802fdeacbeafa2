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
        [--build DIR] [--strace FILE]

--sink local delivers to terntest1@localhost (deliver(8), Maildir);
--sink discard routes the mail to transport_maps' discard: (no delivery
agent: qmgr's own cost).  --strace FILE attaches `strace -c -f` to qmgr
for the drain and writes its table of system calls to FILE: counts per
message, which the shared machine does not blur as it does timings
(strace slows qmgr down, so the rate of such a run means nothing).  The
figures and the method are in
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
                c.call(0x10, {"v": "1", "id": "0PROBE"})   # QMGR_T_NOTIFY
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

    if args.sink == "local":
        conftest._empty_maildirs()
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
        rcpt = "terntest1@localhost"
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
        tracer = None
        if args.strace:
            import subprocess
            tracer = subprocess.Popen(["strace", "-c", "-f", "-o", args.strace,
                                       "-p", str(pid)], stderr=subprocess.DEVNULL)
        probe = Probe(inst.queue / "private" / "qmgr")
        rss_max = 0
        maildir = conftest.user_home("terntest1") / "Maildir" / "new"
        while True:
            rss_max = max(rss_max, proc_kib(pid, "VmRSS") or 0)
            hwm = proc_kib(pid, "VmHWM")
            cpu = cpu_seconds(pid)
            left = sum(count_dir(inst.queue / q) for q in ("incoming", "active", "deferred"))
            if left == 0 and (args.sink == "discard" or count_dir(maildir) >= n):
                break
            if time.monotonic() - t0 > args.timeout:
                raise SystemExit(f"not drained after {args.timeout} s: {left} left")
            time.sleep(0.2)
        drain_s = time.monotonic() - t0
        probe_max, probe_p99 = probe.stop()
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=60)
        assert inst.services().get("qmgr") == [pid], "qmgr restarted during the drain"
        if args.sink == "local":
            assert count_dir(maildir) == n, f"{count_dir(maildir)} deliveries of {n}"
        return {"n": n, "size": args.size, "sink": args.sink, "fill_s": fill_s,
                "drain_s": drain_s, "rate": n / drain_s, "qmgr_hwm_mib": hwm / 1024,
                "qmgr_rss_max_mib": rss_max / 1024, "qmgr_cpu_s": cpu,
                "probe_max_ms": probe_max, "probe_p99_ms": probe_p99}
    finally:
        inst.stop()
        shutil.rmtree(d, ignore_errors=True)
        if args.sink == "local":
            conftest._empty_maildirs()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, action="append", help="messages (repeatable)")
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sink", choices=("local", "discard"), default="local")
    ap.add_argument("--conf", action="append", default=[], help="a tern.conf line")
    ap.add_argument("--build", help="build directory (default: TERN_BUILD or ./build)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--strace", help="write strace -c -f's table of qmgr's system calls "
                    "during the drain to this file")
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
    if not args.no_lock:    # the test users' Maildirs are shared
        lock = os.open(conftest.RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock, fcntl.LOCK_EX)
    conftest.INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    conftest.INSTANCE_ROOT.chmod(0o755)
    conftest.TEST_HOME_ROOT.mkdir(parents=True, exist_ok=True)
    conftest.TEST_HOME_ROOT.chmod(0o755)
    for u in conftest.TEST_USERS:
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


if __name__ == "__main__":
    main()
