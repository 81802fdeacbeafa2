"""Connection reuse across the SMTP client's processes (issue 9): a whole
tern instance relays to receivers on loopback that count their
connections, with several smtp processes in master.conf.

Each smtp process keeps its own idle sessions (smtp/smtp_cache.c); qmgr
sends a next hop's request to the connection that last served that next
hop (qmgr_transport.c, pool_idle), so the process that parked the session
gets the message.  What is checked here, from the receiver's side:

- many messages to one next hop over several processes open far fewer
  connections than there are messages;
- several next hops served in turn keep one connection each (affinity);
- an idle session is closed after smtp_connection_cache_time_limit;
- a session carries at most 1 + smtp_connection_reuse_count_limit messages;
- a receiver that closes an idle session, or drops it as RSET arrives,
  costs a new connection, never a deferral.
"""

import os
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

from conftest import INSTANCE_ROOT, wait_for

HOST = "127.0.0.1"


class CountingReceiver:
    """A small SMTP server on a thread per connection that counts what it
    sees: connections, messages per connection, QUITs and closes.

    idle_close: after a transaction, close silently when no command comes
    within this many seconds (a server that drops idle clients).
    drop_at_rset: close silently when RSET arrives (the cached session died
    just as it was taken).
    dot_delay: seconds to wait before answering the final dot."""

    def __init__(self, idle_close=None, drop_at_rset=False, dot_delay=0):
        self.idle_close = idle_close
        self.dot_delay = dot_delay
        self.drop_at_rset = drop_at_rset
        self.lock = threading.Lock()
        self.per_conn = []          # messages taken on each connection
        self.open = 0
        self.quits = 0
        self.rsets = 0
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.nexthop = f"[{HOST}]:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def connections(self):
        with self.lock:
            return len(self.per_conn)

    def messages(self):
        with self.lock:
            return sum(self.per_conn)

    def open_now(self):
        with self.lock:
            return self.open

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                k = len(self.per_conn)
                self.per_conn.append(0)
                self.open += 1
            threading.Thread(target=self._serve, args=(conn, k), daemon=True).start()

    def _serve(self, conn, k):
        try:
            with conn:
                conn.settimeout(60)
                self._session(conn, k)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1

    def _session(self, conn, k):
        f = conn.makefile("rb")
        conn.sendall(b"220 counter ESMTP\r\n")
        idle = False
        while True:
            if idle and self.idle_close is not None:
                conn.settimeout(self.idle_close)
            try:
                line = f.readline(4096)
            except socket.timeout:
                return              # idle too long: hang up without a word
            conn.settimeout(60)
            if not line:
                return
            verb = line[:4].upper()
            idle = False
            if verb == b"EHLO":
                conn.sendall(b"250-counter\r\n250 PIPELINING\r\n")
            elif verb in (b"MAIL", b"RCPT"):
                conn.sendall(b"250 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go\r\n")
                while True:
                    body = f.readline(65536)
                    if not body:
                        return
                    if body == b".\r\n":
                        break
                time.sleep(self.dot_delay)
                with self.lock:
                    self.per_conn[k] += 1
                conn.sendall(b"250 2.0.0 queued\r\n")
                idle = True
            elif verb == b"RSET":
                with self.lock:
                    self.rsets += 1
                if self.drop_at_rset:
                    return
                conn.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                with self.lock:
                    self.quits += 1
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 no\r\n")

    def close(self):
        self.sock.close()


def set_process_limit(inst, service, n):
    """Set service's process limit in master.conf and reload."""
    conf = inst.dir / "etc" / "master.conf"
    lines = []
    for line in conf.read_text().splitlines(keepends=True):
        f = line.split()
        if f and f[0] == service:
            f[5] = str(n)
            line = "  ".join(f) + "\n"
        lines.append(line)
    conf.write_text("".join(lines))
    # A reload starts the daemons anew; an old smtpd still shutting down
    # would answer the next client 421.
    old = {p for pids in inst.services().values() for p in pids}
    os.kill(inst.master_pid(), signal.SIGHUP)
    limits = inst.service_limits()

    def settled():
        now = inst.services()
        return (not old & {p for pids in now.values() for p in pids} and
                all(len(now.get(s, ())) == k for s, k in limits.items()))
    wait_for(settled, timeout=30,
             what=f"{n} {service} processes and no old daemon after the reload")


