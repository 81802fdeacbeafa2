"""smtpd's limits, seen from the network: the idle time-out, the error
limit, the recipient limit, the exact message size limit, hundreds of
concurrent sessions, and 8-bit data with long lines delivered byte-exact.
See smtpd(8) and tern.conf(5)."""

import random
import re
import smtplib
import threading
import time

from conftest import maildir_new, wait_for
from test_delivery import split_delivered
from test_smtp_protocol import Client, expect


def session(inst, helo="limits.example"):
    c = Client(inst.port)
    expect(c.reply(), 220)
    expect(c.cmd(f"EHLO {helo}"), 250)
    return c


def closed(c, timeout=5):
    """The server closes the connection within timeout s."""
    c.sock.settimeout(timeout)
    if c.buf != b"":
        return False
    try:
        return c.sock.recv(1) == b""
    except ConnectionResetError:
        # A server that closes with unread input in its socket (a client
        # still trickling bytes) makes the kernel answer with a reset.
        return True


def tagged(user, tag):
    """user's delivered files that carry tag (other tests may share the user)."""
    def has(p):
        try:
            return tag.encode() in p.read_bytes()
        except FileNotFoundError:  # removed under us by another test run
            return False
    return [p for p in maildir_new(user) if has(p)]


def delivered(user, tag, count, timeout=30):
    """Wait for count files with tag for user; exactly that many."""
    wait_for(lambda: len(tagged(user, tag)) >= count, timeout=timeout,
             what=f"{count} message(s) {tag} for {user}")
    files = tagged(user, tag)
    assert len(files) == count, files
    return files


def test_idle_timeout(make_instance):
    inst = make_instance("smtpd_timeout = 2")
    c = session(inst)
    t0 = time.monotonic()
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.4.2 "), lines
    assert 1.5 <= time.monotonic() - t0 <= 10
    assert closed(c)
    # Idle in the middle of a message: the same, and nothing is left behind.
    c = session(inst)
    expect(c.cmd("MAIL FROM:<t@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(b"Subject: slow\r\n\r\nhalf a messa")
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.4.2 "), lines
    assert closed(c)
    wait_for(lambda: inst.queue_files("tmp") == [], what="tmp/ to be cleaned")
    assert "from=<t@example.org> size=" not in inst.log()  # never queued


def test_error_limit(tern):
    c = session(tern)
    for _ in range(20):
        expect(c.cmd("FROB"), 500, "5.5.2")
    expect(c.cmd("NOOP"), 250)  # 20 errors are still tolerated
    # The 21st ends the session; what was pipelined after it is not answered.
    c.send(b"FROB\r\nNOOP\r\nFROB\r\nQUIT\r\n")
    expect(c.reply(), 500, "5.5.2")
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.7.0 "), lines
    assert closed(c)


def test_recipient_limit(make_instance):
    inst = make_instance("smtpd_recipient_limit = 3\nmyhostname = limits.example")
    c = session(inst)
    expect(c.cmd("MAIL FROM:<r@example.org>"), 250)
    # The third names terntest1's mailbox again: acknowledged and kept
    # once, but it counts, so the fourth is one too many.
    for rcpt in ("terntest1@localhost", "terntest2@localhost", "terntest1@limits.example"):
        expect(c.cmd(f"RCPT TO:<{rcpt}>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<terntest2@limits.example>"), 452, "4.5.3")
    expect(c.cmd("DATA"), 354)
    code, lines = c.cmd(b"Subject: rcpt-limit\r\n\r\nthree recipients\r\n.")
    assert code == 250, lines
    # The limit is per message: the next one may have three again.
    expect(c.cmd("MAIL FROM:<r@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest2@limits.example>"), 250)
    c.close()
    (path,) = delivered("terntest1", "rcpt-limit", 1)
    delivered("terntest2", "rcpt-limit", 1)
    assert path.read_bytes().split(b"\n")[1] == b"Delivered-To: terntest1@localhost"


def message_of_size(n, tag):
    """(wire form with CRLF, stored form with LF); the stored form, which is
    what message_size_limit counts, is exactly n bytes."""
    lf = f"Subject: size-{tag}\n\n".encode()
    while n - len(lf) > 80:
        lf += b"y" * 79 + b"\n"
    lf += b"z" * (n - len(lf) - 1) + b"\n"
    assert len(lf) == n
    return lf.replace(b"\n", b"\r\n"), lf


def test_size_limit_is_exact(make_instance):
    inst = make_instance("message_size_limit = 10000")
    c = session(inst)
    expect(c.cmd("MAIL FROM:<s@example.org> SIZE=10001"), 552, "5.3.4")
    expect(c.cmd("MAIL FROM:<s@example.org> SIZE=10000"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    wire, lf = message_of_size(10000, "exact")
    c.send(wire)
    code, lines = c.cmd(".")
    assert code == 250 and "queued as" in lines[0], lines
    expect(c.cmd("MAIL FROM:<s@example.org>"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(message_of_size(10001, "over")[0])
    expect(c.cmd("."), 552, "5.3.4")
    c.close()
    (path,) = delivered("terntest1", "size-exact", 1)
    assert split_delivered(path.read_bytes())[3] == lf
    wait_for(lambda: not inst.queue_files("incoming") and not inst.queue_files("active")
             and not inst.queue_files("tmp"), what="an empty queue")


def test_200_concurrent_sessions(tern):
    n = 200
    barrier = threading.Barrier(n, timeout=60)
    codes, errors = {}, []

    def client(k):
        try:
            with smtplib.SMTP("127.0.0.1", tern.port, timeout=60) as s:
                s.ehlo(f"c{k}.example")
                barrier.wait()  # every session is open at this point
                s.mail(f"c{k}@example.org")
                s.rcpt("terntest2@localhost")
                codes[k] = s.data(f"Subject: c\r\nX-Token: conc-{k}\r\n\r\n{k}\r\n".encode())[0]
        except Exception as e:  # reported below, with the thread's number
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    assert codes == {k: 250 for k in range(n)}
    files = delivered("terntest2", "X-Token: conc-", n, timeout=120)
    tokens = sorted(re.search(rb"^X-Token: (\S+)$", p.read_bytes(), re.M).group(1) for p in files)
    assert tokens == sorted(f"conc-{k}".encode() for k in range(n))


def test_8bit_long_lines_byte_exact(tern):
    rnd = random.Random(8)
    octets = [b for b in range(1, 256) if b not in (10, 13)]
    lines = [bytes(rnd.choice(octets) for _ in range(5000)) for _ in range(20)]
    lines[3] = b"." + lines[3][1:]  # a dot to stuff
    lines[7] = b"\xc3\xa9" * 2500  # valid UTF-8 too
    lf = b"Subject: eight-bit\nX-Long: " + b"h" * 4990 + b"\n\n" + b"\n".join(lines) + b"\n"
    wire = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lf.split(b"\n")[:-1])
    c = session(tern)
    expect(c.cmd("MAIL FROM:<e@example.org> BODY=8BITMIME"), 250)
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250)
    expect(c.cmd("DATA"), 354)
    c.send(wire)
    code, reply = c.cmd(".")
    assert code == 250, reply
    c.close()
    (path,) = delivered("terntest1", "Subject: eight-bit", 1)
    assert split_delivered(path.read_bytes())[3] == lf
