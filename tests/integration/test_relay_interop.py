"""Remote delivery with software nobody here wrote (issue 9):

- swaks -> tern (relayhost) -> a receiving server: relayed from mynetworks,
  refused (554 5.7.1) from outside it, as issue 9's "Done when" says;
- tern -> a second tern instance, byte for byte;
- tern -> a real Postfix and Postfix -> tern, byte for byte: Debian's
  postfix package unpacked privately by bench/fetch-postfix.sh (never
  installed; the system's MTA is not touched), with its own main.cf,
  master.cf and queue under the test's temporary directory.  Skipped only
  when the package cannot be fetched.

"Byte for byte": the delivered file ends with exactly the message that was
submitted (LF line ends, as a Maildir holds them), after the headers each
hop puts in front (Received:, Return-Path:, Delivered-To:, ...).
"""

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import free_port, maildir_new, pid_alive, wait_for
from test_relay_delivery import HOST, Recorder, queue_empty, remote  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]
POSTFIX_WORK = Path("/var/tmp/tern-test-postfix")

# A message with what a relay must carry unchanged: dots at line starts
# (one alone), trailing white space, a long line, an empty last line.
# With Date: and Message-ID:, so that no hop adds a header of its own
# below the ones it puts in front.
MESSAGE = (b"From: sender@example.org\nTo: someone@example.net\nSubject: interop TOKEN\n"
           b"Date: Fri, 27 Nov 2026 08:00:00 +0000\nMessage-ID: <TOKEN@example.org>\n"
           b"X-Token: TOKEN\n\n.\n..two dots\n. dot space\ntrailing  \t\n"
           + b"x" * 900 + b"\nlast line\n\n")


def message(token):
    return MESSAGE.replace(b"TOKEN", token.encode())


def smtp_send(port, sender, rcpt, data, source=HOST):
    """Submit data (LF line ends) over SMTP with swaks; its exit code and
    transcript.  swaks puts a line end of its own before the final dot, so
    it is given the message without its last one."""
    r = subprocess.run(["swaks", "--server", f"{HOST}:{port}", "--local-interface", source,
                        "--from", sender, "--to", rcpt, "--data", "-", "--helo", "client.example",
                        "--timeout", "30"],
                       input=data[:-1].replace(b"\n", b"\r\n"), capture_output=True,
                       timeout=60)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def delivered_with(user, token):
    """The files in user's Maildir that carry token."""
    out = []
    for p in maildir_new(user):
        try:
            b = p.read_bytes()
        except FileNotFoundError:
            continue
        if f"X-Token: {token}\n".encode() in b:
            out.append(b)
    return out


@pytest.fixture(autouse=True)
def need_swaks():
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed (make deps installs it)")


# ---- swaks through tern ----------------------------------------------------


def test_swaks_relayhost_relays_from_mynetworks_only(make_instance, remote):
    rec, port = remote()
    inst = make_instance(f"relayhost = [{HOST}]:{port}\nmynetworks = 127.0.0.1/32\n")
    rc, out = smtp_send(inst.port, "swaks@example.org", "someone@example.test",
                        message("swaks-1"))
    assert rc == 0, out
    wait_for(lambda: rec.tokens() == ["swaks-1"], timeout=30, what="the relayed message")
    peer, rcpts, content, _, _ = rec.messages[0]
    assert rcpts == ["someone@example.test"]
    assert content.endswith(message("swaks-1").replace(b"\n", b"\r\n")), content
    # From an address outside mynetworks the same is refused at RCPT.
    rc, out = smtp_send(inst.port, "swaks@example.org", "someone@example.test",
                        message("swaks-2"), source="127.0.0.2")
    assert rc != 0 and "554 5.7.1" in out, out
    wait_for(lambda: queue_empty(inst), what="the queue to be empty")
    assert rec.tokens() == ["swaks-1"]


# ---- a second tern as the receiver -------------------------------------------


def test_tern_relays_to_tern_byte_for_byte(make_instance, test_users):
    receiver = make_instance("myhostname = b.test\n")
    sender = make_instance(f"myhostname = a.test\nrelayhost = [{HOST}]:{receiver.port}\n")
    rc, out = smtp_send(sender.port, "a@example.org", f"{test_users[0]}@b.test",
                        message("tern-1"))
    assert rc == 0, out
    wait_for(lambda: delivered_with(test_users[0], "tern-1"), timeout=30,
             what="the message in the receiver's Maildir")
    got = delivered_with(test_users[0], "tern-1")
    assert len(got) == 1
    assert got[0].endswith(message("tern-1")), got[0]
    # Both hops are in the trace, the receiver's first.
    assert re.search(rb"Received: from a\.test .*\n(?:\s.*\n)*Received: ", got[0]), got[0][:600]
    assert "relay=127.0.0.1[127.0.0.1]" in sender.log()


# ---- Postfix ----------------------------------------------------------------


class Postfix:
    """A private Postfix from the unpacked Debian package."""

    def __init__(self, root, port, relay_to=None, mydestination="localhost, pf.test"):
        self.root = Path(root)
        self.port = port
        self.base = Path(tempfile.mkdtemp(prefix="tern-postfix-", dir="/var/tmp"))
        self.base.chmod(0o755)
        self.conf = self.base / "etc"
        self.queue = self.base / "queue"
        self.logfile = self.base / "maillog"
        self.env = dict(os.environ, LD_LIBRARY_PATH=str(self.root / "usr/lib/postfix"),
                        MAIL_CONFIG=str(self.conf))
        self.conf.mkdir()
        self.queue.mkdir()
        r = self.root
        relay = f"relayhost = [{relay_to[0]}]:{relay_to[1]}\n" if relay_to else ""
        (self.conf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.base}/data
