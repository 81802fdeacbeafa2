"""Lookup tables (common/map*.c, ternmap(1)): a hash: table built by
ternmap is a Berkeley DB file db5.3_dump reads with the keys postmap would
write, built atomically (a bad source leaves the old file, no temporary file
stays); qmgr routes through a hash: transport_maps, defers (never bounces)
while the table is missing and uses it once built; and a pgsql: table on a
private PostgreSQL cluster answers ternmap -q, escapes keys, fails over to
a second host and is a temporary failure (exit 75) when the server is down.
"""

import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BUILD, INSTANCE_ROOT, free_port, wait_for
from pgcluster import Cluster, require_postgresql

TERNMAP = str(BUILD / "bin" / "ternmap")


def ternmap(*args, stdin=b""):
    return subprocess.run([TERNMAP, *args], input=stdin, capture_output=True, timeout=60)


@pytest.fixture
def tdir():
    INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="maps-", dir=INSTANCE_ROOT))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def dump_keys(db):
    out = subprocess.run(["db5.3_dump", "-p", str(db)], capture_output=True,
                         check=True, timeout=30).stdout.decode()
    data = out.split("HEADER=END\n", 1)[1].split("DATA=END", 1)[0].splitlines()
    pairs = [l[1:] for l in data]           # each line starts with a space
    return dict(zip(pairs[0::2], pairs[1::2])), out


def test_hash_file_read_by_db_dump(tdir, test_users):
    src = tdir / "transport"
    src.write_text("# routes\nExample.COM smtp:[mx.example.com]:25\n"
                   ".example.com\tsmtp:\nmulti error:5.1.1 no\n  such user\n")
    r = ternmap("hash:" + str(src))
    assert r.returncode == 0, r.stderr
    keys, raw = dump_keys(tdir / "transport.db")
    assert "type=hash" in raw
    # postmap's layout on Linux: lower-cased keys, key and value each with
    # their trailing NUL
    assert keys == {"example.com\\00": "smtp:[mx.example.com]:25\\00",
                    ".example.com\\00": "smtp:\\00",
                    "multi\\00": "error:5.1.1 no such user\\00"}
    assert sorted(p.name for p in tdir.iterdir()) == ["transport", "transport.db"]
    r = ternmap("-q", "EXAMPLE.com", "hash:" + str(src))
    assert (r.returncode, r.stdout) == (0, b"smtp:[mx.example.com]:25\n")
    assert ternmap("-q", "other", "hash:" + str(src)).returncode == 1

    # btree too, and a bare path means hash:
    assert ternmap("btree:" + str(src)).returncode == 0
    assert "type=btree" in dump_keys(tdir / "transport.db")[1]
    assert ternmap(str(src)).returncode == 0
    assert "type=hash" in dump_keys(tdir / "transport.db")[1]

    # A bad source: a clear error with its line, the old .db untouched.
    before = hashlib.sha256((tdir / "transport.db").read_bytes()).hexdigest()
    src.write_text("good value\nbad\n")
    r = ternmap("hash:" + str(src))
    assert r.returncode != 0 and f"{src}:2: expected".encode() in r.stderr, r
    assert hashlib.sha256((tdir / "transport.db").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tdir.iterdir()) == ["transport", "transport.db"]

    # -d and -i change the file (a new one renamed into place).
    spec = "hash:" + str(src)
    assert ternmap("-d", "Multi", spec).returncode == 0
    assert ternmap("-d", "multi", spec).returncode == 1
    r = ternmap("-i", spec, stdin=b"new.example  local:\nexample.com smtp:other\n")
    assert r.returncode == 0, r.stderr
    keys, _ = dump_keys(tdir / "transport.db")
    assert keys == {"example.com\\00": "smtp:other\\00", ".example.com\\00": "smtp:\\00",
                    "new.example\\00": "local:\\00"}
    # Usage and table errors say so, with distinct exits.
    assert ternmap("-q", "k", "hash:" + str(tdir / "missing")).returncode == 75
    assert ternmap("-q", "k", "nosuch:x").returncode == 64
    assert ternmap("-q", "k", "-d", "k", spec).returncode == 64
    assert ternmap("-d", "k", "texthash:" + str(src)).returncode == 64


