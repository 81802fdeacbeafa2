"""tern's benchmark driver: runs every measurement, prints the report.

Started by bench/run.sh (which first unpacks Debian's Postfix for its tools):

    /usr/bin/python3 bench/bench.py --build BUILD_DIR [options]

For each file system (--fs: a journaled ext4 in a loop-mounted image and the
machine's own, by default; fs.py) and each repetition it measures the
machine's ceilings (disk fsync rate, smtp-source into smtp-sink), then each
scenario with tern and with Postfix in turn (the order alternates between
repetitions), each run on a freshly started instance that is stopped
afterwards; the long scenarios (steady, steady-read, backlog, soak: longrun.py) run once
per file system.  With --baseline DIR an older tern tree runs as a third MTA,
tern-base, next to tern in every repetition.  At the end it prints, per file
system, a table of medians with the ratios of the medians (tern/Postfix, and
with a baseline now/base and base/Postfix) and every repetition's value, and
one line per figure starting with "BENCH " for scripts.  A run that fails is reported with its reason and the
MTA's log; it does not stop the others.  Every option has an environment
variable (see --help, bench/README.md and docs/PERFORMANCE.md).

Exit status: 0 when every requested run succeeded, 1 when some failed (tern
not built, a time-out, ...), 2 when the bench could not run at all.
"""

import argparse
import os
import platform
import pwd
import resource
import signal
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mtas import (BenchError, PostfixMTA, RunCgroup, TernMTA, ensure_accounts,  # noqa: E402
                  fix_postdrop_perms, log, port_open)
import fs as fsmod  # noqa: E402
import load  # noqa: E402
import longrun  # noqa: E402
import trash  # noqa: E402

SCENARIOS = ("ceilings", "local", "local-aliases", "relay", "sessions", "steady", "steady-read",
             "backlog", "soak")
# once per file system, not per repetition
LONG_SCENARIOS = ("steady", "steady-read", "backlog", "soak")

REPO = Path(__file__).resolve().parent.parent

