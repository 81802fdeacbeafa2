"""Relay control in smtpd (issue 9): from an address outside mynetworks
every classic relay trick is refused with 554 5.7.1, while local domains and
relay_domains are accepted; from mynetworks, mail to any domain is accepted
and queued.  The smtpd listens on 127.0.0.1; the client binds 127.0.0.9
(outside mynetworks = 127.0.0.1/32) or 127.0.0.1 (inside)."""

import re

from conftest import wait_for
from test_smtp_protocol import Client, expect

CONF = "mynetworks = 127.0.0.1/32\nrelay_domains = relay.example, .sub.example\n"

TRICKS = [
    "someone@elsewhere.example",
    "someone%elsewhere.example@localhost",
    "elsewhere.example!someone@localhost",
    '"someone@elsewhere.example"@localhost',
    '"someone%elsewhere.example"@localhost',
    "@localhost,@relay.example:someone@elsewhere.example",
    "someone%elsewhere.example@relay.example",
    "someone@[127.0.0.1]",
    "someone@[IPv6:::1]",
    "someone@sub.example",
    "someone@relay.example.elsewhere.example",
]


def session(inst, source):
    c = Client(inst.port, source=source)
    expect(c.reply(), 220)
    expect(c.cmd("EHLO test.example"), 250)
    expect(c.cmd("MAIL FROM:<a@example.org>"), 250)
    return c


def test_outside_mynetworks_every_trick_refused(make_instance):
    inst = make_instance(CONF)
    c = session(inst, "127.0.0.9")
    for rcpt in TRICKS:
        code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
        assert code == 554 and lines[-1][4:].startswith("5.7.1"), (rcpt, lines)
        assert "Relay access denied" in lines[-1], lines
    expect(c.cmd("DATA"), 554, "5.5.1")
    # What is ours or listed stays open to anyone.
    expect(c.cmd("RCPT TO:<terntest1@localhost>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<postmaster>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<someone@relay.example>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<someone@a.sub.example>"), 250, "2.1.5")
    c.close()


def test_mynetworks_may_relay(make_instance):
    inst = make_instance(CONF)
    c = session(inst, "127.0.0.1")
    expect(c.cmd("RCPT TO:<someone@elsewhere.example>"), 250, "2.1.5")
    expect(c.cmd("RCPT TO:<other@[192.0.2.1]>"), 250, "2.1.5")
    # A routed local part to a local domain is local mail: no such user.
    expect(c.cmd("RCPT TO:<someone%elsewhere.example@localhost>"), 550, "5.1.1")
    expect(c.cmd("DATA"), 354)
    code, lines = c.cmd(b"Subject: relay\r\n\r\nrelayed\r\n.")
    assert code == 250, lines
    qid = re.search(r"queued as (\S+)", lines[-1]).group(1)
    c.close()
    wait_for(lambda: re.search(rf"{qid}: from=<a@example\.org>, size=\d+, nrcpt=2\b", inst.log()),
             what="qmgr to take the relayed message")
