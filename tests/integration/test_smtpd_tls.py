"""Inbound STARTTLS (RFC 3207) in smtpd, seen from the network.

smtpd_tls_security_level (none, may, encrypt), smtpd_tls_cert_file,
smtpd_tls_key_file (default: the certificate file) and
smtpd_starttls_timeout; the STARTTLS command's replies, the session reset
after the handshake, plaintext pipelined behind STARTTLS thrown away, the
ESMTPS Received header, handshake failures and time-outs, and interop with
OpenSSL's s_client and Python's smtplib.  See smtpd(8) and tern.conf(5).

The certificate and key live in a root-only directory and the key files
are mode 0600: smtpd must read them as root, before it drops privileges.
"""

import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import maildir_new, wait_for
from test_smtp_protocol import Client as PlainClient

RCPT1 = "terntest1@localhost"
RCPT2 = "terntest2@localhost"

READY = "220 2.0.0 Ready to start TLS"
NOT_IMPLEMENTED = "502 5.5.1 Error: command not implemented"
LOCAL_PROBLEM = "454 4.7.0 TLS not available due to local problem"


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory):
    """A CA and a server certificate it signed for the address 127.0.0.1:
    server.pem with server.key (0600), and combined.pem (certificate and
    key in one file, 0600)."""
    d = tmp_path_factory.mktemp("smtpd-ca")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True,
                       capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=tern smtpd test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=server.example")
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
        "-extfile", "server.ext")
    (d / "combined.pem").write_bytes((d / "server.pem").read_bytes() +
                                     (d / "server.key").read_bytes())
    for name in ("server.key", "combined.pem", "ca.key"):
        os.chown(d / name, 0, 0)
        (d / name).chmod(0o600)
        st = os.stat(d / name)
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600
    return d


def client_context(ca):
    """Trusts only the test CA and checks the name (127.0.0.1)."""
    ctx = ssl.create_default_context(cafile=str(ca / "ca.pem"))
    assert ctx.check_hostname and ctx.verify_mode == ssl.CERT_REQUIRED
    return ctx


def tls_conf(ca, level="may", combined=False, extra=""):
    if combined:
        files = f"smtpd_tls_cert_file = {ca / 'combined.pem'}\n"
    else:
        files = (f"smtpd_tls_cert_file = {ca / 'server.pem'}\n"
                 f"smtpd_tls_key_file = {ca / 'server.key'}\n")
    return f"smtpd_tls_security_level = {level}\n" + files + extra


class Client(PlainClient):
    """test_smtp_protocol's raw SMTP client, able to switch its socket to
    TLS."""

    def starttls(self, ctx):
        """Handshake on the socket (after the 220): nothing may be
        waiting in plaintext."""
        assert self.buf == b"", f"plaintext after the 220: {self.buf!r}"
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        return self.sock.version()

    def eof_within(self, timeout):
        """Read until the server closes -> seconds it took; fails after
        timeout s.  Whatever comes first (a TLS alert) is ignored."""
        t0 = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - t0)
            assert left > 0, f"connection still open after {timeout}s"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return time.monotonic() - t0
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout}s")
            if not chunk:
                return time.monotonic() - t0


def expect(reply, code, text=None):
    """reply has code; its last line is exactly text, if given."""
    got, lines = reply
    assert got == code, lines
    if text is not None:
        assert lines[-1] == text, lines
    return lines


def keywords(lines):
    return [l[4:].split()[0].upper() for l in lines[1:] if len(l) > 4]


def connect(inst, helo="tls.example"):
    c = Client(inst.port)
    expect(c.reply(), 220)
    lines = expect(c.cmd(f"EHLO {helo}"), 250)
    return c, lines


def start_tls(c, ca):
    lines = expect(c.cmd("STARTTLS"), 220)
    assert lines == [READY], lines
    version = c.starttls(client_context(ca))
    assert version in ("TLSv1.2", "TLSv1.3"), version
    return version


def log_has(inst, *parts):
    """The log's lines that contain every one of parts (waits for one)."""
    def found():
        return [l for l in inst.log().splitlines() if all(p in l for p in parts)]
    return wait_for(found, timeout=10, what=f"a log line with {parts!r}")


