"""End to end: SMTP in through the real daemons, out into a real Maildir.

Each delivered file must be exactly: Return-Path, Delivered-To, smtpd's
Received header, then the message as sent with CRLF turned into LF.
"""

import os
import pwd
import re
import signal
import subprocess
import time

from conftest import maildir_new, wait_for

RECEIVED_RE = re.compile(
    rb"Received: from (\S+) \(\[127\.0\.0\.1\]\)\n"
    rb"\tby \S+ \(tern\) with E?SMTP id ([0-9A-Z]+)\n"
    rb"(\tfor <[^>]+>;|\t?;?)?[^\n]*\n"
)


def split_delivered(data):
    """-> (return_path, delivered_to, received_block, body) of a Maildir file."""
    lines = data.split(b"\n")
    assert lines[0].startswith(b"Return-Path: "), data[:200]
    assert lines[1].startswith(b"Delivered-To: "), data[:200]
    assert lines[2].startswith(b"Received: "), data[:300]
    i = 3
    while lines[i].startswith(b"\t"):
        i += 1
    received = b"\n".join(lines[2:i]) + b"\n"
    body = b"\n".join(lines[i:])
    return lines[0], lines[1], received, body


def wait_delivered(user, count, timeout=20):
    return wait_for(lambda: len(maildir_new(user)) >= count and maildir_new(user),
                    timeout=timeout, what=f"{count} message(s) in {user}'s Maildir")


def wait_replied(inst, count=1):
    """deliver writes the mailbox before it replies: wait until qmgr has
    count replies (messages removed), so that its connection is proven
    (only a proven one carries pipelined requests) before a test stops
    the agents; a stop in between would leave the reply unsent."""
    wait_for(lambda: len(re.findall(r"qmgr\[\d+\]: \S+: removed", inst.log())) >= count,
             what=f"qmgr to have {count} repl{'y' if count == 1 else 'ies'}")


def expected_lf(message_crlf):
    return message_crlf.replace(b"\r\n", b"\n")


MESSAGE = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: terntest1@localhost\r\n"
    b"Subject: end to end\r\n"
    b"Message-ID: <e2e-1@example.org>\r\n"
    b"\r\n"
    b"Plain line.\r\n"
    b".A line that starts with a dot\r\n"
    b"..Two dots\r\n"
    b".\r\n"
    b"Eight bit: \xc3\xa9t\xc3\xa9 \xff\xfe raw\r\n"
    b"Last line without anything special\r\n"
)


def test_smtplib_delivery_byte_exact(tern):
    with tern.smtp() as s:
        code, _ = s.ehlo("client.example")
        assert code == 250
        assert s.has_extn("8bitmime") and s.has_extn("pipelining")
        refused = s.sendmail("sender@example.org", ["terntest1@localhost"], MESSAGE,
                             mail_options=["BODY=8BITMIME"])
        assert refused == {}
    (path,) = wait_delivered("terntest1", 1)
    data = path.read_bytes()
    rp, dt, received, body = split_delivered(data)
    assert rp == b"Return-Path: <sender@example.org>"
    assert dt == b"Delivered-To: terntest1@localhost"
    m = RECEIVED_RE.match(received)
    assert m, received
    assert m.group(1) == b"client.example"
    assert b"for <terntest1@localhost>" in received
    assert body == expected_lf(MESSAGE)
    st = os.stat(path)
    pw = pwd.getpwnam("terntest1")
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
    assert st.st_mode & 0o077 == 0
    # Maildir protocol: nothing left behind in tmp/.
    assert list((path.parent.parent / "tmp").iterdir()) == []
    # qmgr removes the queue file once every recipient is done.
    wait_for(lambda: not tern.queue_files("active") and not tern.queue_files("incoming"),
             what="the queue to empty")


