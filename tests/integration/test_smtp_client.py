"""The SMTP client daemon (smtp), end to end: the real binary, started the
way the master starts it (listening socket on fd 3), given delivery
requests (proto_deliver.h) for queue files placed in its active/ directory,
delivering to real SMTP servers on loopback addresses: aiosmtpd for the
well-behaved ones, small scripted servers for the misbehaving ones.

Each test checks what the receiver got (byte for byte where it matters)
and the per-recipient outcome the daemon answered.
"""

import getpass
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

import ternipc
from conftest import BUILD, wait_for
from dnszone import Zone, make_dns_server  # noqa: F401 (fixture)
from test_resolver import Resolver

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

SMTP = BUILD / "bin" / "smtp"
LISTEN_FD = 3
DELIVER_T_REQUEST = 0x20
DELIVER_T_REPLY = 0x21
HOST = "127.0.0.1"


def queue_file(qid, sender, rcpts, body, smtputf8=0, bodytype="", ret="",
               envid="", orcpt="", notify=""):
    head = (f"tern-queue 2\nid {qid}\ntime 1700000000\nsize {len(body):020d}\n"
            f"from {sender}\nclient 127.0.0.1\nhelo test\nbody {bodytype}\n"
            f"smtputf8 {smtputf8}\nret {ret}\nenvid {envid}\n")
    for r in rcpts:
        head += f"rcpt P {r}\norcpt {orcpt}\nnotify {notify}\n"
    head += "data\n"
    return head.encode(), head.encode() + body


def wire_form(body):
    """What the receiver must see of a stored message: every LF, CRLF and
    bare CR one CRLF (aiosmtpd undoes the dot-stuffing)."""
    b = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    b = b.replace(b"\n", b"\r\n")
    if not b.endswith(b"\r\n"):
        b += b"\r\n"
    return b


class SmtpDaemon:
    """One smtp process with its own tern.conf, queue directory, socket."""

    def __init__(self, extra_conf="", service="smtp"):
        self.dir = Path(tempfile.mkdtemp(prefix="tern-smtp-"))
        self.dir.chmod(0o755)
        (self.dir / "active").mkdir(mode=0o700)
        (self.dir / "private").mkdir(mode=0o700)
        self.service = service      # "lmtp": the same program as the LMTP client
        self.sock_path = self.dir / "private" / service
        self.conf = self.dir / "tern.conf"
        self.logfile = self.dir / "smtp.log"
        self.conf.write_text(f"queue_directory = {self.dir}\n"
                             "myhostname = client.example\n" + extra_conf)
        self.proc = None
        self.ids = itertools.count(1)

    def start(self):
        if not os.access(SMTP, os.X_OK):
            pytest.fail(f"{SMTP} is not built")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.sock_path))
        listener.listen(128)
        fd = listener.fileno()

        def to_fd3():
            if fd != LISTEN_FD:
                os.dup2(fd, LISTEN_FD)
            else:
                os.set_inheritable(LISTEN_FD, True)

        args = [str(SMTP), "-c", str(self.conf), "-s", self.service,
                "-u", getpass.getuser(), "-f", "-l", "-v"]
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         close_fds=False, preexec_fn=to_fd3)
        listener.close()
        wait_for(self._answers, timeout=10, what="smtp to answer")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"smtp exited {self.proc.returncode}:\n{self.log()}")
        try:
            r = ternipc.call(self.sock_path, ternipc.IPC_T_OK, {"v": "3"}, 2)
            return r.type == ternipc.IPC_T_ERROR
        except (OSError, ternipc.FrameError):
            return False

    def deliver(self, nexthop, rcpts, body, sender="sender@client.example",
                timeout=30, **kw):
        qid = f"SMTPTEST{next(self.ids)}"
        head, data = queue_file(qid, sender, rcpts, body, **kw)
        (self.dir / "active" / qid).write_bytes(data)
        self.last_qid = qid
        return self.request(qid, len(head), nexthop, rcpts, sender, timeout)

    def request(self, qid, offset, nexthop, rcpts, sender="sender@client.example",
                timeout=30):
        """The delivery request for active/qid, as qmgr sends it."""
        attrs = {"v": "3", "id": qid, "path": f"active/{qid}",
                 "offset": str(offset), "sender": sender,
                 "nexthop": nexthop, "nrcpt": str(len(rcpts))}
        for i, r in enumerate(rcpts):
            attrs[f"rcpt.{i}"] = r
        reply = ternipc.call(self.sock_path, DELIVER_T_REQUEST, attrs, timeout)
        assert reply.type == DELIVER_T_REPLY, (reply, self.log())
        self.last_reply = reply
        return [(reply[f"status.{i}"], reply[f"dsn.{i}"], reply[f"text.{i}"])
                for i in range(len(rcpts))]

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"smtp ignored SIGTERM:\n{self.log()}")
        rc = self.proc.returncode if self.proc else 0
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


