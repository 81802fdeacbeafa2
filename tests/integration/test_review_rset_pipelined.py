"""An outside review of the SMTP client's RSET sent with the envelope on a
reused session (PIPELINING, RFC 2920), as tests: a cached session that
fails its RSET does not count against smtp_mx_session_limit; a refused
RSET sends no body and makes no duplicate whatever the server does with
the rest of the group; a multi-line RSET reply split into single bytes; a
server that holds the group's replies while it checks slow RCPTs is not
timed out at smtp_rset_timeout; a silent RSET ends in a new connection."""

import os
import select
import socket
import threading
import time

from test_smtp_client import (BODY, Scripted, read_line, reuse_handler, reuse_script,  # noqa
                              rset_ok, rset_refused, two_messages, make_smtp,  # noqa
                              smtp_with_resolver, mx_resolver)  # noqa: F401
from dnszone import make_dns_server  # noqa: F401 (fixture)


def pipelining_server(on_rset, rcpt_reply=None):
    return reuse_script(on_rset, rcpt_reply=rcpt_reply)


# ---- 1. smtp_mx_session_limit: a failed reuse now counts as a session ----

def test_failed_reuse_with_session_limit_1_still_delivers(make_smtp):
    """smtp_mx_session_limit = 1: the cached session refuses RSET (never got
    through its RSET, so it must not count, tern.conf(5)); the new
    connection must still be allowed (a session counts once RSET has its
    2xx, not when the envelope goes out with RSET)."""
    srv = pipelining_server(rset_refused)
    try:
        two_messages(make_smtp, srv, "smtp_mx_session_limit = 1\n")
        assert srv.messages == 2 and srv.conns == 2
    finally:
        srv.close()


