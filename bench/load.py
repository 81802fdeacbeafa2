"""The workloads: what is sent, what is waited for, and what is measured.

Each function runs one measurement and returns a dict {metric: value}, or
raises BenchError with the reason it could not.  None of them starts or stops
an MTA: bench.py does that around them, so every instance is fresh and is
always stopped.  All traffic goes to 127.0.0.1, and every wait has a limit.

  local     smtp-source -> MTA -> ~user/Maildir/new: accepted and delivered
            msg/s, CPU ms per message (all the MTA's processes; the machine's
            and its kernel threads'), peak RSS, and the acceptance latency of
            an extra client (LatencyProbe) sending beside smtp-source.
  fsync     the same, shorter, under strace: fsync-like calls per message.
  relay     smtp-source -> MTA -> smtp-sink (the MTA relays everything).
  sessions  N idle SMTP sessions held open, then one more full transaction.
  disk      create + write 4 KiB + fsync + rename: the disk's ceiling.
  sink      smtp-source -> smtp-sink: the SMTP path alone, no MTA.
"""

import errno
import os
import selectors
import socket
import subprocess
import threading
import time
from pathlib import Path

import trash
from mtas import (BenchError, MachineCpu, RssSampler, StraceCounter, log, machine_cpu_figures,
                  port_open, reset_maildir, wait_for)


class Tools:
    """Paths of smtp-source and smtp-sink in the unpacked postfix tree."""

    def __init__(self, postfix_root):
        root = Path(postfix_root)
        self.source = str(root / "usr/sbin/smtp-source")
        self.sink = str(root / "usr/sbin/smtp-sink")
        self.env = dict(os.environ, LD_LIBRARY_PATH=str(root / "usr/lib/postfix"))


def run_source(tools, port, msgs, size, sessions, reuse, rcpt, timeout):
    """Run smtp-source to completion; returns its elapsed seconds.

    A new connection per message unless reuse (-d).  smtp-source stops at
    the first reply it did not expect, so exit status 0 means every message
    got its 250."""
    cmd = [tools.source, "-s", str(sessions), "-m", str(msgs), "-l", str(size),
           "-M", "localhost", "-f", "sender@localhost", "-t", rcpt]
    if reuse:
        cmd.insert(1, "-d")
    cmd.append(f"127.0.0.1:{port}")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=tools.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"smtp-source did not finish {msgs} messages within {timeout} s")
    except BaseException:
        proc.kill()          # interrupted: never leave it behind
        proc.wait()
        raise
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        raise BenchError(f"smtp-source failed (exit {proc.returncode}): {out.strip()[-300:]}")
    return elapsed


def count_files(d):
    try:
        return sum(1 for _ in os.scandir(d))
    except OSError:
        return 0


def wait_count(counter, target, timeout, stall):
    """Wait until counter() >= target.  Gives up after timeout s, or after
    stall s without progress.  Returns (count, monotonic time reached)."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        n = counter()
        now = time.monotonic()
        if n >= target:
            return n, now
        if n != last:
            last, last_change = n, now
        if now >= deadline or now - last_change >= stall:
            return n, None
        time.sleep(0.02)


def percentile(values, p):
    """The p-th percentile (0 < p <= 100) by the nearest-rank method."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, -(-len(v) * p // 100) - 1))
    return v[int(k)]


