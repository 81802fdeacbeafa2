"""A private PostgreSQL cluster for the pgsql: table tests (Debian's
postgresql package): initdb and pg_ctl in a directory of the test's, run as
an unprivileged test user (initdb refuses root), listening on 127.0.0.1 at a
free port, with password (scram) logins over TCP for user "tern".

Tables are made from rows with table(), and a pgsql_table(5)-style file
naming one with table_cf(), so that a test's schema is one call per table
(aliases, transport, and later virtual ones) and one line of tern.conf."""

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import free_port

PG_USER = "terntest1"       # the cluster runs as an unprivileged test user
PG_PASSWORD = "s3cret"
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def as_pg(*cmd, **kw):
    return subprocess.run(["runuser", "-u", PG_USER, "--", *cmd], capture_output=True,
                          timeout=120, **kw)


def require_postgresql():
    if PG_BIN is None or shutil.which("psql") is None:
        pytest.fail("PostgreSQL is not installed (Debian package postgresql, mk/deps.sh)")


def sql_literal(value):
    """value as an SQL string literal (NULL for None)."""
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


class Cluster:
    def __init__(self, root, settings=()):
        """root: a new directory (made here, owned by PG_USER); settings:
        extra "name=value" server settings (say, log_connections=on)."""
        self.data = root / "data"
        self.port = free_port()
        self.log = root / "pg.log"
        self.settings = tuple(settings)
        pw = pwd.getpwnam(PG_USER)
        root.mkdir(mode=0o755)
        os.chown(root, pw.pw_uid, pw.pw_gid)
        pwfile = root / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        r = as_pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "tern",
                  "--pwfile", str(pwfile), "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        assert r.returncode == 0, r.stderr
        self.start()

    def start(self):
        opts = (f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
                + "".join(f" -c {s}" for s in self.settings))
        r = as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "-o", opts, "start")
        assert r.returncode == 0, r.stdout + r.stderr

    def stop(self):
        as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def sql(self, text):
        r = as_pg("psql", "-h", str(self.data), "-p", str(self.port), "-U", "tern", "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-qAt", "-c", text)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode()

    def table(self, name, columns, rows=()):
        """CREATE TABLE name (columns..., all text; the first the primary
        key) and INSERT rows (tuples, one value per column)."""
        cols = ", ".join(f"{c} text" + (" PRIMARY KEY" if i == 0 else "")
                         for i, c in enumerate(columns))
        text = f"CREATE TABLE {name} ({cols});"
        if rows:
            values = ", ".join("(" + ", ".join(sql_literal(v) for v in row) + ")"
                               for row in rows)
            text += f"INSERT INTO {name} VALUES {values};"
        self.sql(text)

    def table_cf(self, path, query, hosts=None, extra=""):
        """A pgsql: configuration file at path for query ("%s" etc. in
        it), readable by tern's unprivileged daemons, its password in a
        file beside it: the map spec "pgsql:path"."""
        pwfile = path.parent / "pgpass"
        pwfile.write_text(PG_PASSWORD + "\n")
        pwfile.chmod(0o644)
        path.write_text("# pgsql_table(5)\n"
                        f"hosts = {hosts or f'127.0.0.1:{self.port}'}\n"
                        f"user = tern\npassword_file = {pwfile}\ndbname = postgres\n"
                        f"query = {query}\nconnect_timeout = 2\nquery_timeout = 5\n" + extra)
        path.chmod(0o644)
        return "pgsql:" + str(path)