class PortScripted(Scripted):
    """Scripted on a chosen port."""

    def __init__(self, script, host, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.nexthop = f"[{host}]:{port}"
        self.script = script
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()


def test_failed_reuse_then_soft_error_still_tries_next_mx(make_smtp,
                                                           mx_resolver):
    """Default smtp_mx_session_limit (2).  The best MX (127.0.0.3) took
    message 1; for message 2 its cached session refuses RSET, the new
    connection to it gets 451 to RCPT: the second MX (127.0.0.2) must get
    the message: the failed reuse was no session."""
    with socket.socket() as s:
        s.bind(("127.0.0.3", 0))
        port = s.getsockname()[1]

    def best(srv, conn):
        buf = bytearray()
        srv.conns += 1
        conn.sendall(b"220 best ESMTP\r\n")
        while True:
            line = read_line(conn, buf)
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-best\r\n250 PIPELINING\r\n")
            elif verb == b"MAIL":
                conn.sendall(b"250 ok\r\n")
            elif verb == b"RCPT":
                conn.sendall(b"250 ok\r\n" if srv.conns == 1 else
                             b"451 4.3.0 try later\r\n")
            elif verb == b"DATA":
                if srv.conns > 1:
                    conn.sendall(b"554 no valid recipients\r\n")
                    continue
                conn.sendall(b"354 go\r\n")
                while read_line(conn, buf) != b".\r\n":
                    pass
                srv.messages += 1
                conn.sendall(b"250 queued\r\n")
            elif verb == b"RSET":
                conn.sendall(b"421 4.4.2 going away\r\n")
                return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")

    a = PortScripted(best, "127.0.0.3", port)
    b = PortScripted(reuse_handler(rset_ok), "127.0.0.2", port)
    a.conns = a.messages = b.conns = b.messages = 0
    try:
        d = make_smtp("smtp_connection_cache_time_limit = 10s\n")
        os.symlink(mx_resolver.sock_path, d.dir / "private" / "resolver")
        out = d.deliver(f"mxtest.example:{port}", ["a@mxtest.example"], BODY)
        assert out[0][0] == "ok", (out, d.log())
        assert a.messages == 1
        out = d.deliver(f"mxtest.example:{port}", ["b@mxtest.example"], BODY)
        assert out[0][0] == "ok", (out, d.log())
        assert a.conns == 2 and b.messages == 1
    finally:
        a.close()
        b.close()


# ---- 2. RSET refused, the rest accepted: no body on that connection ----

def test_rset_refused_but_envelope_accepted_no_body_no_duplicate(make_smtp):
    """RSET gets 503 but the server goes on: 250 MAIL, 250 RCPT, 354 DATA,
    and would take a message.  The client must not send the body there;
    exactly one more message, on a new connection."""
    def on_rset(srv, conn, buf):
        conn.sendall(b"503 5.5.1 no thanks\r\n")
        return True
    srv = pipelining_server(on_rset)
    try:
        two_messages(make_smtp, srv)
        assert srv.messages == 2 and srv.conns == 2, (srv.messages, srv.conns)
    finally:
        srv.close()


# ---- 3. multi-line RSET reply, every reply split byte by byte ----

def test_multiline_rset_reply_split_bytes(make_smtp):
    def on_rset(srv, conn, buf):
        # wait for the group, then dribble every reply a byte at a time
        lines = []
        while len(lines) < 3:
            lines.append(read_line(conn, buf)[:4].upper())
        assert lines == [b"MAIL", b"RCPT", b"DATA"], lines
        out = b"250-2.0.0 reset\r\n250-more\r\n250 2.0.0 ok\r\n" \
              b"250 ok\r\n250 ok\r\n354 go\r\n"
        for i in range(len(out)):
            conn.sendall(out[i:i + 1])
            time.sleep(0.002)
        while read_line(conn, buf) != b".\r\n":
            pass
        srv.messages += 1
        conn.sendall(b"250 queued\r\n")
        return True
    srv = pipelining_server(on_rset)
    try:
        two_messages(make_smtp, srv)
        assert srv.messages == 2 and srv.conns == 1
    finally:
        srv.close()


# ---- 4. smtp_rset_timeout now bounds the server's RCPT processing ----

def test_slow_rcpt_under_rfc2920_buffering_is_not_an_rset_timeout(make_smtp):
    """A server that buffers replies to the group (RFC 2920 3.2: RSET,
    MAIL and RCPT replies as a unit) and takes 3 s over RCPT (recipient
    verification, a DNS list).  smtp_rset_timeout = 2s, smtp_rcpt_timeout
    the default: RSET's reply, held with the group's, may take the
    envelope's time-out, so the cached session serves (one connection)."""
    def script(srv, conn):
        buf = bytearray()
        srv.conns += 1
        conn.sendall(b"220 scripted ESMTP\r\n")
        pending = []
        while True:
            line = read_line(conn, buf)
            verb = line[:4].upper()
            if verb == b"EHLO":
                pending.append(b"250-scripted\r\n250 PIPELINING\r\n")
            elif verb in (b"MAIL", b"RSET"):
                pending.append(b"250 ok\r\n")
            elif verb == b"RCPT":
                time.sleep(3)
                pending.append(b"250 ok\r\n")
            elif verb == b"DATA":
                pending.append(b"354 go\r\n")
                conn.sendall(b"".join(pending))
                pending = []
                while read_line(conn, buf) != b".\r\n":
                    pass
                srv.messages += 1
                conn.sendall(b"250 queued\r\n")
                continue
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                pending.append(b"502 no\r\n")
            # flush when no more input is waiting (Postfix smtpd's way)
            if b"\n" not in buf and not select.select([conn], [], [], 0.2)[0]:
                conn.sendall(b"".join(pending))
                pending = []
    srv = Scripted(script)
    srv.conns = srv.messages = 0
    try:
        d = make_smtp("smtp_connection_cache_time_limit = 30s\n"
                      "smtp_rset_timeout = 2s\n")
        assert d.deliver(srv.nexthop, ["a@remote.example"], BODY)[0][0] == "ok"
        out = d.deliver(srv.nexthop, ["b@remote.example"], BODY, timeout=60)
        assert out[0][0] == "ok", (out, d.log())
        assert srv.messages == 2
        assert srv.conns == 1, f"{srv.conns} connections:\n{d.log()}"
    finally:
        srv.close()


# ---- 5. RSET never answered: smtp_rset_timeout, then a new connection ----

def test_silent_rset_times_out_and_connects_anew(make_smtp):
    def on_rset(srv, conn, buf):
        # say nothing; wait for the client to give up (EOF ends the script)
        while True:
            read_line(conn, buf)
    srv = pipelining_server(on_rset)
    try:
        d = make_smtp("smtp_connection_cache_time_limit = 30s\n"
                      "smtp_rset_timeout = 2s\n"
                      "smtp_data_init_timeout = 2s\n")
        assert d.deliver(srv.nexthop, ["a@remote.example"], BODY)[0][0] == "ok"
        t = time.monotonic()
        out = d.deliver(srv.nexthop, ["b@remote.example"], BODY, timeout=60)
        assert out[0][0] == "ok", (out, d.log())
        assert srv.messages == 2 and srv.conns == 2
        assert 1.5 < time.monotonic() - t < 10
    finally:
        srv.close()


def test_too_big_for_a_reused_session_sends_rset_alone_and_bounces(make_smtp):
    """A message the cached session's server said it cannot take (SIZE) is
    not sent with RSET: RSET goes alone, then the message bounces 5.3.4
    without a MAIL on that session."""
    srv = reuse_script(rset_ok, ehlo=b"250-scripted\r\n250-PIPELINING\r\n250 SIZE 2000\r\n")
    try:
        d = make_smtp("smtp_connection_cache_time_limit = 10s\n")
        assert d.deliver(srv.nexthop, ["a@remote.example"], BODY)[0][0] == "ok"
        n = len(srv.seen)
        out = d.deliver(srv.nexthop, ["b@remote.example"], BODY + b"x" * 5000 + b"\n")
        assert out[0][0] == "bounce" and out[0][1] == "5.3.4", (out, d.log())
        assert srv.messages == 1 and srv.conns == 1
        assert [v for _, v in srv.seen[n:]][:1] == [b"RSET"]
        assert b"MAIL" not in [v for _, v in srv.seen[n:]], srv.seen[n:]
    finally:
        srv.close()
