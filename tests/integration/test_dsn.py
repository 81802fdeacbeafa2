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


def test_ret_envid_orcpt_round_trip(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver)
    assert "DSN" in inst_ehlo(inst)
    send(inst, SENDER, ["alice@gone.test"], "dsn-hdrs",
         mail_opts=["RET=HDRS", "ENVID=QQ+2B314159"],
         rcpt_opts={"alice@gone.test": ["NOTIFY=FAILURE", "ORCPT=rfc822;Alice+40Gone.Test"]})
    send(inst, SENDER, ["carl@gone.test"], "dsn-full", mail_opts=["RET=FULL"])
    wait_for(lambda: notices("terntest1", "dsn-hdrs") and notices("terntest1", "dsn-full"),
             timeout=30, what="both notices")
    h, = notices("terntest1", "dsn-hdrs")
    _, blocks, orig = parts(h)
    assert blocks[0]["Original-Envelope-Id"] == "QQ+314159"
    assert blocks[1]["Original-Recipient"] == "rfc822; Alice@Gone.Test"
    assert blocks[1]["Final-Recipient"] == "rfc822; alice@gone.test"
    assert orig.get_content_type() == "text/rfc822-headers"
    assert "X-Token: dsn-hdrs" in orig.get_payload()
    assert "body of dsn-hdrs" not in h.as_string()
    f, = notices("terntest1", "dsn-full")
    _, blocks, orig = parts(f)
    assert "Original-Envelope-Id" not in blocks[0]
    assert "Original-Recipient" not in blocks[1]
    assert orig.get_content_type() == "message/rfc822"
    assert "body of dsn-full" in orig.get_payload()[0].get_payload()


def inst_ehlo(inst):
    with inst.smtp() as s:
        code, text = s.ehlo("client.example")
        assert code == 250
        return [l.split()[0] for l in text.decode().splitlines()[1:]]


def test_bad_dsn_parameters_refused(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver)
    with inst.smtp() as s:
        s.ehlo("client.example")
        assert s.mail(SENDER, ["RET=ALL"]) == (501, b"5.5.4 Bad RET parameter")
        assert s.mail(SENDER, ["ENVID=a+ZZ"])[0] == 501
        assert s.mail(SENDER, ["RET=FULL"])[0] == 250
        assert s.rcpt(GOOD, ["NOTIFY=NEVER,DELAY"]) == (501, b"5.5.4 Bad NOTIFY parameter")
        assert s.rcpt(GOOD, ["ORCPT=nosemicolon"])[0] == 501
        assert s.rcpt(GOOD, ["RET=FULL"])[0] == 555


def test_notify_never_gives_nothing(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver)
    qid = send(inst, SENDER, ["alice@gone.test", GOOD], "dsn-never",
               rcpt_opts={"alice@gone.test": ["NOTIFY=NEVER"], GOOD: ["NOTIFY=NEVER"]})
    wait_for(lambda: empty_queue(inst) and f"{qid}: removed" in inst.log(),
             timeout=30, what="the message to be done")
    assert copies("terntest2", "dsn-never") == 1
    assert "to=<alice@gone.test>, status=bounced" in inst.log()
    assert not notices("terntest1", "dsn-never")
    assert f"{qid}: sender" not in inst.log()


def test_notify_success_gives_delivered_notice(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver)
    qid = send(inst, SENDER, [GOOD, "terntest1@localhost"], "dsn-success",
               rcpt_opts={GOOD: ["NOTIFY=SUCCESS"]})
    wait_for(lambda: notices("terntest1", "dsn-success"), timeout=30, what="the notice")
    wait_for(lambda: empty_queue(inst), timeout=30, what="an empty queue")
    n, = notices("terntest1", "dsn-success")
    check_headers(n, SENDER)
    assert n["Subject"] == "Successful Mail Delivery Report"
    _, blocks, orig = parts(n)
    assert [b["Final-Recipient"] for b in blocks[1:]] == [f"rfc822; {GOOD}"]
    assert blocks[1]["Action"] == "delivered" and blocks[1]["Status"] == "2.0.0"
    assert orig.get_content_type() == "text/rfc822-headers"
    assert f"{qid}: sender delivered notification" in inst.log()


def test_null_sender_failure_gives_nothing(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver,
                           extra="2bounce_notice_recipient = terntest2@localhost\n")
    qid = send(inst, "", ["alice@gone.test"], "dsn-null")
    wait_for(lambda: empty_queue(inst) and f"{qid}: removed" in inst.log(),
             timeout=30, what="the message to be done")
    assert "to=<alice@gone.test>, status=bounced" in inst.log()
    assert f"{qid}: sender" not in inst.log()
    assert not notices("terntest1", "dsn-null") and not notices("terntest2", "dsn-null")


