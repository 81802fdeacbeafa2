"""One copy per mailbox, however a transaction spells its recipients.

A local part has many spellings (quoted, backslash-escaped, any case; a
domain in any case; several local domains): smtpd stores each recipient in
its canonical spelling and only once per mailbox, and deliver writes a
message once per mailbox even when one request names it several times (a
queue file written before smtpd canonicalised, or by another way in).
Without both, one unauthenticated transaction could put smtpd_recipient_limit
copies of a message into one Maildir (issue 8, finding 1).
"""

import os

import pytest
import pwd
import re
import time
from pathlib import Path

import ternipc
from conftest import wait_for
from test_smtp_protocol import Client

SPELLINGS = [
    "terntest1@localhost",
    '"\\t\\e\\r\\n\\t\\e\\s\\t\\1"@localhost',
    '"terntest1"@LOCALHOST',
    "TernTest1@LocalHost",
    '"tern\\test1"@localhost',
    '"TERNTEST1"@localhost',
    "terntest1@dedupe.example",
    '"terntest1"@Dedupe.Example',
]


def copies(home, token):
    d = home / "Maildir" / "new"
    files = sorted(d.iterdir()) if d.is_dir() else []
    return [p for p in files if f"X-Token: {token}\n".encode() in read(p)]


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def home_of(user):
    return Path(pwd.getpwnam(user).pw_dir)


def queue_empty(inst):
    return not any(inst.queue_files(d) for d in ("incoming", "active", "deferred"))