# (name, environment variable, default, type, help)
OPTIONS = [
    ("reps", "BENCH_REPS", 3, int,
     "repetitions of every measurement but the long ones (steady, steady-read, backlog, soak; every one and the median are reported)"),
    ("scenarios", "BENCH_SCENARIOS", ",".join(SCENARIOS), str,
     "comma-separated: " + ", ".join(SCENARIOS)),
    ("fs", "BENCH_FS", "ext4j,own", str,
     "comma-separated file systems to run everything on: ext4j (journaled ext4, loop-mounted "
     "image), own (the work directory's own), xfs (loop-mounted image; xfsprogs installed if missing)"),
    ("fs_size_mib", "BENCH_FS_SIZE_MIB", 4096, int, "size of each loop-mounted image (MiB, sparse)"),
    ("latency", "BENCH_LATENCY", 1, int,
     "1: an extra client times final dot -> 250 during local, steady and steady-read (p50, p99); 0: not"),
    ("steady_seconds", "BENCH_STEADY_SECONDS", 60.0, float, "duration of the steady and steady-read scenarios (s)"),
    ("steady_window", "BENCH_STEADY_WINDOW", 10.0, float, "window of the steady scenarios' rates (s)"),
    ("backlog_msgs", "BENCH_BACKLOG_MSGS", 100000, int,
     "messages queued with delivery stopped in the backlog scenario"),
    ("soak_seconds", "BENCH_SOAK_SECONDS", 60.0, float, "duration of the soak's load (s)"),
    ("soak_clients", "BENCH_SOAK_CLIENTS", 8, int, "SMTP clients of the soak"),
    ("soak_kill_every", "BENCH_SOAK_KILL_EVERY", 0.5, float, "the soak kills a random daemon this often (s)"),
    ("soak_suite_every", "BENCH_SOAK_SUITE_EVERY", 5.0, float,
     "the soak kills the whole MTA this often and starts it again (s; 0: never)"),
    ("mtas", "BENCH_MTAS", "tern,postfix", str,
     "comma-separated: tern, postfix, tern-base (added after tern by --baseline)"),
    ("baseline", "BENCH_BASELINE", "", str,
     "an older tern source tree, built (e.g. a checkout of the commit to compare with), run "
     "as the extra MTA tern-base with its own instance script and master.conf; the report "
     "adds the ratio tern/tern-base (now/base)"),
    ("baseline_build", "BENCH_BASELINE_BUILD", "", str,
     "the baseline's build directory (with bin/; default BASELINE/build)"),
    ("baseline_port", "BENCH_BASELINE_PORT", 2727, int, "tern-base's SMTP port on 127.0.0.1"),
    ("baseline_conf_extra", "BENCH_BASELINE_CONF_EXTRA", "", str,
     "lines appended to tern-base's tern.conf (--tern-conf-extra is tern's only)"),
    ("msgs", "BENCH_MSGS", 5000, int, "messages per local/relay run"),
    ("aliases", "BENCH_ALIASES", 10000, int,
     "entries of tern's aliases table (hash:, built by newaliases) in the local-aliases "
     "scenario: local again with the table; its ratio to local is what the lookups cost"),
    ("size", "BENCH_MSG_SIZE", 4096, int, "message body bytes (smtp-source -l)"),
    ("concurrency", "BENCH_CONCURRENCY", 20, int, "parallel SMTP sessions (smtp-source -s)"),
    ("reuse", "BENCH_REUSE", 0, int,
     "1: several messages per connection (smtp-source -d); 0: a new connection per message"),
    ("fsync_msgs", "BENCH_FSYNC_MSGS", 500, int,
     "messages of the extra local run under strace that counts fsyncs (0: skip it)"),
    ("idle_sessions", "BENCH_IDLE_SESSIONS", "1000,10000", str,
     "comma-separated idle session counts for the sessions scenario"),
    ("idle_timeout", "BENCH_IDLE_TIMEOUT", 60.0, float, "longest wait for all idle sessions' greetings (s)"),
    ("idle_window", "BENCH_IDLE_WINDOW", 200, int,
     "most idle sessions connecting or awaiting their greeting at once"),
    ("idle_stall", "BENCH_IDLE_STALL", 5.0, float,
     "stop waiting for greetings after this long without a new one (s)"),
    ("probe_timeout", "BENCH_PROBE_TIMEOUT", 15.0, float,
     "limit for the extra client's whole transaction during the sessions scenario (s)"),
    ("stall", "BENCH_STALL", 30.0, float, "a delivery run fails after this long without progress (s)"),
    ("timeout", "BENCH_TIMEOUT", 600.0, float, "limit for one local/relay run (s)"),
    ("sink_msgs", "BENCH_SINK_MSGS", 20000, int, "messages for the smtp-source -> smtp-sink ceiling"),
    ("disk_seconds", "BENCH_DISK_SECONDS", 3.0, float, "duration of each disk ceiling test (s)"),
    ("workdir", "BENCH_WORKDIR", "/var/tmp/tern-bench", str, "where instances, tools and homes live"),
    ("user", "BENCH_USER", "ternbench", str, "local recipient (created if missing)"),
    ("tern_port", "BENCH_TERN_PORT", 2725, int, "tern's SMTP port on 127.0.0.1"),
    ("postfix_port", "BENCH_POSTFIX_PORT", 2626, int, "Postfix's SMTP port on 127.0.0.1"),
    ("sink_port", "BENCH_SINK_PORT", 2699, int, "smtp-sink's port on 127.0.0.1"),
    ("tern_conf_extra", "BENCH_TERN_CONF_EXTRA", "", str, "lines appended to tern's tern.conf"),
    ("cgroup", "BENCH_CGROUP", 1, int, "0: account CPU from /proc instead of a cgroup v2"),
    ("settle", "BENCH_SETTLE", 1.0, float, "pause after an MTA starts, before measuring (s)"),
]

