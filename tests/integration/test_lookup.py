"""The lookup service (lookup(8), common/proto_lookup.h) and the chrooted
smtpd that asks it: smtpd runs chrooted into the queue directory, reads no
table and links no database library; recipients (accounts, aliases,
user+tag, postmaster) are accepted and unknown ones refused 550 5.1.1 on
the service's word, pipelined RCPTs are answered in order; a lookup
service that is gone, stalled or answers garbage gives 451 4.3.0, never
550, never a stuck session, and mail flows again when it returns.  See
smtpd(8), lookup(8)."""

import os
import re
import select
import signal
import socket
import threading
import time

import ternipc
from conftest import maildir_new, wait_for
from test_local_aliases import set_aliases
from test_smtp_protocol import Client, expect

T1, T2 = "terntest1", "terntest2"
LOOKUP_T_RCPT = 0x60
LOOKUP_T_REPLY = 0x61
LOOKUP_ROW = "lookup      unix   private/lookup       -      n       1      lookup\n"


def set_column(inst, service, column, value):
    """Set one column of service's row in master.conf, and reload."""
    conf = inst.dir / "etc" / "master.conf"
    lines = []
    for line in conf.read_text().splitlines(keepends=True):
        f = line.split()
        if f and f[0] == service:
            f[column] = value
            line = " ".join(f) + "\n"
        lines.append(line)
    conf.write_text("".join(lines))
    reload(inst)


def set_limit(inst, service, limit):
    """Run limit instances of service (master.conf, reload)."""
    set_column(inst, service, 5, str(limit))


def reload(inst):
    """SIGHUP (every daemon restarts) and wait for all of them."""
    before = set(inst.services().get("smtpd", ()))
    os.kill(inst.master_pid(), signal.SIGHUP)
    limits = inst.service_limits()
    wait_for(lambda: not before & set(inst.services().get("smtpd", ())) and
             all(len(inst.services().get(s, ())) == n for s, n in limits.items()),
             what=f"every service restarted: {limits}")


def add_lookup(inst):
    """Put the lookup service back (master.conf, reload)."""
    conf = inst.dir / "etc" / "master.conf"
    conf.write_text(conf.read_text() + LOOKUP_ROW)
    reload(inst)


def session(inst):
    c = Client(inst.port)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO lookup.example"), 250)
    expect(c.cmd("MAIL FROM:<sender@example.org>"), 250)
    return c


def rcpt(c, addr):
    return c.cmd(f"RCPT TO:<{addr}>")


