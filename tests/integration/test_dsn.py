"""Delivery status notifications (issue 10): bounce(8) composes RFC 3464
reports that qmgr asks for, and smtpd's DSN extension (RFC 3461) decides
who gets what.  Each test drives a real instance: local recipients, the
internal error: transport (a recipient that fails after acceptance) and
the real SMTP client against an aiosmtpd receiver on loopback (a remote
550, or 4xx for ever).  Notices go to a local sender (terntest1), whose
Maildir is read with Python's email package."""

import email
import email.policy
import os
import re
import signal
import time
from email.utils import parsedate_to_datetime

import pytest

from conftest import INSTANCE_ROOT, maildir_new, pid_alive, wait_for
from fakesmtp import write_map

aiosmtpd = pytest.importorskip("aiosmtpd")
from test_smtp_client import Sink, receiver  # noqa: E402,F401 (fixture)

SENDER = "terntest1@localhost"
GOOD = "terntest2@localhost"


def notices(user, token=None):
    """Parsed notices (From MAILER-DAEMON) in user's Maildir, about token."""
    out = []
    for p in maildir_new(user):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        if b"\nFrom: MAILER-DAEMON@" not in data and not data.startswith(b"From: MAILER-DAEMON@"):
            if b"From: MAILER-DAEMON@" not in data:
                continue
        if token is not None and token.encode() not in data:
            continue
        out.append(email.message_from_bytes(data, policy=email.policy.compat32))
    return out


def copies(user, token):
    return sum(f"X-Token: {token}\n".encode() in p.read_bytes() for p in maildir_new(user)
               if b"From: MAILER-DAEMON@" not in p.read_bytes())


def dsn_instance(make_instance, receiver, extra="", refuse=None, handler=None):
    handler = handler or Sink(refuse=refuse or {})
    _, hop = receiver(handler=handler)
    tmap = write_map(INSTANCE_ROOT, f"transport-dsn-{os.getpid()}-{time.monotonic_ns()}",
                     "gone.test error:5.1.1 no such user here\n"
                     f"remote.test smtp:{hop}\n")
    inst = make_instance("myhostname = mx.tern.test\n"
                         "relay_domains = gone.test, remote.test\n"
                         "minimal_backoff_time = 1s\nmaximal_backoff_time = 2s\n"
                         "queue_scan_interval = 1s\n"
                         f"transport_maps = texthash:{tmap}\n" + extra)
    return inst, handler


def send(inst, sender, rcpts, token, mail_opts=(), rcpt_opts=None, extra_header=""):
    rcpt_opts = rcpt_opts or {}
    with inst.smtp() as s:
        s.ehlo("client.example")
        code, text = s.mail(sender, list(mail_opts))
        assert code == 250, text
        for r in rcpts:
            code, text = s.rcpt(r, list(rcpt_opts.get(r, ())))
            assert code == 250, (r, text)
        code, text = s.data(f"From: <{sender}>\r\nTo: <{rcpts[0]}>\r\nSubject: {token}\r\n"
                            f"X-Token: {token}\r\n{extra_header}\r\nbody of {token}\r\n".encode())
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def empty_queue(inst):
    return not any(inst.queue_files(d) for d in ("incoming", "active", "deferred"))


def parts(msg):
    """(human, delivery-status blocks, returned part) of a notice."""
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    human, status, orig = msg.get_payload()
    assert human.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    blocks = [dict(b.items()) for b in status.get_payload()]
    return human, blocks, orig


def check_headers(msg, to):
    assert msg["From"].startswith("MAILER-DAEMON@mx.tern.test")
    assert msg["To"] == to
    assert msg["Auto-Submitted"] == "auto-replied"
    assert re.fullmatch(r"<[^<>@\s]+@mx\.tern\.test>", msg["Message-ID"])
    assert parsedate_to_datetime(msg["Date"]).timestamp() == pytest.approx(time.time(), abs=600)
    assert msg["MIME-Version"] == "1.0"
    # RFC 5322: each of these once
    for h in ("From", "To", "Date", "Message-ID", "Subject"):
        assert len(msg.get_all(h)) == 1, h


def test_one_notice_for_two_failures(make_instance, receiver):
    inst, sink = dsn_instance(make_instance, receiver, refuse={
        "bob@remote.test": "550 5.1.1 <bob@remote.test>: Recipient address rejected"})
    qid = send(inst, SENDER, [GOOD, "alice@gone.test", "bob@remote.test"], "dsn-1")
    wait_for(lambda: notices("terntest1", "dsn-1"), timeout=30, what="the notice")
    wait_for(lambda: empty_queue(inst), timeout=30, what="an empty queue")
    got = notices("terntest1", "dsn-1")
    assert len(got) == 1
    assert copies("terntest2", "dsn-1") == 1
    n = got[0]
    check_headers(n, SENDER)
    assert n["Subject"] == "Undelivered Mail Returned to Sender"
    human, blocks, orig = parts(n)
    text = human.get_payload()
    assert "<alice@gone.test>: no such user here" in text
    assert "bob@remote.test" in text and GOOD not in text
    msgf = blocks[0]
    assert msgf["Reporting-MTA"] == "dns; mx.tern.test"
    assert msgf["X-Tern-Queue-ID"] == qid
    parsedate_to_datetime(msgf["Arrival-Date"])
    assert "Original-Envelope-Id" not in msgf
    rc = {b["Final-Recipient"]: b for b in blocks[1:]}
    assert set(rc) == {"rfc822; alice@gone.test", "rfc822; bob@remote.test"}
    a, b = rc["rfc822; alice@gone.test"], rc["rfc822; bob@remote.test"]
    assert a["Action"] == "failed" and a["Status"] == "5.1.1"
    assert a["Diagnostic-Code"] == "X-Tern; no such user here"
    assert "Remote-MTA" not in a and "Original-Recipient" not in a
    assert b["Action"] == "failed" and b["Status"] == "5.1.1"
    assert b["Remote-MTA"] == "dns; 127.0.0.1"
    assert b["Diagnostic-Code"] == ("smtp; 550 5.1.1 <bob@remote.test>: Recipient "
                                    "address rejected")
    for r in (a, b):
        parsedate_to_datetime(r["Last-Attempt-Date"])
        assert "Will-Retry-Until" not in r
    # no RET: the whole message comes back
    assert orig.get_content_type() == "message/rfc822"
    inner = orig.get_payload()[0]
    assert inner["X-Token"] == "dsn-1"
    assert "body of dsn-1" in inner.get_payload()
    # the notice itself is from <> and has gone: nothing more comes
    log = inst.log()
    assert f"{qid}: sender failed notification" in log