# metric -> (unit, what it is, lower is better)
METRICS = {
    "accepted_per_s": ("msg/s", "accepted (until smtp-source ends)", False),
    "delivered_per_s": ("msg/s", "delivered (until the last one arrived)", False),
    "cpu_ms_per_msg": ("ms", "CPU of all MTA processes per message", True),
    "machine_cpu_ms_per_msg": ("ms", "whole machine's CPU (/proc/stat) per message", True),
    "kernel_cpu_ms_per_msg": ("ms", "  of it no user process was charged for", True),
    "kthread_cpu_ms_per_msg": ("ms", "  kernel threads' own CPU per message", True),
    "machine_busy_pct": ("%", "machine busy (all CPUs, everyone's work)", True),
    "latency_p50_ms": ("ms", "final dot -> 250, median (extra client)", True),
    "latency_p99_ms": ("ms", "final dot -> 250, 99th percentile", True),
    "steady_per_s": ("msg/s", "delivered per second over all windows", False),
    "steady_accepted_per_s": ("msg/s", "accepted: delivered + queued at the end, per s", False),
    "queued_at_end": ("msgs", "in the queue when the load stopped", True),
    "window_first_per_s": ("msg/s", "delivered in the first window", False),
    "window_last_per_s": ("msg/s", "delivered in the last window", False),
    "last_over_first": ("ratio", "last window / first window", False),
    "last_within_15pct": ("0/1", "last window within 15% of the first", False),
    "fill_accepted_per_s": ("msg/s", "accepted while delivery was stopped", False),
    "drain_per_s": ("msg/s", "drained once delivery started", False),
    "qmgr_peak_rss_mib": ("MiB", "peak RSS of qmgr while draining", True),
    "acked": ("msgs", "acknowledged (250) during the soak", False),
    "acked_per_s": ("msg/s", "acknowledged per second of soak", False),
    "lost": ("msgs", "acknowledged but never delivered", True),
    "duplicated": ("msgs", "delivered more than once", True),
    "kills": ("kills", "daemons killed (SIGKILL)", False),
    "suite_kills": ("kills", "whole-MTA kills and restarts", False),
    "peak_rss_mib": ("MiB", "peak total RSS of the MTA's processes", True),
    "peak_pss_mib": ("MiB", "peak total PSS (shared pages split)", True),
    "fsyncs_per_msg": ("calls", "fsync-like calls per message (strace)", True),
    "greeted": ("sessions", "idle sessions that got their 220", False),
    "greet_wait_s": ("s", "time until the last of them was greeted", True),
    "rss_mib": ("MiB", "total RSS holding the idle sessions", True),
    "pss_mib": ("MiB", "total PSS holding the idle sessions", True),
    "kib_per_session": ("KiB", "PSS growth per greeted session", True),
    "processes": ("procs", "MTA processes while holding them", True),
    "probe_ok": ("0/1", "an extra client got a full transaction served", False),
    "probe_s": ("s", "time the extra client's transaction took", True),
    "open_after_probe": ("sessions", "idle sessions still open after the probe", False),
    "disk_1": ("ops/s", "create+write 4K+fsync+rename, 1 stream", False),
    "disk_1_dirsync": ("ops/s", "the same plus fsync of the directory", False),
    "disk_4": ("ops/s", "the same as disk_1, 4 streams", False),
    "sink_per_s": ("msg/s", "smtp-source -> smtp-sink, no MTA", False),
}


# (numerator, denominator, column heading): the ratios of medians reported
# whenever both MTAs ran; tern/tern-base is issue 8's "not slower" (now/base).
RATIOS = (("tern", "postfix", "tern/postfix"), ("tern", "tern-base", "now/base"),
          ("tern-base", "postfix", "base/postfix"))


def parse_args():
    p = argparse.ArgumentParser(description="tern benchmark (see docs/PERFORMANCE.md)")
    p.add_argument("--build", required=True, help="tern build directory (with bin/)")
    p.add_argument("--repo", default=str(REPO), help="tern source tree (mk/instance.sh, etc/)")
    p.add_argument("--postfix-root", default=None,
                   help="unpacked postfix package (default WORKDIR/postfix-root)")
    for name, env, default, typ, help_ in OPTIONS:
        val = os.environ.get(env)
        default = typ(val) if val not in (None, "") else default
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=default,
                       help=f"{help_} [{env}, default {default}]")
    opts = p.parse_args()
    opts.scenarios = [s.strip() for s in opts.scenarios.split(",") if s.strip()]
    opts.mtas = [m.strip() for m in opts.mtas.split(",") if m.strip()]
    opts.idle_sessions = [int(x) for x in opts.idle_sessions.split(",") if x.strip()]
    opts.postfix_root = opts.postfix_root or str(Path(opts.workdir) / "postfix-root")
    opts.build = str(Path(opts.build).resolve())
    opts.fs = [f.strip() for f in opts.fs.split(",") if f.strip()]
    for s in opts.scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s!r}")
    for f in opts.fs:
        if f not in fsmod.KINDS:
            p.error(f"unknown file system {f!r} (one of {', '.join(fsmod.KINDS)})")
    for m in opts.mtas:
        if m not in ("tern", "postfix", "tern-base"):
            p.error(f"unknown MTA {m!r}")
    if opts.baseline:
        opts.baseline = str(Path(opts.baseline).resolve())
        opts.baseline_build = str(Path(opts.baseline_build or Path(opts.baseline) / "build")
                                  .resolve())
        if "tern-base" not in opts.mtas:
            # Right after tern: the two trees run next to each other in
            # either order of the repetitions, on the same machine state.
            at = opts.mtas.index("tern") + 1 if "tern" in opts.mtas else 0
            opts.mtas.insert(at, "tern-base")
    elif "tern-base" in opts.mtas:
        p.error("tern-base needs --baseline DIR (BENCH_BASELINE)")
    opts.cgroup_dir = None       # the run's cgroup (mtas.RunCgroup), made by main()
    return opts


