"""Two MX hosts sharing their tables in PostgreSQL (docs/PGSQL.md): a
private cluster (pgcluster.py) holds the aliases and the transport table,
two tern instances name the same tables in alias_maps and transport_maps,
and both answer RCPT and deliver the same way -- the same mailboxes, the
same relay target (a test receiver) -- and see a change in the database
without a restart.  Each daemon keeps its connection between lookups.

With the server stopped every lookup is a temporary failure: smtpd answers
RCPT 451 4.3.0 (for a name it does not know as well: never 550), deliver
defers local mail ("alias lookup failed") and qmgr remote mail
("transport_maps lookup failure"); nothing bounces.  When the server is back
a flush delivers what waited, and RCPT is answered 250 again (a
connection that went stale in the outage is made anew at once).

The virtual tables (virtual_alias_maps, virtual_mailbox_maps) live in the
same database: both hosts answer RCPT for the virtual domains through their
lookup service and deliver virtual aliases and mailboxes the same way.
"""

import os
import re

import pytest

from conftest import wait_for
from pgcluster import Cluster, require_postgresql
from test_maps import tdir  # noqa: F401 (fixture)
from test_queue_retry import copies, flush

aiosmtpd = pytest.importorskip("aiosmtpd")
from test_smtp_client import Sink, receiver  # noqa: E402,F401 (fixture)

T1, T2 = "terntest1", "terntest2"
FAST = ("queue_scan_interval = 1s\nminimal_backoff_time = 1s\n"
        "maximal_backoff_time = 2s\nrelay_domains = remote.example\n")


@pytest.fixture
def cluster(tdir):
    require_postgresql()
    c = Cluster(tdir / "pg", settings=("log_connections=on",))
    yield c
    c.stop()


def shared_tables(cluster, tdir, hop):
    """The schema both hosts use: the aliases (local part -> targets) and
    the transport table (domain -> transport:nexthop).  The specs for
    alias_maps and transport_maps.  (Another table, say virtual aliases,
    is one more cluster.table() and table_cf() here and one more keyword
    of use_maps().)"""
    cluster.table("aliases", ("name", "goto"),
                  [("postmaster", "root"), ("root", T1), ("sales", T2),
                   ("team", f"{T1}, {T2}"), ("fresh", T1)])
    cluster.table("transport", ("domain", "route"),
                  [("remote.example", f"smtp:{hop}")])
    return (cluster.table_cf(tdir / "aliases.cf",
                             "SELECT goto FROM aliases WHERE name = '%s'"),
            cluster.table_cf(tdir / "transport.cf",
                             "SELECT route FROM transport WHERE domain = '%s'"))


def use_maps(inst, **maps):
    """Point the instance's tables at the database (key = "pgsql:..."
    for alias_maps, transport_maps, and any other *_maps key), and
    restart it.  alias_maps replaces mk/instance.sh's line; a new table
    is one more keyword here."""
    conf = inst.dir / "etc" / "tern.conf"
    text = conf.read_text()
    for key, spec in maps.items():
        line = f"{key} = {spec}"
        text, n = re.subn(rf"(?m)^{key} = .*$", line, text)
        if n == 0:
            text += line + "\n"
    conf.write_text(text)
    inst.stop()
    inst.start()


def mx_pair(make_instance, cluster, tdir, receiver, second=""):
    handler, hop = receiver(handler=Sink())
    aliases, transport = shared_tables(cluster, tdir, hop)
    hosts = [make_instance(FAST), make_instance(FAST + second)]
    for inst in hosts:
        use_maps(inst, alias_maps=aliases, transport_maps=transport)
    return hosts, handler, hop


def send(inst, rcpts, token):
    with inst.smtp() as s:
        s.ehlo("client.example")
        assert s.mail("r@example.org")[0] == 250
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = s.data(f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody\r\n".encode())
        assert code == 250, text
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def rcpt_code(inst, rcpt):
    with inst.smtp() as s:
        s.ehlo("client.example")
        assert s.mail("r@example.org")[0] == 250
        code, text = s.rcpt(rcpt)
        return code, text.decode(errors="replace")


def received(handler, token):
    """[(rcpt_tos)] of the messages the receiver got with token."""
    return [m[1] for m in handler.messages if f"X-Token: {token}".encode() in m[2]]


def removed(inst, qid):
    wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=30,
             what=f"{qid} to be finished")