def test_swaks_delivery_byte_exact(tern, tmp_path):
    body = b"Subject: via swaks\r\nX-Test: 1\r\n\r\nHello from swaks.\r\n.dotted\r\n"
    msg = tmp_path / "msg.eml"
    # swaks itself ends the data with CRLF "." CRLF, so the file holds the
    # message without its final line break.
    msg.write_bytes(body[:-2])
    r = subprocess.run(["swaks", "--server", tern.listen, "--helo", "swaks.example",
                        "--from", "swaks@example.org", "--to", "terntest2@localhost",
                        "--data", f"@{msg}"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(rb"<-  250 2\.0\.0 Ok: queued as [0-9A-Z]+", r.stdout), r.stdout
    (path,) = wait_delivered("terntest2", 1)
    rp, dt, received, got = split_delivered(path.read_bytes())
    assert rp == b"Return-Path: <swaks@example.org>"
    assert dt == b"Delivered-To: terntest2@localhost"
    assert RECEIVED_RE.match(received).group(1) == b"swaks.example"
    assert got == expected_lf(body)


def test_several_recipients_and_messages_per_session(tern):
    msgs = []
    with tern.smtp() as s:
        s.ehlo("multi.example")
        for n in range(3):
            msg = (f"Subject: multi {n}\r\nMessage-ID: <multi-{n}@example.org>\r\n\r\n"
                   f"body {n}\r\n").encode()
            msgs.append(msg)
            assert s.sendmail("", ["terntest1@localhost", "TERNTEST2@localhost"], msg) == {}
    for user in ("terntest1", "terntest2"):
        files = wait_delivered(user, 3)
        bodies = sorted(split_delivered(p.read_bytes())[3] for p in files)
        assert bodies == sorted(expected_lf(m) for m in msgs)
        for p in files:
            rp, dt, received, _ = split_delivered(p.read_bytes())
            assert rp == b"Return-Path: <>"
            assert dt in (b"Delivered-To: terntest1@localhost",
                          b"Delivered-To: TERNTEST2@localhost")
            # Two recipients: no "for <...>" clause naming just one of them.
            assert b"for <" not in received


def test_postmaster_always_accepted_and_delivered_to_root(tern):
    with tern.smtp() as s:
        s.ehlo("pm.example")
        assert s.sendmail("a@example.org", ["postmaster@localhost"],
                          b"Subject: pm\r\n\r\nhi\r\n") == {}
    log = lambda: tern.log()
    wait_for(lambda: "postmaster@localhost" in log() and "status=sent" in log(),
             what="postmaster delivery in the log")


def test_reused_queue_file_carries_no_old_bytes(tern):
    """A finished message's queue file goes to free/ and a later message is
    written over it: a short message after a long one must arrive exactly,
    without the long one's tail."""
    long_msg = (b"Subject: long\r\n\r\n" + b"L" * 200 + b"\r\n") * 150
    with tern.smtp() as s:
        s.sendmail("a@example.org", ["terntest1@localhost"], long_msg)
    wait_delivered("terntest1", 1)
    wait_for(lambda: len(tern.queue_files("free")) == 1, what="the finished file in free/")
    (freed,) = tern.queue_files("free")
    ino = os.stat(tern.queue / "free" / freed).st_ino
    # smtpd looks into free/ again shortly after finding it
    # empty, so send until the file has been taken (bounded).
    sent = 0
    deadline = time.monotonic() + 15
    while freed in tern.queue_files("free"):
        assert time.monotonic() < deadline, "free/ file never reused"
        sent += 1
        short_msg = b"Subject: short %d\r\n\r\nshort body\r\n" % sent
        with tern.smtp() as s:
            s.sendmail("b@example.org", ["terntest2@localhost"], short_msg)
        paths = wait_delivered("terntest2", sent)
        bodies = {split_delivered(p.read_bytes())[3] for p in paths}
        assert expected_lf(short_msg) in bodies
    # The reused inode went round again: back in free/ under the new id.
    wait_for(lambda: any(os.stat(tern.queue / "free" / n).st_ino == ino
                         for n in tern.queue_files("free")),
             what="the reused file back in free/")
    assert all(len(p.read_bytes()) < 1000 for p in maildir_new("terntest2"))


def test_pipelined_requests_each_delivered_once(make_instance):
    """With one connection to deliver, qmgr pipelines requests on it and
    deliver handles the waiting ones as one batch.  A backlog is built while
    the delivery agents are stopped; then every message must arrive exactly
    once and intact, and deliver must have batched."""
    inst = make_instance("deliver_concurrency = 1\nverbose = yes")
    agents = inst.services()["deliver"]
    sent = []

    def send(i):
        user = "terntest1" if i % 2 else "terntest2"
        msg = b"Subject: pipelined %d\r\n\r\nbody of %d\r\n" % (i, i)
        with inst.smtp() as s:
            s.sendmail("p@example.org", [f"{user}@localhost"], msg)
        sent.append((user, msg))

    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        send(0)
        send(1)   # the connection is unproven: this one waits in qmgr
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGCONT)
    wait_delivered("terntest1", 1)
    wait_replied(inst)
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(2, 20):
            send(i)
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGCONT)
    for user in ("terntest1", "terntest2"):
        wait_for(lambda: len(maildir_new(user)) >= 10, what=f"10 messages for {user}")
        got = sorted(split_delivered(p.read_bytes())[3] for p in maildir_new(user))
        want = sorted(expected_lf(m) for u, m in sent if u == user)
        assert got == want
    wait_for(lambda: "requests in one batch" in inst.log(), what="a batch in the log")


