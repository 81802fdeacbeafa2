"""Helpers for queue-backlog tests and the drain harness (not a test file):
stop qmgr by taking it out of master.conf, fill incoming/ through smtpd (the
real queue writer) from a few parallel SMTP sessions, bring qmgr back, and
watch the queue and qmgr's memory while it drains."""

import os
import re
import signal
import smtplib
import threading
import time

from conftest import wait_for

QMGR_ROW = re.compile(r"^qmgr\s", re.M)


def qmgr_down(inst):
    """Take qmgr out of master.conf (the other services keep running);
    its row, to give back to qmgr_up()."""
    conf = inst.dir / "etc" / "master.conf"
    row = next(l for l in conf.read_text().splitlines() if QMGR_ROW.match(l))
    inst.drop_service("qmgr")
    return row


def qmgr_up(inst, row):
    """Put qmgr's row back and reload; qmgr's pid once it runs."""
    conf = inst.dir / "etc" / "master.conf"
    conf.write_text(conf.read_text() + row + "\n")
    os.kill(inst.master_pid(), signal.SIGHUP)
    return wait_for(lambda: (inst.services().get("qmgr") or [None])[0], timeout=30,
                    what="qmgr to run again")


def fill(inst, n, rcpt, sessions=4, size=0, token="backlog"):
    """Queue n messages to rcpt over `sessions` SMTP sessions at once, each
    carrying X-Token: <token>-<i> and about `size` bytes of body."""
    body = ("x" * 75 + "\r\n") * (size // 77)
    errors = []

    def worker(first, count):
        try:
            s = smtplib.SMTP("127.0.0.1", inst.port, timeout=60)
            s.ehlo("backlog.example")
            for i in range(first, first + count):
                s.sendmail("sender@example.org", [rcpt],
                           f"Subject: {token}\r\nX-Token: {token}-{i}\r\n\r\n{body}")
            s.quit()
        except Exception as e:  # reported by the caller
            errors.append(e)

    per = (n + sessions - 1) // sessions
    threads = [threading.Thread(target=worker, args=(k * per, min(per, n - k * per)))
               for k in range(sessions) if k * per < n]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def count_dir(path):
    try:
        with os.scandir(path) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


class ActiveWatch:
    """Count the files in active/ every few milliseconds from a thread: the
    most it ever held (qmgr moves a file there only when it takes the
    message into its active set)."""

    def __init__(self, inst, interval=0.003):
        self.path = inst.queue / "active"
        self.interval = interval
        self.most = 0
        self.samples = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            self.most = max(self.most, count_dir(self.path))
            self.samples += 1
            time.sleep(self.interval)

    def stop(self):
        self.stopping = True
        self.thread.join()
        return self.most


def proc_kib(pid, key):
    """VmHWM, VmRSS... of pid in KiB, or None."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None