def test_aliases_build(tdir, test_users):
    src = tdir / "aliases"
    src.write_text("# aliases(5)\npostmaster: root\nRoot: terntest1,\n"
                   "  \"|/bin/cat > /dev/null\", /tmp/x\n\"Joe Smith\": :include:/etc/staff\n")
    r = ternmap("-a", "hash:" + str(src))
    assert r.returncode == 0, r.stderr
    keys, _ = dump_keys(tdir / "aliases.db")
    assert keys == {"postmaster\\00": "root\\00",
                    "root\\00": 'terntest1, "|/bin/cat > /dev/null", /tmp/x\\00',
                    "joe smith\\00": ":include:/etc/staff\\00",
                    "@\\00": "@\\00"}
    src.write_text("postmaster root\n")
    r = ternmap("-a", "hash:" + str(src))
    assert r.returncode == 1 and b"aliases:1: expected \"name: value\"" in r.stderr


def test_changes_as_the_owner(tdir, test_users):
    """As root, -d and -i of a .db another user owns run with that user's
    ids, as a build of their source does: root must not write as root in a
    directory the user may change under it (links to the temporary file,
    a FIFO in place of the .db)."""
    pw = pwd.getpwnam("terntest1")
    src = tdir / "map"
    src.write_text("alpha one\nbeta two\n")
    os.chown(src, pw.pw_uid, pw.pw_gid)
    spec = "hash:" + str(src)
    # tdir is root's (0755): the owner cannot write there, so neither can
    # a build or a change made for them; root's -o still can.
    r = ternmap(spec)
    assert r.returncode == 1 and b"Permission denied" in r.stderr, r
    assert ternmap("-o", spec).returncode == 0
    os.chown(tdir / "map.db", pw.pw_uid, pw.pw_gid)
    r = ternmap("-d", "alpha", spec)
    assert r.returncode == 1 and b"Permission denied" in r.stderr, r
    r = ternmap("-i", spec, stdin=b"gamma three\n")
    assert r.returncode == 1 and b"Permission denied" in r.stderr, r
    assert ternmap("-q", "alpha", spec).returncode == 0
    assert ternmap("-q", "gamma", spec).returncode == 1
    assert ternmap("-o", "-d", "alpha", spec).returncode == 0
    assert (tdir / "map.db").stat().st_uid == pw.pw_uid
    # In the owner's own directory, changes work and keep the owner.
    home = tdir / "home"
    home.mkdir()
    os.chown(home, pw.pw_uid, pw.pw_gid)
    src = home / "map"
    src.write_text("alpha one\n")
    os.chown(src, pw.pw_uid, pw.pw_gid)
    spec = "hash:" + str(src)
    assert ternmap(spec).returncode == 0
    assert ternmap("-d", "alpha", spec).returncode == 0
    assert ternmap("-d", "alpha", spec).returncode == 1
    assert ternmap("-i", spec, stdin=b"gamma three\n").returncode == 0
    assert ternmap("-q", "gamma", spec).stdout == b"three\n"
    assert (home / "map.db").stat().st_uid == pw.pw_uid
    assert sorted(p.name for p in home.iterdir()) == ["map", "map.db"]