@pytest.fixture
def make_smtp():
    made = []

    def make(extra_conf="", service="smtp"):
        d = SmtpDaemon(extra_conf, service).start()
        made.append(d)
        return d
    yield make
    for d in made:
        log = d.log()
        assert d.stop() == 0, f"{d.service} did not stop cleanly:\n{log}"


class Sink:
    """aiosmtpd handler: keeps every message; optional RCPT refusals."""

    def __init__(self, refuse=None):
        self.messages = []
        self.refuse = refuse or {}

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content,
                              list(envelope.mail_options),
                              list(envelope.rcpt_options),
                              session.ssl is not None, session.host_name))
        return "250 2.0.0 queued as X"


def free_port(host=HOST):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture
def receiver():
    started = []

    def make(host=HOST, **kw):
        handler = kw.pop("handler", None) or Sink()
        port = free_port(host)
        c = Controller(handler, hostname=host, port=port, **kw)
        c.start()
        started.append(c)
        return handler, f"[{host}]:{port}"
    yield make
    for c in started:
        c.stop()


class Scripted:
    """A raw SMTP server on a thread that follows a script per connection:
    script(conn) talks on the socket itself."""

    def __init__(self, script, host=HOST):
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.nexthop = f"[{host}]:{self.sock.getsockname()[1]}"
        self.script = script
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(20)
                try:
                    self.script(self, conn)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.sock.close()


def read_line(conn, buf=bytearray()):
    while b"\n" not in buf:
        d = conn.recv(4096)
        if not d:
            raise OSError("eof")
        buf += d
    i = buf.index(b"\n") + 1
    line = bytes(buf[:i])
    del buf[:i]
    return line


def greet_to_data(srv, conn):
    """Greet, answer EHLO without extensions, MAIL, RCPT, DATA 354."""
    buf = bytearray()
    conn.sendall(b"220 scripted ESMTP\r\n")
    while True:
        line = read_line(conn, buf)
        srv.seen.append(line)
        verb = line[:4].upper()
        if verb == b"EHLO":
            conn.sendall(b"250 scripted\r\n")
        elif verb in (b"MAIL", b"RCPT"):
            conn.sendall(b"250 ok\r\n")
        elif verb == b"DATA":
            conn.sendall(b"354 go\r\n")
            return buf
        else:
            conn.sendall(b"502 no\r\n")


BODY = (b"Subject: test\n\nline one\n.leading dot\n..two dots\n.\nlast\n")


def test_delivered_byte_exact(make_smtp, receiver):
    sink, hop = receiver()
    d = make_smtp()
    out = d.deliver(hop, ["a@remote.example", "b@remote.example"], BODY)
    assert [o[0] for o in out] == ["ok", "ok"], (out, d.log())
    assert out[0][1] == "2.0.0"
    assert len(sink.messages) == 1
    mail_from, rcpts, content, _, _, tls, helo = sink.messages[0]
    assert helo == "client.example"     # smtp_helo_name = $myhostname
    assert mail_from == "sender@client.example"
    assert rcpts == ["a@remote.example", "b@remote.example"]
    assert content == wire_form(BODY)
    assert "status=sent" in d.log()


def test_smuggling_sequences_arrive_as_one_message(make_smtp, receiver):
    sink, hop = receiver()
    d = make_smtp()
    body = (b"Subject: smuggle\n\nx\n.\r\nMAIL FROM:<evil@x>\r\n"
            b"RCPT TO:<victim@remote.example>\r\nDATA\r\nsmuggled\r\n.\r\n"
            b"y\r.\rMAIL FROM:<evil2@x>\r\n"
            b"z\n.\nRCPT TO:<v2@x>\n"
            b"bare\r\n.\n\r\n.\r\r\nend")
    out = d.deliver(hop, ["a@remote.example"], body)
    assert out[0][0] == "ok", (out, d.log())
    assert len(sink.messages) == 1
    content = sink.messages[0][2]
    assert content == wire_form(body)
    assert b"MAIL FROM:<evil@x>" in content
    assert sink.messages[0][1] == ["a@remote.example"]


