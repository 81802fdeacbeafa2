"""make install, uninstall and install-mta-links (mk/install.sh).

Never into the real system paths: into a DESTDIR under /var/tmp, or with
PREFIX, SYSCONFDIR, QUEUEDIR and SYSTEMDDIR all inside one temporary
directory, from which the installed master is started and the installed
sendmail submits.  (The only system-wide effect is what make install does as
root anyway: the tern user and the tern and terndrop groups, created if
missing; the test instances create them too.)
"""

import grp
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (BUILD, INSTANCE_ROOT, REPO, _empty_maildirs, free_port, maildir_new,
                      pid_alive, wait_for)

T1, T2 = "terntest1", "terntest2"
MTA_LINKS = ["usr/sbin/sendmail", "usr/lib/sendmail", "usr/bin/mailq", "usr/bin/newaliases"]


def make(target, **var):
    """make TARGET with the tests' build directory and VAR=value..."""
    args = ["make", "--no-print-directory", "-C", str(REPO), target,
            f"B={os.path.relpath(BUILD, REPO)}"]
    if BUILD.name == "build-san":
        args.append("SANITIZE=1")
    args += [f"{k}={v}" for k, v in var.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


@pytest.fixture
def scratch(test_users):
    INSTANCE_ROOT.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="install-", dir=INSTANCE_ROOT))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tree(root):
    """{relative path: (type and mode as ls shows it, owner, group)}"""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = Path(dirpath) / n
            st = p.lstat()
            out[str(p.relative_to(root))] = (stat.filemode(st.st_mode),
                                              pwd.getpwuid(st.st_uid).pw_name,
                                              grp.getgrgid(st.st_gid).gr_name)
    return out


# What make install must leave, with its default layout, below DESTDIR.
EXPECTED = {
    "usr/local/sbin/tern-master": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/smtpd": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/qmgr": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/deliver": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/pickup": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/sendmail": ("-rwxr-xr-x", "root", "root"),
    "usr/local/lib/tern/ternpostdrop": ("-rwxr-sr-x", "root", "terndrop"),
    "usr/local/share/man/man1/sendmail.1": ("-rw-r--r--", "root", "root"),
    "usr/local/share/man/man1/mailq.1": ("-rw-r--r--", "root", "root"),
    "usr/local/share/man/man8/pickup.8": ("-rw-r--r--", "root", "root"),
    "usr/local/share/man/man8/ternpostdrop.8": ("-rw-r--r--", "root", "root"),
    "usr/local/share/man/man8/tern-master.8": ("-rw-r--r--", "root", "root"),
    "etc/tern/tern.conf": ("-rw-r--r--", "root", "root"),
    "etc/tern/master.conf": ("-rw-r--r--", "root", "root"),
    "lib/systemd/system/tern.service": ("-rw-r--r--", "root", "root"),
    "var/spool/tern": ("drwxr-xr-x", "root", "root"),
    "var/spool/tern/pid": ("drwx------", "root", "root"),
    "var/spool/tern/maildrop": ("drwxrwx--T", "tern", "terndrop"),
    **{f"var/spool/tern/{d}": ("drwx------", "tern", "tern")
       for d in ("tmp", "incoming", "active", "deferred", "hold", "corrupt", "free", "private")},
}


def ensure_system_ids():
    """The owners make install sets under DESTDIR only where they exist."""
    if subprocess.run(["getent", "group", "terndrop"], capture_output=True).returncode:
        subprocess.run(["groupadd", "--system", "terndrop"], check=True)
    if subprocess.run(["id", "-u", "tern"], capture_output=True).returncode:
        subprocess.run(["groupadd", "-f", "--system", "tern"], check=True)
        subprocess.run(["useradd", "--system", "--gid", "tern", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "tern"],
                       check=True)


def test_destdir_owners_modes_idempotent_uninstall(scratch):
    ensure_system_ids()
    dest = scratch / "root"
    r = make("install", DESTDIR=dest)
    assert r.returncode == 0, r.stdout + r.stderr
    got = tree(dest)
    for path, want in EXPECTED.items():
        assert got.get(path) == want, (path, got.get(path))
    # Every daemon of the Makefile in the libexec directory, every man page.
    for d in ("resolver", "anvil", "smtp"):
        assert f"usr/local/lib/tern/{d}" in got
    for m in Path(REPO, "man").iterdir():
        assert f"usr/local/share/man/man{m.suffix[1:]}/{m.name}" in got, m
    conf = (dest / "etc/tern/tern.conf").read_text()
    assert re.search(r"(?m)^daemon_directory = /usr/local/lib/tern$", conf)
    assert re.search(r"(?m)^queue_directory = /var/spool/tern$", conf)
    unit = (dest / "lib/systemd/system/tern.service").read_text()
    assert "ExecStart=/usr/local/sbin/tern-master -c /etc/tern/tern.conf" in unit
    assert re.search(r"(?m)^LimitNOFILE=\d+$", unit) and "Type=forking" in unit

    # Again: nothing changes; an administrator's edit is kept.
    assert make("install", DESTDIR=dest).returncode == 0
    assert tree(dest) == got
    edited = conf + "myhostname = edited.example\n"
    (dest / "etc/tern/tern.conf").write_text(edited)
    r = make("install", DESTDIR=dest)
    assert r.returncode == 0 and "tern.conf.dist" in r.stdout, r.stdout
    assert (dest / "etc/tern/tern.conf").read_text() == edited
    assert (dest / "etc/tern/tern.conf.dist").read_text() == conf

    # uninstall keeps the queue and the configuration, and says so.
    (dest / "var/spool/tern/deferred/KEEPME").write_text("mail")
    r = make("uninstall", DESTDIR=dest)
    assert r.returncode == 0 and "kept the configuration" in r.stdout, r.stdout
    left = tree(dest)
    assert not [p for p in left if p.startswith("usr/local/") and not os.path.isdir(dest / p)]
    assert "lib/systemd/system/tern.service" not in left
    assert (dest / "var/spool/tern/deferred/KEEPME").exists()
    assert (dest / "etc/tern/tern.conf").read_text() == edited
    r = make("uninstall", DESTDIR=dest, PURGE=1)
    assert r.returncode == 0, r.stderr
    assert not (dest / "var/spool/tern").exists() and not (dest / "etc/tern").exists()


