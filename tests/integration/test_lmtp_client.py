"""The LMTP client (RFC 2033): the smtp program run as service "lmtp",
started the way the master starts it, given delivery requests for queue
files in its active/ directory, delivering to a scripted LMTP server
(fakelmtp.py) on a UNIX socket or loopback TCP.  What is checked: LHLO
and never EHLO/HELO; the message byte for byte; one reply per accepted
recipient after the final dot, each recipient's outcome its own reply's,
each delivered one marked in the queue file as it comes; a connection
lost after some of those replies delivers the ones answered 2xx and
defers the rest, never loses one and never sends one twice.
"""

import pytest

from fakelmtp import FakeLmtp
from test_smtp_client import BODY, make_smtp, wire_form  # noqa: F401 (fixture)


@pytest.fixture
def make_lmtp(make_smtp):  # noqa: F811
    return lambda extra_conf="": make_smtp(extra_conf, service="lmtp")


@pytest.fixture
def make_server():
    made = []

    def make(**kw):
        srv = FakeLmtp(**kw)
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.close()


def marks(d):
    """{recipient: status byte} of the last queue file."""
    data = (d.dir / "active" / d.last_qid).read_bytes()
    head = data[:data.index(b"\ndata\n")].decode()
    return {line.split()[2]: line.split()[1] for line in head.splitlines()
            if line.startswith("rcpt ")}


def test_unix_socket_delivery_with_lhlo(make_lmtp, make_server):
    d = make_lmtp("lmtp_lhlo_name = lhlo.example\n")
    srv = make_server(unix_path=str(d.dir / "private" / "store-lmtp"))
    rcpts = ["a@store.example", "b@store.example"]
    # A path relative to the queue directory, as Postfix's
    # lmtp:unix:private/dovecot-lmtp.
    out = d.deliver("unix:private/store-lmtp", rcpts, BODY)
    assert [o[0] for o in out] == ["ok", "ok"], (out, d.log())
    s = srv.seen()
    assert len(s) == 1
    assert s[0].lhlo == "lhlo.example"
    assert not any(c[:4].upper() in ("EHLO", "HELO") for c in s[0].commands)
    assert s[0].rcpts == rcpts
    assert s[0].data == wire_form(BODY)
    assert marks(d) == {"a@store.example": "D", "b@store.example": "D"}
    assert "relay=client.example[private/store-lmtp]" in d.log()
    assert "status=sent" in d.log()


@pytest.mark.parametrize("form", ["[127.0.0.1]:{port}", "inet:127.0.0.1:{port}",
                                  "inet:localhost:{port}"])
def test_tcp_delivery(make_lmtp, make_server, form):
    srv = make_server()
    d = make_lmtp()
    out = d.deliver(form.format(port=srv.port), ["a@store.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert srv.seen()[0].data == wire_form(BODY)
    assert f"]:{srv.port}, conn_use=1" in d.log()


def test_per_recipient_replies_after_the_dot(make_lmtp, make_server):
    answers = {"a@store.example": "250 2.0.0 Saved",
               "full@store.example": "452 4.2.2 Mailbox is full",
               "gone@store.example": "550 5.1.1 Mailbox is gone",
               "b@store.example": "250 2.0.0 Saved too"}
    d = make_lmtp()
    srv = make_server(unix_path=str(d.dir / "lmtp.sock"),
                      rcpt=lambda a: "550 5.1.1 unknown user" if a.startswith("x")
                      else "250 2.1.5 OK",
                      dot=lambda a: answers[a])
    rcpts = ["a@store.example", "xunknown@store.example", "full@store.example",
             "gone@store.example", "b@store.example"]
    out = d.deliver(srv.nexthop, rcpts, BODY)
    assert [o[0] for o in out] == ["ok", "bounce", "defer", "bounce", "ok"], (out, d.log())
    assert out[1][1] == "5.1.1" and "RCPT TO" in out[1][2], out
    assert out[2][1] == "4.2.2" and "Mailbox is full" in out[2][2], out
    assert "end of DATA" in out[2][2]
    assert out[3][1] == "5.1.1" and "Mailbox is gone" in out[3][2], out
    # Only the delivered ones are marked; the others are qmgr's to record.
    assert marks(d) == {"a@store.example": "D", "xunknown@store.example": "P",
                        "full@store.example": "P", "gone@store.example": "P",
                        "b@store.example": "D"}
    assert srv.seen()[0].rcpts == ["a@store.example", "full@store.example",
                                   "gone@store.example", "b@store.example"]


def test_connection_lost_after_the_first_reply(make_lmtp, make_server):
    d = make_lmtp()
    srv = make_server(unix_path=str(d.dir / "lmtp.sock"), drop_after=1)
    rcpts = ["first@store.example", "second@store.example"]
    out = d.deliver(srv.nexthop, rcpts, BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert out[1][0] == "defer" and out[1][1] == "4.4.2", out
    assert "lost connection" in out[1][2]
    assert marks(d) == {"first@store.example": "D", "second@store.example": "P"}
    # qmgr's retry sends the second only: the first is recorded.
    data = (d.dir / "active" / d.last_qid).read_bytes()
    head = data[:data.index(b"\ndata\n") + 6]
    srv.drop_after = None
    again = d.request(d.last_qid, len(head), srv.nexthop, rcpts)
    assert [o[0] for o in again] == ["ok", "ok"], again
    assert "delivered already" in again[0][2]
    assert srv.seen()[-1].rcpts == ["second@store.example"]
    assert marks(d) == {"first@store.example": "D", "second@store.example": "D"}


def test_stall_after_some_replies_times_out(make_lmtp, make_server):
    d = make_lmtp("lmtp_data_done_timeout = 2s\n")
    srv = make_server(unix_path=str(d.dir / "lmtp.sock"), drop_after=1, hang=True)
    out = d.deliver(srv.nexthop, ["a@store.example", "b@store.example"], BODY)
    assert out[0][0] == "ok", (out, d.log())
    assert out[1][0] == "defer" and "timed out" in out[1][2], out
    assert marks(d) == {"a@store.example": "D", "b@store.example": "P"}


def test_lhlo_refused_is_no_helo(make_lmtp, make_server):
    d = make_lmtp()
    srv = make_server(unix_path=str(d.dir / "lmtp.sock"), lhlo="554 5.7.1 go away")
    out = d.deliver(srv.nexthop, ["a@store.example"], BODY)
    assert out[0][0] == "bounce" and "refused to talk to me" in out[0][2], out
    assert [c[:4] for c in srv.seen()[0].commands] == ["LHLO"]


def test_bad_next_hops_defer(make_lmtp):
    d = make_lmtp()
    out = d.deliver("unix:", ["a@store.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.3.5", out
    out = d.deliver("store.example:24", ["a@store.example"], BODY)
    assert out[0][0] == "defer" and "not an IP address" in out[0][2], out
    out = d.deliver(f"unix:{d.dir}/nothing-here", ["a@store.example"], BODY)
    assert out[0][0] == "defer" and out[0][1] == "4.4.1", out