def send(inst, rcpts):
    with inst.smtp() as s:
        s.ehlo("client.example")
        assert s.mail("sender@example.org")[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250
        code, text = s.data(b"Subject: cache\r\n\r\nbody\r\n")
        assert code == 250, text


def send_many(inst, rcpt, n, errors):
    try:
        for _ in range(n):
            send(inst, [rcpt])
    except Exception as e:          # noqa: BLE001 (reported by the test)
        errors.append(repr(e))


def queue_empty(inst):
    return not any(inst.queue_files(d) for d in ("incoming", "active", "deferred"))


def relay_one_by_one(inst, rec, n, between=None):
    """Send n messages, each once the one before is at the receiver and
    out of the queue; between() runs after each."""
    for i in range(n):
        send(inst, [f"r{i}@remote.example"])
        wait_for(lambda: rec.messages() == i + 1 and queue_empty(inst),
                 what=f"message {i} relayed")
        if between is not None:
            between()


def no_deferrals(inst):
    log = inst.log()
    assert "status=deferred" not in log, log[-5000:]
    assert not inst.queue_files("deferred")


def test_many_messages_few_connections_over_several_processes(make_instance):
    rec = CountingReceiver()
    inst = make_instance(f"relayhost = {rec.nexthop}\n"
                         "smtp_connection_cache_time_limit = 30s\n"
                         "smtp_destination_concurrency_limit = 5\n")
    set_process_limit(inst, "smtp", 3)
    clients, each = 5, 20
    errors = []
    threads = [threading.Thread(target=send_many,
                                args=(inst, f"u{i}@remote.example", each, errors))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    wait_for(lambda: rec.messages() == clients * each, timeout=60,
             what="every message at the receiver")
    no_deferrals(inst)
    # At most five deliveries at once, so at most five sessions in each of
    # the three processes, whatever qmgr chooses: far fewer than one
    # connection per message.
    assert rec.connections() <= 15, (rec.per_conn, inst.log()[-3000:])
    rec.close()


def test_each_next_hop_keeps_its_session_across_processes(make_instance):
    hops = [CountingReceiver() for _ in range(4)]
    slow = CountingReceiver(dot_delay=1)
    tdir = Path(tempfile.mkdtemp(prefix="cache-", dir=INSTANCE_ROOT))
    tdir.chmod(0o755)
    tmap = tdir / "transport"
    tmap.write_text("".join(f"d{i}.test smtp:{r.nexthop}\n" for i, r in enumerate(hops)) +
                    f"slow.test smtp:{slow.nexthop}\n")
    tmap.chmod(0o644)
    inst = make_instance(f"transport_maps = texthash:{tmap}\n"
                         "smtp_connection_cache_time_limit = 60s\n")
    set_process_limit(inst, "smtp", 4)
    # First many deliveries at once, one by one as they come: qmgr opens a
    # connection for each, and they spread over the processes.
    for i in range(12):
        send(inst, [f"w{i}@slow.test"])
    wait_for(lambda: slow.messages() == 12 and queue_empty(inst), timeout=30,
             what="the warm-up delivered")
    rounds = 8
    for k in range(rounds):
        # One message to every next hop, in a different order each time, so
        # that each round hands the next hops to qmgr's idle connections
        # (each accepted by whichever smtp process) in a new order.  On
        # 7354a5e (no affinity) this gave two connections per next hop.
        order = [f"x{k}@d{(i + k) % 4}.test" for i in range(4)]
        send(inst, order)
        wait_for(lambda: all(r.messages() == k + 1 for r in hops) and queue_empty(inst),
                 timeout=30, what=f"round {k} delivered")
    no_deferrals(inst)
    assert [r.connections() for r in hops] == [1, 1, 1, 1], \
        ([r.per_conn for r in hops], inst.log()[-4000:])
    for r in hops:
        r.close()


def test_idle_session_closed_after_cache_time_limit(make_instance):
    rec = CountingReceiver()
    inst = make_instance(f"relayhost = {rec.nexthop}\n"
                         "smtp_connection_cache_time_limit = 1s\n")
    set_process_limit(inst, "smtp", 2)
    send(inst, ["a@remote.example"])
    wait_for(lambda: rec.messages() == 1, what="the first message")
    t0 = time.monotonic()
    wait_for(lambda: rec.quits == 1 and rec.open_now() == 0, timeout=15,
             what="the idle session to be closed with QUIT")
    assert time.monotonic() - t0 < 10
    send(inst, ["b@remote.example"])
    wait_for(lambda: rec.messages() == 2, what="the second message")
    assert rec.connections() == 2
    no_deferrals(inst)
    rec.close()


def test_reuse_count_limit_honoured(make_instance):
    rec = CountingReceiver()
    inst = make_instance(f"relayhost = {rec.nexthop}\n"
                         "smtp_connection_cache_time_limit = 30s\n"
                         "smtp_connection_reuse_count_limit = 2\n")
    set_process_limit(inst, "smtp", 3)
    relay_one_by_one(inst, rec, 9)
    # Reused twice: three messages a session, and one session at a time.
    assert rec.per_conn == [3, 3, 3], rec.per_conn
    no_deferrals(inst)
    rec.close()


def test_receiver_closing_idle_sessions_causes_no_deferral(make_instance):
    rec = CountingReceiver(idle_close=0.2)
    inst = make_instance(f"relayhost = {rec.nexthop}\n"
                         "smtp_connection_cache_time_limit = 30s\n")
    set_process_limit(inst, "smtp", 2)
    # The receiver hangs up on each parked session before the next message.
    relay_one_by_one(inst, rec, 4, lambda: wait_for(lambda: rec.open_now() == 0,
                                                    what="the receiver to hang up"))
    assert rec.per_conn == [1, 1, 1, 1], rec.per_conn
    no_deferrals(inst)
    rec.close()


def test_session_dead_at_rset_falls_back_without_deferral(make_instance):
    rec = CountingReceiver(drop_at_rset=True)
    inst = make_instance(f"relayhost = {rec.nexthop}\n"
                         "smtp_connection_cache_time_limit = 30s\n")
    set_process_limit(inst, "smtp", 2)
    relay_one_by_one(inst, rec, 4)
    # Every reuse was tried (RSET) and failed over to a new connection.
    assert rec.per_conn == [1, 1, 1, 1], rec.per_conn
    assert rec.rsets == 3
    no_deferrals(inst)
    rec.close()
