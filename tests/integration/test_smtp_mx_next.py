"""The SMTP client tries the next MX host within one delivery attempt
(Postfix's smtp(8), smtp_trouble.c): recipients that only got soft errors
at a host after its greeting (4xx to MAIL, RCPT, DATA or the final dot, a
connection lost before the dot) go to the next host; only the last host's
soft errors defer.  Accepted recipients stay delivered, bounced ones stay
bounced, and a connection lost after the dot defers without a second host
(the message may have arrived).  smtp_mx_address_limit and
smtp_mx_session_limit bound the hosts tried; smtp_skip_5xx_greeting.

A real DNS server (unbound) serves the MX sets; the MX hosts are scripted
SMTP servers on 127.0.0.5-7, one port for all (the next hop's port).
"""

import os
import re
import socket
import threading

import pytest

from dnszone import Zone, make_dns_server  # noqa: F401 (fixture)
from test_resolver import Resolver
from test_smtp_client import BODY, make_smtp  # noqa: F401 (fixture)

IPS = ["127.0.0.5", "127.0.0.6", "127.0.0.7"]

ZONES = [Zone("example", records=[
    "two.nx.example. MX 10 a.nx.example.",
    "two.nx.example. MX 20 b.nx.example.",
    "three.nx.example. MX 10 a.nx.example.",
    "three.nx.example. MX 20 b.nx.example.",
    "three.nx.example. MX 30 c.nx.example.",
    "a.nx.example. A 127.0.0.5",
    "b.nx.example. A 127.0.0.6",
    "c.nx.example. A 127.0.0.7",
])]


@pytest.fixture(scope="module")
def resolver(make_dns_server):
    dns = make_dns_server(ZONES)
    r = Resolver(dns.nameserver).start()
    yield r
    r.stop()
    r.cleanup()


class MxHost:
    """A scripted SMTP server: greeting, MAIL, RCPT (per address), DATA
    and final-dot replies as given; drop="mail" closes after MAIL,
    drop="dot" after reading the final dot, without a reply; drop="early"
    answers 451 right after the 354 and reads on until the client hangs
    up.  Records the connections, the commands and the messages (recipients, data)."""

    def __init__(self, sock, greeting=b"220 mx ESMTP", mail=b"250 2.1.0 ok",
                 rcpt=None, data=b"354 go", dot=b"250 2.0.0 queued",
                 pipelining=True, drop=None):
        self.sock = sock
        self.greeting, self.mail, self.data, self.dot = greeting, mail, data, dot
        self.rcpt = rcpt or {}
        self.pipelining = pipelining
        self.drop = drop
        self.connections = 0
        self.commands = []
        self.messages = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(20)
            try:
                self._talk(conn, conn.makefile("rb"))
            except (OSError, ValueError):
                pass

    def _talk(self, conn, f):
        def say(b):
            conn.sendall(b + b"\r\n")
        say(self.greeting)
        if not self.greeting.startswith(b"2"):
            f.readline()        # the client hangs up (or says QUIT)
            return
        accepted = []
        while True:
            line = f.readline()
            if not line:
                return
            self.commands.append(line.rstrip(b"\r\n"))
            verb = line[:4].upper()
            if verb == b"EHLO":
                say(b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME"
                    if self.pipelining else b"250 mx")
            elif verb in (b"HELO", b"RSET", b"NOOP"):
                say(b"250 ok")
                accepted = []
            elif verb == b"MAIL":
                if self.drop == "mail":
                    return
                say(self.mail)
            elif verb == b"RCPT":
                addr = re.search(rb"<([^>]*)>", line).group(1).decode()
                r = self.rcpt.get(addr, b"250 2.1.5 ok")
                if r.startswith(b"2") and self.mail.startswith(b"2"):
                    accepted.append(addr)
                say(r)
            elif verb == b"DATA":
                if not accepted or not self.mail.startswith(b"2"):
                    say(b"554 5.5.1 no valid recipients")
                    continue
                say(self.data)
                if not self.data.startswith(b"354"):
                    continue
                if self.drop == "early":
                    # gives up on the message while it is coming
                    say(b"451 4.3.0 gave up early")
                    while f.read(65536):
                        pass
                    return
                body = b""
                while (line := f.readline()) != b".\r\n":
                    if not line:
                        return
                    body += line
                if self.drop == "dot":
                    return
                if self.dot.startswith(b"2"):
                    self.messages.append((list(accepted), body))
                say(self.dot)
            elif verb == b"QUIT":
                say(b"221 bye")
                return
            else:
                say(b"502 5.5.2 no")


