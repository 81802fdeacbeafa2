"""smtpd against clients that try to hold it: the junk command limit, the
command and DATA deadlines and the session time limit that trickled bytes
do not restart, the free-space check before a message (queue_minfree), and
anvil's limits on connections per client address.  See smtpd(8), anvil(8)
and tern.conf(5)."""

import os
import select
import signal
import socket
import time

from conftest import wait_for
from test_smtp_protocol import Client, expect
from test_smtpd_limits import closed, delivered, session


def cut_off(c, timeout):
    """The server's reply arrives within timeout s -> (code, lines, s)."""
    t0 = time.monotonic()
    ready, _, _ = select.select([c.sock], [], [], timeout)
    assert ready, f"no reply within {timeout}s"
    code, lines = c.reply()
    return code, lines, time.monotonic() - t0


def trickle(c, data, interval, limit):
    """Send data a byte every interval s until the server says something
    (or limit s pass) -> (code, lines, seconds since the first byte)."""
    t0 = time.monotonic()
    for i in range(len(data)):
        c.send(data[i:i + 1])
        ready, _, _ = select.select([c.sock], [], [], interval)
        if ready:
            code, lines = c.reply()
            return code, lines, time.monotonic() - t0
        assert time.monotonic() - t0 < limit, "still not cut off"
    raise AssertionError("ran out of bytes to trickle")


