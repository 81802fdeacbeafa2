"""The long scenarios: one instance under load for a while, a backlog, crashes.

  steady   one instance, smtp-source without pause for opts.steady_seconds
           (plus the latency probe); delivered msg/s per opts.steady_window
           seconds, and whether the last window is within 15 % of the first.
           The one Maildir's new/ grows by every message (70,000 files and
           more in a minute at tern's rate), and a directory that large is
           the likely cause of the decay seen on the journaled image
           (docs/PERFORMANCE.md, 2026-11-28).
  steady-read  the same, with a mail reader (MailReader) that takes every
           message out of new/ once a second, as a POP3 client that deletes
           what it fetched would: new/ stays small.  Its deletions have costs
           of their own (freed page cache; on ext4 without a journal, inodes
           the allocator then avoids), so a decay here is mostly, not only,
           the MTA's.
  backlog  delivery stopped (no qmgr), opts.backlog_msgs messages queued, then
           delivery started: drain rate, qmgr's peak RSS, CPU per message.
  soak     opts.soak_clients SMTP clients sending without pause for
           opts.soak_seconds while a random daemon of the MTA gets SIGKILL every
           opts.soak_kill_every s and the whole MTA every opts.soak_suite_every
           s (then started again on the same queue); afterwards the queue
           drains: acknowledged, lost, duplicated, kills.

As in load.py, each function gets a freshly started MTA from bench.py, which
stops it afterwards; each returns {metric: value} or raises BenchError.
"""

import os
import random
import re
import signal
import smtplib
import subprocess
import threading
import time
from collections import Counter

import load
from mtas import (BenchError, MachineCpu, RssSampler, log, machine_cpu_figures, reset_maildir,
                  wait_for)

DECAY_LIMIT = 0.15


# ---------------------------------------------------------------- steady

class MailReader(threading.Thread):
    """Every READ_INTERVAL_S, remove every file in new/ and count it, as a
    mail reader that deletes what it fetched.  count() is what reached new/
    so far: files read plus files still there.  The lock is held per file
    (unlink and count together), so a file is never counted twice or
    missed and count() never waits out a whole pass.  A reader that died
    is an error (failed()), not a quiet fall back to plain steady."""

    READ_INTERVAL_S = 1.0

    def __init__(self, new):
        super().__init__(daemon=True)
        self.new = new
        self.read = 0
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.halt.wait(self.READ_INTERVAL_S):
                try:
                    entries = list(os.scandir(self.new))
                except OSError:
                    continue
                for e in entries:
                    with self.lock:
                        try:
                            os.unlink(e.path)
                            self.read += 1
                        except OSError:
                            pass
        except BaseException as e:  # noqa: BLE001 - reported by failed()
            self.error = e

    def failed(self):
        if self.error is not None:
            return f"the mail reader failed: {self.error!r}"
        if self.ident is not None and not self.is_alive() and not self.halt.is_set():
            return "the mail reader stopped"
        return None

    def count(self):
        with self.lock:
            return self.read + load.count_files(self.new)

    def stop(self):
        self.halt.set()

    def finish(self):
        """Stop and wait; safe whether or not the thread was started."""
        self.halt.set()
        if self.ident is not None:
            self.join(timeout=30)
            if self.is_alive():
                raise BenchError("the mail reader did not stop within 30 s")


