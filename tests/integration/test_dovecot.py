"""A real mail store: a private Dovecot (dovecot.py: its own configuration
under a temporary directory, IMAP and LMTP on loopback, no TLS) next to a
tern instance.

- tern's local transport writes a user's ~/Maildir; Dovecot reads it over
  IMAP (Python's imaplib): the bytes are what was sent, after tern's own
  header fields.
- tern's LMTP client (lmtp:unix:... and lmtp:inet:... in transport_maps)
  hands mail to Dovecot's LMTP service, which stores it; imaplib reads it
  back the same way.
- Dovecot refuses an unknown user at RCPT: the good recipient of the same
  message is delivered, the other bounced with a notice to the sender.
- mailbox_transport = lmtp:unix:...: local mail, after tern's aliases,
  goes to Dovecot over LMTP.
"""

import os
import pwd
import re

import pytest

from conftest import maildir_new, wait_for
from dovecot import DOVECOT, Dovecot
from fakesmtp import write_map

pytestmark = pytest.mark.skipif(not os.access(DOVECOT, os.X_OK),
                                reason="dovecot-imapd/dovecot-lmtpd not installed (mk/deps.sh)")

PASSWORDS = {"terntest1": "imap-pw-1", "terntest2": "imap-pw-2"}


@pytest.fixture
def dovecot(test_users, request):
    users = []
    for name in test_users:
        pw = pwd.getpwnam(name)
        users.append((name, PASSWORDS[name], pw.pw_uid, pw.pw_gid, pw.pw_dir))
    d = Dovecot(users)
    try:
        d.start()
        yield d
    finally:
        d.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is None or rep.failed:
            print(f"----- dovecot log of {d.dir} -----\n{d.output()[-5000:]}")
        d.remove()


def message(token):
    return (f"From: Sender <sender@example.org>\r\nTo: someone\r\n"
            f"Subject: {token}\r\nX-Token: {token}\r\n\r\n"
            "first line\r\n.leading dot\r\n\r\nlast line\r\n").encode()


def send(inst, sender, rcpts, data):
    with inst.smtp() as s:
        s.ehlo("client.example")
        refused = s.sendmail(sender, rcpts, data)
    return refused


def only_tern_headers_before(fetched, original):
    """fetched is original after some header fields (no blank line)."""
    assert fetched.endswith(original), fetched[:2000]
    added = fetched[:len(fetched) - len(original)]
    assert b"\r\n\r\n" not in added, added
    return added


def imap_messages(dovecot, user):
    return dovecot.fetch_all(user, PASSWORDS[user])


def test_imap_reads_tern_maildir(make_instance, dovecot):
    inst = make_instance()
    data = message("maildir-imap-1")
    send(inst, "sender@example.org", ["terntest1@localhost"], data)
    wait_for(lambda: maildir_new("terntest1"), timeout=30, what="the Maildir delivery")
    (path,) = maildir_new("terntest1")
    stored = path.read_bytes()
    (fetched,) = imap_messages(dovecot, "terntest1")
    # IMAP gives the stored message with CRLF line ends, unchanged.
    assert fetched == stored.replace(b"\n", b"\r\n")
    added = only_tern_headers_before(fetched, data)
    assert added.startswith(b"Return-Path: <sender@example.org>\r\n"
                            b"Delivered-To: terntest1@localhost\r\n"), added
    assert b"Received: from client.example" in added


def lmtp_instance(make_instance, dovecot, hop):
    tmap = write_map(dovecot.dir, "transport", f"store.example lmtp:{hop}\n")
    return make_instance(f"transport_maps = texthash:{tmap}\n")


@pytest.mark.parametrize("kind", ["unix", "inet"])
def test_lmtp_into_dovecot(make_instance, dovecot, kind):
    hop = (f"unix:{dovecot.lmtp_socket}" if kind == "unix"
           else f"inet:127.0.0.1:{dovecot.lmtp_port}")
    inst = lmtp_instance(make_instance, dovecot, hop)
    data = message(f"lmtp-{kind}-1")
    assert send(inst, "sender@example.org", ["terntest2@store.example"], data) == {}
    msgs = wait_for(lambda: imap_messages(dovecot, "terntest2"), timeout=30,
                    what="Dovecot to store the message")
    assert len(msgs) == 1
    added = only_tern_headers_before(msgs[0], data)
    # tern's Received: under Dovecot's own fields.
    assert b"Received: from client.example" in added
    assert re.search(rb"Delivered-To: <?terntest2@store\.example>?\r\n", added), added
    wait_for(lambda: not any(inst.queue_files(d) for d in ("incoming", "active", "deferred")),
             what="an empty queue")
    log = inst.log()
    relay = (f"relay={inst_hostname(log)}[{dovecot.lmtp_socket}]," if kind == "unix"
             else f"relay=127.0.0.1[127.0.0.1]:{dovecot.lmtp_port},")
    assert re.search(r"lmtp\[\d+\]: \w+: to=<terntest2@store\.example>, " + re.escape(relay)
                     + r".*status=sent", log), log[-3000:]