def bind_same_port(n):
    """n listening sockets on IPS[0..n), all on one port."""
    for _ in range(50):
        socks = []
        try:
            for ip in IPS[:n]:
                s = socket.socket()
                socks.append(s)
                s.bind((ip, socks[0].getsockname()[1] if len(socks) > 1 else 0))
                s.listen(8)
            return socks
        except OSError:
            for s in socks:
                s.close()
    raise AssertionError("no port free on every test address")


@pytest.fixture
def mx_hosts():
    made = []

    def make(*specs):
        socks = bind_same_port(len(specs))
        hosts = [MxHost(s, **spec) for s, spec in zip(socks, specs)]
        made.extend(socks)
        return hosts, socks[0].getsockname()[1]
    yield make
    for s in made:
        s.close()


@pytest.fixture
def client(make_smtp, resolver):  # noqa: F811 (make_smtp is a fixture)
    def make(extra_conf=""):
        d = make_smtp(extra_conf)
        os.symlink(resolver.sock_path, d.dir / "private" / "resolver")
        return d
    return make


def mails(host):
    return [c for c in host.commands if c.upper().startswith(b"MAIL")]


def test_mail_4xx_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"mail": b"451 4.3.0 a is busy"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out == [("ok", "2.0.0", out[0][2])], (out, d.log())
    assert len(b.messages) == 1 and b.messages[0][0] == ["x@two.nx.example"]
    assert a.messages == [] and len(mails(a)) == 1
    log = d.log()
    assert "a.nx.example[127.0.0.5]" in log and "a is busy" in log
    assert "relay=b.nx.example[127.0.0.6]" in log
    assert "status=deferred" not in log, log


def test_mail_4xx_without_pipelining_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"mail": b"451 4.3.0 a is busy", "pipelining": False},
                            {"pipelining": False})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1
    # No RCPT after the refused MAIL; a polite QUIT before the next host.
    assert not any(c.upper().startswith(b"RCPT") for c in a.commands)
    assert b"QUIT" in a.commands


def test_every_rcpt_4xx_goes_to_the_next_mx(client, mx_hosts):
    soft = {"x@two.nx.example": b"450 4.2.1 try x later",
            "y@two.nx.example": b"450 4.2.1 try y later"}
    (a, b), port = mx_hosts({"rcpt": soft}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}",
                    ["x@two.nx.example", "y@two.nx.example"], BODY)
    assert [o[0] for o in out] == ["ok", "ok"], (out, d.log())
    assert a.messages == []
    assert [m[0] for m in b.messages] == [["x@two.nx.example", "y@two.nx.example"]]
    assert "status=deferred" not in d.log()


def test_only_the_soft_recipient_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts(
        {"rcpt": {"y@two.nx.example": b"450 4.2.1 try y later",
                  "z@two.nx.example": b"550 5.1.1 no such user z"}}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}",
                    ["x@two.nx.example", "y@two.nx.example", "z@two.nx.example"],
                    BODY)
    assert [o[0] for o in out] == ["ok", "ok", "bounce"], (out, d.log())
    assert out[2][1] == "5.1.1" and "127.0.0.5" in out[2][2]
    assert [m[0] for m in a.messages] == [["x@two.nx.example"]]
    assert [m[0] for m in b.messages] == [["y@two.nx.example"]]
    # the bounced one is never offered to the second host
    assert not any(b"z@two" in c for c in b.commands)
    log = d.log()
    assert re.search(r"to=<x@two\.nx\.example>, relay=a\.nx\.example\[127\.0\.0\.5\]"
                     r".*status=sent", log), log
    assert re.search(r"to=<y@two\.nx\.example>, relay=b\.nx\.example\[127\.0\.0\.6\]"
                     r".*status=sent", log), log
    assert re.search(r"to=<z@two\.nx\.example>, relay=a\.nx\.example.*status=bounced",
                     log), log


def test_data_4xx_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"data": b"451 4.3.0 no DATA now"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1 and a.messages == []


def test_dot_4xx_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"dot": b"452 4.3.1 out of space"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1 and a.messages == []
    assert "out of space" in d.log()