def send_message(c, rcpt, token):
    expect(c.cmd("MAIL FROM:<tls-sender@example.org>"), 250)
    expect(c.cmd(f"RCPT TO:<{rcpt}>"), 250)
    expect(c.cmd("DATA"), 354)
    msg = f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody of {token}\r\n".encode()
    code, lines = c.cmd(msg + b".")
    assert code == 250 and "queued as" in lines[0], lines
    return msg.replace(b"\r\n", b"\n")


def delivered_one(user, token):
    (path,) = wait_for(lambda: maildir_new(user), timeout=20,
                       what=f"delivery of {token} to {user}")
    data = path.read_bytes()
    assert token.encode() in data
    return data


def received_header(data):
    """The first Received: header of a delivered file, unfolded."""
    m = re.search(rb"^Received: .*\n(?:\t.*\n)*", data, re.M)
    assert m, data[:400]
    return m.group(0)


# ---- the EHLO offer and the STARTTLS command ---------------------------

def test_empty_level_is_none(make_instance):
    """Postfix's default is an empty smtpd_tls_security_level: a main.cf
    line carried over as it is must start, and mean none."""
    inst = make_instance("smtpd_tls_security_level =\n")
    c, lines = connect(inst)
    assert "STARTTLS" not in keywords(lines), lines
    expect(c.cmd("STARTTLS"), 502, NOT_IMPLEMENTED)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_no_starttls_by_default(tern):
    """Level none (the default): no STARTTLS in EHLO, and the command is
    not implemented; the session goes on."""
    c, lines = connect(tern)
    assert "STARTTLS" not in keywords(lines), lines
    expect(c.cmd("STARTTLS"), 502, NOT_IMPLEMENTED)
    expect(c.cmd("NOOP"), 250)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_starttls_offered_then_session_reset(make_instance, tls_ca):
    """Level may with a separate 0600 key: EHLO offers STARTTLS (before
    ENHANCEDSTATUSCODES, still last); after the handshake the session is
    new (MAIL needs a new EHLO), EHLO no longer offers STARTTLS, and a
    second STARTTLS is refused."""
    inst = make_instance(tls_conf(tls_ca))
    c, lines = connect(inst)
    assert "250-STARTTLS" in lines, lines
    assert lines[-1] == "250 ENHANCEDSTATUSCODES", lines
    start_tls(c, tls_ca)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 503, "503 5.5.1 Error: send HELO/EHLO first")
    lines = expect(c.cmd("EHLO tls.example"), 250)
    assert "STARTTLS" not in keywords(lines), lines
    assert lines[-1] == "250 ENHANCEDSTATUSCODES", lines
    expect(c.cmd("STARTTLS"), 554, "554 5.5.1 Error: TLS already active")
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_starttls_syntax_and_order(make_instance, tls_ca):
    """STARTTLS takes no argument, and not inside a transaction."""
    inst = make_instance(tls_conf(tls_ca))
    c, _ = connect(inst)
    expect(c.cmd("STARTTLS now"), 501, "501 5.5.4 Syntax: STARTTLS")
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(c.cmd("STARTTLS"), 503, "503 5.5.1 Error: MAIL transaction in progress")
    expect(c.cmd("RSET"), 250)
    start_tls(c, tls_ca)
    expect(c.cmd("EHLO tls.example"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_tls_log_line(make_instance, tls_ca):
    inst = make_instance(tls_conf(tls_ca))
    c, _ = connect(inst)
    version = start_tls(c, tls_ca)
    expect(c.cmd("EHLO tls.example"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    (line, *_) = log_has(inst, "TLS connection established from [127.0.0.1]: ")
    m = re.search(r"TLS connection established from \[127\.0\.0\.1\]: (\S+) with cipher \S",
                  line)
    assert m and m.group(1) == version, (line, version)


# ---- plaintext behind STARTTLS -----------------------------------------

def test_pipelined_plaintext_after_starttls_discarded(make_instance, tls_ca):
    """A command sent in the clear in the same packet as STARTTLS is
    thrown away, never executed inside the TLS session (CVE-2011-0411)."""
    inst = make_instance(tls_conf(tls_ca))
    c, _ = connect(inst)
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    code, lines = c.reply()
    assert code == 220 and lines == [READY], lines
    c.starttls(client_context(tls_ca))
    expect(c.cmd("EHLO tls.example"), 250)
    expect(c.cmd(f"RCPT TO:<{RCPT1}>"), 503, "503 5.5.1 Error: need MAIL command")
    expect(c.cmd("MAIL FROM:<real@example.org>"), 250)
    expect(c.cmd(f"RCPT TO:<{RCPT1}>"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    log_has(inst, "discarded", "after STARTTLS")


# ---- mail over TLS -----------------------------------------------------

def test_encrypt_level_requires_starttls(make_instance, tls_ca):
    inst = make_instance(tls_conf(tls_ca, level="encrypt"))
    c, lines = connect(inst)
    assert "250-STARTTLS" in lines, lines
    expect(c.cmd("MAIL FROM:<a@example.org>"), 530,
           "530 5.7.0 Must issue a STARTTLS command first")
    start_tls(c, tls_ca)
    expect(c.cmd("EHLO tls.example"), 250)
    body = send_message(c, RCPT1, "encrypt-level")
    expect(c.cmd("QUIT"), 221)
    c.close()
    data = delivered_one("terntest1", "encrypt-level")
    assert data.endswith(body), data[-300:]
    assert b" with ESMTPS " in received_header(data), data[:400]


def test_received_header_esmtps_and_esmtp(make_instance, tls_ca):
    """Over TLS: 'with ESMTPS'; in the clear, in the same instance:
    'with ESMTP' as before."""
    inst = make_instance(tls_conf(tls_ca))
    c, _ = connect(inst)
    start_tls(c, tls_ca)
    expect(c.cmd("EHLO tls.example"), 250)
    tls_body = send_message(c, RCPT1, "over-tls")
    expect(c.cmd("QUIT"), 221)
    c.close()
    c, _ = connect(inst, helo="plain.example")
    plain_body = send_message(c, RCPT2, "in-clear")
    expect(c.cmd("QUIT"), 221)
    c.close()
    data = delivered_one("terntest1", "over-tls")
    assert data.endswith(tls_body), data[-300:]
    rcvd = received_header(data)
    assert b" with ESMTPS " in rcvd, rcvd
    data = delivered_one("terntest2", "in-clear")
    assert data.endswith(plain_body), data[-300:]
    rcvd = received_header(data)
    assert b" with ESMTP " in rcvd and b"ESMTPS" not in rcvd, rcvd


def test_smtplib_starttls_end_to_end(make_instance, tls_ca):
    """Python's smtplib, verifying the certificate for 127.0.0.1; the
    certificate and key in one file (smtpd_tls_key_file unset)."""
    inst = make_instance(tls_conf(tls_ca, combined=True))
    body = b"Subject: smtplib-tls\r\nX-Token: smtplib-tls\r\n\r\nvia smtplib\r\n"
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=20) as s:
        s.ehlo("smtplib.example")
        assert s.has_extn("starttls"), s.esmtp_features
        code, msg = s.starttls(context=client_context(tls_ca))
        assert code == 220 and msg == b"2.0.0 Ready to start TLS", (code, msg)
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.ehlo("smtplib.example")
        assert not s.has_extn("starttls"), s.esmtp_features
        refused = s.sendmail("py@example.org", [RCPT1], body)
        assert refused == {}
    data = delivered_one("terntest1", "smtplib-tls")
    assert data.endswith(body.replace(b"\r\n", b"\n")), data[-300:]
    assert b" with ESMTPS " in received_header(data), data[:400]


def test_openssl_s_client_interop(make_instance, tls_ca):
    inst = make_instance(tls_conf(tls_ca))
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"127.0.0.1:{inst.port}", "-quiet", "-CAfile",
                        str(tls_ca / "ca.pem"), "-verify_ip", "127.0.0.1",
                        "-verify_return_error"],
                       input=b"EHLO x\r\nQUIT\r\n", capture_output=True, timeout=30)
    out = r.stdout.decode("latin-1")
    assert re.search(r"^250[ -]", out, re.M), (out, r.stderr)
    assert re.search(r"^221 ", out, re.M), (out, r.stderr)
    assert "STARTTLS" not in out, out
    log_has(inst, "TLS connection established from [127.0.0.1]: ")


# ---- failures -----------------------------------------------------------

def test_garbage_instead_of_client_hello(make_instance, tls_ca):
    """Not TLS after the 220: disconnected, logged, and the smtpd process
    lives on to serve the next client."""
    inst = make_instance(tls_conf(tls_ca))
    before = sorted(inst.services()["smtpd"])
    c, _ = connect(inst)
    expect(c.cmd("STARTTLS"), 220, READY)
    c.send(b"this is not a TLS ClientHello\r\n" * 8)
    c.eof_within(10)
    c.close()
    log_has(inst, "TLS handshake failed from [127.0.0.1]")
    c, lines = connect(inst)
    assert "250-STARTTLS" in lines, lines
    start_tls(c, tls_ca)
    expect(c.cmd("EHLO tls.example"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    assert sorted(inst.services()["smtpd"]) == before


def test_silent_client_after_starttls_times_out(make_instance, tls_ca):
    inst = make_instance(tls_conf(tls_ca, extra="smtpd_starttls_timeout = 2s\n"))
    c, _ = connect(inst)
    expect(c.cmd("STARTTLS"), 220, READY)
    took = c.eof_within(15)
    assert took >= 1.0, f"closed after {took:.2f}s, before the 2 s time-out"
    c.close()
    c, _ = connect(inst)
    expect(c.cmd("QUIT"), 221)
    c.close()


def test_may_without_certificate_is_off(make_instance):
    """TLS was asked for but cannot be had: not offered, mail still taken
    in the clear, and a client that tries STARTTLS anyway is told it is a
    local, temporary problem (as Postfix answers), not that the command
    does not exist."""
    inst = make_instance("smtpd_tls_security_level = may\n")
    c, lines = connect(inst)
    assert "STARTTLS" not in keywords(lines), lines
    expect(c.cmd("STARTTLS"), 454, LOCAL_PROBLEM)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    log_has(inst, "STARTTLS is off")


def test_encrypt_with_missing_certificate(make_instance, tls_ca):
    inst = make_instance("smtpd_tls_security_level = encrypt\n"
                         f"smtpd_tls_cert_file = {tls_ca / 'no-such-cert.pem'}\n")
    c, lines = connect(inst)
    assert "STARTTLS" not in keywords(lines), lines
    expect(c.cmd("STARTTLS"), 454, LOCAL_PROBLEM)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 454, LOCAL_PROBLEM)
    expect(c.cmd("QUIT"), 221)
    c.close()


# ---- found by review (helper-76) ----------------------------------------

def client_hello():
    """The first flight of a real TLS client, as bytes."""
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context().wrap_bio(inb, outb,
                                                server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outb.read()
    assert len(hello) > 100 and hello[0] == 0x16, hello[:8]
    return hello


def test_handshake_deadline_not_extended_by_trickle(make_instance, tls_ca):
    """smtpd_starttls_timeout bounds the whole handshake: a ClientHello
    trickled in a byte at a time must not restart it (it did, and a
    session could be held for as long as the hello lasted)."""
    inst = make_instance(tls_conf(tls_ca, extra="smtpd_starttls_timeout = 2s\n"))
    c, _ = connect(inst)
    expect(c.cmd("STARTTLS"), 220, READY)
    hello = client_hello()
    t0 = time.monotonic()
    closed = False
    for byte in hello[:-1]:                 # never the whole hello
        if time.monotonic() - t0 > 12:
            break
        try:
            c.sock.sendall(bytes([byte]))
            c.sock.settimeout(0.25)         # the trickle's pace
            closed = c.sock.recv(65536) == b""
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if closed:
            break
    took = time.monotonic() - t0
    c.close()
    assert closed, f"handshake still open after {took:.1f}s of trickle"
    assert 1.0 <= took < 8, f"closed after {took:.1f}s (deadline 2 s)"
    log_has(inst, "TLS handshake failed from [127.0.0.1]: timeout")


def test_refused_starttls_counts_as_junk(make_instance, tls_ca):
    """454 is no error, so STARTTLS and MAIL refused for want of TLS count
    as junk: a client cannot ask for ever."""
    inst = make_instance("smtpd_tls_security_level = encrypt\n"
                         f"smtpd_tls_cert_file = {tls_ca / 'no-such-cert.pem'}\n"
                         "smtpd_junk_command_limit = 5\n")
    c, _ = connect(inst)
    for cmd in ["STARTTLS", "MAIL FROM:<a@example.org>"] * 2 + ["STARTTLS"]:
        expect(c.cmd(cmd), 454, LOCAL_PROBLEM)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 454, LOCAL_PROBLEM)
    code, lines = c.reply()
    assert code == 421 and "4.7.0" in lines[-1] and "junk" in lines[-1], lines
    c.eof_within(10)
    c.close()


def test_help_lists_starttls_only_when_offered(make_instance, tls_ca):
    plain = make_instance()
    c, _ = connect(plain)
    lines = expect(c.cmd("HELP"), 214)
    assert "STARTTLS" not in lines[-1], lines
    c.close()
    inst = make_instance(tls_conf(tls_ca))
    c, _ = connect(inst)
    lines = expect(c.cmd("HELP"), 214)
    assert lines[-1].endswith(" QUIT STARTTLS"), lines
    start_tls(c, tls_ca)
    lines = expect(c.cmd("HELP"), 214)
    assert "STARTTLS" not in lines[-1], lines
    expect(c.cmd("QUIT"), 221)
    c.close()


def server_send_space(port, cport):
    """Free bytes in smtpd's send buffer for the connection from cport
    (ss -m: snd_buf minus wmem_queued), or None if ss does not show it."""
    if shutil.which("ss") is None:
        return None
    out = subprocess.run(["ss", "-tmnH", f"( sport = :{port} and dport = :{cport} )"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"tb(\d+),f\d+,w(\d+)", out)
    return int(m.group(1)) - int(m.group(2)) if m else None


def smtpd_cpu_ticks(inst):
    total = 0
    for pid in inst.services().get("smtpd", []):
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def test_handshake_waiting_to_write_does_not_spin(make_instance, tls_ca):
    """A handshake whose reply the socket cannot take waits for the socket
    alone: with input pending, the read event used to fire again and again
    (smtpd at 100 % CPU, the deadline never reached).  The client fills
    smtpd's send buffer to the last few bytes (never reading), so that the
    220 fits and the ServerHello does not, then sends a ClientHello and a
    byte every 0.25 s."""
    # Thousands of EHLOs fill the buffer: not junk here.
    inst = make_instance(tls_conf(tls_ca, extra="smtpd_starttls_timeout = 3s\n"
                                  "smtpd_junk_command_limit = 1000000\n"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.settimeout(10)
    s.connect(("127.0.0.1", inst.port))
    cport = s.getsockname()[1]
    assert s.recv(4096).startswith(b"220"), "no greeting"
    t_end = time.monotonic() + 60
    space = server_send_space(inst.port, cport)
    if space is None:
        pytest.skip("ss shows no socket memory here")
    while space is not None and space > 60000 and time.monotonic() < t_end:
        s.sendall(b"EHLO x\r\n" * 200)
        time.sleep(0.02)                    # let smtpd answer the batch
        space = server_send_space(inst.port, cport)
    while space is not None and space > 30 and time.monotonic() < t_end:
        s.sendall(b"HELO x\r\n" * (1 if space < 2000 else 20))
        time.sleep(0.01)
        space = server_send_space(inst.port, cport)
    assert space is not None, "smtpd closed the connection while it was filled"
    s.sendall(b"STARTTLS\r\n")
    hello = client_hello()
    before = smtpd_cpu_ticks(inst)
    s.sendall(hello)
    t0 = time.monotonic()
    gone = False
    while time.monotonic() - t0 < 8 and not gone:
        try:
            s.send(b"\x17")                 # input OpenSSL will not read
        except OSError:
            gone = True
        time.sleep(0.25)
    ticks = smtpd_cpu_ticks(inst) - before
    s.close()
    timed_out = [l for l in inst.log().splitlines()
                 if "TLS handshake failed from [127.0.0.1]: timeout" in l]
    # A spin costs a whole CPU: ~800 ticks in these 8 s.
    assert ticks < 150, f"smtpd used {ticks} ticks while the handshake waited"
    if not timed_out:
        pytest.skip("the send buffer could not be filled to the byte here "
                    "(the 220 never went out), so the case was not reached")
    c, _ = connect(inst)                     # still serving
    expect(c.cmd("QUIT"), 221)
    c.close()
