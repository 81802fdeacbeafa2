"""Remote delivery through a whole tern instance (issue 9) and its exactly-
once guarantee (issue 14): mail submitted to smtpd goes through qmgr and the
real smtp service (relayhost) to a receiving server on loopback, which
records every message it takes.

- The SMTP client records each recipient the next hop accepted in the queue
  file (status byte) before it replies to qmgr: a qmgr killed after that
  reply was sent but before it acted on it does not send the message again.
- Connection reuse: one session to a next hop serves several messages.
"""

import asyncio
import os
import re
import signal
import socket
import threading

import pytest

from conftest import pid_alive, wait_for

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

HOST = "127.0.0.1"


class Recorder:
    """aiosmtpd handler: every message taken, with the connection it came
    on; hold, when set, keeps the reply to the final dot until released."""

    def __init__(self):
        self.messages = []          # (peer, rcpt_tos, content, mail_options, rcpt_options)
        self.peers = set()
        self.lock = threading.Lock()
        self.hold = None            # threading.Event to wait for, or None
        self.dot = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((session.peer, list(envelope.rcpt_tos),
                                  envelope.original_content,
                                  list(envelope.mail_options),
                                  list(envelope.rcpt_options)))
        self.dot.set()
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
        return "250 2.0.0 queued"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.peers.add(session.peer)
        session.host_name = hostname
        return responses

    def tokens(self):
        with self.lock:
            found = []
            for m in self.messages:
                found += re.findall(rb"X-Token: (\S+)", m[2])
            return [t.decode() for t in found]

    def connections(self):
        with self.lock:
            return len(self.peers)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture
def remote():
    started = []

    def make(handler=None, **kw):
        handler = handler or Recorder()
        port = free_port()
        c = Controller(handler, hostname=HOST, port=port, **kw)
        c.start()
        started.append(c)
        return handler, port
    yield make
    for c in started:
        c.stop()


def send(inst, rcpts, token, sender="r@example.org"):
    with inst.smtp() as s:
        s.ehlo("relay.example")
        assert s.mail(sender)[0] == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250
        code, text = s.data(f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody\r\n".encode())
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def queue_empty(inst):
    return not any(inst.queue_files(d) for d in ("incoming", "active", "deferred"))


def test_qmgr_killed_after_the_reply_does_not_resend(make_instance, remote):
    rec, port = remote()
    inst = make_instance(f"relayhost = [{HOST}]:{port}\n")
    rec.hold = threading.Event()
    qid = send(inst, ["one@remote.example", "two@remote.example"], "once-1")
    assert rec.dot.wait(30), inst.log()
    qmgr, = inst.services()["qmgr"]
    # qmgr stops before the reply can reach it; the next hop then accepts.
    os.kill(qmgr, signal.SIGSTOP)
    try:
        rec.hold.set()
        active = inst.queue / "active" / qid
        wait_for(lambda: active.read_bytes().count(b"\nrcpt D ") == 2, timeout=20,
                 what="the smtp client to record both recipients")
    finally:
        os.kill(qmgr, signal.SIGKILL)
        os.kill(qmgr, signal.SIGCONT)
    wait_for(lambda: not pid_alive(qmgr), what="qmgr to die")
    wait_for(lambda: inst.services().get("qmgr", [qmgr]) != [qmgr], timeout=20,
             what="the master to restart qmgr")
    wait_for(lambda: queue_empty(inst), timeout=30, what="the queue to drain")
    assert rec.tokens() == ["once-1"], rec.messages
    assert f"{qid}: removed" in inst.log() or queue_empty(inst)