daemon_directory = {r}/usr/lib/postfix/sbin
command_directory = {r}/usr/sbin
shlib_directory = {r}/usr/lib/postfix
meta_directory = {r}/etc/postfix
import_environment = MAIL_CONFIG TZ LANG=C LD_LIBRARY_PATH={r}/usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.test
mydomain = pf.test
myorigin = $myhostname
mydestination = {mydestination}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
home_mailbox = Maildir/
alias_maps =
alias_database =
local_recipient_maps = unix:passwd.byname
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtp_tls_security_level = none
biff = no
maillog_file = {self.logfile}
{relay}""")
        services = ["pickup unix n - n 60 1 pickup", "cleanup unix n - n - 0 cleanup",
                    "qmgr unix n - n 300 1 qmgr", "rewrite unix - - n - - trivial-rewrite",
                    "bounce unix - - n - 0 bounce", "defer unix - - n - 0 bounce",
                    "trace unix - - n - 0 bounce", "verify unix - - n - 1 verify",
                    "proxymap unix - - n - - proxymap", "smtp unix - - n - - smtp",
                    "relay unix - - n - - smtp", "showq unix n - n - - showq",
                    "error unix - - n - - error", "retry unix - - n - - error",
                    "discard unix - - n - - discard", "local unix - n n - - local",
                    "anvil unix - - n - 1 anvil", "scache unix - - n - 1 scache",
                    "postlog unix-dgram n - n - 1 postlogd",
                    "flush unix n - n 1000? 0 flush"]
        (self.conf / "master.cf").write_text(
            f"{HOST}:{port} inet n - n - - smtpd\n" + "\n".join(services) + "\n")

    def postfix(self, *args):
        return subprocess.run([str(self.root / "usr/sbin/postfix"), "-c", str(self.conf), *args],
                              env=self.env, capture_output=True, text=True, timeout=60)

    def start(self):
        r = self.postfix("start")
        assert r.returncode == 0, f"postfix start: {r.stdout}{r.stderr}\n{self.log()}"
        wait_for(self._listening, timeout=30, what="Postfix to listen")
        return self

    def _listening(self):
        import socket
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((HOST, self.port)) == 0

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        self.postfix("stop")
        if pid is not None:
            wait_for(lambda: not pid_alive(pid), timeout=30, what="Postfix to stop")
        shutil.rmtree(self.base, ignore_errors=True)


def ensure_postfix_accounts():
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


@pytest.fixture(scope="module")
def postfix_root():
    r = subprocess.run(["sh", str(REPO / "bench" / "fetch-postfix.sh"), str(POSTFIX_WORK)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.skip(f"Postfix package unavailable: {r.stderr.strip()[-300:]}")
    ensure_postfix_accounts()
    root = Path(r.stdout.strip().splitlines()[-1])
    gid = grp.getgrnam("postdrop").gr_gid
    for prog in ("postdrop", "postqueue"):
        p = root / "usr" / "sbin" / prog
        if p.exists():
            os.chown(p, 0, gid)
            p.chmod(0o2755)
    return root


@pytest.fixture
def make_postfix(postfix_root):
    made = []

    def make(**kw):
        pf = Postfix(postfix_root, free_port(), **kw).start()
        made.append(pf)
        return pf
    yield make
    for pf in made:
        pf.stop()


def test_tern_relays_to_postfix_byte_for_byte(make_instance, make_postfix, test_users):
    pf = make_postfix()
    inst = make_instance(f"relayhost = [{HOST}]:{pf.port}\n")
    user = test_users[1]
    rc, out = smtp_send(inst.port, "a@example.org", f"{user}@pf.test", message("topf-1"))
    assert rc == 0, out
    wait_for(lambda: delivered_with(user, "topf-1"), timeout=60,
             what=f"Postfix to deliver into {user}'s Maildir")
    got = delivered_with(user, "topf-1")
    assert len(got) == 1, pf.log()
    assert got[0].endswith(message("topf-1")), got[0]
    assert b"Delivered-To: " in got[0] and b"by pf.test (Postfix" in got[0]
    assert "status=sent" in inst.log()


def test_postfix_relays_to_tern_byte_for_byte(make_instance, make_postfix, test_users):
    inst = make_instance("myhostname = t.test\n")
    pf = make_postfix(relay_to=(HOST, inst.port))
    user = test_users[0]
    rc, out = smtp_send(pf.port, "a@example.org", f"{user}@t.test", message("frompf-1"))
    assert rc == 0, out
    wait_for(lambda: delivered_with(user, "frompf-1"), timeout=60,
             what=f"tern to deliver into {user}'s Maildir\n{pf.log()[-3000:]}")
    got = delivered_with(user, "frompf-1")
    assert len(got) == 1
    assert got[0].endswith(message("frompf-1")), got[0]
    # Postfix's own Received: line was passed on, tern's is on top of it.
    assert re.search(rb"Received: from pf\.test .*\n(?:\s.*\n)*Received: ", got[0]), got[0][:800]