def test_two_mx_hosts_deliver_the_same_way(make_instance, cluster, tdir, receiver):
    hosts, handler, _ = mx_pair(make_instance, cluster, tdir, receiver)
    for n, inst in enumerate(hosts):
        # RCPT: the aliases in the database are recipients, others not
        for rcpt in ("sales@localhost", "Team@localhost", "postmaster@localhost",
                     f"{T1}@localhost"):
            assert rcpt_code(inst, rcpt)[0] == 250, (n, rcpt)
        assert rcpt_code(inst, "no-such-alias@localhost")[0] == 550
        q1 = send(inst, ["sales@localhost", "someone@remote.example"], f"mx{n}-1")
        q2 = send(inst, ["team@localhost"], f"mx{n}-2")
        removed(inst, q1)
        removed(inst, q2)
    for n in (0, 1):
        assert copies(T2, f"mx{n}-1") == 1 and copies(T1, f"mx{n}-1") == 0
        assert copies(T1, f"mx{n}-2") == 1 and copies(T2, f"mx{n}-2") == 1
        assert received(handler, f"mx{n}-1") == [["someone@remote.example"]]
    # A change in the shared table reaches both hosts, without a restart.
    cluster.sql("UPDATE aliases SET goto = 'terntest1' WHERE name = 'sales'")
    for n, inst in enumerate(hosts):
        removed(inst, send(inst, ["sales@localhost"], f"mx{n}-3"))
        assert copies(T1, f"mx{n}-3") == 1 and copies(T2, f"mx{n}-3") == 0
    # Connections are kept: far fewer logins than lookups (each process
    # logs in once per table; these processes did at least 26 lookups).
    logins = cluster.log.read_text().count("connection authorized: user=tern "
                                           "database=postgres application_name=tern")
    per_host = sum(hosts[0].service_limits()[s] for s in ("smtpd", "qmgr", "deliver"))
    assert 1 <= logins <= 2 * per_host, logins


def test_database_down_defers_then_mail_flows(make_instance, cluster, tdir, receiver):
    # The second host does not check recipients at RCPT, so that its
    # local mail is queued while the database is down and deliver meets
    # the outage.
    (mx1, mx2), handler, _ = mx_pair(make_instance, cluster, tdir, receiver,
                                     "local_recipient_check = no\n")
    removed(mx1, send(mx1, ["sales@localhost"], "warm"))
    assert copies(T2, "warm") == 1
    # Connections made before the outage in (likely) both smtpd processes:
    # after it they are stale, and a lookup must make a new one, not fail.
    for rcpt in ("root@localhost", f"{T2}@localhost", "sales@localhost"):
        assert rcpt_code(mx1, rcpt)[0] == 250
    cluster.stop()
    # smtpd: a name it has not looked up yet, known or not: 451, never 550
    for rcpt in ("fresh@localhost", "no-such-alias@localhost"):
        code, text = rcpt_code(mx1, rcpt)
        assert (code, text[:5]) == (451, "4.3.0"), (rcpt, code, text)
    wait_for(lambda: "recipient lookup failed: pgsql:" in mx1.log(),
             what="smtpd's log line naming the table")
    # qmgr: the transport table; deliver: the aliases
    q1 = send(mx1, ["someone@remote.example"], "down-1")
    q2 = send(mx2, ["team@localhost"], "down-2")
    wait_for(lambda: re.search(rf"{q1}: to=<someone@remote\.example>, status=deferred"
                               r".*transport_maps lookup failure", mx1.log()),
             what="qmgr's deferral")
    wait_for(lambda: re.search(rf"{q2}: to=<team@localhost>, relay=local.*dsn=4\.3\.0, "
                               r"status=deferred \(alias lookup failed.*pgsql:", mx2.log()),
             what="deliver's deferral")
    # retried (1 s back-off) and deferred again, still nothing bounced
    wait_for(lambda: len(re.findall(rf"{q2}: to=<team@localhost>, relay=local.*"
                                    r"status=deferred", mx2.log())) >= 2,
             timeout=30, what="a second deferral")
    for inst in (mx1, mx2):
        assert "status=bounced" not in inst.log()
    assert received(handler, "down-1") == []
    assert copies(T1, "down-2") == 0 and copies(T2, "down-2") == 0
    # (polled: qmgr moves it between deferred/ and active/ at each retry)
    wait_for(lambda: q1 in mx1.queue_files("deferred") + mx1.queue_files("active"),
             what=f"{q1} still queued")

    cluster.start()
    for inst in (mx1, mx2):
        flush(inst)
    wait_for(lambda: received(handler, "down-1") == [["someone@remote.example"]],
             timeout=30, what="the relayed message after the outage")
    wait_for(lambda: copies(T1, "down-2") == 1 and copies(T2, "down-2") == 1,
             timeout=30, what="the local copies after the outage")
    removed(mx1, q1)
    removed(mx2, q2)
    for rcpt in ("fresh@localhost", "team@localhost", f"{T1}@localhost"):
        assert rcpt_code(mx1, rcpt)[0] == 250, rcpt
    for inst in (mx1, mx2):
        assert "status=bounced" not in inst.log()