def test_bounce_of_bounce_goes_to_postmaster_once(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver,
                           extra="2bounce_notice_recipient = terntest2\n")
    qid = send(inst, "nobody@gone.test", ["carl@gone.test"], "dsn-2bounce")
    wait_for(lambda: notices("terntest2", "dsn-2bounce"), timeout=30, what="the double bounce")
    wait_for(lambda: empty_queue(inst), timeout=30, what="an empty queue")
    n, = notices("terntest2", "dsn-2bounce")
    check_headers(n, "terntest2@mx.tern.test")
    _, blocks, orig = parts(n)
    assert [b["Final-Recipient"] for b in blocks[1:]] == ["rfc822; nobody@gone.test"]
    # the failed notice comes back whole, with the original's header in it
    assert orig.get_content_type() == "message/rfc822"
    inner = orig.get_payload()[0]
    assert inner["From"].startswith("MAILER-DAEMON@")
    assert "X-Token: dsn-2bounce" in inner.as_string()
    log = inst.log()
    first = re.search(rf"{qid}: sender failed notification: (\w+)", log).group(1)
    assert re.search(rf"{first}: sender failed notification: \w+", log)
    assert len(re.findall(r"sender failed notification", log)) == 2


def test_double_bounce_that_fails_is_dropped(make_instance, receiver):
    inst, _ = dsn_instance(make_instance, receiver,
                           extra="2bounce_notice_recipient = postmaster@gone.test\n")
    qid = send(inst, "nobody@gone.test", ["carl@gone.test"], "dsn-loop")
    wait_for(lambda: empty_queue(inst) and
             len(re.findall(r": removed", inst.log())) >= 3,
             timeout=30, what="the message, its notice and the double bounce done")
    log = inst.log()
    assert len(re.findall(r"sender failed notification", log)) == 2
    assert "to=<postmaster@gone.test>, status=bounced" in log
    time.sleep(0)  # nothing is left to wait for: the queue is empty
    assert empty_queue(inst)


def test_expiry_against_4xx_receiver(make_instance, receiver):
    inst, sink = dsn_instance(make_instance, receiver,
                              extra="maximal_queue_lifetime = 3s\n",
                              refuse={"bob@remote.test": "451 4.3.0 try again later"})
    qid = send(inst, SENDER, ["bob@remote.test"], "dsn-expire")
    wait_for(lambda: notices("terntest1", "dsn-expire"), timeout=40, what="the notice")
    wait_for(lambda: empty_queue(inst), timeout=30, what="an empty queue")
    n, = notices("terntest1", "dsn-expire")
    _, blocks, _ = parts(n)
    b = blocks[1]
    assert b["Final-Recipient"] == "rfc822; bob@remote.test"
    assert b["Action"] == "failed" and b["Status"] == "4.4.7"
    assert "expired" in b["Diagnostic-Code"]
    assert f"{qid}: to=<bob@remote.test>, status=expired" in inst.log()


def test_delay_warning_once(make_instance, receiver):
    inst, sink = dsn_instance(make_instance, receiver,
                              extra="delay_warning_time = 1s\n",
                              refuse={"bob@remote.test": "451 4.3.0 try again later"})
    qid = send(inst, SENDER, ["bob@remote.test"], "dsn-delay")
    wait_for(lambda: notices("terntest1", "dsn-delay"), timeout=40, what="the warning")
    n, = notices("terntest1", "dsn-delay")
    assert n["Subject"] == "Delayed Mail (still being retried)"
    _, blocks, orig = parts(n)
    b = blocks[1]
    assert b["Action"] == "delayed" and b["Status"] == "4.3.0"
    assert b["Remote-MTA"] == "dns; 127.0.0.1"
    assert b["Diagnostic-Code"] == "smtp; 451 4.3.0 try again later"
    until = parsedate_to_datetime(b["Will-Retry-Until"]).timestamp()
    assert until == pytest.approx(time.time() + 5 * 86400, abs=600)
    assert orig.get_content_type() == "text/rfc822-headers"
    # more attempts, no second warning, also after a restart of qmgr
    attempts = inst.log().count(f"{qid}: deferred")
    wait_for(lambda: inst.log().count(f"{qid}: deferred") >= attempts + 2,
             timeout=30, what="two more attempts")
    old, = inst.services()["qmgr"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: inst.services().get("qmgr", [old]) != [old], timeout=20,
             what="qmgr restarted")
    attempts = inst.log().count(f"{qid}: deferred")
    wait_for(lambda: inst.log().count(f"{qid}: deferred") >= attempts + 2,
             timeout=30, what="two more attempts after the restart")
    assert len(notices("terntest1", "dsn-delay")) == 1


def kill_service(inst, name):
    """kill -9 the running instance of name; wait for the master's new one."""
    wait_for(lambda: inst.services().get(name), timeout=30, what=f"{name} running")
    old, = inst.services()[name]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: inst.services().get(name, [old]) not in ([old], []), timeout=30,
             what=f"{name} restarted")


def notified(inst):
    return inst.log().count("sender failed notification")