def test_batch_stops_at_100_recipients(make_instance):
    """A batch takes no further request once it names 100 recipients: three
    pipelined requests of 60 recipients each make a batch of two, then one.
    The recipients are unknown users that smtpd lets through (no recipient
    check), so deliver answers each with a quick 5.1.1."""
    inst = make_instance("deliver_concurrency = 1\nverbose = yes\n"
                         "local_recipient_check = no")
    agents = inst.services()["deliver"]

    def send(tag, rcpts):
        msg = b"Subject: %s\r\n\r\nbody\r\n" % tag
        with inst.smtp() as s:
            s.sendmail("p@example.org", rcpts, msg)

    send(b"prove", ["terntest1@localhost"])  # later requests pipeline
    wait_delivered("terntest1", 1)
    wait_replied(inst)
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(3):
            send(b"big %d" % i, [f"nobody-{i}-{k}@localhost" for k in range(60)])
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGCONT)
    bounced = re.compile(r"relay=local, delay=[\d.]+, dsn=5\.1\.1, status=bounced")
    wait_for(lambda: len(bounced.findall(inst.log())) == 180, timeout=30, what="180 bounces")
    log = inst.log()
    assert "2 requests in one batch" in log
    assert "3 requests in one batch" not in log


def test_backlog_batches_of_16_with_the_next_waiting(make_instance):
    """Under a backlog qmgr keeps up to 32 requests out on a connection and
    deliver takes at most 16 of them per batch, so the next batch waits in
    the socket while one is made (docs/PERFORMANCE.md, the drain).  40
    messages queued while the only agent is stopped make batches of 16,
    none larger, and each message arrives once."""
    inst = make_instance("deliver_concurrency = 1\nverbose = yes")
    agents = inst.services()["deliver"]
    with inst.smtp() as s:
        s.sendmail("p@example.org", ["terntest1@localhost"], b"Subject: prove\r\n\r\nx\r\n")
    wait_delivered("terntest1", 1)
    wait_replied(inst)
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        with inst.smtp() as s:
            for i in range(40):
                s.sendmail("p@example.org", ["terntest1@localhost"],
                           b"Subject: backlog %d\r\n\r\nbody %d\r\n" % (i, i))
        # Every message loaded and sent (32) or waiting in qmgr (8).
        wait_for(lambda: len(re.findall(r"request for 1 recipient\(s\) sent to local",
                                        inst.log())) >= 33, what="32 requests out")
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGCONT)
    new = wait_delivered("terntest1", 41, timeout=30)
    subjects = sorted(re.search(rb"Subject: (.*)", p.read_bytes()).group(1) for p in new)
    assert subjects == sorted([b"prove"] + [b"backlog %d" % i for i in range(40)])
    sizes = [int(n) for n in re.findall(r"(\d+) requests in one batch", inst.log())]
    assert 16 in sizes and max(sizes) == 16, sizes