def inst_hostname(log):
    """myhostname, as the LMTP client names this side of a socket."""
    m = re.search(r"lmtp\[\d+\]: started as the LMTP client, helo_name=(\S+),", log)
    assert m, log[-3000:]
    return m.group(1)


def test_dovecot_refuses_one_recipient(make_instance, dovecot):
    inst = lmtp_instance(make_instance, dovecot, f"unix:{dovecot.lmtp_socket}")
    data = message("lmtp-mixed-1")
    # The sender is local, so its failure notice lands in a Maildir.
    send(inst, "terntest1@localhost", ["terntest2@store.example", "nosuchuser@store.example"],
         data)
    msgs = wait_for(lambda: imap_messages(dovecot, "terntest2"), timeout=30,
                    what="the good recipient's copy in Dovecot")
    assert len(msgs) == 1 and msgs[0].endswith(data)
    notices = wait_for(lambda: maildir_new("terntest1"), timeout=30,
                       what="the failure notice to the sender")
    assert len(notices) == 1
    notice = notices[0].read_bytes()
    assert b"Final-Recipient: rfc822; nosuchuser@store.example" in notice
    assert b"Status: 5.1.1" in notice
    assert b"terntest2@store.example" not in notice.split(b"Content-Type: message/rfc822")[0] \
        .split(b"message/delivery-status")[-1]
    wait_for(lambda: not any(inst.queue_files(d) for d in ("incoming", "active", "deferred")),
             what="an empty queue")
    log = inst.log()
    assert "to=<terntest2@store.example>" in log and "status=sent" in log
    assert re.search(r"to=<nosuchuser@store\.example>, .*dsn=5\.1\.1, status=bounced", log)


def test_mailbox_transport_after_aliases(make_instance, dovecot):
    """mailbox_transport (Postfix's meaning): local mail goes through
    tern's aliases first, then each account's mailbox to Dovecot over
    LMTP (deliver logs the hand-over, the LMTP client the delivery)."""
    from test_local_aliases import set_aliases
    inst = make_instance(f"mailbox_transport = lmtp:unix:{dovecot.lmtp_socket}\n")
    set_aliases(inst, "postmaster: root\nstore-alias: terntest2\n")
    data = message("mailbox-transport-1")
    assert send(inst, "sender@example.org", ["terntest2@localhost"], data) == {}
    msgs = wait_for(lambda: imap_messages(dovecot, "terntest2"), timeout=30,
                    what="Dovecot to store the message")
    assert len(msgs) == 1 and msgs[0].endswith(data)
    # Dovecot shows the message before its LMTP reply reaches tern, so
    # tern's lines about it may still be on their way: wait for them.
    handed = (r"deliver\[\d+\]: \w+: to=<terntest2@localhost>, relay=local, .*"
              r"status=sent .*mailbox=lmtp:unix:")
    stored = r"lmtp\[\d+\]: \w+: to=<terntest2@localhost>, .*status=sent"
    try:
        wait_for(lambda: re.search(handed, inst.log()) and re.search(stored, inst.log()),
                 timeout=15, what="deliver's and the LMTP client's log lines")
    except AssertionError:
        raise AssertionError(inst.log()[-3000:])
    # An alias: its account's address goes to the store, not the alias's.
    alias = message("mailbox-transport-2")
    assert send(inst, "sender@example.org", ["store-alias@localhost"], alias) == {}
    msgs = wait_for(lambda: len(imap_messages(dovecot, "terntest2")) == 2 and
                    imap_messages(dovecot, "terntest2"), timeout=30,
                    what="the alias's copy in Dovecot")
    assert any(m.endswith(alias) for m in msgs)
    hostname = inst_hostname(inst.log())
    aliased = rf"lmtp\[\d+\]: \w+: to=<terntest2@{re.escape(hostname)}>, .*status=sent"
    try:
        wait_for(lambda: re.search(aliased, inst.log()), timeout=15,
                 what="the LMTP client's line for the alias's copy")
    except AssertionError:
        raise AssertionError(inst.log()[-3000:])
    wait_for(lambda: not any(inst.queue_files(d) for d in ("incoming", "active", "deferred")),
             what="an empty queue")