class Results:
    """Values per (scenario, mta, metric); failures and notes per run."""

    def __init__(self):
        self.values = {}     # (scenario, mta, metric) -> [values]
        self.details = {}    # (scenario, mta, key) -> last text detail
        self.failures = {}   # (scenario, mta) -> [messages]
        self.skips = {}      # (scenario, mta) -> reason
        self.order = []      # scenario names in the order first seen

    def add(self, scenario, mta, res):
        if scenario not in self.order:
            self.order.append(scenario)
        for k, v in res.items():
            if k.startswith("_"):
                self.details[(scenario, mta, k[1:])] = v
            else:
                self.values.setdefault((scenario, mta, k), []).append(v)

    def fail(self, scenario, mta, msg):
        if scenario not in self.order:
            self.order.append(scenario)
        self.failures.setdefault((scenario, mta), []).append(msg)

    def skip(self, scenario, mta, reason):
        if scenario not in self.order:
            self.order.append(scenario)
        self.skips[(scenario, mta)] = reason

    def median(self, scenario, mta, metric):
        vals = self.values.get((scenario, mta, metric))
        return statistics.median(vals) if vals else None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, int) or abs(v) >= 100 or v == int(v):
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.results = Results()     # of the file system being measured
        self.by_fs = {}              # file system kind -> (FileSystem, Results, why skipped)
        self.fs = None
        self.tools = load.Tools(opts.postfix_root)
        self.mtas = {}
        for name in opts.mtas:
            if name == "tern":
                self.mtas[name] = TernMTA(opts, opts.tern_port)
            elif name == "tern-base":
                self.mtas[name] = TernMTA(opts, opts.baseline_port, name="tern-base",
                                          build=opts.baseline_build, repo=opts.baseline,
                                          conf_extra=opts.baseline_conf_extra)
            else:
                self.mtas[name] = PostfixMTA(opts, opts.postfix_port)
        self.dead = {}       # mta -> why it cannot be started
        self.sink = None

    # -- running one measurement on a fresh instance ------------------------
    def with_instance(self, scenario, name, fn, label=None):
        label = label or scenario
        if name in self.dead:
            self.results.fail(scenario, name, f"{label}: not run: {self.dead[name]}")
            return
        mta = self.mtas[name]
        self.between_runs()
        try:
            try:
                mta.start()
            except BenchError as e:
                # Cannot start: no point trying again in later runs.
                self.dead[name] = str(e).splitlines()[0]
                self.results.fail(scenario, name, f"{label}: start failed: {e}")
                log(f"{label} {name}: START FAILED: {e}")
                return
            time.sleep(self.opts.settle)
            t0 = time.monotonic()
            res = fn(mta)
            self.results.add(scenario, name, res)
            shown = ", ".join(f"{k} {fmt(v)}" for k, v in res.items() if not k.startswith("_"))
            log(f"{label} {name}: {shown} ({time.monotonic() - t0:.1f} s)")
        except BenchError as e:
            self.results.fail(scenario, name, f"{label}: {e}")
            log(f"{label} {name}: FAILED: {e}")
        except Exception:  # noqa: BLE001 - a harness bug must not stop the other runs
            tb = traceback.format_exc()
            self.results.fail(scenario, name, f"{label}: internal error in the harness\n{tb}")
            log(f"{label} {name}: INTERNAL ERROR\n{tb}")
        finally:
            t1 = time.monotonic()
            mta.stop_and_reap()
            if time.monotonic() - t1 > 5:
                log(f"{label} {name}: stopping took {time.monotonic() - t1:.1f} s")

    def start_sink(self):
        if self.sink is None:
            self.sink = load.Sink(self.tools, self.opts.sink_port, self.opts.workdir)
            self.sink.start()
        return self.sink

    def stop_sink(self):
        if self.sink is not None:
            self.sink.stop()
            self.sink = None

    # -- the scenarios ------------------------------------------------------
    def ceilings(self, rep):
        o = self.opts
        root = self.fs.root
        self.between_runs()
        res = {
            "disk_1": load.disk_ceiling(root, 1, False, o.disk_seconds),
            "disk_1_dirsync": load.disk_ceiling(root, 1, True, o.disk_seconds),
            "disk_4": load.disk_ceiling(root, 4, False, o.disk_seconds),
        }
        try:
            res["sink_per_s"] = load.sink_ceiling(self.tools, o, self.start_sink())
        except BenchError as e:
            self.results.fail("ceilings", "machine", f"smtp-source -> smtp-sink: {e}")
        finally:
            self.stop_sink()
        self.results.add("ceilings", "machine", res)
        log(f"rep {rep} ceilings: " + ", ".join(f"{k} {fmt(v)}" for k, v in res.items()))

    def local(self, rep, order):
        for name in order:
            self.with_instance("local", name, lambda m: load.scenario_local(m, self.tools, self.opts),
                               f"rep {rep} local")
        if rep == 1 and self.opts.fsync_msgs > 0:
            for name in order:
                trace = Path(self.opts.workdir) / f"strace-{name}.txt"
                self.with_instance(
                    "local", name,
                    lambda m, t=trace: load.scenario_local(m, self.tools, self.opts, trace_file=t),
                    f"rep {rep} local (fsync count, {self.opts.fsync_msgs} msgs under strace)")

    def local_aliases(self, rep):
        """The local scenario with an aliases table of --aliases entries
        (tern only: issue 12's bound on what lookups may cost), right
        after the plain local runs so that both see the same machine."""
        if "tern" not in self.mtas:
            return
        mta = self.mtas["tern"]
        mta.aliases = self.opts.aliases
        try:
            self.with_instance("local-aliases", "tern",
                               lambda m: load.scenario_local(m, self.tools, self.opts),
                               f"rep {rep} local-aliases ({self.opts.aliases} aliases)")
        finally:
            mta.aliases = 0

    def relay(self, rep, order):
        for name in order:
            mta = self.mtas[name]
            if not mta.supports_relay():
                if ("relay", name) not in self.results.skips:
                    print(f"relay: {name} skipped: remote delivery not implemented yet", flush=True)
                self.results.skip("relay", name, "remote delivery not implemented yet")
                continue
            try:
                sink = self.start_sink()
            except BenchError as e:
                self.results.fail("relay", name, f"smtp-sink: {e}")
                continue
            mta.relay_to = ("127.0.0.1", self.opts.sink_port)
            try:
                self.with_instance("relay", name,
                                   lambda m: load.scenario_relay(m, self.tools, self.opts, sink),
                                   f"rep {rep} relay")
            finally:
                mta.relay_to = None
                self.stop_sink()

    def sessions(self, rep, order):
        for n in self.opts.idle_sessions:
            for name in order:
                self.with_instance(f"sessions-{n}", name,
                                   lambda m, n=n: load.scenario_sessions(m, self.opts, n),
                                   f"rep {rep} sessions-{n}")

    def long(self, scenario, order):
        """steady, steady-read, backlog, soak: once per file system, on a fresh instance each."""
        o = self.opts
        fns = {
            "steady": lambda m: longrun.scenario_steady(m, self.tools, o),
            "steady-read": lambda m: longrun.scenario_steady(m, self.tools, o, reader=True),
            "backlog": lambda m: longrun.scenario_backlog(m, self.tools, o),
            "soak": lambda m: longrun.scenario_soak(m, o),
        }
        for name in order:
            mta = self.mtas[name]
            mta.quick_retry = scenario == "soak"
            try:
                self.with_instance(scenario, name, fns[scenario])
            finally:
                mta.quick_retry = False

    def run_fs(self):
        o = self.opts
        for rep in range(1, o.reps + 1):
            names = list(self.mtas)
            order = names if rep % 2 else names[::-1]
            log(f"=== {self.fs.kind}: repetition {rep} of {o.reps} (order: {', '.join(order)}) ===")
            if "ceilings" in o.scenarios:
                self.ceilings(rep)
            if "local" in o.scenarios:
                self.local(rep, order)
            if "local-aliases" in o.scenarios:
                self.local_aliases(rep)
            if "relay" in o.scenarios:
                self.relay(rep, order)
            if "sessions" in o.scenarios:
                self.sessions(rep, order)
        for scenario in LONG_SCENARIOS:
            if scenario in o.scenarios:
                log(f"=== {self.fs.kind}: {scenario} ===")
                self.long(scenario, list(self.mtas))

    def run(self):
        o = self.opts
        home = Path(pwd.getpwnam(o.user).pw_dir)
        for kind in o.fs:
            fs = fsmod.FileSystem(kind, o.workdir, home, o.fs_size_mib)
            self.fs, self.results = fs, Results()
            self.by_fs[kind] = (fs, self.results, None)
            log(f"=== file system {kind}: setting up ===")
            try:
                try:
                    fs.setup(o.user)
                except (fsmod.FsUnavailable, subprocess.TimeoutExpired, OSError) as e:
                    why = f"{kind} skipped: {e}"
                    print(f"bench: {why}", flush=True)
                    self.by_fs[kind] = (fs, self.results, why)
                    continue
                log(f"{kind}: {fs.detail}")
                for mta in self.mtas.values():
                    mta.set_root(fs.root)
                self.run_fs()
            finally:
                self.stop_instances()
                if fs.is_image():
                    trash.forget()
                else:
                    log(f"{kind}: deleting what the runs set aside")
                    self.empty_trash()
                fs.teardown()
                self.fs = None

    def empty_trash(self):
        extra = (self.fs.image,) if self.fs.is_image() else ()
        done = trash.empty(self.fs.root, also_sync=extra)
        if done:
            log(f"{self.fs.kind}: {done}")

    def between_runs(self):
        """What earlier runs set aside (trash.py) goes now, before the
        next run starts, with a sync, so that its journal and write-back
        work is done, except on a file system that avoids recently deleted
        inodes (ext4 without a journal): there nothing is deleted until
        that file system's runs are over, and each run's new directories
        go to block groups away from the inodes the MTA measured before
        deleted itself (fs.spread_new_dirs)."""
        if self.fs.avoids_recent_deletions:
            return
        trash.set_aside(Path(pwd.getpwnam(self.opts.user).pw_dir) / "Maildir")
        self.empty_trash()

    def stop_instances(self):
        self.stop_sink()
        for mta in self.mtas.values():
            mta.stop_and_reap()

    def cleanup(self):
        self.stop_instances()
        if self.fs is not None:
            self.fs.teardown()
        for mta in self.mtas.values():
            if mta.group:
                mta.group.remove()

    # -- the report ---------------------------------------------------------
    def report(self, header):
        o = self.opts
        out = ["", f"== tern benchmark: medians of {o.reps} repetition(s), every repetition below ==",
               *header]
        for kind, (fs, r, why) in self.by_fs.items():
            out.append("")
            out.append(f"=== file system {kind}: {fs.detail}" + (" (the headline figures)"
                                                              if kind == "ext4j" else ""))
            if why:
                out.append(f"  {why}")
                continue
            out.extend(self.report_fs(r))
        out.append("")
        for kind, (fs, r, why) in self.by_fs.items():
            out.extend(self.bench_lines(kind, r, why))
        print("\n".join(out), flush=True)

    def ratios(self):
        """The RATIOS whose two MTAs are both in this run."""
        return [(a, b, head) for a, b, head in RATIOS if a in self.mtas and b in self.mtas]

    @staticmethod
    def ratio(r, scenario, metric, a, b):
        """a's median over b's, or None if either is missing (or b's is 0)."""
        x, y = r.median(scenario, a, metric), r.median(scenario, b, metric)
        return x / y if x is not None and y else None

    def report_fs(self, r):
        names = list(self.mtas)
        out = []
        w = 56
        cols = "".join(f"{n:>12}" for n in names)
        ratios = self.ratios()
        for scenario in r.order:
            if scenario == "ceilings":
                continue
            out.append("")
            out.append(f"{scenario:<{w}}{cols}" + "".join(f"{h:>14}" for _, _, h in ratios))
            metrics = [m for m in METRICS if any((scenario, n, m) in r.values for n in names)]
            for m in metrics:
                unit, desc, _ = METRICS[m]
                meds = [r.median(scenario, n, m) for n in names]
                line = f"  {desc + ' (' + unit + ')':<{w - 2}}" + "".join(f"{fmt(v):>12}" for v in meds)
                for a, b, _ in ratios:
                    v = self.ratio(r, scenario, m, a, b)
                    line += f"{v:>14.3g}" if v is not None else f"{'-':>14}"
                out.append(line.rstrip())
                runs = [r.values.get((scenario, n, m), []) for n in names]
                if max(len(v) for v in runs) > 1:
                    out.append(f"  {'  every repetition':<{w - 2}}"
                               + "   ".join(f"{n} " + ", ".join(fmt(v) for v in vals)
                                          for n, vals in zip(names, runs) if vals))
            for n in names:
                for key in ("fsync_detail", "session_detail", "probe_detail", "latency_detail",
                            "windows_detail", "backlog_detail", "soak_detail"):
                    d = r.details.get((scenario, n, key))
                    if d:
                        out.append(f"  {n} {key.replace('_detail', '').replace('_', ' ')}: {d}")
                if (scenario, n) in r.skips:
                    out.append(f"  {n}: skipped: {r.skips[(scenario, n)]}")
                if (scenario, n) in r.failures:
                    fails = r.failures[(scenario, n)]
                    out.append(f"  {n}: FAILED in {len(fails)} run(s): {fails[0].splitlines()[0]}")
            if scenario == "local-aliases":
                out.extend(self.aliases_ratio_lines(r, w))
            if scenario == "soak":
                for a, b, _ in ratios:
                    v = self.ratio(r, "soak", "acked", a, b)
                    if v is not None:
                        out.append(f"  acked {a}/{b}: {v:.3g}")
        if "ceilings" in r.order:
            out.append("")
            out.append("machine ceilings (median, then every repetition)")
            for m in ("disk_1", "disk_1_dirsync", "disk_4", "sink_per_s"):
                v = r.median("ceilings", "machine", m)
                if v is not None:
                    unit, desc, _ = METRICS[m]
                    runs = ", ".join(fmt(x) for x in r.values[("ceilings", "machine", m)])
                    out.append(f"  {desc + ' (' + unit + ')':<{w - 2}}{fmt(v):>12}   ({runs})")
        if r.failures:
            out.append("")
            out.append("failures (first message of each; the MTA's log follows it)")
            for (scenario, n), msgs in r.failures.items():
                out.append(f"--- {scenario} {n}: {len(msgs)} failed run(s)")
                out.extend("    " + line for line in msgs[0].splitlines()[:25])
        return out

    @staticmethod
    def aliases_ratio(r, metric):
        """tern's local-aliases median over its local median, or None."""
        a, b = r.median("local-aliases", "tern", metric), r.median("local", "tern", metric)
        return a / b if a is not None and b else None

    def aliases_ratio_lines(self, r, w):
        out = [f"  tern with {self.opts.aliases} aliases / without (local), medians:"]
        for m in ("delivered_per_s", "cpu_ms_per_msg"):
            v = self.aliases_ratio(r, m)
            if v is not None:
                unit, desc, _ = METRICS[m]
                out.append(f"    {desc + ' (' + unit + ')':<{w - 4}}{v:>12.3g}")
        v = self.aliases_ratio(r, "delivered_per_s")
        if v is not None:
            out.append(f"    delivered/s {'within' if v >= 0.95 else 'MORE than'} 5% of local "
                       "(issue 12's bound)")
        return out

    def bench_lines(self, kind, r, why):
        """Machine-readable lines: one per figure (median and every run), then ratios."""
        out = []
        if why:
            out.append(f"BENCH fs={kind} status=skipped reason=\"{why[:160]}\"")
        for (scenario, n, m), vals in r.values.items():
            unit = METRICS.get(m, ("",))[0]
            runs = ",".join(f"{v:.4g}" for v in vals)
            out.append(f"BENCH fs={kind} scenario={scenario} mta={n} metric={m} "
                       f"value={statistics.median(vals):.4g} unit={unit} n={len(vals)} runs={runs}")
        for a, b, _ in self.ratios():
            for (scenario, n, m) in r.values:
                v = self.ratio(r, scenario, m, a, b) if n == a else None
                if v is not None:
                    out.append(f"BENCH fs={kind} scenario={scenario} mta={a}/{b} metric={m} "
                               f"value={v:.4g} unit=ratio")
        for m in ("delivered_per_s", "cpu_ms_per_msg"):
            v = self.aliases_ratio(r, m)
            if v is not None:
                out.append(f"BENCH fs={kind} scenario=local-aliases mta=tern/local metric={m} "
                           f"value={v:.4g} unit=ratio aliases={self.opts.aliases}")
        for (scenario, n), msgs in r.failures.items():
            out.append(f"BENCH fs={kind} scenario={scenario} mta={n} status=failed "
                       f"runs_failed={len(msgs)} reason=\"{msgs[0].splitlines()[0][:160]}\"")
        for (scenario, n), why_ in r.skips.items():
            out.append(f"BENCH fs={kind} scenario={scenario} mta={n} status=skipped "
                       f"reason=\"{why_[:160]}\"")
        return out

    def any_failure(self):
        return any(r.failures for _, r, _ in self.by_fs.values())