def test_newaliases_builds_as_the_owner(tdir, test_users):
    """newaliases (sendmail -bi) and ternmap -a run by root build an
    alias_database whose source another user owns with that user's ids,
    as ternmap does for its own tables: in a directory root owns, that
    user cannot write, so neither can the build."""
    pw = pwd.getpwnam("terntest1")
    src = tdir / "aliases"
    src.write_text("postmaster: root\n")
    os.chown(src, pw.pw_uid, pw.pw_gid)
    conf = tdir / "tern.conf"
    conf.write_text(f"alias_database = hash:{src}\n")
    env = dict(os.environ, TERN_CONFIG=str(conf))
    sendmail = str(BUILD / "bin" / "sendmail")
    for argv in ([sendmail, "-bi"], [TERNMAP, "-a", "-c", str(conf)]):
        r = subprocess.run(argv, capture_output=True, env=env, timeout=30)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, (argv, r)
        assert not (tdir / "aliases.db").exists()
    home = tdir / "home"
    home.mkdir()
    os.chown(home, pw.pw_uid, pw.pw_gid)
    src = home / "aliases"
    src.write_text("postmaster: root\n")
    os.chown(src, pw.pw_uid, pw.pw_gid)
    conf.write_text(f"alias_database = hash:{src}\n")
    r = subprocess.run([sendmail, "-bi"], capture_output=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (home / "aliases.db").stat().st_uid == pw.pw_uid
    # root's own source is still built as root.
    src = tdir / "rootaliases"
    src.write_text("postmaster: root\n")
    conf.write_text(f"alias_database = hash:{src}\n")
    r = subprocess.run([sendmail, "-bi"], capture_output=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tdir / "rootaliases.db").stat().st_uid == 0


def test_fifo_source_refused(tdir, test_users):
    """A FIFO (or a device) named as a source is refused at once; ternmap
    running as root must not wait for a writer."""
    os.mkfifo(tdir / "fifo")
    r = ternmap("hash:" + str(tdir / "fifo"))
    assert r.returncode == 1 and b"not a regular file" in r.stderr, r
    os.symlink("/dev/zero", tdir / "zero")
    r = ternmap("hash:" + str(tdir / "zero"))
    assert r.returncode == 1 and b"not a regular file" in r.stderr, r


def test_transport_maps_hash(make_instance, tdir):
    """A hash: transport map: missing at first (mail deferred, 4.3.0, never
    bounced), then built by ternmap and used without a restart."""
    tmap = tdir / "transport"
    inst = make_instance("queue_scan_interval = 1s\nminimal_backoff_time = 1s\n"
                         "maximal_backoff_time = 2s\n"
                         f"transport_maps = hash:{tmap}")
    with inst.smtp() as s:
        s.ehlo("maps.example")
        assert s.mail("r@example.org")[0] == 250
        assert s.rcpt("someone@remote.example")[0] == 250
        code, text = s.data(b"Subject: maps\r\n\r\nbody\r\n")
        assert code == 250, text
    qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
    wait_for(lambda: re.search(rf"{qid}: to=<someone@remote\.example>, status=deferred"
                               r".*transport_maps lookup failure", inst.log()),
             what="a deferral while the map is missing")
    assert "status=bounced" not in inst.log()
    tmap.write_text("remote.example error:5.1.2 routed by the hash map\n")
    tmap.chmod(0o644)
    assert ternmap("hash:" + str(tmap)).returncode == 0
    wait_for(lambda: f"{qid}: to=<someone@remote.example>, status=bounced "
                     "(routed by the hash map)" in inst.log(),
             timeout=30, what="the bounce the built map asks for")


# ---- PostgreSQL ----------------------------------------------------------

@pytest.fixture
def cluster(tdir, test_users):
    require_postgresql()
    c = Cluster(tdir / "pg")
    yield c
    c.stop()


def write_cf(path, hosts, extra=""):
    path.write_text(f"# pgsql_table(5)\nhosts = {hosts}\nuser = tern\n"
                    f"password_file = {path.parent / 'pgpass'}\ndbname = postgres\n"
                    "query = SELECT goto FROM alias WHERE address = '%s'\n"
                    "connect_timeout = 2\nquery_timeout = 5\n" + extra)
    (path.parent / "pgpass").write_text("s3cret\n")
    return "pgsql:" + str(path)


def test_pgsql_lookups_failover_and_outage(cluster, tdir):
    cluster.sql("CREATE TABLE alias (address text PRIMARY KEY, goto text);"
                "INSERT INTO alias VALUES ('info@example.org', 'terntest1@localhost'),"
                "('o''neil@example.org', 'quote@localhost'),"
                "('multi@example.org', 'a@localhost');"
                "CREATE TABLE alias2 (address text, goto text);"
                "INSERT INTO alias2 VALUES ('x', '1'), ('x', '2')")
    spec = write_cf(tdir / "virtual.cf", f"127.0.0.1:{cluster.port}")
    r = ternmap("-q", "Info@Example.ORG", spec)
    assert (r.returncode, r.stdout) == (0, b"terntest1@localhost\n"), r.stderr
    assert ternmap("-q", "nobody@example.org", spec).returncode == 1
    # A quote in the key is escaped: found as data, not run as SQL.
    r = ternmap("-q", "o'neil@example.org", spec)
    assert (r.returncode, r.stdout) == (0, b"quote@localhost\n"), r.stderr
    assert ternmap("-q", "x'; DROP TABLE alias; --", spec).returncode == 1
    assert cluster.sql("SELECT count(*) FROM alias") == "3\n"
    # Backslashes, with standard_conforming_strings off (where a backslash
    # escapes the quote after it) as well as on: still data.
    for scs in ("off", "on"):
        cluster.sql(f"ALTER DATABASE postgres SET standard_conforming_strings = {scs}")
        for key in ("x\\'; DROP TABLE alias; --", "x\\\\'; DROP TABLE alias; --",
                    "\\' OR 1=1 --", "o\\'neil@example.org"):
            r = ternmap("-q", key, spec)
            assert r.returncode == 1, (scs, key, r)
        assert cluster.sql("SELECT count(*) FROM alias") == "3\n"
    cluster.sql("ALTER DATABASE postgres RESET standard_conforming_strings")
    # Invalid UTF-8 (a lone lead byte before the quote): never SQL; a
    # temporary failure, as Postfix's, since it cannot be escaped.
    r = subprocess.run([TERNMAP, "-q", b"x\xc3'; DROP TABLE alias; --", spec],
                       capture_output=True, timeout=60)
    assert r.returncode in (1, 75), r
    assert cluster.sql("SELECT count(*) FROM alias") == "3\n"
    # Several rows: joined with commas, as Postfix's.
    spec2 = write_cf(tdir / "two.cf", f"127.0.0.1:{cluster.port}")
    (tdir / "two.cf").write_text((tdir / "two.cf").read_text()
                                 .replace("FROM alias ", "FROM alias2 ")
                                 .replace("'%s'", "'%u' ORDER BY goto"))
    r = ternmap("-q", "x@anything", spec2)
    assert (r.returncode, r.stdout) == (0, b"1,2\n"), r.stderr
    # %d of a key without a domain: no query, not found.
    (tdir / "dom.cf").write_text((tdir / "virtual.cf").read_text().replace("'%s'", "'%d'"))
    assert ternmap("-q", "nodomain", "pgsql:" + str(tdir / "dom.cf")).returncode == 1

    # Fail-over: the first host refuses, the second answers.
    dead = free_port()
    spec = write_cf(tdir / "failover.cf", f"127.0.0.1:{dead}, inet:127.0.0.1:{cluster.port}")
    r = ternmap("-q", "info@example.org", spec)
    assert (r.returncode, r.stdout) == (0, b"terntest1@localhost\n"), r.stderr
    # A first host that takes the connection and never answers: left
    # after connect_timeout (2 s), the second host answers.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        spec_mute = write_cf(tdir / "mute.cf", f"127.0.0.1:{mute.getsockname()[1]}, "
                             f"127.0.0.1:{cluster.port}")
        t0 = time.monotonic()
        r = ternmap("-q", "info@example.org", spec_mute)
        took = time.monotonic() - t0
    assert (r.returncode, r.stdout) == (0, b"terntest1@localhost\n"), r.stderr
    # libpq 15 (Debian 12) times connect_timeout on time(NULL), whole
    # seconds: a 2 s timeout ends after 1 to 2 s, never sooner.
    assert 1.0 <= took < 15, took
    # A query slower than query_timeout: a temporary failure, on time.
    (tdir / "slow.cf").write_text((tdir / "virtual.cf").read_text()
                                  .replace("query_timeout = 5", "query_timeout = 1")
                                  .replace("FROM alias ", "FROM alias, pg_sleep(5) "))
    t0 = time.monotonic()
    r = ternmap("-q", "info@example.org", "pgsql:" + str(tdir / "slow.cf"))
    assert r.returncode == 75 and b"timed out" in r.stderr, r
    assert time.monotonic() - t0 < 4.5
    # A wrong password is a temporary failure too (never "not found").
    (tdir / "pgpass").write_text("wrong\n")
    r = ternmap("-q", "info@example.org", spec)
    assert r.returncode == 75 and b"password authentication failed" in r.stderr, r
    (tdir / "pgpass").write_text("s3cret\n")

    # The server down: exit 75 with the reason, quickly (connect_timeout).
    cluster.stop()
    r = ternmap("-q", "info@example.org", spec)
    assert r.returncode == 75, r
    assert b"temporary failure" in r.stderr and b"127.0.0.1" in r.stderr
    cluster.start()
    r = ternmap("-q", "info@example.org", spec)
    assert (r.returncode, r.stdout) == (0, b"terntest1@localhost\n"), r.stderr
    # A missing configuration file: temporary as well.
    assert ternmap("-q", "k", "pgsql:" + str(tdir / "none.cf")).returncode == 75
