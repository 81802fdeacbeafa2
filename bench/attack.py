#!/usr/bin/python3
"""attack.py - tern under load and attack (issue 8), on loopback only.

Starts a fresh tern instance in /var/tmp/tern-attack on a free port of
127.0.0.1 with anvil's per-client limits applying to every client
(smtpd_client_event_limit_exceptions empty), then runs six bounded
scenarios from 127.0.0.2 and up: 10,000 idle connections, 200 slow-loris
clients, one client connecting as fast as it can, messages at
message_size_limit (2 MB here), one transaction with 1000 recipients and
invalid commands in a loop.  Throughout, a probe from 127.0.0.1 makes one
full SMTP transaction to terntest2 a second and the RSS of the instance's
smtpd and anvil processes is sampled from /proc.  At the end it checks the
smtpd pids did not change and that every acknowledged probe was delivered,
prints a table, and stops the instance (also on error or ^C).

Run as root from the top of a built tree: /usr/bin/python3 bench/attack.py
Standard library only; every wait has a limit; it stops by itself.
"""

import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

DIR = "/var/tmp/tern-attack"
SIZE_LIMIT = 2 * 1024 * 1024
TOKEN = uuid.uuid4().hex
CONF_EXTRA = "\n".join([
    "smtpd_client_event_limit_exceptions =",
    "message_size_limit = %d" % SIZE_LIMIT,
])


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(src, port, timeout=5.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def attacker(i):
    """The i-th attacker address, 127.0.0.2 .. 127.0.0.250."""
    return "127.0.0.%d" % (2 + i % 249)


class Conn:
    """A line-oriented SMTP client with a deadline on every reply."""

    def __init__(self, src, port, timeout=10.0):
        self.s = connect(src, port, timeout)
        self.buf = b""

    def reply(self):
        while True:
            lines = self.buf.split(b"\r\n")
            for n, line in enumerate(lines[:-1]):
                if len(line) < 4 or line[3:4] != b"-":
                    self.buf = b"\r\n".join(lines[n + 1:])
                    self.last = line.decode(errors="replace")
                    return int(line[:3] or 0)
            data = self.s.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---- observation: processes, RSS, probe --------------------------------

def instance_procs():
    """{pid: name} of this instance's smtpd and anvil processes."""
    key = ("%s/etc/tern.conf" % DIR).encode()
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if key not in argv:
            continue
        name = os.path.basename(argv[0].decode(errors="replace"))
        if name in ("smtpd", "anvil"):
            out[int(p)] = name
    return out


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Observer(threading.Thread):
    """Samples RSS twice a second and runs the probe once a second."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_ev = threading.Event()
        self.seq = 0
        self.acked = {}  # probe number -> queue id
        self.reset()

    def reset(self):
        self.peak_smtpd = 0
        self.peak_anvil = 0
        self.lat = []
        self.failed = 0
        self.fail_reasons = []

    def sample(self):
        procs = instance_procs()
        sm = sum(rss_kib(p) for p, n in procs.items() if n == "smtpd")
        an = sum(rss_kib(p) for p, n in procs.items() if n == "anvil")
        self.peak_smtpd = max(self.peak_smtpd, sm)
        self.peak_anvil = max(self.peak_anvil, an)

    def probe(self):
        self.seq += 1
        n = self.seq
        t0 = time.monotonic()
        c = None
        try:
            c = Conn("127.0.0.1", self.port, 10.0)
            ok = (c.reply() == 220 and c.cmd("EHLO probe.example") == 250
                  and c.cmd("MAIL FROM:<probe@example.org>") == 250
                  and c.cmd("RCPT TO:<terntest2@localhost>") == 250
                  and c.cmd("DATA") == 354
                  and c.cmd("Subject: probe\r\nX-Probe: %s-%d\r\n\r\nprobe %d\r\n."
                            % (TOKEN, n, n)) == 250)
            if ok:
                self.acked[n] = c.last.split()[-1]  # "queued as ID"
                c.cmd("QUIT")
                self.lat.append(time.monotonic() - t0)
            else:
                self.failed += 1
                self.fail_reasons.append("reply")
        except (OSError, ConnectionError) as e:
            self.failed += 1
            self.fail_reasons.append(type(e).__name__)
        finally:
            if c:
                c.close()

    def run(self):
        nxt = time.monotonic()
        while not self.stop_ev.is_set():
            self.sample()
            if time.monotonic() >= nxt:
                nxt = time.monotonic() + 1.0
                self.probe()
            self.stop_ev.wait(0.5)


# ---- the scenarios ----------------------------------------------------

def sc_idle(port, stop):
    """10,000 idle connections: 200 addresses x 50 (the per-address limit)."""
    socks, errors = [], 0
    deadline = time.monotonic() + 60
    for i in range(10000):
        if time.monotonic() > deadline:
            break
        try:
            socks.append(connect(attacker(i % 200), port, 3.0))
        except OSError:
            errors += 1
    opened = len(socks)
    greeted = 0
    for s in socks:  # the 220s were sent long since; read without waiting
        s.setblocking(False)
        try:
            if s.recv(512).startswith(b"220"):
                greeted += 1
        except OSError:
            pass
    stop.wait(10)
    for s in socks:
        s.close()
    return "opened %d, greeted %d, connect errors %d" % (opened, greeted, errors)


def sc_slowloris(port, stop):
    """200 clients, each sending one byte of a command a second, 20 s."""
    line = b"EHLO slowloris.example\r\nMAIL FROM:<s@example.org>\r\n"
    socks, sent, dropped = [], 0, 0
    for i in range(200):
        try:
            socks.append(connect(attacker(i // 50), port, 3.0))
        except OSError:
            dropped += 1
    for t in range(20):
        if stop.wait(1):
            break
        for s in socks:
            try:
                s.send(line[t % len(line):t % len(line) + 1])
                sent += 1
            except OSError:
                pass
    for s in socks:
        s.close()
    return "%d clients, %d bytes trickled" % (len(socks), sent)


def sc_flood(port, stop):
    """One address connecting (and closing) as fast as it can for 10 s."""
    n = errors = 0
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            s = connect(attacker(0), port, 2.0)
            n += 1
            s.close()
        except OSError:
            errors += 1
    return "%d connections, %d errors" % (n, errors)


def send_big(port, src, results, size=SIZE_LIMIT - 4096, count=3):
    """count messages of about size bytes (default: just under the limit)."""
    body = (b"x" * 998 + b"\r\n") * (size // 1000)
    for _ in range(count):
        c = None
        try:
            c = Conn(src, port, 60.0)
            c.reply()
            c.cmd("EHLO big.example")
            # Over the limit, no SIZE: the DATA phase must enforce it.
            c.cmd("MAIL FROM:<big@example.org>" +
                  (" SIZE=%d" % len(body) if size < SIZE_LIMIT else ""))
            c.cmd("RCPT TO:<terntest1@localhost>")
            if c.cmd("DATA") != 354:
                results.append(-1)
                continue
            c.s.sendall(b"Subject: big\r\n\r\n" + body + b".\r\n")
            results.append(c.reply())
            c.cmd("QUIT")
        except (OSError, ConnectionError):
            results.append(0)
        finally:
            if c:
                c.close()


def sc_big(port, stop):
    results = []
    ths = [threading.Thread(target=send_big, args=(port, attacker(i), results))
           for i in range(10)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    over = []
    send_big(port, attacker(11), over, SIZE_LIMIT + 65536, 1)
    return "%d of %d messages of %d bytes accepted; one of %d bytes: %s" % (
        results.count(250), len(results), SIZE_LIMIT - 4096,
        SIZE_LIMIT + 65536, over)


def sc_rcpts(port, stop):
    """One transaction with 1000 recipients, then a 1001st (over the limit).

    All are terntest1@localhost: smtpd accepts each (duplicates count
    against smtpd_recipient_limit) and the queue keeps one.  Distinct
    unknown users would end the session after 20 errors (550s)."""
    c = Conn(attacker(1), port, 30.0)
    c.reply()
    c.cmd("EHLO many.example")
    c.cmd("MAIL FROM:<many@example.org>")
    codes = {}
    for i in range(1001):
        r = c.cmd("RCPT TO:<terntest1@localhost>")
        codes[r] = codes.get(r, 0) + 1
    d = c.cmd("DATA")
    end = c.cmd("Subject: many\r\n\r\nmany\r\n.") if d == 354 else d
    c.cmd("QUIT")
    c.close()
    return "RCPT replies %s, end of DATA %d" % (
        ", ".join("%d x%d" % kv for kv in sorted(codes.items())), end)


def junk_loop(port, src, stop, counts):
    while not stop.is_set():
        c = None
        try:
            c = Conn(src, port, 5.0)
            c.reply()
            while not stop.is_set():
                c.cmd("XYZZY junk junk")
                counts[0] += 1
        except (OSError, ConnectionError):
            counts[1] += 1
        finally:
            if c:
                c.close()


def sc_junk(port, stop):
    """20 clients sending invalid commands in a loop for 15 s."""
    counts = [0, 0]
    ev = threading.Event()
    ths = [threading.Thread(target=junk_loop, args=(port, attacker(i % 4), ev, counts))
           for i in range(20)]
    for t in ths:
        t.start()
    stop.wait(15)
    ev.set()
    for t in ths:
        t.join(10)
    return "%d invalid commands, %d sessions ended by the server" % tuple(counts)


SCENARIOS = [
    ("10000 idle connections", sc_idle),
    ("200 slow-loris clients", sc_slowloris),
    ("connection flood, 1 client", sc_flood),
    ("10 clients, 2 MB messages", sc_big),
    ("1000 recipients", sc_rcpts),
    ("invalid commands, 20 clients", sc_junk),
]


# ---- driver -----------------------------------------------------------

def maildir_tokens(user):
    home = pwd.getpwnam(user).pw_dir
    got = set()
    for sub in ("new", "cur"):
        d = os.path.join(home, "Maildir", sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            try:
                with open(os.path.join(d, f), "rb") as fh:
                    head = fh.read(4096)
            except OSError:
                continue
            key = b"X-Probe: " + TOKEN.encode() + b"-"
            i = head.find(key)
            if i >= 0:
                got.add(int(head[i + len(key):].split(b"\r", 1)[0].split(b"\n", 1)[0]))
    return got


def logged_sent(acked):
    """Probe numbers whose queue id the log shows delivered to terntest2."""
    sent = set()
    try:
        with open(os.path.join(DIR, "log/tern.log"), errors="replace") as f:
            for line in f:
                if "to=<terntest2@localhost>" in line and "status=sent" in line:
                    sent.add(line.split()[1].rstrip(":"))
    except OSError:
        pass
    return {n for n, qid in acked.items() if qid in sent}


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < 12000:
        sys.exit("attack: RLIMIT_NOFILE hard limit %d is below 12000" % hard)
    build = os.path.join(os.getcwd(), "build")
    port = free_port()
    shutil.rmtree(DIR, ignore_errors=True)
    env = dict(os.environ, TERN_CONF_EXTRA=CONF_EXTRA)
    obs = Observer(port)
    rows = []
    try:
        subprocess.run(["sh", "mk/instance.sh", "start", DIR, "127.0.0.1:%d" % port,
                        build], env=env, check=True, stdout=subprocess.DEVNULL)
        time.sleep(1)
        base = instance_procs()
        obs.sample()
        log("instance on port %d; smtpd/anvil pids %s; idle RSS smtpd %d KiB, anvil %d KiB"
            % (port, base, obs.peak_smtpd, obs.peak_anvil))
        obs.start()
        for name, fn in SCENARIOS:
            obs.reset()
            before = {p for p, n in instance_procs().items() if n == "smtpd"}
            stop = threading.Event()
            t0 = time.monotonic()
            try:
                note = fn(port, stop)
            except Exception as e:  # a scenario's own failure is a finding
                note = "scenario error: %r" % e
            dur = time.monotonic() - t0
            time.sleep(2)  # let the probe see the aftermath
            after = {p for p, n in instance_procs().items() if n == "smtpd"}
            crashes = len(before - after)
            rows.append((name, dur, obs.peak_smtpd, obs.peak_anvil, pct(obs.lat, 0.5),
                         max(obs.lat) if obs.lat else float("nan"), len(obs.lat),
                         obs.failed, crashes, note))
            log("%s: %s" % (name, note))
            if obs.fail_reasons:
                log("  probe failures: %s" % ", ".join(sorted(set(obs.fail_reasons))))
        obs.stop_ev.set()
        obs.join(15)
        # terntest2's Maildir is shared with the integration tests, which
        # empty it: a probe counts as delivered if its file is there or
        # the instance's log says its queue id was delivered to it.
        end = time.monotonic() + 60
        while True:
            got = maildir_tokens("terntest2") | logged_sent(obs.acked)
            if set(obs.acked) <= got or time.monotonic() > end:
                break
            time.sleep(1)
        lost = sorted(set(obs.acked) - got)
    finally:
        obs.stop_ev.set()
        subprocess.run(["sh", "mk/instance.sh", "stop", DIR], stdout=subprocess.DEVNULL)
    print()
    print("| scenario | duration s | peak RSS smtpd KiB (sum) | peak RSS anvil KiB "
          "| probe p50 s | probe max s | probes ok | probes failed | smtpd crashes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.1f | %d | %d | %.3f | %.3f | %d | %d | %d |" % r[:9])
    print()
    for r in rows:
        print("- %s: %s" % (r[0], r[9]))
    print("- probes acknowledged: %d, delivered to terntest2 (Maildir or log): %d, lost: %s"
          % (len(obs.acked), len(set(obs.acked) & got), lost or "none"))
    bad = lost or any(r[7] or r[8] or (r[5] == r[5] and r[5] > 1.0) for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
