"""A private Dovecot (Debian's dovecot-imapd and dovecot-lmtpd) for the
mail-store tests: its own configuration file, base_dir, log and password
file in a temporary directory, IMAP and LMTP on free loopback ports and
LMTP also on a UNIX socket in that directory; no TLS; plain-text
passwords over IMAP on loopback.  Users are given as (name, password,
uid, gid, home) and keep their mail in ~/Maildir, where tern's local
delivery puts it.  The server runs in the foreground (-F) as this test's
child and is stopped with it; the system's Dovecot is never touched.
"""

import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, users, root="/var/tmp"):
        self.dir = Path(tempfile.mkdtemp(prefix="dovecot-", dir=root))
        # Dovecot's unprivileged processes (dovenull, dovecot) must reach
        # base_dir and its sockets.
        self.dir.chmod(0o755)
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.lmtp_socket = self.dir / "run" / "lmtp"
        self.log = self.dir / "dovecot.log"
        self.passwd = self.dir / "passwd"
        self.passwd.write_text("".join(
            f"{name}:{{PLAIN}}{pw}:{uid}:{gid}::{home}::\n"
            for name, pw, uid, gid, home in users))
        self.passwd.chmod(0o644)
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(f"""\
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log}
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {self.passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(self.dir / "stdout", "wb"),
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dovecot exited {self.proc.returncode}:\n"
                                     f"{self.output()}")
            if self.lmtp_socket.exists() and self._listening(self.imap_port) \
                    and self._listening(self.lmtp_port):
                return self
            time.sleep(0.05)
        raise AssertionError(f"dovecot did not start:\n{self.output()}")

    @staticmethod
    def _listening(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def output(self):
        text = ""
        for f in (self.dir / "stdout", self.log):
            try:
                text += f.read_text(errors="replace")
            except OSError:
                pass
        return text

    def imap(self, user, password):
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=30)
        m.login(user, password)
        return m

    def fetch_all(self, user, password):
        """Every message in the user's INBOX, as bytes (BODY.PEEK[])."""
        m = self.imap(user, password)
        try:
            typ, _ = m.select("INBOX", readonly=True)
            assert typ == "OK"
            typ, data = m.search(None, "ALL")
            assert typ == "OK"
            out = []
            for num in data[0].split():
                typ, msg = m.fetch(num, "(BODY.PEEK[])")
                assert typ == "OK"
                out.append(msg[0][1])
            return out
        finally:
            m.logout()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()   # the master stops its children
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