def transaction(inst, rcpts, token):
    """Send one message to rcpts: ([RCPT replies], queue id)."""
    c = Client(inst.port)
    try:
        assert c.reply()[0] == 220
        assert c.cmd("EHLO dedupe.client")[0] == 250
        assert c.cmd("MAIL FROM:<d@example.org>")[0] == 250
        replies = [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
        assert c.cmd("DATA")[0] == 354
        code, lines = c.cmd(f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody\r\n.")
        assert code == 250, lines
        c.cmd("QUIT")
    finally:
        c.close()
    return replies, re.search(r"queued as ([0-9A-Z]+)", lines[-1]).group(1)


def test_many_spellings_of_one_user_give_one_copy(make_instance):
    inst = make_instance("myhostname = dedupe.example")
    replies, qid = transaction(inst, SPELLINGS + ["terntest2@localhost"], "spell-1")
    wait_for(lambda: queue_empty(inst) and copies(home_of("terntest2"), "spell-1"),
             timeout=20, what="the message delivered")
    got = copies(home_of("terntest1"), "spell-1")
    assert len(got) == 1, got
    assert read(got[0]).split(b"\n")[1] == b"Delivered-To: terntest1@localhost"
    assert len(copies(home_of("terntest2"), "spell-1")) == 1
    # Every RCPT was acknowledged alike (a different reply for a repeated
    # one would tell which addresses share a mailbox); two recipients were
    # stored, the first spelling of each mailbox.
    for (code, lines), r in zip(replies, SPELLINGS + ["terntest2@localhost"]):
        assert code == 250 and lines == ["250 2.1.5 Ok"], (r, lines)
    assert re.search(rf"{qid}: from=<d@example.org> size=\d+ nrcpt=2\b", inst.log())
    assert len(re.findall(rf"{qid}: to=<[^>]*>, relay=local, .*status=sent", inst.log())) == 2


def test_canonical_spelling_is_stored(make_instance):
    """A needlessly quoted recipient is stored (and delivered to) bare."""
    inst = make_instance()
    replies, qid = transaction(inst, ['"\\t\\e\\r\\n\\t\\e\\s\\t\\2"@LocalHost'], "spell-2")
    assert replies[0][0] == 250
    wait_for(lambda: queue_empty(inst) and copies(home_of("terntest2"), "spell-2"),
             timeout=20, what="the message delivered")
    (path,) = copies(home_of("terntest2"), "spell-2")
    assert read(path).split(b"\n")[1] == b"Delivered-To: terntest2@localhost"
    assert f"{qid}: to=<terntest2@localhost>, relay=local" in inst.log()


def test_postmaster_spellings_give_one_copy(make_instance):
    """2^10 spellings of postmaster per local domain, and root itself: one
    mailbox (root's, without a postmaster account), one copy."""
    inst = make_instance("myhostname = dedupe.example\n"
                         "smtpd_recipient_limit = 100")
    word = "postmaster"
    rcpts = ["postmaster"]
    for mask in range(0, 1024, 37):
        local = "".join(("\\" if mask >> i & 1 else "") + ch for i, ch in enumerate(word))
        rcpts.append(f'"{local}"@localhost')
        rcpts.append(f'"{local}"@DEDUPE.example')
    rcpts += ["root@localhost", "ROOT@dedupe.example"]
    try:
        replies, qid = transaction(inst, rcpts, "spell-pm")
        wait_for(lambda: queue_empty(inst), timeout=20, what="the message delivered")
        try:
            pwd.getpwnam("postmaster")
        except KeyError:
            assert len(copies(home_of("root"), "spell-pm")) == 1
        assert all(code == 250 for code, _ in replies), replies
        assert re.search(rf"{qid}: from=<d@example.org> size=\d+ nrcpt=1\b", inst.log())
    finally:
        for p in copies(home_of("root"), "spell-pm"):
            os.unlink(p)


def inject(inst, rcpts, token):
    """A queue file in incoming/ naming rcpts as they are, as smtpd before
    canonical spellings (or another way into the queue) could have written
    it; qmgr is told about it.  Its queue id."""
    qid = inst.put_queue_file("incoming", rcpts, token, prefix="0DEDUPE")
    reply = ternipc.call(inst.queue / "private" / "qmgr", ternipc.QMGR_T_NOTIFY,
                         {"v": ternipc.QMGR_VERSION, "id": qid})
    assert reply.type == ternipc.IPC_T_OK, reply
    return qid


def test_two_spellings_in_one_deliver_request_give_one_copy(make_instance):
    inst = make_instance("myhostname = dedupe.example")
    rcpts = ["terntest1@localhost", '"terntest1"@localhost', "TERNTEST1@dedupe.example",
             "terntest2@localhost"]
    qid = inject(inst, rcpts, "inject-1")
    wait_for(lambda: queue_empty(inst) and copies(home_of("terntest2"), "inject-1"),
             timeout=20, what="the injected message delivered")
    got = copies(home_of("terntest1"), "inject-1")
    assert len(got) == 1, got
    assert len(copies(home_of("terntest2"), "inject-1")) == 1
    # Every recipient has the outcome of the one delivery.
    log = inst.log()
    for r in rcpts:
        assert re.search(rf"{qid}: to=<{re.escape(r)}>, relay=local, .*status=sent", log), r
    assert f"{qid}: removed" in log


def test_postmaster_and_root_once_without_the_check(make_instance):
    """Without local_recipient_check the mailbox key is the login name, but
    postmaster is still root's mailbox (when it has no account of its own):
    stored once."""
    try:
        pwd.getpwnam("postmaster")
        pytest.skip("this system has a postmaster account")
    except KeyError:
        pass
    inst = make_instance("myhostname = dedupe.example\nlocal_recipient_check = no")
    token = f"spell-pm2-{os.getpid()}-{time.monotonic_ns()}"   # root's Maildir is shared
    try:
        replies, qid = transaction(inst, ["postmaster", "root@localhost",
                                          "Postmaster@dedupe.example"], token)
        assert all(code == 250 for code, _ in replies), replies
        assert re.search(rf"{qid}: from=<d@example.org> size=\d+ nrcpt=1\b", inst.log())
        wait_for(lambda: queue_empty(inst), timeout=20, what="the message delivered")
        assert len(copies(home_of("root"), token)) == 1
    finally:
        wait_for(lambda: queue_empty(inst), timeout=20, what="the queue empty")
        for p in copies(home_of("root"), token):
            os.unlink(p)