VUID = VGID = 5000          # virtual mailboxes' ids: no account


def shared_virtual_tables(cluster, tdir):
    """Virtual aliases (address -> addresses) and virtual mailboxes
    (address -> path under virtual_mailbox_base) in the shared database:
    the specs for virtual_alias_maps and virtual_mailbox_maps."""
    cluster.table("valias", ("address", "goto"),
                  [("info@valias.test", f"{T1}@localhost"),
                   ("sales@valias.test", "carol@vdomain.test")])
    cluster.table("vmailbox", ("address", "path"),
                  [("carol@vdomain.test", "vdomain.test/carol/")])
    return (cluster.table_cf(tdir / "valias.cf",
                             "SELECT goto FROM valias WHERE address = '%s'"),
            cluster.table_cf(tdir / "vmailbox.cf",
                             "SELECT path FROM vmailbox WHERE address = '%s'"))


def test_two_mx_hosts_share_virtual_tables(make_instance, cluster, tdir):
    valias, vmailbox = shared_virtual_tables(cluster, tdir)
    hosts = []
    for _ in range(2):
        inst = make_instance(FAST)
        base = inst.dir / "vmail"
        (base / "vdomain.test").mkdir(parents=True)
        for d in (base, base / "vdomain.test"):
            os.chown(d, VUID, VGID)
            d.chmod(0o755)
        use_maps(inst, virtual_alias_maps=valias, virtual_mailbox_maps=vmailbox,
                 virtual_alias_domains="valias.test",
                 virtual_mailbox_domains="vdomain.test",
                 virtual_mailbox_base=str(base),
                 virtual_uid_maps=f"static:{VUID}", virtual_gid_maps=f"static:{VGID}")
        hosts.append((inst, base / "vdomain.test" / "carol"))
    for n, (inst, carol) in enumerate(hosts):
        # RCPT: the lookup service answers from the database
        for rcpt in ("carol@vdomain.test", "info@valias.test", "Sales@valias.test"):
            assert rcpt_code(inst, rcpt)[0] == 250, (n, rcpt)
        for rcpt in ("erin@vdomain.test", "nobody@valias.test"):
            assert rcpt_code(inst, rcpt)[0] == 550, (n, rcpt)
        removed(inst, send(inst, ["info@valias.test", "sales@valias.test"], f"v{n}-1"))
        assert copies(T1, f"v{n}-1") == 1
        files = os.listdir(carol / "new")
        assert len(files) == 1
        st = os.stat(carol / "new" / files[0])
        assert (st.st_uid, st.st_gid) == (VUID, VGID)
    # A change in the shared alias table reaches both, without a restart.
    cluster.sql(f"UPDATE valias SET goto = '{T2}@localhost' WHERE address = 'info@valias.test'")
    for n, (inst, _) in enumerate(hosts):
        removed(inst, send(inst, ["info@valias.test"], f"v{n}-2"))
        assert copies(T2, f"v{n}-2") == 1 and copies(T1, f"v{n}-2") == 0