def test_smtpd_is_chrooted_and_reads_no_tables(make_instance):
    inst = make_instance("recipient_delimiter = +\n")
    set_aliases(inst, f"postmaster: root\nsales: {T2}\n")
    c = session(inst)
    expect(rcpt(c, f"{T1}@localhost"), 250)
    expect(rcpt(c, "sales@localhost"), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    smtpds = inst.services()["smtpd"]
    assert len(smtpds) == 2
    for pid in smtpds:
        assert os.readlink(f"/proc/{pid}/root") == str(inst.queue), pid
        maps = open(f"/proc/{pid}/maps").read()
        # No database client in smtpd's address space at all.
        assert "libdb" not in maps and "libpq" not in maps, pid
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            assert not target.endswith(".db") and "/etc/" not in target, (pid, target)
    # Each lookup process, once it has dropped root (a slow one, in a
    # sanitizer build, may still be starting).
    lookups = inst.services()["lookup"]
    wait_for(lambda: all(os.stat(f"/proc/{p}").st_uid != 0 for p in lookups),
             what="every lookup process to drop root")
    for lookup in lookups:
        assert os.readlink(f"/proc/{lookup}/root") == "/"


def test_recipients_checked_through_the_lookup_service(make_instance, monkeypatch):
    # A zone that is not the machine's (and has no summer time): smtpd
    # reads it before its chroot hides /usr/share/zoneinfo.
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    inst = make_instance("recipient_delimiter = +\n")
    set_aliases(inst, f"postmaster: root\nsales: {T2}\nlist+x: {T1}\n")
    c = session(inst)
    expect(rcpt(c, f"{T1}@localhost"), 250, "2.1.5")
    expect(rcpt(c, "sales@localhost"), 250, "2.1.5")
    expect(rcpt(c, f"{T2}+tag@localhost"), 250, "2.1.5")
    expect(rcpt(c, "list+x@localhost"), 250, "2.1.5")
    expect(rcpt(c, "postmaster"), 250, "2.1.5")
    expect(rcpt(c, "PostMaster@localhost"), 250, "2.1.5")
    expect(rcpt(c, "no-such-user-tern@localhost"), 550, "5.1.1")
    expect(rcpt(c, "nobody-here+x@localhost"), 550, "5.1.1")
    # Pipelined: each waits for its answer, the replies keep their order.
    c.send(f"RCPT TO:<{T1}+a@localhost>\r\nRCPT TO:<nope-tern@localhost>\r\n"
           f"RCPT TO:<{T2}@localhost>\r\nRCPT TO:<nope2-tern@localhost>\r\n"
           "NOOP\r\n".encode())
    assert [c.reply()[0] for _ in range(5)] == [250, 550, 250, 550, 250]
    # The whole way, with the chrooted smtpd: SMTP in, Maildir out.
    expect(c.cmd("DATA"), 354)
    expect(c.cmd(b"Subject: chrooted\r\nX-Token: lookup-1\r\n\r\nbody\r\n."), 250)
    expect(c.cmd("QUIT"), 221)
    c.close()
    wait_for(lambda: maildir_new(T1) and maildir_new(T2), what="delivery to both users")
    for u in (T1, T2):
        (msg,) = [p for p in maildir_new(u) if b"X-Token: lookup-1" in p.read_bytes()]
        head = msg.read_bytes().split(b"\n\n")[0]
        # Received: with a real time zone offset, though smtpd is chrooted.
        m = re.search(rb"Received: from .*?; \w{3}, \d+ \w{3} \d{4} [0-9:]{8} ([-+]\d{4})",
                      head, re.S)
        assert m, head
        assert m.group(1) == b"+0530", head


def test_smtpd_without_chroot(make_instance):
    # chroot n still works (and a sanitizer build checks smtpd for leaks,
    # which it cannot do chrooted: common/daemon.c).
    inst = make_instance()
    set_column(inst, "smtpd", 4, "n")
    for pid in inst.services()["smtpd"]:
        assert os.readlink(f"/proc/{pid}/root") == "/"
    c = session(inst)
    expect(rcpt(c, "no-such-user-tern@localhost"), 550, "5.1.1")
    expect(rcpt(c, f"{T1}@localhost"), 250)
    expect(c.cmd("DATA"), 354)
    expect(c.cmd(b"Subject: unchrooted\r\nX-Token: lookup-nochroot\r\n\r\nbody\r\n."), 250)
    c.close()
    wait_for(lambda: any(b"X-Token: lookup-nochroot" in p.read_bytes() for p in maildir_new(T1)),
             what="the delivery")


def test_lookup_service_down_gives_451_then_mail_flows(make_instance):
    inst = make_instance("smtpd_lookup_timeout = 2s\n")
    inst.drop_service("lookup")
    assert not (inst.queue / "private" / "lookup").exists()
    c = session(inst)
    t0 = time.monotonic()
    expect(rcpt(c, f"{T1}@localhost"), 451, "4.3.0")
    expect(rcpt(c, "no-such-user-tern@localhost"), 451, "4.3.0")
    assert time.monotonic() - t0 < 2, "a missing service is not waited for"
    # postmaster is always taken.
    expect(rcpt(c, "postmaster@localhost"), 250)
    c.close()
    add_lookup(inst)
    c = session(inst)
    expect(rcpt(c, "no-such-user-tern@localhost"), 550, "5.1.1")
    expect(rcpt(c, f"{T1}@localhost"), 250)
    expect(c.cmd("DATA"), 354)
    expect(c.cmd(b"Subject: back\r\nX-Token: lookup-back\r\n\r\nbody\r\n."), 250)
    c.close()
    wait_for(lambda: any(b"X-Token: lookup-back" in p.read_bytes() for p in maildir_new(T1)),
             what="the delivery after the service came back")
    assert "lookup service" in inst.log()


def test_stalled_lookup_service_times_out_without_blocking(make_instance):
    inst = make_instance("smtpd_lookup_timeout = 2s\n")
    set_limit(inst, "smtpd", 1)      # every session in the one process
    set_limit(inst, "lookup", 1)     # and every question to the one lookup
    (lookup,) = inst.services()["lookup"]
    waiting = session(inst)
    other = session(inst)
    os.kill(lookup, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        waiting.send(f"RCPT TO:<{T1}@localhost>\r\n".encode())
        # The event loop goes on: the other session is answered at once.
        expect(other.cmd("NOOP"), 250)
        assert time.monotonic() - t0 < 1
        ready, _, _ = select.select([waiting.sock], [], [], 10)
        assert ready, "no reply to RCPT while the lookup service is stalled"
        expect(waiting.reply(), 451, "4.3.0")
        took = time.monotonic() - t0
        assert 1.5 < took < 5, took
        # A second question on the stalled service fails the same way.
        expect(rcpt(other, "no-such-user-tern@localhost"), 451, "4.3.0")
    finally:
        os.kill(lookup, signal.SIGCONT)
    expect(rcpt(waiting, f"{T1}@localhost"), 250)
    expect(rcpt(other, "no-such-user-tern@localhost"), 550, "5.1.1")
    waiting.close()
    other.close()
    assert "lookup service did not answer in time" in inst.log()


class FakeLookup:
    """A stand-in on private/lookup: answer(request) -> raw bytes to send
    (or None to close the connection)."""

    def __init__(self, queue, answer):
        self.path = str(queue / "private" / "lookup")
        self.answer = answer
        self.asked = []
        self.conns = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            while True:
                try:
                    req = ternipc.read_message(conn, timeout=60)
                except (ConnectionError, OSError, ternipc.FrameError, TimeoutError):
                    return
                self.asked.append(req.get("rcpt"))
                out = self.answer(req)
                if out is None:
                    return
                try:
                    conn.sendall(out)
                except OSError:
                    return

    def close(self):
        self.sock.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            os.unlink(self.path)
        except OSError:
            pass


def reply(req, **attrs):
    pairs = [("v", "2"), ("id", req.get("id"))] + list(attrs.items())
    return ternipc.encode(LOOKUP_T_REPLY, pairs)


def test_smtpd_takes_the_services_word(make_instance):
    inst = make_instance()
    inst.drop_service("lookup")
    fake = FakeLookup(inst.queue, lambda req: reply(req, status="found", account="shared")
                      if req["rcpt"].startswith("any") else reply(req, status="unknown"))
    try:
        c = session(inst)
        # Neither exists in the password database: only the service says so.
        expect(rcpt(c, "anyone-tern@localhost"), 250)
        expect(rcpt(c, f"{T1}@localhost"), 550, "5.1.1")
        expect(c.cmd("QUIT"), 221)
        c.close()
        assert fake.asked == ["anyone-tern@localhost", f"{T1}@localhost"]
    finally:
        fake.close()


GARBAGE = {
    "wrong id": lambda req: ternipc.encode(LOOKUP_T_REPLY, [
        ("v", "2"), ("id", str(int(req["id"]) + 7)), ("status", "unknown")]),
    "wrong version": lambda req: ternipc.encode(LOOKUP_T_REPLY, [
        ("v", "9"), ("id", req["id"]), ("status", "unknown")]),
    "no status": lambda req: reply(req),
    "bad account": lambda req: reply(req, status="found", account="ro\x1bot"),
    "account with unknown": lambda req: reply(req, status="unknown", account="root"),
    "other type": lambda req: ternipc.encode(0x42, [("status", "ok")]),
    "not a frame": lambda req: b"\xff\xff\xff\xffgarbage",
    "closes": lambda req: None,
    "refusal": lambda req: ternipc.encode(ternipc.IPC_T_ERROR, [("text", "no")]),
}


def test_garbage_from_the_lookup_service_is_451(make_instance):
    inst = make_instance("smtpd_lookup_timeout = 2s\n")
    inst.drop_service("lookup")
    for what, answer in GARBAGE.items():
        fake = FakeLookup(inst.queue, answer)
        try:
            c = session(inst)
            t0 = time.monotonic()
            code, lines = rcpt(c, "no-such-user-tern@localhost")
            assert code == 451 and lines[-1][4:].startswith("4.3.0"), (what, lines)
            assert time.monotonic() - t0 < 1.5, what
            expect(c.cmd("NOOP"), 250)
            c.close()
        finally:
            fake.close()
    # A silent one: the time-out.
    fake = FakeLookup(inst.queue, lambda req: b"")
    try:
        c = session(inst)
        t0 = time.monotonic()
        expect(rcpt(c, "no-such-user-tern@localhost"), 451, "4.3.0")
        assert 1.5 < time.monotonic() - t0 < 5
        c.close()
    finally:
        fake.close()
    add_lookup(inst)
    c = session(inst)
    expect(rcpt(c, "no-such-user-tern@localhost"), 550, "5.1.1")
    c.close()


def test_unchecked_asks_only_about_postmaster(make_instance):
    inst = make_instance("local_recipient_check = no\n")
    inst.drop_service("lookup")
    fake = FakeLookup(inst.queue, lambda req: reply(req, status="found", account="root"))
    try:
        c = session(inst)
        expect(rcpt(c, "no-such-user-tern@localhost"), 250)
        expect(rcpt(c, f"{T1}@localhost"), 250)
        expect(rcpt(c, "postmaster@localhost"), 250)
        c.close()
        assert fake.asked == ["postmaster@localhost"]
    finally:
        fake.close()
    # With no service at all, postmaster is still taken.
    c = session(inst)
    expect(rcpt(c, "postmaster@localhost"), 250)
    c.close()