def test_junk_command_limit(make_instance):
    inst = make_instance("smtpd_junk_command_limit = 3")
    c = session(inst)
    expect(c.cmd("NOOP"), 250)
    expect(c.cmd("RSET"), 250)
    expect(c.cmd("VRFY someone"), 252)
    # A delivered message starts the count again, as in Postfix.
    expect(c.cmd("MAIL FROM:<j@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    expect(c.cmd(b"Subject: junk-reset\r\n\r\nx\r\n."), 250)
    expect(c.cmd("ETRN example.org"), 500, "5.5.2")   # unknown: junk too
    expect(c.cmd("HELP"), 214)                        # and so is HELP,
    expect(c.cmd("EHLO again.example"), 250)          # and a repeated EHLO
    # The fourth is answered, then the session ends.
    c.send(b"RSET\r\nNOOP\r\n")
    expect(c.reply(), 250)
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.7.0 "), lines
    assert "junk" in lines[0]
    assert closed(c)
    delivered("terntest1", "junk-reset", 1)


def test_trickled_command_meets_its_deadline(make_instance):
    inst = make_instance("smtpd_timeout = 2")
    c = session(inst)
    # A byte every 0.4 s would restart a per-read time-out forever.
    code, lines, took = trickle(c, b"NOOP NOOP NOOP NOOP NOOP NOOP NOOP\r\n", 0.4, 8)
    assert code == 421 and lines[0].startswith("421 4.4.2 "), lines
    assert 1.5 <= took <= 4, took
    assert closed(c)


def test_trickled_data_meets_its_deadline(make_instance):
    inst = make_instance("smtpd_timeout = 2")
    c = session(inst)
    expect(c.cmd("MAIL FROM:<t@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    code, lines, took = trickle(c, b"Subject: trickle\r\n\r\n" + b"x" * 100, 0.4, 8)
    assert code == 421 and lines[0].startswith("421 4.4.2 "), lines
    assert took <= 4, took
    assert closed(c)
    wait_for(lambda: inst.queue_files("tmp") == [], what="tmp/ to be cleaned")


def test_data_at_a_good_rate_is_not_cut(make_instance):
    # 2 s per command, but a message that keeps coming faster than
    # smtpd_min_data_rate may take longer than that.
    inst = make_instance("smtpd_timeout = 2\nsmtpd_min_data_rate = 100")
    c = session(inst)
    expect(c.cmd("MAIL FROM:<t@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: steady\r\n\r\n")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4:
        c.send(b"y" * 98 + b"\r\n")     # 100 bytes every 0.25 s: 400 B/s
        time.sleep(0.25)
    expect(c.cmd(b"."), 250)
    delivered("terntest1", "steady", 1)


def test_session_time_limit(make_instance):
    inst = make_instance("smtpd_timeout = 2\nsmtpd_session_time_limit = 3")
    c = session(inst)
    t0 = time.monotonic()
    # Whole commands in time, over and over: only the session limit ends it.
    while True:
        c.send(b"HELO again.example\r\n")
        code, lines = c.reply()
        if code != 250:
            break
        assert time.monotonic() - t0 < 6, "session outlived its limit"
        time.sleep(0.3)
    assert code == 421 and lines[0].startswith("421 4.4.2 "), lines
    assert 2 <= time.monotonic() - t0 <= 6
    assert closed(c)
    assert "session time limit exceeded" in inst.log()


def test_queue_minfree(make_instance):
    inst = make_instance("queue_minfree = 1000000g")
    c = session(inst)
    expect(c.cmd("MAIL FROM:<f@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 452, "4.3.1")
    expect(c.cmd("RSET"), 250)
    expect(c.cmd("MAIL FROM:<f@example.org> SIZE=1000"), 452, "4.3.1")
    assert inst.queue_files("tmp") == []
    assert "not enough free space in the queue" in inst.log()
    # With room (the default), the same is accepted.
    inst2 = make_instance()
    c = session(inst2)
    expect(c.cmd("MAIL FROM:<f@example.org> SIZE=1000"), 250)


# ---- anvil: limits per client address --------------------------------------

NO_EXCEPTIONS = "smtpd_client_event_limit_exceptions ="


def connect_from(inst, source):
    """A Client whose connection comes from source (any 127/8 address)."""
    c = Client.__new__(Client)
    c.sock = socket.create_connection(("127.0.0.1", inst.port), timeout=20,
                                      source_address=(source, 0))
    c.buf = b""
    return c


def refused(c, addr="127.0.0.1"):
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.7.0 "), lines
    assert lines[0].endswith(f"Error: too many connections from {addr}"), lines
    assert closed(c)


def test_connection_count_limit(make_instance):
    inst = make_instance(NO_EXCEPTIONS + "\nsmtpd_client_connection_count_limit = 2")
    held = [connect_from(inst, "127.0.0.1") for _ in range(2)]
    for c in held:
        expect(c.reply(), 220)
    # The third from the same address is refused, whichever smtpd process
    # takes it: anvil counts for all of them.
    for _ in range(3):
        refused(connect_from(inst, "127.0.0.1"))
    # Another client is served meanwhile.
    other = connect_from(inst, "127.0.0.2")
    expect(other.reply(), 220)
    expect(other.cmd("EHLO other.example"), 250)
    # Once one session ends, the address may have another.
    held.pop().close()

    def served():
        c = connect_from(inst, "127.0.0.1")
        code, _ = c.reply() if select.select([c.sock], [], [], 5)[0] else (0, [])
        c.close()
        return code == 220
    wait_for(served, timeout=10, interval=0.1, what="a session after one ended")
    assert "connection count limit exceeded: 3 from [127.0.0.1]" in inst.log()


def test_connection_rate_limit(make_instance):
    inst = make_instance(NO_EXCEPTIONS + "\nsmtpd_client_connection_rate_limit = 3\n"
                         "anvil_rate_time_unit = 60")
    # (Not from 127.0.0.1, which the start-up's probe of the port used.)
    for _ in range(3):
        c = connect_from(inst, "127.0.0.5")
        expect(c.reply(), 220)
        expect(c.cmd("QUIT"), 221)
        c.close()
    refused(connect_from(inst, "127.0.0.5"), "127.0.0.5")
    c = connect_from(inst, "127.0.0.3")
    expect(c.reply(), 220)
    assert "connection rate limit exceeded: 4 from [127.0.0.5]" in inst.log()


def test_loopback_is_exempt_by_default(make_instance):
    # The default count limit is 50, and the tests and benchmarks open more
    # sessions than that from 127.0.0.1.
    inst = make_instance("smtpd_client_connection_count_limit = 5")
    clients = [connect_from(inst, "127.0.0.1") for _ in range(12)]
    for c in clients:
        expect(c.reply(), 220)
    for c in clients:
        c.close()


def test_stopped_anvil_does_not_stall_smtpd(make_instance):
    inst = make_instance(NO_EXCEPTIONS + "\nsmtpd_client_connection_count_limit = 1")
    (anvil,) = inst.services()["anvil"]
    os.kill(anvil, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        clients = [connect_from(inst, "127.0.0.1") for _ in range(3)]
        # Every one is let in (fail open) after a short, bounded wait.
        for c in clients:
            code, lines, _ = cut_off(c, 5)
            assert code == 220, lines
        assert time.monotonic() - t0 < 4
        wait_for(lambda: "anvil did not answer in time" in inst.log(),
                 what="the log line")
    finally:
        os.kill(anvil, signal.SIGCONT)
    for c in clients:
        c.close()
    # Back in service: the limit holds again (sessions let in while anvil
    # was away are not counted; those opened now are).
    held = []

    def limited():
        c = connect_from(inst, "127.0.0.1")
        held.append(c)
        code, _ = c.reply()
        return code == 421
    wait_for(limited, timeout=15, interval=0.2, what="the limit to hold again")
    for c in held:
        c.close()


def test_slow_anvil_keeps_the_counts(make_instance):
    # A stall longer than smtpd's wait lets the waiting session in, but
    # must not make anvil forget the sessions it already counted (nor the
    # late one): the limit holds at once when anvil answers again.
    inst = make_instance(NO_EXCEPTIONS + "\nsmtpd_client_connection_count_limit = 2")
    held = [connect_from(inst, "127.0.0.1") for _ in range(2)]
    for c in held:
        expect(c.reply(), 220)
    (anvil,) = inst.services()["anvil"]
    os.kill(anvil, signal.SIGSTOP)
    try:
        late = connect_from(inst, "127.0.0.1")
        held.append(late)
        code, lines, _ = cut_off(late, 5)
        assert code == 220, lines
        wait_for(lambda: "anvil did not answer in time" in inst.log(),
                 what="the log line")
    finally:
        os.kill(anvil, signal.SIGCONT)
    for _ in range(4):
        refused(connect_from(inst, "127.0.0.1"))
    # The late session's DISCONNECT balances too: with all gone, the
    # address is served again, up to the limit.
    for c in held:
        c.close()
    again = []

    def served():
        c = connect_from(inst, "127.0.0.1")
        code, _ = c.reply() if select.select([c.sock], [], [], 5)[0] else (0, [])
        if code == 220:
            again.append(c)
        else:
            c.close()
        return len(again) == 2
    wait_for(served, timeout=10, interval=0.1, what="two sessions after all ended")
    refused(connect_from(inst, "127.0.0.1"))