def test_mta_links_refuse_another_mta_unless_forced(scratch):
    dest = scratch / "root"
    fake = dest / "usr/sbin/sendmail"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n# another MTA's sendmail\n")
    r = make("install-mta-links", DESTDIR=dest)
    assert r.returncode != 0 and "another MTA" in r.stderr, r.stdout + r.stderr
    assert fake.read_text().endswith("another MTA's sendmail\n") and not fake.is_symlink()
    assert not any((dest / l).is_symlink() for l in MTA_LINKS), "made some links anyway"

    r = make("install-mta-links", DESTDIR=dest, FORCE=1)
    assert r.returncode == 0, r.stdout + r.stderr
    for l in MTA_LINKS:
        assert os.readlink(dest / l) == "/usr/local/lib/tern/sendmail", l
    backup = dest / "usr/sbin/sendmail.tern-backup"
    assert backup.read_text().endswith("another MTA's sendmail\n")
    # Again, without FORCE: they are tern's now.
    assert make("install-mta-links", DESTDIR=dest).returncode == 0

    r = make("uninstall-mta-links", DESTDIR=dest)
    assert r.returncode == 0, r.stderr
    assert fake.read_text().endswith("another MTA's sendmail\n") and not fake.is_symlink()
    assert not backup.exists()
    assert not any(os.path.lexists(dest / l) for l in MTA_LINKS[1:])


def test_installed_prefix_runs_and_delivers(scratch):
    """make install PREFIX=tmp (config, queue and unit inside it), start the
    installed master (it daemonizes, as under systemd), submit with the
    installed sendmail as a user and over SMTP; both arrive."""
    p = scratch / "prefix"
    aliases = p / "etc/aliases"
    layout = dict(PREFIX=p, SYSCONFDIR=p / "etc/tern", QUEUEDIR=p / "var/spool/tern",
                  SYSTEMDDIR=p / "lib/systemd/system", ALIASES=aliases)
    r = make("install", **layout)
    assert r.returncode == 0, r.stdout + r.stderr
    # As Debian's MTA packages do, install made a minimal aliases file and
    # its table (here inside the prefix instead of /etc/aliases): local
    # delivery defers while alias_maps cannot be read.
    assert re.search(r"(?m)^postmaster: root$", aliases.read_text())
    assert (p / "etc/aliases.db").exists()
    port = free_port()
    mc = p / "etc/tern/master.conf"
    mc.write_text(re.sub(r"(?m)^(smtpd\s+inet\s+)\S+", rf"\g<1>127.0.0.1:{port}", mc.read_text()))
    conf = p / "etc/tern/tern.conf"
    with open(conf, "a") as f:
        f.write(f"alias_maps = hash:{aliases}\nalias_database = hash:{aliases}\n")
    # An administrator's aliases file and table are never replaced.
    aliases.write_text("postmaster: root\n# mine\n")
    db = (p / "etc/aliases.db").stat()
    assert make("install", **layout).returncode == 0
    assert aliases.read_text().endswith("# mine\n")
    assert (p / "etc/aliases.db").stat().st_mtime_ns == db.st_mtime_ns
    assert subprocess.run([p / "sbin/tern-master", "-n", "-c", conf]).returncode == 0
    _empty_maildirs()
    r = subprocess.run([p / "sbin/tern-master", "-c", conf], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    pidfile = p / "var/spool/tern/pid/master.pid"
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(),
                       what="the pid file"))
    try:
        env = dict(os.environ, TERN_CONFIG=str(conf))
        r = subprocess.run(["runuser", "-u", T1, "--", p / "lib/tern/sendmail", "-i", T2],
                           input=b"Subject: installed\n\nvia the installed sendmail\n",
                           capture_output=True, env=env, timeout=30)
        assert r.returncode == 0, r.stderr
        wait_for(lambda: maildir_new(T2), timeout=30, what="the submitted message")
        assert b"Subject: installed" in maildir_new(T2)[0].read_bytes()
        wait_for(lambda: _port_open(port), what="smtpd listening")
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("a@example.org", [f"{T1}@localhost"], b"Subject: smtp\r\n\r\nx\r\n")
        wait_for(lambda: maildir_new(T1), timeout=30, what="the SMTP message")
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pid_alive(pid), timeout=30, what="the master to stop")
    assert not pidfile.exists()


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