def test_rcpt_5xx_bounces_with_remote_text(make_smtp, receiver):
    sink, hop = receiver(handler=Sink(refuse={
        "gone@remote.example": "550 5.1.1 <gone@remote.example>: user unknown"}))
    d = make_smtp()
    out = d.deliver(hop, ["gone@remote.example", "ok@remote.example"], BODY)
    assert out[0][0] == "bounce" and out[0][1] == "5.1.1", out
    assert "user unknown" in out[0][2] and "127.0.0.1" in out[0][2]
    assert out[1][0] == "ok"
    assert sink.messages[0][1] == ["ok@remote.example"]


def test_rcpt_4xx_defers(make_smtp, receiver):
    sink, hop = receiver(handler=Sink(refuse={
        "later@remote.example": "452 4.2.2 mailbox full"}))
    d = make_smtp()
    out = d.deliver(hop, ["later@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.2.2", out
    assert "mailbox full" in out[0][2]
    assert sink.messages == []


def test_greeting_4xx_defers(make_smtp):
    def script(srv, conn):
        conn.sendall(b"421 4.3.2 busy, come back later\r\n")
    srv = Scripted(script)
    try:
        d = make_smtp()
        out = d.deliver(srv.nexthop, ["a@remote.example"], BODY)
        assert out[0][0] == "defer", out
        assert "busy" in out[0][2]
    finally:
        srv.close()


def test_connection_refused_defers(make_smtp):
    d = make_smtp()
    out = d.deliver(f"[{HOST}]:{free_port()}", ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.4.1", out


def test_drop_mid_data_defers(make_smtp):
    def script(srv, conn):
        buf = greet_to_data(srv, conn)
        read_line(conn, buf)    # one line of the message, then hang up
    srv = Scripted(script)
    try:
        d = make_smtp()
        out = d.deliver(srv.nexthop, ["a@remote.example"], BODY * 100)
        assert out[0][0] == "defer" and out[0][1] == "4.4.2", out
        assert "lost connection" in out[0][2]
    finally:
        srv.close()


def test_stall_after_dot_times_out_and_defers(make_smtp):
    def script(srv, conn):
        buf = greet_to_data(srv, conn)
        while read_line(conn, buf) != b".\r\n":
            pass
        srv.seen.append(b"dot")
        conn.recv(1)            # never answer the dot
    srv = Scripted(script)
    try:
        d = make_smtp("smtp_data_done_timeout = 2s\n")
        out = d.deliver(srv.nexthop, ["a@remote.example"], BODY)
        assert b"dot" in srv.seen
        assert out[0][0] == "defer", out
        assert "timed out" in out[0][2], out
    finally:
        srv.close()


def test_size_too_big_bounces_without_sending(make_smtp, receiver):
    sink, hop = receiver(data_size_limit=100)
    d = make_smtp()
    out = d.deliver(hop, ["a@remote.example"], b"x" * 500 + b"\n")
    assert out[0][0] == "bounce" and out[0][1] == "5.3.4", out
    assert sink.messages == []


def test_smtputf8_required_but_not_offered_bounces(make_smtp, receiver):
    sink, hop = receiver(enable_SMTPUTF8=False)
    d = make_smtp()
    out = d.deliver(hop, ["a@remote.example"], BODY, smtputf8=1)
    assert out[0][0] == "bounce" and out[0][1] == "5.6.7", out
    assert sink.messages == []


def test_mail_parameters_passed_on(make_smtp, receiver):
    sink, hop = receiver(enable_SMTPUTF8=True)
    d = make_smtp()
    out = d.deliver(hop, ["a@remote.example"], BODY, smtputf8=1,
                    bodytype="8BITMIME")
    assert out[0][0] == "ok", (out, d.log())
    opts = sink.messages[0][3]
    assert "SMTPUTF8" in opts and "BODY=8BITMIME" in opts, opts
    assert any(o.startswith("SIZE=") for o in opts), opts


# ---- STARTTLS ---------------------------------------------------------

@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    """A CA, and two server certificates it signed: one for the address
    127.0.0.1, one for a name the client will not be asked for."""
    d = tmp_path_factory.mktemp("ca")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True,
                       capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=tern test CA")
    for name, san in (("ip", "IP:127.0.0.1"), ("wrong", "DNS:wrong.example")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}.example")
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext")
    return d


def tls_context(ca, name):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(ca / f"{name}.pem", ca / f"{name}.key")
    return ctx


def test_tls_may_without_trust_delivers_encrypted(make_smtp, receiver, test_ca):
    sink, hop = receiver(tls_context=tls_context(test_ca, "wrong"))
    d = make_smtp()         # default level "may", no CA file: untrusted
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert sink.messages[0][5] is True, "not delivered over TLS"
    assert "TLS connection established" in d.log()
    assert "untrusted" in d.log()


def test_tls_verify_delivers_when_trusted(make_smtp, receiver, test_ca):
    sink, hop = receiver(tls_context=tls_context(test_ca, "ip"))
    d = make_smtp(f"smtp_tls_security_level = verify\n"
                  f"smtp_tls_CAfile = {test_ca / 'ca.pem'}\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert sink.messages[0][5] is True
    assert "trusted" in d.log()


def test_tls_verify_wrong_name_defers(make_smtp, receiver, test_ca):
    sink, hop = receiver(tls_context=tls_context(test_ca, "wrong"))
    d = make_smtp(f"smtp_tls_security_level = verify\n"
                  f"smtp_tls_CAfile = {test_ca / 'ca.pem'}\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.5", (out, d.log())
    assert "not verified" in out[0][2]
    assert sink.messages == []


def test_tls_encrypt_without_starttls_defers(make_smtp, receiver):
    sink, hop = receiver()
    d = make_smtp("smtp_tls_security_level = encrypt\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.4", (out, d.log())
    assert sink.messages == []


def test_many_parallel_deliveries_one_process(make_smtp, receiver):
    sink, hop = receiver()
    d = make_smtp()
    results = []

    def one(i):
        results.append(d.deliver(hop, [f"r{i}@remote.example"], BODY))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 20
    assert all(r[0][0] == "ok" for r in results), results
    assert len(sink.messages) == 20


# ---- MX lookups through the resolver and a real DNS server ------------

MX_ZONES = [Zone("example", records=[
    # best host refuses connections, the second one takes the mail
    "mxtest.example. MX 10 dead.mxtest.example.",
    "mxtest.example. MX 20 live.mxtest.example.",
    "dead.mxtest.example. A 127.0.0.3",
    "live.mxtest.example. A 127.0.0.2",
    # no MX: the implicit MX
    "implicit.example. A 127.0.0.2",
    "nullmx.example. MX 0 .",
    # the best host is this machine (myhostname client.example)
    "loop.example. MX 10 client.example.",
    "loop.example. MX 20 live.mxtest.example.",
    "client.example. A 127.0.0.4",
])]


@pytest.fixture(scope="module")
def mx_resolver(make_dns_server):
    dns = make_dns_server(MX_ZONES)
    r = Resolver(dns.nameserver).start()
    yield r
    r.stop()
    r.cleanup()


def smtp_with_resolver(make_smtp, resolver):
    d = make_smtp()
    os.symlink(resolver.sock_path, d.dir / "private" / "resolver")
    return d


def test_mx_next_host_after_refusal(make_smtp, receiver, mx_resolver):
    sink, hop = receiver(host="127.0.0.2")
    port = hop.rsplit(":", 1)[1]
    d = smtp_with_resolver(make_smtp, mx_resolver)
    out = d.deliver(f"mxtest.example:{port}", ["a@mxtest.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(sink.messages) == 1
    assert "dead.mxtest.example[127.0.0.3]" in d.log()
    assert "relay=live.mxtest.example[127.0.0.2]" in d.log()


def test_mx_implicit(make_smtp, receiver, mx_resolver):
    sink, hop = receiver(host="127.0.0.2")
    port = hop.rsplit(":", 1)[1]
    d = smtp_with_resolver(make_smtp, mx_resolver)
    out = d.deliver(f"implicit.example:{port}", ["a@implicit.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(sink.messages) == 1


def test_null_mx_bounces(make_smtp, mx_resolver):
    d = smtp_with_resolver(make_smtp, mx_resolver)
    out = d.deliver("nullmx.example", ["a@nullmx.example"], BODY)
    assert out[0][0] == "bounce" and out[0][1] == "5.1.10", out


def test_mx_loop_bounces(make_smtp, mx_resolver):
    d = smtp_with_resolver(make_smtp, mx_resolver)
    out = d.deliver("loop.example", ["a@loop.example"], BODY)
    assert out[0][0] == "bounce" and out[0][1] == "5.4.6", out
    assert "loops back to myself" in out[0][2]


def test_no_resolver_defers(make_smtp):
    d = make_smtp()
    out = d.deliver("mxtest.example", ["a@mxtest.example"], BODY)
    assert out[0][0] == "defer", out


def test_pipelining_and_dsn_parameters(make_smtp):
    """A server offering PIPELINING and DSN: MAIL, every RCPT and DATA go
    out in one write, with the DSN fields of the queue file (xtext)."""
    def script(srv, conn):
        buf = bytearray()
        conn.sendall(b"220 scripted ESMTP\r\n")
        read_line(conn, buf)
        conn.sendall(b"250-scripted\r\n250-PIPELINING\r\n250-DSN\r\n"
                     b"250 SIZE 1000000\r\n")
        # Everything up to DATA arrives before any reply is sent.
        while b"DATA\r\n" not in buf:
            d = conn.recv(4096)
            if not d:
                return
            buf += d
        cmds = bytes(buf).split(b"\r\n")[:-1]
        del buf[:]
        srv.seen.extend(cmds)
        replies = b"250 2.1.0 ok\r\n"
        for c in cmds[1:-1]:
            replies += (b"550 5.1.1 no such user\r\n" if b"bad@" in c
                        else b"250 2.1.5 ok\r\n")
        conn.sendall(replies + b"354 go\r\n")
        while read_line(conn, buf) != b".\r\n":
            pass
        conn.sendall(b"250 2.0.0 accepted\r\n")
        read_line(conn, buf)
        conn.sendall(b"221 bye\r\n")
    srv = Scripted(script)
    try:
        d = make_smtp()
        out = d.deliver(srv.nexthop, ["a@remote.example", "bad@remote.example",
                                      "c@remote.example"], BODY,
                        ret="HDRS", envid="id+x=y", orcpt="rfc822;a+b@x",
                        notify="SUCCESS,FAILURE")
        assert [o[0] for o in out] == ["ok", "bounce", "ok"], (out, d.log())
        assert out[1][1] == "5.1.1" and "no such user" in out[1][2]
        assert srv.seen[0] == (b"MAIL FROM:<sender@client.example> SIZE=%d "
                               b"RET=HDRS ENVID=id+2Bx+3Dy" % len(BODY))
        assert srv.seen[1] == (b"RCPT TO:<a@remote.example> "
                               b"NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@x")
        assert srv.seen[-1] == b"DATA"
    finally:
        srv.close()


# ---- exactly once: the next hop's acceptance recorded in the queue file --


def test_accepted_recipients_recorded_before_the_reply(make_smtp, receiver):
    sink, hop = receiver(handler=Sink(refuse={"no@remote.example":
                                              "550 5.1.1 no such user"}))
    d = make_smtp()
    rcpts = ["a@remote.example", "no@remote.example", "b@remote.example"]
    out = d.deliver(hop, rcpts, BODY)
    assert [o[0] for o in out] == ["ok", "bounce", "ok"], out
    data = (d.dir / "active" / d.last_qid).read_bytes()
    # The client marks only what the next hop accepted; bounces are qmgr's.
    assert b"rcpt D a@remote.example\n" in data
    assert b"rcpt P no@remote.example\n" in data
    assert b"rcpt D b@remote.example\n" in data
    # qmgr asks again (its reply was lost): nothing is sent twice.
    head = data[:data.index(b"\ndata\n") + 6]
    again = d.request(d.last_qid, len(head), hop, ["a@remote.example", "b@remote.example"])
    assert [o[0] for o in again] == ["ok", "ok"], again
    assert all("delivered already" in o[2] for o in again), again
    assert len(sink.messages) == 1
    # A request mixing a recorded and an open recipient sends only the open one.
    mixed = d.request(d.last_qid, len(head), hop, ["a@remote.example", "no@remote.example"])
    assert mixed[0][0] == "ok" and mixed[1][0] == "bounce", mixed
    assert len(sink.messages) == 1, "no message: the only RCPT was refused"


# ---- connection reuse ---------------------------------------------------


class CountingSink(Sink):
    """A Sink that also counts the connections (one EHLO peer each)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.peers = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.peers.add(session.peer)
        session.host_name = hostname
        return responses


def test_session_reused_for_the_next_message(make_smtp, receiver):
    sink, hop = receiver(handler=CountingSink())
    d = make_smtp("smtp_connection_cache_time_limit = 10s\n")
    for i in range(5):
        out = d.deliver(hop, [f"r{i}@remote.example"], BODY)
        assert out[0][0] == "ok", (out, d.log())
    assert len(sink.messages) == 5
    assert len(sink.peers) == 1, f"{len(sink.peers)} connections for 5 messages"
    assert "conn_use=5" in d.log()
    assert all(m[2] == wire_form(BODY) for m in sink.messages)


def test_reuse_count_limit(make_smtp, receiver):
    sink, hop = receiver(handler=CountingSink())
    d = make_smtp("smtp_connection_cache_time_limit = 10s\n"
                  "smtp_connection_reuse_count_limit = 1\n")
    for i in range(4):
        assert d.deliver(hop, [f"r{i}@remote.example"], BODY)[0][0] == "ok"
    assert len(sink.messages) == 4
    assert len(sink.peers) == 2, "each session serves two messages"


def test_no_reuse_when_cache_time_is_zero(make_smtp, receiver):
    sink, hop = receiver(handler=CountingSink())
    d = make_smtp("smtp_connection_cache_time_limit = 0\n")
    for i in range(3):
        assert d.deliver(hop, [f"r{i}@remote.example"], BODY)[0][0] == "ok"
    assert len(sink.peers) == 3


def test_idle_session_closed_after_cache_time(make_smtp, receiver):
    sink, hop = receiver(handler=CountingSink())
    d = make_smtp("smtp_connection_cache_time_limit = 1s\n")
    assert d.deliver(hop, ["a@remote.example"], BODY)[0][0] == "ok"
    wait_for(lambda: "cached session" in d.log() and "closed" in d.log(), timeout=10,
             what="the idle session to be closed")
    assert d.deliver(hop, ["b@remote.example"], BODY)[0][0] == "ok"
    assert len(sink.peers) == 2


def test_reuse_after_the_server_refuses_rset_connects_anew(make_smtp):
    srv = reuse_script(rset_refused)
    try:
        two_messages(make_smtp, srv)
        assert srv.messages == 2 and srv.conns == 2
    finally:
        srv.close()


def reuse_handler(on_rset, ehlo=b"250-scripted\r\n250 PIPELINING\r\n",
                  rcpt_reply=None):
    """A script (for Scripted) of a server that takes messages one after
    the other on a connection, noting (connection, verb) in srv.seen;
    on_rset(srv, conn, buf) answers RSET itself and returns False to end
    the connection; rcpt_reply(srv), when given, is RCPT's reply."""
    def script(srv, conn):
        buf = bytearray()
        srv.conns += 1
        conn.sendall(b"220 scripted ESMTP\r\n")
        while True:
            line = read_line(conn, buf)
            verb = line[:4].upper()
            srv.seen.append((srv.conns, verb))
            if verb == b"EHLO":
                conn.sendall(ehlo)
            elif verb == b"MAIL":
                conn.sendall(b"250 ok\r\n")
            elif verb == b"RCPT":
                conn.sendall(rcpt_reply(srv) if rcpt_reply else b"250 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go\r\n")
                while read_line(conn, buf) != b".\r\n":
                    pass
                srv.messages += 1
                conn.sendall(b"250 queued\r\n")
            elif verb == b"RSET":
                if not on_rset(srv, conn, buf):
                    return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")
    return script


def rset_refused(srv, conn, buf):
    """An on_rset for reuse_handler: the server goes away at RSET."""
    conn.sendall(b"421 4.4.2 going away\r\n")
    return False


def rset_ok(srv, conn, buf):
    conn.sendall(b"250 ok\r\n")
    return True


def read_ahead(srv, conn, buf):
    """In on_rset: the verb of the next command if it comes within 5 s
    (RSET was pipelined with it) into srv.ahead, else b""."""
    conn.settimeout(5)
    try:
        srv.ahead = read_line(conn, buf)[:4].upper()
    except OSError:
        srv.ahead = b""
    conn.settimeout(20)


def two_messages(make_smtp, srv, extra=""):
    """Two messages to srv's next hop with sessions cached (the second may
    reuse the first's); both must be delivered.  The SMTP client back."""
    d = make_smtp("smtp_connection_cache_time_limit = 10s\n" + extra)
    assert d.deliver(srv.nexthop, ["a@remote.example"], BODY)[0][0] == "ok"
    out = d.deliver(srv.nexthop, ["b@remote.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    return d


def reuse_script(on_rset, **kw):
    """A Scripted server running reuse_handler(on_rset, **kw)."""
    srv = Scripted(reuse_handler(on_rset, **kw))
    srv.conns = srv.messages = 0
    srv.ahead = None
    return srv


def test_reuse_sends_rset_with_the_envelope(make_smtp):
    """On a reused session to a PIPELINING server, RSET goes out with MAIL,
    RCPT and DATA: the server sees MAIL before it has answered RSET (no
    round trip of its own), and the message arrives once."""
    def on_rset(srv, conn, buf):
        # Answer RSET only after the next command has arrived (or 5 s).
        read_ahead(srv, conn, buf)
        conn.sendall(b"250 reset\r\n")
        if srv.ahead == b"MAIL":
            conn.sendall(b"250 ok\r\n")
        return True
    srv = reuse_script(on_rset)
    try:
        two_messages(make_smtp, srv)
        assert srv.ahead == b"MAIL", srv.ahead
        assert srv.messages == 2 and srv.conns == 1
    finally:
        srv.close()


def test_reuse_connection_closed_at_rset_connects_anew(make_smtp):
    """The cached connection ends without a word when RSET and the
    envelope arrive: nothing can have been delivered, so the message goes
    on a new connection, once."""
    def on_rset(srv, conn, buf):
        read_ahead(srv, conn, buf)
        return False
    srv = reuse_script(on_rset)
    try:
        two_messages(make_smtp, srv)
        assert srv.ahead == b"MAIL", srv.ahead
        assert srv.messages == 2 and srv.conns == 2
    finally:
        srv.close()


# ---- smtp_tls_policy_maps ----------------------------------------------


def make_with_policy(make_smtp, text, extra=""):
    tmp = Path(tempfile.mkdtemp(prefix="tern-policy-"))
    tmp.chmod(0o755)
    path = tmp / "tls_policy"
    path.write_text(text)
    path.chmod(0o644)
    return make_smtp(f"smtp_tls_policy_maps = texthash:{path}\n" + extra)


def test_tls_policy_encrypt_for_one_next_hop(make_smtp, receiver):
    plain_sink, plain = receiver()
    other_sink, other = receiver()
    d = make_with_policy(make_smtp, f"{plain} encrypt\n",
                         "smtp_tls_security_level = none\n")
    out = d.deliver(plain, ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.4", (out, d.log())
    assert plain_sink.messages == []
    # Another next hop keeps the default level (none): delivered in clear.
    assert d.deliver(other, ["b@remote.example"], BODY)[0][0] == "ok"
    assert other_sink.messages[0][5] is False


def test_tls_policy_may_over_default_none(make_smtp, receiver, test_ca):
    sink, hop = receiver(tls_context=tls_context(test_ca, "wrong"))
    d = make_with_policy(make_smtp, f"{hop} may protocols=!SSLv2\n",
                         "smtp_tls_security_level = none\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert sink.messages[0][5] is True, "the policy's may was not applied"
    log = d.log()
    assert re.search(r"tls=TLSv1\.[23] with cipher \S+, peer subject \S*CN", log), log


def test_tls_policy_verify_wrong_name_defers(make_smtp, receiver, test_ca):
    sink, hop = receiver(tls_context=tls_context(test_ca, "wrong"))
    d = make_with_policy(make_smtp, f"{hop} verify\n",
                         f"smtp_tls_CAfile = {test_ca / 'ca.pem'}\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.5", (out, d.log())
    assert sink.messages == []


def test_tls_policy_unsupported_level_defers(make_smtp, receiver):
    sink, hop = receiver()
    d = make_with_policy(make_smtp, f"{hop} dane\n")
    out = d.deliver(hop, ["a@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.5", (out, d.log())
    assert "invalid TLS policy" in out[0][2]
    assert sink.messages == []


# ---- DSN: "relayed" when the next hop cannot notify -----------------------


def test_notify_success_to_a_peer_without_dsn_is_relayed(make_smtp, receiver):
    sink, hop = receiver()          # aiosmtpd offers no DSN
    d = make_smtp()
    out = d.deliver(hop, ["a@remote.example"], BODY, notify="SUCCESS,FAILURE",
                    orcpt="rfc822;a@remote.example", ret="HDRS", envid="E1")
    assert out[0][0] == "ok", (out, d.log())
    assert d.last_reply.get("action.0") == "relayed", d.last_reply
    assert "dsn_action=relayed" in d.log()
    # No DSN parameters go to a peer that did not offer DSN.
    assert sink.messages[0][3] == [] or all("RET" not in o for o in sink.messages[0][3])
    out = d.deliver(hop, ["b@remote.example"], BODY, notify="FAILURE")
    assert out[0][0] == "ok"
    assert d.last_reply.get("action.0") is None, d.last_reply


# ---- a broken next hop must never make an unsent message "delivered" ----


def scripted_data_reply(data_reply, early=None):
    """A server that answers DATA with data_reply (a correct one says 354);
    with early, it sends that reply after the first line of the message,
    long before the final dot.  It counts what it got as complete messages."""
    def script(srv, conn):
        buf = bytearray()
        conn.sendall(b"220 scripted ESMTP\r\n")
        while True:
            line = read_line(conn, buf)
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250 scripted\r\n")
            elif verb in (b"MAIL", b"RCPT"):
                conn.sendall(b"250 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(data_reply)
                if early is None:
                    continue
                read_line(conn, buf)
                conn.sendall(early)
                # Stop reading a while, so the client's output backs up.
                time.sleep(1)
                tail = bytes(buf)
                while not tail.endswith(b"\r\n.\r\n"):
                    d = conn.recv(65536)
                    if not d:
                        return
                    tail = (tail + d)[-5:]
                srv.dots += 1
                del buf[:]
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                srv.other.append(line)
                conn.sendall(b"502 no\r\n")
    srv = Scripted(script)
    srv.dots = 0
    srv.other = []
    return srv


def test_2xx_to_data_is_not_a_delivery(make_smtp):
    """DATA answered 250 instead of 354: no byte of the message went out,
    so the recipient is deferred, never reported (or marked) delivered."""
    srv = scripted_data_reply(b"250 2.0.0 sure\r\n")
    try:
        d = make_smtp()
        out = d.deliver(srv.nexthop, ["a@remote.example"], BODY)
        assert out[0][0] == "defer", (out, d.log())
        data = (d.dir / "active" / d.last_qid).read_bytes()
        assert b"rcpt P a@remote.example\n" in data
    finally:
        srv.close()


def test_2xx_before_the_final_dot_is_not_a_delivery(make_smtp):
    """A 250 that comes while the message is still being sent cannot be
    the answer to a dot the server has not seen: a deferral, no mark."""
    srv = scripted_data_reply(b"354 go\r\n", early=b"250 2.0.0 early\r\n")
    try:
        d = make_smtp()
        out = d.deliver(srv.nexthop, ["a@remote.example"], BODY * 20000)
        assert out[0][0] == "defer", (out, d.log())
        data = (d.dir / "active" / d.last_qid).read_bytes()
        assert b"rcpt P a@remote.example\n" in data
    finally:
        srv.close()


def test_cached_session_not_reused_below_a_raised_tls_level(make_smtp, receiver):
    """A session parked in clear (level none) must not carry mail once the
    policy map asks that next hop for encrypt: the edited table takes effect
    without a restart (texthash), and the parked session predates it."""
    sink, hop = receiver(handler=CountingSink())

    def one_message_per_connection(srv, conn):
        buf = greet_to_data(srv, conn)
        while read_line(conn, buf) != b".\r\n":
            pass
        conn.sendall(b"250 2.0.0 ok\r\n")
    probe_srv = Scripted(one_message_per_connection)
    probe = probe_srv.nexthop
    tmp = Path(tempfile.mkdtemp(prefix="tern-policy-"))
    tmp.chmod(0o755)
    path = tmp / "tls_policy"
    path.write_text(f"{hop} none\n{probe} none\n")
    path.chmod(0o644)
    d = make_smtp(f"smtp_tls_policy_maps = texthash:{path}\n"
                  "smtp_connection_cache_time_limit = 30s\n")
    assert d.deliver(hop, ["a@remote.example"], BODY)[0][0] == "ok", d.log()
    assert len(sink.messages) == 1
    path.write_text(f"{hop} encrypt\n{probe} encrypt\n")
    # The probe next hop hangs up after each message, so every delivery
    # to it makes a new connection: once one defers for want of TLS, the
    # smtp process uses the new table.
    try:
        wait_for(lambda: d.deliver(probe, ["p@remote.example"], BODY)[0][1] == "4.7.4",
                 timeout=15, what="the edited policy table to take effect")
    finally:
        probe_srv.close()
    out = d.deliver(hop, ["b@remote.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.4", (out, d.log())
    assert len(sink.messages) == 1, "sent in clear on the parked session"