def test_early_4xx_during_the_body_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"drop": "early"}, {})
    d = client()
    body = BODY + (b"y" * 70 + b"\n") * 20000
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], body)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1 and a.messages == []
    assert "gave up early" in d.log()


def test_drop_after_mail_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"drop": "mail"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1
    assert "lost connection with a.nx.example[127.0.0.5]" in d.log()


def test_drop_after_the_dot_defers_and_stays(client, mx_hosts):
    (a, b), port = mx_hosts({"drop": "dot"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.4.2", (out, d.log())
    assert "may be sent more than once" in out[0][2]
    assert "127.0.0.5" in out[0][2]
    assert b.connections == 0 and b.messages == []


def test_both_hosts_4xx_defers_with_the_last_reply(client, mx_hosts):
    (a, b), port = mx_hosts({"mail": b"451 4.3.0 a is busy"},
                            {"mail": b"452 4.3.1 b is full"})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.3.1", (out, d.log())
    assert "b is full" in out[0][2] and "127.0.0.6" in out[0][2]
    assert len(mails(a)) == 1 and len(mails(b)) == 1


def test_5xx_greeting_goes_to_the_next_mx(client, mx_hosts):
    (a, b), port = mx_hosts({"greeting": b"554 5.7.1 go away"}, {})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(b.messages) == 1
    assert "refused to talk to me: 554" in d.log()


def test_5xx_greeting_of_the_last_mx_defers(client, mx_hosts):
    (a, b), port = mx_hosts({"greeting": b"554 5.7.1 go away"},
                            {"greeting": b"554 5.7.1 go away too"})
    d = client()
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.7.1", (out, d.log())
    assert "go away too" in out[0][2]


def test_5xx_greeting_bounces_without_skip(client, mx_hosts):
    (a, b), port = mx_hosts({"greeting": b"554 5.7.1 go away"}, {})
    d = client("smtp_skip_5xx_greeting = no\n")
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "bounce" and out[0][1] == "5.7.1", (out, d.log())
    assert b.connections == 0


def test_session_limit_stops_after_two_sessions(client, mx_hosts):
    busy = {"mail": b"451 4.3.0 busy"}
    (a, b, c), port = mx_hosts(busy, busy, {})
    d = client()        # smtp_mx_session_limit = 2
    out = d.deliver(f"three.nx.example:{port}", ["x@three.nx.example"], BODY)
    assert out[0][0] == "defer", (out, d.log())
    assert len(mails(a)) == 1 and len(mails(b)) == 1
    assert c.connections == 0


def test_session_limit_ignores_failed_handshakes(client, mx_hosts):
    (a, b, c), port = mx_hosts({"greeting": b"421 4.3.2 not now"},
                               {"mail": b"451 4.3.0 busy"}, {})
    d = client()
    out = d.deliver(f"three.nx.example:{port}", ["x@three.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(c.messages) == 1


def test_session_limit_raised(client, mx_hosts):
    busy = {"mail": b"451 4.3.0 busy"}
    (a, b, c), port = mx_hosts(busy, busy, {})
    d = client("smtp_mx_session_limit = 3\n")
    out = d.deliver(f"three.nx.example:{port}", ["x@three.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert len(c.messages) == 1


def test_address_limit(client, mx_hosts):
    (a, b), port = mx_hosts({"mail": b"451 4.3.0 a is busy"}, {})
    d = client("smtp_mx_address_limit = 1\n")
    out = d.deliver(f"two.nx.example:{port}", ["x@two.nx.example"], BODY)
    assert out[0][0] == "defer" and "a is busy" in out[0][2], (out, d.log())
    assert b.connections == 0


def test_reused_session_with_4xx_goes_to_the_other_mx(client, mx_hosts):
    """A cached session to the best MX that now answers 4xx: the next
    host is the other one, not the same one again."""
    (a, b), port = mx_hosts({"rcpt": {"later@two.nx.example": b"451 4.3.0 a busy"}},
                            {})
    d = client("smtp_connection_cache_time_limit = 30s\n")
    nexthop = f"two.nx.example:{port}"
    assert d.deliver(nexthop, ["x@two.nx.example"], BODY)[0][0] == "ok"
    assert a.connections == 1 and len(a.messages) == 1
    out = d.deliver(nexthop, ["later@two.nx.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert a.connections == 1           # the cached session, not a new one
    assert [m[0] for m in b.messages] == [["later@two.nx.example"]]