def raise_nofile(need):
    """Raise RLIMIT_NOFILE for the driver and everything it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return soft
    try:
        nr_open = int(Path("/proc/sys/fs/nr_open").read_text())
    except (OSError, ValueError):
        nr_open = need
    new_hard = max(hard, min(need, nr_open))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, new_hard), new_hard))
    except (ValueError, OSError) as e:
        log(f"cannot raise RLIMIT_NOFILE to {need} ({e}); using the hard limit {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def git_rev(tree):
    """git describe of a source tree, or "?"."""
    try:
        rev = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        rev = ""
    return rev or "?"


def on_signal(signum, _frame):
    raise SystemExit(f"bench: interrupted by signal {signum}; stopping everything")


def main():
    opts = parse_args()
    if os.geteuid() != 0:
        print("bench: must run as root (system users, a private Postfix, cgroups)", file=sys.stderr)
        return 2
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, on_signal)
    Path(opts.workdir).mkdir(parents=True, exist_ok=True)
    Path(opts.workdir).chmod(0o755)
    ensure_accounts(opts.user, Path(opts.workdir) / "home")
    fix_postdrop_perms(opts.postfix_root)
    fsmod.sweep_leftovers(opts.workdir, pwd.getpwnam(opts.user).pw_dir)
    nofile = raise_nofile(max(opts.idle_sessions + [0]) + 1024)

    bench = Bench(opts)
    ports = [("tern", opts.tern_port), ("postfix", opts.postfix_port), ("smtp-sink", opts.sink_port)]
    if "tern-base" in bench.mtas:
        ports.append(("tern-base", opts.baseline_port))
    if len({p for _, p in ports}) < len(ports):
        print(f"bench: two of the ports are the same: {ports}", file=sys.stderr)
        return 2
    for name, port in ports:
        if port_open(port):
            print(f"bench: 127.0.0.1:{port} ({name}'s port) is already in use; "
                  f"stop what listens there or choose another port", file=sys.stderr)
            return 2
    for name, mta in bench.mtas.items():
        why = mta.available() if isinstance(mta, TernMTA) else None
        if why:
            bench.dead[name] = why
            log(f"{name}: {why}")

    try:
        pf = (Path(opts.postfix_root) / ".unpacked-from").read_text().strip()
    except OSError:
        pf = "?"
    run_cg = RunCgroup(opts.workdir, opts.cgroup)
    run_cg.sweep()
    opts.cgroup_dir = run_cg.path
    cg = run_cg.path
    header = [
        f"machine: {os.cpu_count()} CPUs, Linux {platform.release()}; RLIMIT_NOFILE {nofile}",
        f"tern: {opts.build} (git {git_rev(opts.repo)}); postfix: {pf}",
        *([f"tern-base: {opts.baseline_build} (git {git_rev(opts.baseline)}), instance script "
           f"{bench.mtas['tern-base'].script}, port {opts.baseline_port}"]
          if "tern-base" in bench.mtas else []),
        f"local/relay: {opts.msgs} msgs x {opts.size} B, {opts.concurrency} sessions, "
        f"{'several messages per connection' if opts.reuse else 'a connection per message'}; "
        f"CPU from {'cgroup v2 (' + str(cg) + '/MTA)' if cg else '/proc process trees'}; "
        f"latency probe {'on' if opts.latency else 'off'}",
        f"file systems: {', '.join(opts.fs)}; scenarios: {', '.join(opts.scenarios)}"
        + (f"; local-aliases: {opts.aliases} aliases" if "local-aliases" in opts.scenarios else ""),
        f"steady: {opts.steady_seconds:g} s in {opts.steady_window:g} s windows; backlog: "
        f"{opts.backlog_msgs} msgs; soak: {opts.soak_seconds:g} s, {opts.soak_clients} clients, "
        f"a daemon killed every {opts.soak_kill_every:g} s, everything every {opts.soak_suite_every:g} s",
    ]
    for line in header:
        log(line)
    t0 = time.monotonic()
    interrupted = None
    try:
        bench.run()
    except SystemExit as e:
        interrupted = str(e)
    finally:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        bench.cleanup()
        run_cg.remove()
    header.append(f"bench time: {time.monotonic() - t0:.0f} s")
    if interrupted:
        header.append(f"INTERRUPTED ({interrupted}): partial results")
    bench.report(header)
    return 1 if bench.any_failure() or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
