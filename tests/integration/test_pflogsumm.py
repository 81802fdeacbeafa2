"""pflogsumm (Debian's package, not ours) summarizes tern's log.

An instance receives mail over SMTP and through sendmail, delivers some
locally and some through the real smtp client to a local aiosmtpd receiver
that accepts, defers (450) or refuses (550) by recipient; pflogsumm run with
--syslog-name=tern on the log must count what happened.

How the log reaches pflogsumm: system-wide, each daemon logs to syslog
(facility mail) as "tern/NAME[PID]", and rsyslog writes
"Mon DD HH:MM:SS HOST tern/NAME[PID]: text" into /var/log/mail.log, which is
what pflogsumm reads.  A test instance runs its master in the foreground
(mk/instance.sh), every daemon copying its lines to the instance's log as
"NAME[PID]: text" (no syslog here); this test adds what syslog would: the
time stamp, the host and the "tern/" of the ident.
"""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import INSTANCE_ROOT, wait_for
from fakesmtp import write_map

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"
T1, T2 = "terntest1", "terntest2"


class Receiver:
    """Accepts ok*@, defers defer*@ (450), refuses bounce*@ (550)."""

    def __init__(self):
        self.got = []

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("defer"):
            return "450 4.2.0 try again later"
        if local.startswith("bounce"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.got.append(envelope.rcpt_tos)
        return "250 OK queued"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def syslog_form(log, host="tern-test"):
    """The instance's "NAME[PID]: text" lines as syslog writes them."""
    stamp = time.strftime("%b %e %H:%M:%S")
    out = []
    for line in log.splitlines():
        m = re.match(r"^([a-z]+)\[(\d+)\]: (.*)$", line)
        if m:
            out.append(f"{stamp} {host} tern/{m[1]}[{m[2]}]: {m[3]}")
    return "\n".join(out) + "\n"


def totals(report):
    """{"received": n, ...} from pflogsumm's Grand Totals."""
    found = {}
    for word in ("received", "delivered", "forwarded", "deferred", "bounced", "rejected"):
        m = re.search(rf"^\s*(\d+)\s+{word}\b", report, re.M)
        assert m, f"no {word} in the report:\n{report}"
        found[word] = int(m[1])
    return found


def sendmail(inst, args, body):
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    r = subprocess.run([str(inst.dir / "bin" / "sendmail"), *args], input=body, env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_pflogsumm_counts(make_instance):
    assert os.access(PFLOGSUMM, os.X_OK), "pflogsumm is not installed (make deps)"
    port = free_port()
    handler = Receiver()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        tmap = write_map(INSTANCE_ROOT, f"transport-pflogsumm-{os.getpid()}",
                         f"remote.test smtp:[127.0.0.1]:{port}\n")
        inst = make_instance(f"transport_maps = texthash:{tmap}\n"
                             "smtp_tls_security_level = none\n")
        # Received over SMTP: 2 messages, 2 deliveries.
        with inst.smtp() as s:
            for i in range(2):
                s.sendmail("sender@example.org", [f"{T1}@localhost"],
                           f"Subject: smtp {i}\r\n\r\nx\r\n")
        # Through sendmail: one to two local users (2 deliveries), one sent
        # on, one deferred, one refused remotely, one to no such local user.
        sendmail(inst, ["-i", T1, T2], b"Subject: local\n\nx\n")
        sendmail(inst, ["-i", "ok@remote.test"], b"Subject: ok\n\nx\n")
        sendmail(inst, ["-i", "-f", "<>", "defer@remote.test"], b"Subject: d\n\nx\n")
        sendmail(inst, ["-i", "-f", "<>", "bounce@remote.test"], b"Subject: b\n\nx\n")
        sendmail(inst, ["-i", "-f", "<>", "nosuchuser@localhost"], b"Subject: n\n\nx\n")

        def outcomes():
            log = inst.log()
            return (len(re.findall(r", relay=.*status=sent", log)) >= 5 and
                    "to=<defer@remote.test>, relay=" in log and
                    len(re.findall(r", relay=.*status=bounced", log)) >= 2) and log
        log = wait_for(outcomes, timeout=60, what="every outcome in the log")
        assert handler.got == [["ok@remote.test"]]
    finally:
        ctl.stop()
    syslog = inst.dir / "log" / "mail.log"
    syslog.write_text(syslog_form(log))
    r = subprocess.run([PFLOGSUMM, "--syslog-name=tern", str(syslog)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = totals(r.stdout)
    assert got == {"received": 7, "delivered": 5, "forwarded": 0, "deferred": 1,
                   "bounced": 2, "rejected": 0}, r.stdout
    # The sizes come through too (qmgr's "size=").
    m = re.search(r"^\s*(\d+)(k?)\s+bytes delivered", r.stdout, re.M)
    assert m and int(m[1]) > 0, r.stdout