@pytest.mark.parametrize("victims", [("qmgr", "qmgr", "qmgr"), ("bounce", "bounce", "qmgr")])
def test_kill_while_notices_are_made(make_instance, receiver, victims):
    """Messages pile up while qmgr is stopped; once it runs, the first
    kill -9 comes at once and the others each after one more notice, so
    notices are being made."""
    inst, _ = dsn_instance(make_instance, receiver)
    tokens = [f"dsn-crash-{victims[0]}-{i}" for i in range(40)]
    qmgr, = inst.services()["qmgr"]
    os.kill(qmgr, signal.SIGSTOP)
    try:
        for t in tokens:
            send(inst, SENDER, ["alice@gone.test", GOOD], t)
    finally:
        os.kill(qmgr, signal.SIGCONT)
    done = []
    for k, v in enumerate(victims):
        # the first kill at once, while the backlog is being worked off;
        # the next ones each after one more notice
        last = notified(inst)
        if k > 0:
            wait_for(lambda: notified(inst) > last or empty_queue(inst), timeout=60,
                     what="another notice")
        kill_service(inst, v)
        done.append(notified(inst))
    assert done[0] < len(tokens), "every notice was made before the first kill"
    wait_for(lambda: all(notices("terntest1", t + "\n") for t in tokens), timeout=120,
             what="a notice about every message")
    wait_for(lambda: empty_queue(inst), timeout=60, what="an empty queue")
    for t in tokens:
        n = len(notices("terntest1", t + "\n"))
        assert n in (1, 2), (t, n)
        assert copies("terntest2", t) in (1, 2)


class DsnSink(Sink):
    """A receiver that offers DSN, so that the SMTP client passes each
    recipient's notice duty on to it (no "relayed" notice is due).  With
    the dsn_params fixture it also takes NOTIFY and ORCPT (aiosmtpd refuses
    every RCPT parameter it does not know, before the handler runs); the
    handler still sees them among the options."""

    def __init__(self, refuse=None):
        super().__init__(refuse=refuse)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-DSN", responses[-1]]


@pytest.fixture
def dsn_params(monkeypatch):
    import aiosmtpd.smtp as asmtp
    parse = asmtp.SMTP._getparams

    def getparams(self, params):
        found = parse(self, params)
        if found:
            found.pop("NOTIFY", None)
            found.pop("ORCPT", None)
        return found
    monkeypatch.setattr(asmtp.SMTP, "_getparams", getparams)


def test_relayed_to_dsn_peer_file_is_reused(make_instance, receiver):
    """A message whose notices the next hop took over (it offers DSN) was
    never shown to bounce(8): its queue file goes to free/ for the next
    message, like a locally delivered one's, not unlinked (which made every
    relayed message cost a new inode).  test_review_abounce.py's
    test_noticed_message_not_recycled holds the other side."""
    inst, sink = dsn_instance(make_instance, receiver, handler=DsnSink())
    qid = send(inst, SENDER, ["bob@remote.test"], "dsn-passed")
    wait_for(lambda: empty_queue(inst) and f"{qid}: removed" in inst.log(),
             timeout=30, what="the message to be done")
    assert len(sink.messages) == 1
    assert f"{qid}: to=<bob@remote.test>, relay=127.0.0.1" in inst.log()
    assert qid in inst.queue_files("free"), inst.log()
    assert f"{qid}: sender" not in inst.log()
    assert not notices("terntest1", "dsn-passed")


def test_passed_on_marker_read_back_is_no_bounce_request(make_instance, receiver,
                                                        dsn_params):
    """NOTIFY=SUCCESS to a DSN peer writes a "passed on" marker on file;
    when the message is read back (another recipient was deferred), that
    marker is not taken for a request to bounce: the file is still
    recycled, and no notice is made."""
    sink = DsnSink(refuse={"carol@remote.test": "450 4.2.0 later"})
    inst, _ = dsn_instance(make_instance, receiver, handler=sink)
    qid = send(inst, SENDER, ["bob@remote.test", "carol@remote.test"], "dsn-passed2",
               rcpt_opts={"bob@remote.test": ["NOTIFY=SUCCESS"],
                          "carol@remote.test": ["NOTIFY=NEVER"]})
    wait_for(lambda: f"{qid}: deferred" in inst.log(), timeout=30, what="deferred")
    assert sink.messages[0][4] == [["NOTIFY=SUCCESS"]], sink.messages
    sink.refuse.clear()
    wait_for(lambda: empty_queue(inst) and f"{qid}: removed" in inst.log(),
             timeout=60, what="the message to be done")
    assert qid in inst.queue_files("free"), inst.log()
    assert f"{qid}: sender" not in inst.log()
    assert not notices("terntest1", "dsn-passed2")


def test_notice_marker_read_back_unlinks(make_instance, receiver):
    """A failure notice is made in the first round while another recipient
    is deferred; the message is read back from deferred/ and finished: the
    notice's marker on file says bounce was asked, so the file is unlinked,
    not recycled."""
    sink = Sink(refuse={"carol@remote.test": "450 4.2.0 later"})
    inst, _ = dsn_instance(make_instance, receiver, handler=sink)
    qid = send(inst, SENDER, ["alice@gone.test", "carol@remote.test"], "dsn-marker")
    wait_for(lambda: f"{qid}: deferred" in inst.log(), timeout=30, what="deferred")
    assert f"{qid}: sender " in inst.log()
    sink.refuse.clear()
    wait_for(lambda: empty_queue(inst) and f"{qid}: removed" in inst.log(),
             timeout=60, what="the message to be done")
    assert qid not in inst.queue_files("free")