class LatencyProbe(threading.Thread):
    """One more SMTP client beside the load: one session, one transaction
    after the other (MAIL, RCPT, DATA, size bytes, final dot), timing each
    from the moment the final dot is sent until its 250 is read.

    acked counts the transactions that got their 250; uncertain those cut
    off after the final dot was sent (they may be delivered or not).  A
    broken session is reopened after 0.1 s."""

    def __init__(self, port, rcpt, size, timeout=30.0):
        super().__init__(daemon=True)
        self.port, self.rcpt, self.timeout = port, rcpt, timeout
        line = b"X" * 76 + b"\r\n"
        body = line * max(1, size // len(line))
        self.data = b"Subject: latency probe\r\n\r\n" + body + b".\r\n"
        self.samples = []
        self.acked = self.uncertain = self.errors = 0
        self.last_error = ""
        self._halt = threading.Event()

    def _session(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        buf = [b""]

        def reply(want):
            while True:
                lines = buf[0].split(b"\r\n")
                for i, ln in enumerate(lines[:-1]):
                    if len(ln) >= 4 and ln[3:4] == b" ":
                        buf[0] = b"\r\n".join(lines[i + 1:])
                        if not ln.startswith(want):
                            raise ConnectionError(f"expected {want.decode()}, got {ln[:80]!r}")
                        return
                data = sock.recv(4096)
                if not data:
                    raise ConnectionError("connection closed")
                buf[0] += data

        try:
            reply(b"220")
            sock.sendall(b"EHLO latency.localhost\r\n")
            reply(b"250")
            while not self._halt.is_set():
                sock.sendall(f"MAIL FROM:<latency@localhost>\r\nRCPT TO:<{self.rcpt}>\r\n"
                             f"DATA\r\n".encode())
                reply(b"250")
                reply(b"250")
                reply(b"354")
                sock.sendall(self.data)
                t0 = time.monotonic()
                try:
                    reply(b"250")
                except BaseException:
                    self.uncertain += 1
                    raise
                self.samples.append(time.monotonic() - t0)
                self.acked += 1
            sock.sendall(b"QUIT\r\n")
        finally:
            sock.close()

    def run(self):
        while not self._halt.is_set():
            try:
                self._session()
            except (OSError, ConnectionError) as e:
                self.errors += 1
                self.last_error = str(e) or e.__class__.__name__
                self._halt.wait(0.1)

    def finish(self):
        self._halt.set()
        self.join(self.timeout + 5)

    def figures(self):
        ms = [x * 1000.0 for x in self.samples]
        res = {"latency_p50_ms": percentile(ms, 50), "latency_p99_ms": percentile(ms, 99),
               "_latency_detail": f"{len(ms)} transactions timed"
                                  + (f", {self.errors} broken sessions (last: {self.last_error})"
                                     if self.errors else "")}
        return {k: v for k, v in res.items() if v is not None}


def deliver_run(mta, tools, opts, msgs, rcpt, counter, what, trace_file=None, latency=False):
    """Send msgs messages through mta and wait until counter() reaches msgs.

    Shared by local, fsync and relay.  CPU is the group's usage between just
    before smtp-source starts and the moment the queue is empty again."""
    group = mta.group
    strace = None
    if trace_file:
        strace = StraceCounter(group, trace_file)
        strace.start()
    sampler = RssSampler(group)
    sampler.start()
    probe = LatencyProbe(mta.port, rcpt, opts.size) if latency else None
    try:
        cpu0 = group.cpu_usec()
        mach0 = MachineCpu()
        t0 = time.monotonic()
        if probe:
            probe.start()
        try:
            accept_s = run_source(tools, mta.port, msgs, opts.size, opts.concurrency, opts.reuse,
                                  rcpt, opts.timeout)
        finally:
            if probe:
                probe.finish()
        # The probe's messages are delivered too; the ones cut off after
        # their final dot may or may not be.
        extra_ok = probe.uncertain if probe else 0
        msgs += probe.acked if probe else 0
        left = max(1.0, opts.timeout - accept_s)
        n, t_done = wait_count(counter, msgs, left, opts.stall)
        if t_done is None:
            raise BenchError(f"only {n} of {msgs} messages {what} "
                             f"(no progress for {opts.stall} s or {opts.timeout} s in all); "
                             f"queue: {mta.queue_report()}\n{mta.log_tail()}")
        if not wait_for(mta.queue_empty, 30):
            log(f"{mta.name}: queue not empty 30 s after the last delivery: {mta.queue_report()}")
        cpu1 = group.cpu_usec()
        machine = machine_cpu_figures(mach0, msgs)
        extra = counter() - msgs
        if extra > extra_ok:
            raise BenchError(f"{msgs + extra} messages {what} for {msgs} sent (duplicates)")
    finally:
        peak = sampler.finish()
        counts = strace.finish() if strace else None
        if strace:
            strace.kill()
    elapsed = t_done - t0
    res = {
        "accepted_per_s": msgs / accept_s,
        "delivered_per_s": msgs / elapsed,
        "cpu_ms_per_msg": (cpu1 - cpu0) / 1000.0 / msgs,
        **machine,
        "peak_rss_mib": peak / 2**20,
        "peak_pss_mib": sampler.peak_pss / 2**20,
    }
    if probe:
        res.update(probe.figures())
    if counts is not None:
        res = {"fsyncs_per_msg": sum(counts.values()) / msgs,
               "_fsync_detail": ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"}
    return res


def scenario_local(mta, tools, opts, trace_file=None):
    new = reset_maildir(opts.user)
    msgs = opts.fsync_msgs if trace_file else opts.msgs
    return deliver_run(mta, tools, opts, msgs, f"{opts.user}@localhost",
                       lambda: count_files(new), "delivered to Maildir/new", trace_file,
                       latency=bool(opts.latency) and not trace_file)


class Sink:
    """smtp-sink on 127.0.0.1:port, counting the messages it receives (-c)."""

    def __init__(self, tools, port, workdir):
        self.tools, self.port = tools, port
        self.out = Path(workdir) / "smtp-sink.out"
        self.proc = None

    def start(self):
        if port_open(self.port):
            raise BenchError(f"127.0.0.1:{self.port} is already in use (smtp-sink port)")
        self.fh = open(self.out, "wb")
        # As root smtp-sink must drop privileges (-u).  -m: concurrent sessions.
        self.proc = subprocess.Popen([self.tools.sink, "-u", "nobody", "-c", "-m", "1000",
                                      f"127.0.0.1:{self.port}", "1024"],
                                     env=self.tools.env, stdin=subprocess.DEVNULL,
                                     stdout=self.fh, stderr=subprocess.STDOUT)
        if not wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10):
            raise BenchError("smtp-sink did not start listening within 10 s")
        if self.proc.poll() is not None:
            raise BenchError("smtp-sink exited: " + self.out.read_text(errors="replace")[-300:])

    def messages(self):
        """The last "mesg=N" counter smtp-sink printed (it updates with CR)."""
        try:
            with open(self.out, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 200))
                tail = f.read().decode(errors="replace")
        except OSError:
            return 0
        pos = tail.rfind("mesg=")
        if pos < 0:
            return 0
        digits = ""
        for ch in tail[pos + 5:]:
            if not ch.isdigit():
                break
            digits += ch
        return int(digits or 0)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self.fh.close()


def scenario_relay(mta, tools, opts, sink):
    base = sink.messages()
    return deliver_run(mta, tools, opts, opts.msgs, "benchuser@relay.test",
                       lambda: sink.messages() - base, "received by smtp-sink")


# ---------------------------------------------------------------- sessions

def smtp_probe(port, timeout, rcpt):
    """One full transaction (EHLO MAIL RCPT DATA . QUIT) within timeout s.

    Returns (ok, seconds, detail); never blocks past the deadline."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    buf = b""
    sock = None

    def reply(step):
        nonlocal buf
        while True:
            # A complete reply ends with a line "NNN text" (no dash).
            lines = buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    buf = b"\r\n".join(lines[i + 1:])
                    return line.decode(errors="replace")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {step} within {timeout} s")
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except socket.timeout:
                raise TimeoutError(f"no reply to {step} within {timeout} s")
            if not data:
                raise ConnectionError(f"connection closed waiting for the reply to {step}")
            buf += data

    try:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except OSError as e:
            return False, time.monotonic() - t0, f"connect: {e or e.__class__.__name__}"
        steps = [("greeting", None, "220"),
                 ("EHLO", b"EHLO probe.localhost\r\n", "250"),
                 ("MAIL", b"MAIL FROM:<sender@localhost>\r\n", "250"),
                 ("RCPT", f"RCPT TO:<{rcpt}>\r\n".encode(), "250"),
                 ("DATA", b"DATA\r\n", "354"),
                 ("end of data", b"Subject: probe\r\n\r\nprobe\r\n.\r\n", "250"),
                 ("QUIT", b"QUIT\r\n", "221")]
        for step, line, want in steps:
            if line:
                sock.sendall(line)
            got = reply(step)
            if not got.startswith(want):
                if step == "QUIT":
                    break
                return False, time.monotonic() - t0, f"{step}: {got}"
        return True, time.monotonic() - t0, "served"
    except (OSError, TimeoutError, ConnectionError) as e:
        return False, time.monotonic() - t0, str(e) or e.__class__.__name__
    finally:
        if sock:
            sock.close()


def scenario_sessions(mta, opts, n):
    """Hold n idle sessions (each greeted with 220), then probe.

    Connections are non-blocking, at most opts.idle_window of them waiting
    for their greeting at a time; the wait ends when all n are greeted,
    after opts.idle_stall s without a new one, or after opts.idle_timeout s."""
    group = mta.group
    base_pss = group.pss()
    sel = selectors.DefaultSelector()
    conns = {}           # fd -> [socket, state, buffer]
    stats = {"refused": 0, "closed": 0, "greeted": 0, "dropped": 0}
    t0 = time.monotonic()
    pending = 0          # connecting, or connected and not yet greeted
    last_greet = t0
    try:
        opened = 0
        deadline = t0 + opts.idle_timeout
        last_progress = time.monotonic()
        while opened < n or pending > 0:
            # Open more while fewer than idle_window are still waiting for
            # their greeting: clients arriving quickly, but not a SYN flood
            # that would measure the kernel's listen queue instead.
            while opened < n and pending < opts.idle_window:
                opened += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex(("127.0.0.1", mta.port))
                if err not in (0, errno.EINPROGRESS):
                    stats["refused"] += 1
                    last_progress = time.monotonic()
                    s.close()
                    continue
                conns[s.fileno()] = [s, "connecting", b""]
                sel.register(s, selectors.EVENT_WRITE)
                pending += 1
            now = time.monotonic()
            if now >= deadline or now - last_progress >= opts.idle_stall:
                break
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                c = conns[s.fileno()]
                if c[1] == "connecting":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        stats["refused"] += 1
                        last_progress = time.monotonic()
                        sel.unregister(s)
                        c[1] = "dead"
                        pending -= 1
                    else:
                        c[1] = "connected"
                        sel.modify(s, selectors.EVENT_READ)
                    continue
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    if c[1] in ("greeted", "told421"):
                        stats["dropped"] += 1     # closed by the server later
                    else:
                        stats["closed"] += 1
                        pending -= 1
                        last_progress = time.monotonic()
                    c[1] = "dead"
                    continue
                if c[1] == "greeted" and data.startswith(b"421"):
                    c[1] = "told421"            # the server gives up on it
                if c[1] != "connected":
                    continue
                c[2] += data
                if b"\r\n" not in c[2]:
                    continue
                if c[2].startswith(b"220 ") or b"\r\n220 " in c[2]:
                    c[1] = "greeted"
                    stats["greeted"] += 1
                    pending -= 1
                    last_progress = last_greet = time.monotonic()
                    # Still watched: the server may close it later.
                elif not c[2].startswith(b"220-"):
                    stats["closed"] += 1          # 421 or similar
                    sel.unregister(s)
                    c[1] = "dead"
                    pending -= 1
                    last_progress = time.monotonic()
        wait_s = last_greet - t0
        rss = group.rss()
        pss = group.pss()
        nprocs = len(group.pids())
        ok, probe_s, detail = smtp_probe(mta.port, opts.probe_timeout, f"{opts.user}@localhost")
        # How many greeted sessions are still open after the probe?
        still = 0
        for c in conns.values():
            if c[1] != "greeted":
                continue
            try:
                data = c[0].recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if data and not data.startswith(b"421"):
                    still += 1
            except BlockingIOError:
                still += 1
            except OSError:
                pass
    finally:
        sel.close()
        for c in conns.values():
            c[0].close()
    res = {
        "greeted": stats["greeted"],
        "greet_wait_s": wait_s,
        "rss_mib": rss / 2**20,
        "pss_mib": pss / 2**20,
        "kib_per_session": (pss - base_pss) / 1024 / max(1, stats["greeted"]),
        "processes": nprocs,
        "probe_ok": 1 if ok else 0,
        "probe_s": probe_s,
        "open_after_probe": still,
        "_probe_detail": detail,
        "_session_detail": (f"{stats['greeted']} greeted, {stats['refused']} refused or reset "
                            f"while connecting, {stats['closed']} closed before a 220, "
                            f"{pending} still waiting, {n - opened} not attempted, "
                            f"{stats['dropped']} closed after their 220"),
    }
    return res


# ---------------------------------------------------------------- ceilings

def disk_ceiling(workdir, streams, dirsync, seconds, size=4096):
    """Operations/s of create + write size bytes + fsync + rename (+ fsync
    of the target directory if dirsync), with `streams` threads at once."""
    base = Path(workdir) / "disk"
    trash.set_aside(base)
    payload = os.urandom(size)
    counts = [0] * streams
    stop_at = time.monotonic() + seconds

    def worker(i):
        tmp, new = base / f"s{i}" / "tmp", base / f"s{i}" / "new"
        tmp.mkdir(parents=True)
        new.mkdir()
        dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
        try:
            k = 0
            while time.monotonic() < stop_at:
                name = f"{k}"
                fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, payload)
                os.fsync(fd)
                os.close(fd)
                os.rename(tmp / name, new / name)
                if dirsync:
                    os.fsync(dfd)
                k += 1
            counts[i] = k
        finally:
            os.close(dfd)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.monotonic() - t0
    trash.set_aside(base)
    return sum(counts) / elapsed


def sink_ceiling(tools, opts, sink):
    """smtp-source straight into smtp-sink: msg/s of the SMTP path alone."""
    base = sink.messages()
    secs = run_source(tools, sink.port, opts.sink_msgs, opts.size, opts.concurrency,
                      opts.reuse, "benchuser@localhost", opts.timeout)
    got = sink.messages() - base
    if got < opts.sink_msgs:
        wait_for(lambda: sink.messages() - base >= opts.sink_msgs, 5)
    return opts.sink_msgs / secs