def scenario_steady(mta, tools, opts, reader=False):
    new = reset_maildir(opts.user)
    mail_reader = MailReader(new) if reader else None
    count = mail_reader.count if reader else (lambda: load.count_files(new))
    rcpt = f"{opts.user}@localhost"
    nwin = max(1, int(round(opts.steady_seconds / opts.steady_window)))
    group = mta.group
    # smtp-source with more messages than can be sent; stopped at the end.
    cmd = [tools.source, "-s", str(opts.concurrency), "-m", "100000000", "-l", str(opts.size),
           "-M", "localhost", "-f", "sender@localhost", "-t", rcpt]
    if opts.reuse:
        cmd.insert(1, "-d")
    cmd.append(f"127.0.0.1:{mta.port}")
    probe = load.LatencyProbe(mta.port, rcpt, opts.size) if opts.latency else None
    sampler = RssSampler(group, interval=0.2)
    sampler.start()
    cpu0 = group.cpu_usec()
    mach0 = MachineCpu()
    proc = subprocess.Popen(cmd, env=tools.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    windows = []
    try:
        if probe:
            probe.start()
        if mail_reader:
            mail_reader.start()
        t0 = time.monotonic()
        last = count()
        t_last = time.monotonic()
        first_count = last
        for i in range(nwin):
            end = t0 + (i + 1) * opts.steady_window
            while time.monotonic() < end:
                if proc.poll() is not None:
                    raise BenchError(f"smtp-source ended after {time.monotonic() - t0:.0f} s "
                                     f"(exit {proc.returncode}): {proc.stdout.read()[-300:]}")
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            if mail_reader and mail_reader.failed():
                raise BenchError(mail_reader.failed())
            c = count()
            now = time.monotonic()
            # The window as it was, should count() have been late.
            windows.append((c - last) / (now - t_last))
            last, t_last = c, now
        total = last - first_count
        elapsed = time.monotonic() - t0
        q = mta.queue_report()
        queued = sum(q[d] for d in ("incoming", "active", "deferred"))
    finally:
        # The reader stops at once (it must not remove files once the
        # scenario ends), and is waited for after the load has stopped.
        if mail_reader:
            mail_reader.stop()
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        if probe:
            probe.finish()
        if mail_reader:
            mail_reader.finish()
        sampler.finish()
    cpu1 = group.cpu_usec()
    if total <= 0:
        raise BenchError(f"nothing delivered in {elapsed:.0f} s\n{mta.log_tail()}")
    first, lastw = windows[0], windows[-1]
    ok = first > 0 and abs(lastw - first) <= DECAY_LIMIT * first
    res = {
        "steady_per_s": total / elapsed,
        # Accepted: delivered, plus what waits in the queue at the end.
        "steady_accepted_per_s": (total + queued) / elapsed,
        "queued_at_end": queued,
        "window_first_per_s": first,
        "window_last_per_s": lastw,
        "last_over_first": lastw / first if first else 0.0,
        "last_within_15pct": 1 if ok else 0,
        # CPU over the windows, per message delivered in them (the messages
        # accepted but still queued at the end make this high when the MTA
        # falls behind: see queued_at_end).
        "cpu_ms_per_msg": (cpu1 - cpu0) / 1000.0 / total,
        **machine_cpu_figures(mach0, total),
        "peak_rss_mib": sampler.peak / 2**20,
        "_windows_detail": (("new/ emptied every second; " if reader else "")
                            + f"delivered msg/s per {opts.steady_window:g} s: "
                            + " ".join(f"{w:.0f}" for w in windows)
                            + f"; last {'within' if ok else 'NOT within'} "
                            f"{DECAY_LIMIT:.0%} of the first"),
    }
    if probe:
        res.update(probe.figures())
    return res


# ---------------------------------------------------------------- backlog

def scenario_backlog(mta, tools, opts):
    """Delivery is stopped the way each MTA offers (mtas.py, set_delivery):
    tern without its qmgr (the row removed from the running instance's
    master.conf, SIGHUP to its master; restored and SIGHUP again to start),
    Postfix with defer_transports = local (removed, postfix reload and
    postqueue -f to start).  The drain is timed from that start until the
    last message is in the Maildir."""
    new = reset_maildir(opts.user)
    n = opts.backlog_msgs
    mta.set_delivery(False)
    timeout = opts.timeout + n / 50.0
    fill_s = load.run_source(tools, mta.port, n, opts.size, opts.concurrency, opts.reuse,
                             f"{opts.user}@localhost", timeout)
    mta.settle_backlog(timeout)
    early = load.count_files(new)
    if early:
        raise BenchError(f"{early} messages delivered while delivery was stopped")
    queued = mta.queue_report()
    group = mta.group
    qmgr_rss = RssSampler(group, interval=0.1, comm="qmgr")
    all_rss = RssSampler(group, interval=0.5)
    qmgr_rss.start()
    all_rss.start()
    try:
        cpu0 = group.cpu_usec()
        mach0 = MachineCpu()
        t0 = time.monotonic()
        mta.set_delivery(True)
        got, t_done = load.wait_count(lambda: load.count_files(new), n, timeout,
                                      max(opts.stall, 60.0))
        if t_done is None:
            raise BenchError(f"only {got} of {n} delivered (no progress for "
                             f"{max(opts.stall, 60.0):.0f} s or {timeout:.0f} s in all); "
                             f"queue: {mta.queue_report()}\n{mta.log_tail()}")
        cpu1 = group.cpu_usec()
        machine = machine_cpu_figures(mach0, n)
    finally:
        qmgr_rss.finish()
        all_rss.finish()
    extra = load.count_files(new) - n
    if extra > 0:
        raise BenchError(f"{n + extra} delivered for {n} sent (duplicates)")
    return {
        "fill_accepted_per_s": n / fill_s,
        "drain_per_s": n / (t_done - t0),
        "qmgr_peak_rss_mib": qmgr_rss.peak / 2**20,
        "peak_rss_mib": all_rss.peak / 2**20,
        "cpu_ms_per_msg": (cpu1 - cpu0) / 1000.0 / n,
        **machine,
        "_backlog_detail": (f"{n} messages queued with delivery stopped "
                            f"(queue: {', '.join(f'{k} {v}' for k, v in queued.items() if v)}), "
                            f"drained in {t_done - t0:.1f} s"),
    }


# ---------------------------------------------------------------- soak

TOKEN_RE = re.compile(rb"^X-Token: (\S+)\r?$", re.M)


def maildir_tokens(user_new):
    seen = Counter()
    for entry in os.scandir(user_new):
        try:
            with open(entry.path, "rb") as f:
                m = TOKEN_RE.search(f.read(8192))
        except OSError:
            continue
        if m:
            seen[m.group(1).decode()] += 1
    return seen


class SoakLoad:
    """Clients sending one-recipient messages with a unique token each until
    stopped; a message is acknowledged when sendmail() returns (its 250)."""

    def __init__(self, port, rcpt, clients):
        self.port, self.rcpt = port, rcpt
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.acked = []
        self.threads = [threading.Thread(target=self.client, args=(k,), daemon=True)
                        for k in range(clients)]

    def client(self, k):
        n = 0
        while not self.halt.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                    s.ehlo(f"soak{k}.localhost")
                    while not self.halt.is_set():
                        n += 1
                        token = f"soak-{k}-{n}"
                        s.sendmail("soak@localhost", [self.rcpt],
                                   f"Subject: {token}\r\nX-Token: {token}\r\n\r\n{token}\r\n".encode())
                        with self.lock:
                            self.acked.append(token)
            except (smtplib.SMTPException, OSError):
                # Refused or cut off by a kill: not acknowledged; again.
                self.halt.wait(0.05)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.halt.set()
        for t in self.threads:
            t.join(30)
        with self.lock:
            return list(self.acked)


def kill_everything(mta):
    mta.group.kill_all()
    if not wait_for(mta.group.empty, 15):
        raise BenchError(f"{mta.name}: processes left 15 s after SIGKILL: {mta.group.pids()[:10]}")


def scenario_soak(mta, opts):
    new = reset_maildir(opts.user)
    rng = random.Random()
    load_ = SoakLoad(mta.port, f"{opts.user}@localhost", opts.soak_clients)
    kills = suite_kills = 0
    start = time.monotonic()
    next_suite = opts.soak_suite_every
    load_.start()
    try:
        while (now := time.monotonic() - start) < opts.soak_seconds:
            if opts.soak_suite_every > 0 and now >= next_suite:
                next_suite += opts.soak_suite_every
                kill_everything(mta)
                mta.restart()
                suite_kills += 1
            else:
                pids = mta.daemons()
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
            time.sleep(opts.soak_kill_every)
    finally:
        acked = load_.finish()
    if not mta.master_pid():
        mta.restart()
    want = set(acked)
    drain = 60 + opts.soak_seconds

    def drained():
        got = maildir_tokens(new)
        q = mta.queue_report()
        return want <= set(got) and not any(q[d] for d in ("active", "deferred"))
    done = wait_for(drained, drain, 0.5)
    # incoming/ may keep a writer's partial file from a kill (Postfix's
    # cleanup; tern keeps those in tmp/); anything complete leaves it soon.
    wait_for(lambda: not mta.queue_report()["incoming"], 10, 0.5)
    left = mta.queue_report()["incoming"]
    got = maildir_tokens(new)
    lost = len(want - set(got))
    duplicated = sum(c - 1 for c in got.values() if c > 1)
    if not done:
        log(f"soak {mta.name}: not drained within {drain:.0f} s; queue {mta.queue_report()}")
    return {
        "acked": len(acked),
        "acked_per_s": len(acked) / opts.soak_seconds,
        "lost": lost,
        "duplicated": duplicated,
        "kills": kills,
        "suite_kills": suite_kills,
        "_soak_detail": (f"{len(acked)} acked, {lost} lost, {duplicated} delivered twice or more, "
                         f"{sum(got.values())} files delivered, {kills} daemon kills + "
                         f"{suite_kills} whole-MTA kills in {opts.soak_seconds:g} s"
                         + ("" if done else f"; NOT drained within {drain:.0f} s")
                         + (f"; {left} files left in incoming/" if left else "")),
    }
