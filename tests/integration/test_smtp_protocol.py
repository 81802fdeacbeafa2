"""SMTP dialogue against the real smtpd: order, syntax and policy replies.

Talks over a raw socket so that every reply code and enhanced status code is
checked exactly as a client sees it.
"""

import socket
import subprocess

import pytest

from conftest import maildir_new, wait_for


class Client:
    def __init__(self, port, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20,
                                             source_address=(source, 0))
        self.buf = b""

    def reply(self):
        """Read one (possibly multi-line) reply -> (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed; got {lines!r} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + b"\r\n" if isinstance(text, bytes) else (text + "\r\n").encode())
        return self.reply()

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def client(tern):
    c = Client(tern.port)
    code, lines = c.reply()
    assert code == 220 and "ESMTP" in lines[0]
    yield c
    c.close()


def expect(reply, code, enhanced=None):
    got, lines = reply
    assert got == code, lines
    if enhanced:
        assert lines[-1][4:].startswith(enhanced), lines


def test_ehlo_lists_extensions(client):
    code, lines = client.cmd("EHLO test.example")
    assert code == 250
    ext = {l[4:].split()[0].upper() for l in lines[1:]}
    assert {"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES"} <= ext


def test_wrong_order_gets_503(client):
    expect(client.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1")
    expect(client.cmd("RCPT TO:<terntest1@localhost>"), 503, "5.5.1")
    expect(client.cmd("DATA"), 503, "5.5.1")
    expect(client.cmd("EHLO test.example"), 250)
    expect(client.cmd("RCPT TO:<terntest1@localhost>"), 503, "5.5.1")
    expect(client.cmd("MAIL FROM:<a@example.org>"), 250, "2.1.0")
    expect(client.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1")
    expect(client.cmd("DATA"), 503, "5.5.1")
    expect(client.cmd("RSET"), 250, "2.0.0")
    expect(client.cmd("RCPT TO:<terntest1@localhost>"), 503, "5.5.1")
    expect(client.cmd("QUIT"), 221)


def test_bad_syntax(client):
    expect(client.cmd("EHLO"), 501, "5.5.4")
    expect(client.cmd("FROB"), 500, "5.5.2")
    expect(client.cmd("HELO test.example"), 250)
    expect(client.cmd("MAIL FROM:a@example.org"), 501)
    expect(client.cmd("MAIL FROM:<a@@example.org>"), 501, "5.1.7")
    expect(client.cmd("MAIL FROM:<a@example.org> FOO=BAR"), 555, "5.5.4")
    expect(client.cmd("MAIL FROM:<>"), 250)
    expect(client.cmd("RCPT TO:<>"), 501)
    expect(client.cmd("RCPT TO:<no domain>"), 501, "5.1.3")
    expect(client.cmd("NOOP"), 250, "2.0.0")
    expect(client.cmd(b"X" * 5000), 500, "5.5.2")
    expect(client.cmd("NOOP"), 250, "2.0.0")


def test_relay_denied_and_unknown_user(make_instance):
    # A client outside mynetworks: 127.0.0.1 itself may relay by default.
    inst = make_instance("mynetworks = 127.0.0.1/32")
    client = Client(inst.port, source="127.0.0.9")
    expect(client.reply(), 220)
    expect(client.cmd("EHLO test.example"), 250)
    expect(client.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(client.cmd("RCPT TO:<someone@elsewhere.example>"), 554, "5.7.1")
    expect(client.cmd("RCPT TO:<someone@[127.0.0.1]>"), 554, "5.7.1")
    expect(client.cmd("RCPT TO:<no-such-user-xyz@localhost>"), 550, "5.1.1")
    # Never a login name: refused without asking the user database.
    expect(client.cmd('RCPT TO:<"tern test1"@localhost>'), 550, "5.1.1")
    expect(client.cmd("RCPT TO:<terntest1*@localhost>"), 550, "5.1.1")
    expect(client.cmd("DATA"), 554, "5.5.1")
    expect(client.cmd("RCPT TO:<terntest1@localhost>"), 250, "2.1.5")
    expect(client.cmd("RCPT TO:<postmaster>"), 250, "2.1.5")


def test_new_account_is_accepted_at_once(client):
    """smtpd remembers users that exist, never users that do not: an
    account created after a 550 gets mail on the next try, and one removed
    after being seen is still accepted for a moment (deliver decides)."""
    user = "terntestnew"
    subprocess.run(["userdel", user], capture_output=True)
    try:
        expect(client.cmd("EHLO test.example"), 250)
        expect(client.cmd("MAIL FROM:<a@example.org>"), 250)
        expect(client.cmd(f"RCPT TO:<{user}@localhost>"), 550, "5.1.1")
        subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", user], check=True)
        expect(client.cmd(f"RCPT TO:<{user}@localhost>"), 250, "2.1.5")
        subprocess.run(["userdel", user], check=True)
        expect(client.cmd(f"RCPT TO:<{user.upper()}@localhost>"), 250, "2.1.5")
    finally:
        subprocess.run(["userdel", user], capture_output=True)


def test_size_limit(make_instance):
    inst = make_instance("message_size_limit = 2000")
    c = Client(inst.port)
    expect(c.reply(), 220)
    code, lines = c.cmd("EHLO t.example")
    assert any(l[4:] == "SIZE 2000" for l in lines), lines
    expect(c.cmd("MAIL FROM:<a@example.org> SIZE=5000"), 552, "5.3.4")
    expect(c.cmd("MAIL FROM:<a@example.org> SIZE=100"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n")
    c.send((b"y" * 98 + b"\r\n") * 40)
    expect(c.cmd("."), 552, "5.3.4")
    # The session goes on, and a small message still gets through.
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    code, lines = c.cmd(b"Subject: small\r\n\r\nok\r\n.")
    assert code == 250 and "queued as" in lines[0], lines
    (path,) = wait_for(lambda: maildir_new("terntest1"), what="delivery")
    assert path.read_bytes().endswith(b"Subject: small\n\nok\n")
    c.close()


def test_pipelined_transaction(tern):
    c = Client(tern.port)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO pipe.example"), 250)
    c.send(b"MAIL FROM:<p@example.org>\r\nRCPT TO:<terntest1@localhost>\r\n"
           b"RCPT TO:<nobody-here@localhost>\r\nRCPT TO:<terntest2@localhost>\r\nDATA\r\n")
    expect(c.reply(), 250)
    expect(c.reply(), 250)
    expect(c.reply(), 550, "5.1.1")
    expect(c.reply(), 250)
    expect(c.reply(), 354)
    c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    code, lines = c.reply()
    assert code == 250 and "queued as" in lines[0]
    expect(c.reply(), 221)
    c.close()
    wait_for(lambda: maildir_new("terntest1") and maildir_new("terntest2"), what="both deliveries")


SMUGGLING = [b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\n.\n", b"\r.\r\n", b"\n", b"\r"]


def start_data(c, rcpt="terntest1@localhost"):
    expect(c.cmd("MAIL FROM:<s@example.org>"), 250)
    expect(c.cmd(f"RCPT TO:<{rcpt}>"), 250)
    expect(c.cmd("DATA"), 354)


def test_bare_newline_in_data_rejected(tern):
    """Issue 8 finding 7: a bare CR or LF anywhere in the message gets 550
    5.5.2 once the real CRLF.CRLF has arrived (what was smuggled in after it
    is never taken as commands), nothing is stored or delivered, and the
    session goes on with the next transaction."""
    c = Client(tern.port)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO smuggle.example"), 250)
    for seq in SMUGGLING + [None]:
        start_data(c)
        if seq is None:     # a bare CR in a header line
            c.send(b"Subject: a\rBcc: terntest2@localhost\r\n\r\nbody\r\n")
        else:
            c.send(b"Subject: smuggle\r\n\r\nfirst" + seq +
                   b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<terntest2@localhost>\r\n"
                   b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")
        code, lines = c.cmd(".")
        assert code == 550 and lines[0].startswith("550 5.5.2 Error: bare <"), (seq, lines)
        # The next reply answers the next command: nothing after the bare
        # byte was read as a command.
        expect(c.cmd("NOOP"), 250)
        assert tern.queue_files("incoming") == [] == tern.queue_files("active")
        assert tern.queue_files("tmp") == []
    start_data(c)
    code, lines = c.cmd(b"Subject: clean\r\n\r\nfine\r\n.")
    assert code == 250 and "queued as" in lines[0], lines
    expect(c.cmd("QUIT"), 221)
    c.close()
    (path,) = wait_for(lambda: maildir_new("terntest1"), what="the clean message")
    assert b"Subject: clean\n" in path.read_bytes()
    assert maildir_new("terntest2") == []
    assert len(maildir_new("terntest1")) == 1


def test_bare_newline_in_command_rejected(tern):
    """A command line ended by a bare LF, or holding a bare CR, is not
    executed: 500 5.5.2, and the session goes on."""
    c = Client(tern.port)
    expect(c.reply(), 220)
    c.send(b"EHLO lf.example\n")
    code, lines = c.reply()
    assert code == 500 and lines[0] == "500 5.5.2 Error: bare <LF> received", lines
    expect(c.cmd("HELO cr.example\rMAIL FROM:<x@example.org>"), 500, "5.5.2")
    expect(c.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1")  # no HELO took
    expect(c.cmd("EHLO ok.example"), 250)
    c.send(b"MAIL FROM:<a@example.org>\r\r\n")
    code, lines = c.reply()
    assert code == 500 and lines[0] == "500 5.5.2 Error: bare <CR> received", lines
    expect(c.cmd("NOOP"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_bare_newline_kept_when_allowed(make_instance):
    """smtpd_forbid_bare_newline = no: bare CR and LF are message content
    (never a line end: only CRLF.CRLF ends the data), and commands may end
    in a bare LF."""
    inst = make_instance("smtpd_forbid_bare_newline = no")
    c = Client(inst.port)
    expect(c.reply(), 220)
    c.send(b"EHLO smuggle.example\n")
    expect(c.reply(), 250)
    start_data(c)
    c.send(b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@example.org>\r\n"
           b"still body\r.\r\nend\r\n")
    code, lines = c.cmd(".")
    assert code == 250, lines
    (path,) = wait_for(lambda: maildir_new("terntest1"), what="delivery")
    assert path.read_bytes().endswith(
        b"Subject: smuggle\n\nfirst\n.\nMAIL FROM:<evil@example.org>\nstill body\r.\nend\n")
    c.close()


def test_client_disconnect_mid_data_leaves_nothing(tern):
    c = Client(tern.port)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO gone.example"), 250)
    expect(c.cmd("MAIL FROM:<g@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: half\r\n\r\npartial")
    c.close()
    wait_for(lambda: tern.queue_files("tmp") == [], what="tmp/ to be cleaned")
    # A fresh session still works.
    c2 = Client(tern.port)
    expect(c2.reply(), 220)
    expect(c2.cmd("HELO again.example"), 250)
    c2.close()
    assert tern.queue_files("incoming") == [] == tern.queue_files("active")
    assert maildir_new("terntest1") == []
