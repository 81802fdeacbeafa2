"""The privilege model of docs/SECURITY.md, checked on a running instance.

PROCESSES below is that document's process table in machine form.  For every
running process of the suite the test reads /proc/PID/status (Uid, Gid,
Groups, CapEff, CapPrm), /proc/PID/root, /proc/PID/cwd and every open
descriptor, and compares them with the table.  It runs after a message has
gone all the way through, so the connections between the daemons are open
too.  A descriptor is classified by what it is (null device, log, a file in
the queue, a listening socket and whose, a connected socket, a pipe, an
epoll or signalfd); a process may hold only the kinds its row allows, and
each daemon exactly one listening socket: its own service's (one that held
another's, say smtpd holding private/deliver, could take qmgr's delivery
requests).
"""

import grp
import os
import pwd
from pathlib import Path

from conftest import maildir_new, proc_status, wait_for

# service: (user, group, capabilities, descriptor kinds it may hold)
#   user/group "mail_owner" is the instance's tern account; "root" is 0.
#   capabilities: "none" (CapEff and CapPrm 0) or "root" (the master's set).
#   listen:own is the service's own socket from master.conf; listen:all is
#   every service's (the master's).
PROCESSES = {
    "master": ("root", "root", "root",
               {"null", "log", "pidfile", "listen:all", "signalfd"}),
    # chrooted into the queue (master.conf), and without tables: the
    # lookup service reads them.
    "smtpd": ("mail_owner", "mail_owner", "none",
              {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "qmgr": ("mail_owner", "mail_owner", "none",
             {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "deliver": ("root", "root", "root",
                {"null", "log", "listen:own", "signalfd", "queue", "connected",
                 "table"}),
    "resolver": ("mail_owner", "mail_owner", "none",
                 {"null", "log", "listen:own", "eventpoll", "pipe", "connected"}),
    "anvil": ("mail_owner", "mail_owner", "none",
              {"null", "log", "listen:own", "eventpoll", "pipe", "connected"}),
    "smtp": ("mail_owner", "mail_owner", "none",
             {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "lmtp": ("mail_owner", "mail_owner", "none",
             {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "pickup": ("mail_owner", "mail_owner", "none",
               {"null", "log", "listen:own", "inotify", "queue", "connected"}),
    "showq": ("mail_owner", "mail_owner", "none",
              {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "bounce": ("mail_owner", "mail_owner", "none",
               {"null", "log", "listen:own", "eventpoll", "pipe", "queue", "connected"}),
    "lookup": ("mail_owner", "mail_owner", "none",
               {"null", "log", "listen:own", "eventpoll", "pipe", "connected", "table"}),
}


def sockets():
    """{inode: (listening, address)} for every UNIX and TCP/UDP socket."""
    out = {}
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        listening = int(f[3], 16) & 0x10000 != 0
        out[f[6]] = (listening, f[7] if len(f) > 7 else "")
    for name in ("tcp", "tcp6", "udp", "udp6"):
        p = Path("/proc/net") / name
        if not p.exists():
            continue
        for line in p.read_text().splitlines()[1:]:
            f = line.split()
            port = int(f[1].rsplit(":", 1)[1], 16)
            out[f[9]] = (name.startswith("tcp") and f[3] == "0A", f"{name}:{port}")
    return out


def service_addresses(inst):
    """{service: (address, chroot, sockets the master holds for it)} from the
    instance's master.conf: a TCP service with several instances has one
    socket per instance (SO_REUSEPORT), every other service one."""
    table = {}
    for line in (inst.dir / "etc" / "master.conf").read_text().splitlines():
        f = line.split()
        if f and not f[0].startswith("#"):
            limit = int(f[5])
            table[f[0]] = (f[2], f[4] == "y", limit if f[1] == "inet" else 1)
    return table


def owns_address(sock_addr, address):
    if sock_addr.startswith("tcp"):
        return ":" in address and sock_addr.split(":")[1] == address.rsplit(":", 1)[1]
    return sock_addr == address or sock_addr.endswith("/" + address)


def classify(pid, fd, inst, socks):
    """One descriptor -> (kind, detail)."""
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ("gone", "")
    if target == "/dev/null":
        return ("null", target)
    if target == str(inst.logfile):
        return ("log", target)
    if target == str(inst.queue / "pid" / "master.pid"):
        return ("pidfile", target)
    if target.startswith(str(inst.queue) + "/") or target == str(inst.queue):
        return ("queue", target)
    if target.startswith(str(inst.dir / "etc") + "/") and target.endswith(".db"):
        return ("table", target)        # alias_maps, read-only
    if target.startswith("pipe:"):
        return ("pipe", target)
    if target.startswith("anon_inode:"):
        return (target[len("anon_inode:"):].strip("[]"), target)
    if target.startswith("socket:["):
        inode = target[len("socket:["):-1]
        listening, addr = socks.get(inode, (False, ""))
        return ("listen", addr) if listening else ("connected", addr)
    return ("other", target)


def ids(status_line):
    return [int(x) for x in status_line.split()]


def check_process(name, pid, inst, socks, table, master_status):
    user, group, caps, allowed = PROCESSES[name]
    st = proc_status(pid)
    owner = pwd.getpwnam("tern")
    uid = 0 if user == "root" else owner.pw_uid
    gid = 0 if group == "root" else owner.pw_gid
    where = f"{name} (pid {pid})"
    assert ids(st["Uid"]) == [uid] * 4, f"{where}: Uid {st['Uid']}"
    assert ids(st["Gid"]) == [gid] * 4, f"{where}: Gid {st['Gid']}"
    if user == "root":
        # Root keeps whatever groups the master was started with.
        assert st["Groups"] == master_status["Groups"], f"{where}: Groups {st['Groups']}"
        assert st["CapEff"] == master_status["CapEff"] != "0" * 16, where
    else:
        assert ids(st["Groups"]) == [owner.pw_gid], \
            f"{where}: Groups {st['Groups']} (only {grp.getgrgid(owner.pw_gid).gr_name})"
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0, \
            f"{where}: CapEff {st['CapEff']} CapPrm {st['CapPrm']}"
    chroot = name != "master" and table[name][1]
    assert os.readlink(f"/proc/{pid}/root") == (str(inst.queue) if chroot else "/"), where
    # (Read from outside, a chrooted process's cwd is its full path: the
    # queue, its "/".)
    assert os.readlink(f"/proc/{pid}/cwd") == str(inst.queue), where

    listening = []
    for fd in sorted(int(x) for x in os.listdir(f"/proc/{pid}/fd")):
        kind, detail = classify(pid, fd, inst, socks)
        if kind == "gone":
            continue
        if kind == "listen":
            listening.append(detail)
            kind = "listen:all" if name == "master" else "listen:own"
        assert kind in allowed, f"{where}: fd {fd} is {kind} {detail}, not in {sorted(allowed)}"
    if name == "master":
        for svc, (address, _, count) in table.items():
            assert sum(owns_address(a, address) for a in listening) == count, \
                f"master: listening {listening}, want {count} for {svc} {address}"
        assert len(listening) == sum(t[2] for t in table.values()), \
            f"master: listening {listening}"
    else:
        assert len(listening) == 1 and owns_address(listening[0], table[name][0]), \
            f"{where}: listening on {listening}, want only {table[name][0]}"


def all_dropped(tern):
    for name, pids in tern.services().items():
        if PROCESSES.get(name, ("root",))[0] == "root":
            continue
        for pid in pids:
            uid = proc_status(pid).get("Uid")
            if uid is None or ids(uid)[0] == 0:
                return False
    return True


def test_processes_match_the_security_table(tern):
    # A message all the way through, so that smtpd -> qmgr -> deliver
    # connections exist when the descriptors are looked at.
    with tern.smtp() as s:
        s.sendmail("p@example.org", ["terntest1@localhost"], b"Subject: privs\r\n\r\nx\r\n")
    wait_for(lambda: maildir_new("terntest1"), what="delivery")
    # A daemon the message did not pass through (smtp, say) may still be
    # starting up, before its privilege drop, on a slow (sanitizer) run:
    # wait, bounded, for every unprivileged one to have left uid 0; the
    # full check below then holds each to its row.
    wait_for(lambda: all_dropped(tern), what="every daemon to drop privileges")
    table = service_addresses(tern)
    services = tern.services()
    assert set(services) == set(PROCESSES) - {"master"}, services
    socks = sockets()
    master = tern.master_pid()
    master_status = proc_status(master)
    check_process("master", master, tern, socks, table, master_status)
    for name, pids in services.items():
        for pid in pids:
            check_process(name, pid, tern, socks, table, master_status)
