"""The supervisor, end to end: SIGHUP reloads a changed configuration (and
keeps the old one when the new one is bad), SIGTERM stops everything and
cleans up, a second master on the same instance is refused, and a service
that dies at once is restarted with a doubling back-off while the others
keep working.  See master(8)."""

import os
import pwd
import re
import signal
import smtplib
import socket
import subprocess
import time

from conftest import BUILD, SERVICES, maildir_new, pid_alive, proc_cmdline, proc_status, wait_for


def greeting(inst, timeout=10):
    """The 220 line a new SMTP connection gets."""
    with socket.create_connection(("127.0.0.1", inst.port), timeout=timeout) as s:
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n", 1)[0].decode("latin-1")


def mail_flows(inst, token, user="terntest1"):
    with inst.smtp() as s:
        s.ehlo("master.example")
        s.sendmail("m@example.org", [f"{user}@localhost"],
                   f"Subject: {token}\r\nX-Token: {token}\r\n\r\n{token}\r\n".encode())
    wait_for(lambda: any(f"X-Token: {token}\n".encode() in read(p) for p in maildir_new(user)),
             timeout=30, what=f"delivery of {token}")


def read(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:  # removed under us by another test run
        return b""


def all_running(inst):
    """{service: [pid, ...]} once every instance of the services runs."""
    svc = inst.services()
    limits = {s: n for s, n in inst.service_limits().items() if s in SERVICES}
    return all(len(svc.get(s, [])) == n for s, n in limits.items()) and svc


def settled(inst):
    """Every daemon is running and has read tern.conf: smtpd, qmgr and
    resolver have dropped to mail_owner, deliver (which stays root) blocks
    its stop signals for its signalfd.  Until then a daemon would still read
    a file edited under it."""
    svc = all_running(inst)
    tern = str(pwd.getpwnam("tern").pw_uid)
    for name, pids in (svc or {}).items():
        for pid in pids:
            st = proc_status(pid)
            if name == "deliver":
                if not int(st.get("SigBlk", "0"), 16) & (1 << (signal.SIGTERM - 1)):
                    return None
            elif set(st.get("Uid", "").split()) != {tern}:
                return None
    return svc


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def test_sighup_reloads_config(tern):
    master = tern.master_pid()
    before = wait_for(lambda: all_running(tern), what="every service")
    assert greeting(tern).endswith(" ESMTP tern")
    append(tern.dir / "etc" / "tern.conf", "smtpd_banner = $myhostname ESMTP reloaded\n")
    os.kill(master, signal.SIGHUP)
    wait_for(lambda: greeting(tern).endswith(" ESMTP reloaded"), timeout=20,
             what="the new banner after SIGHUP")
    assert greeting(tern).startswith("220 ")
    assert tern.master_pid() == master
    after = wait_for(lambda: all_running(tern), what="every service after the reload")
    # Every daemon was restarted to read the new configuration.
    for s in SERVICES:
        assert not set(after[s]) & set(before[s]), s
    assert f"reloaded: {len(tern.service_limits())} service(s)" in tern.log()
    mail_flows(tern, "after-reload")


def test_bad_config_on_sighup_keeps_old_one(tern):
    master = tern.master_pid()
    before = wait_for(lambda: settled(tern), what="every daemon to have read tern.conf")
    conf = tern.dir / "etc" / "tern.conf"
    nlines = len(conf.read_text().splitlines())
    append(conf, "smtpd_banner = $myhostname ESMTP half-applied\nno_such_key = 1\n")
    os.kill(master, signal.SIGHUP)
    wait_for(lambda: "reload failed; keeping the old configuration" in tern.log(),
             what="the reload failure in the log")
    assert f"{conf}:{nlines + 2}: unknown key 'no_such_key'" in tern.log()
    assert tern.master_pid() == master
    after = tern.services()  # nothing was stopped or restarted
    assert {s: set(p) for s, p in after.items()} == {s: set(p) for s, p in before.items()}
    assert greeting(tern).endswith(" ESMTP tern")
    mail_flows(tern, "after-bad-reload")


def test_sigterm_stops_everything(make_instance):
    inst = make_instance()
    inst.stop()
    # Run the master ourselves, to see its exit status.
    with open(inst.logfile, "ab") as log:
        proc = subprocess.Popen([str(BUILD / "bin" / "master"), "-c",
                                 str(inst.dir / "etc" / "tern.conf"), "-f"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        wait_for(lambda: inst.master_pid() == proc.pid and all_running(inst),
                 what="the master and every service")
        pids = [p for ps in inst.services().values() for p in ps]
        idle = socket.create_connection(("127.0.0.1", inst.port), timeout=10)
        assert idle.recv(4096).startswith(b"220 ")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - t0 < 12
        # smtpd says goodbye to a client it had to drop.
        bye = idle.recv(4096)
        assert bye.startswith(b"421 4.3.2 "), bye
        idle.close()
        wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=5,
                 what="every daemon to be gone")
        assert not (inst.queue / "pid" / "master.pid").exists()
        try:
            socket.create_connection(("127.0.0.1", inst.port), timeout=5).close()
            raise AssertionError("the SMTP port still accepts connections")
        except ConnectionRefusedError:
            pass
        with socket.socket(socket.AF_UNIX) as u:
            try:
                u.connect(str(inst.queue / "private" / "qmgr"))
                raise AssertionError("private/qmgr still accepts connections")
            except (ConnectionRefusedError, FileNotFoundError):
                pass
        assert "stopped" in inst.log()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_second_master_refused(tern):
    master = tern.master_pid()
    r = subprocess.run([str(BUILD / "bin" / "master"), "-c",
                        str(tern.dir / "etc" / "tern.conf"), "-f"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    assert f"master already running, pid {master}" in r.stderr
    # The running one is untouched: pid file, sockets, mail.
    assert (tern.queue / "pid" / "master.pid").read_text().strip() == str(master)
    assert tern.master_pid() == master
    mail_flows(tern, "after-second-master")


CRASH_RE = re.compile(r"service crashy pid (\d+) exited with status 1 [\d.]+ s "
                      r"after its start; restarting in (\d+) s")


def test_crash_loop_backs_off(tern):
    master = tern.master_pid()
    append(tern.dir / "etc" / "master.conf",
           "crashy      unix   private/crashy       -      n       1      /bin/false\n")
    os.kill(master, signal.SIGHUP)
    n_services = len(tern.service_limits())      # crashy included
    wait_for(lambda: f"reloaded: {n_services} service(s)" in tern.log(), what="the reload")
    others = wait_for(lambda: all_running(tern), what="the other services")
    others = {s: set(others[s]) for s in SERVICES}
    seen = []  # (monotonic time a line first appeared, pid, announced delay)
    for n in range(1, 5):
        wait_for(lambda: len(CRASH_RE.findall(tern.log())) >= n, timeout=20,
                 what=f"crash {n} of the crashy service")
        pid, delay = CRASH_RE.findall(tern.log())[n - 1]
        seen.append((time.monotonic(), int(pid), int(delay)))
    assert [d for _, _, d in seen] == [1, 2, 4, 8]
    assert len({p for _, p, _ in seen}) == 4  # four separate processes
    # It really waited that long before each restart (the lines are seen
    # by polling, so allow a little slack).
    for (t1, _, d), (t2, _, _) in zip(seen, seen[1:]):
        assert t2 - t1 >= d - 0.25, (d, t2 - t1)
    assert tern.master_pid() == master
    now = tern.services()
    assert {s: set(now.get(s, [])) for s in SERVICES} == others
    mail_flows(tern, "during-crash-loop")
    # A slot waiting for its restart does not hold up a stop.
    pids = [p for ps in now.values() for p in ps] + [master]
    tern.stop()
    assert not [(p, proc_cmdline(p), proc_status(p).get("State")) for p in pids if pid_alive(p)]


def test_star_listens_on_ipv4_and_ipv6(make_instance):
    """*:port is every address, IPv6 and IPv4, on one dual-stack socket; an
    IPv4 client is logged as such, not as ::ffff:127.0.0.1."""
    inst = make_instance(host="*")
    msg = b"Subject: both\r\n\r\nover v6\r\n"
    with smtplib.SMTP("::1", inst.port, timeout=30) as s:
        s.sendmail("v6@example.org", ["terntest1@localhost"], msg)
    with smtplib.SMTP("127.0.0.1", inst.port, timeout=30) as s:
        assert s.noop()[0] == 250
    wait_for(lambda: len(maildir_new("terntest1")) == 1, what="the message sent over IPv6")
    log = inst.log()
    assert "connect from [::1]" in log
    assert "connect from [127.0.0.1]" in log and "::ffff:" not in log


def listen_inode(pid, fd):
    """The inode of the socket pid holds on fd, or None."""
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    return target[len("socket:["):-1] if target.startswith("socket:[") else None


def master_sockets(master):
    """Inodes of every socket the master holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{master}/fd"):
        inode = listen_inode(master, fd)
        if inode:
            inodes.add(inode)
    return inodes


def test_each_smtpd_has_its_own_socket(tern):
    """With several smtpd processes, the master binds one listening socket
    per instance (SO_REUSEPORT), so that one process, not every idle one,
    wakes for a connection; an instance waiting out its restart back-off
    gives its socket up, so no client waits for it; a second server
    cannot join the port."""
    master = tern.master_pid()
    smtpd = wait_for(lambda: len(tern.services().get("smtpd", [])) == 2 and
                     tern.services()["smtpd"], what="two smtpd")
    socks = {pid: listen_inode(pid, 3) for pid in smtpd}
    assert None not in socks.values() and len(set(socks.values())) == 2, socks
    assert set(socks.values()) <= master_sockets(master)
    for i in range(20):
        assert greeting(tern).startswith("220 "), i
    # Another program cannot take the port.  (One with SO_REUSEPORT and the
    # master's uid, root, could join the group: the kernel's rule.)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", tern.port))
            assert False, "a second socket could bind the smtpd port"
        except OSError:
            pass
    # Killed young, an instance waits a second before its restart: its
    # socket is closed meanwhile, and every connection goes to the other.
    # (One that lived 10 s is restarted at once: then its successor, young,
    # is killed.)
    victim = smtpd[0]
    inode = socks[victim]
    os.kill(victim, signal.SIGKILL)
    fresh = wait_for(lambda: inode not in master_sockets(master) and ["closed"] or
                     [p for p in tern.services().get("smtpd", []) if p not in smtpd],
                     timeout=10, what="the dead instance's socket closed, or a restart")
    if fresh != ["closed"]:
        victim = fresh[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: inode not in master_sockets(master), timeout=5,
                 what="the dead instance's socket to be closed")
    for i in range(10):
        assert greeting(tern, timeout=5).startswith("220 "), i
    again = wait_for(lambda: len(tern.services().get("smtpd", [])) == 2 and
                     victim not in tern.services()["smtpd"] and
                     tern.services()["smtpd"], what="the restarted smtpd")
    assert inode not in {listen_inode(pid, 3) for pid in again}
    inodes = {listen_inode(pid, 3) for pid in again}
    assert None not in inodes and len(inodes) == 2, inodes
    mail_flows(tern, "after-reuseport-restart")
