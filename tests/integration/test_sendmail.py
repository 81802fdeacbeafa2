"""Local submission: sendmail(1) -> ternpostdrop -> maildrop/ -> pickup(8).

Every case runs the instance's own sendmail (DIR/bin, beside the set-gid
ternpostdrop that mk/instance.sh installs) with the configuration named by
TERN_CONFIG, as root and as an unprivileged test user, with the exact
arguments of the programs that call sendmail on Debian.  Delivery is checked
in the test users' Maildirs; the headers pickup adds are checked with
Python's email parser.  Hostile drop files are written straight into
maildrop/ (as root) and must end in corrupt/ while pickup keeps running.
"""

import email
import email.utils
import os
import pwd
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, maildir_new, wait_for

T1, T2 = "terntest1", "terntest2"


def run_sendmail(inst, args, data, user=None, name="sendmail", env_extra=None):
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    env.update(env_extra or {})
    prog = inst.dir / "bin" / name
    if name != "sendmail" and not prog.exists():
        prog.symlink_to("sendmail")
    cmd = [str(prog), *args]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, input=data, capture_output=True, env=env, timeout=30)


def delivered(user, n=1):
    files = wait_for(lambda: len(maildir_new(user)) >= n and maildir_new(user),
                     what=f"{n} message(s) for {user}")
    return [email.message_from_bytes(p.read_bytes()) for p in files]


AS_USERS = pytest.mark.parametrize("user", [None, T1], ids=["root", "user"])


@AS_USERS
def test_t_to_cc_bcc(tern, user):
    msg = (b"To: Test One <terntest1@localhost>\n"
           b"Cc: terntest2@localhost\nBcc: root-reader <terntest2@localhost>,"
           b" terntest1@localhost\nSubject: hello\n\nbody\n")
    r = run_sendmail(tern, ["-t", "-i"], msg, user)
    assert r.returncode == 0, r.stderr
    for u in (T1, T2):
        m = delivered(u)[0]
        assert m["Subject"] == "hello"
        assert m["Bcc"] is None, m.as_string()
        assert m["Cc"] == "terntest2@localhost"


def test_bcc_only_recipient_gets_it_without_the_header(tern):
    msg = b"To: terntest1@localhost\nBcc: terntest2@localhost\nSubject: b\n\nx\n"
    assert run_sendmail(tern, ["-t"], msg, T1).returncode == 0
    for u in (T1, T2):
        m = delivered(u)[0]
        assert m["Bcc"] is None
    assert b"terntest2" not in delivered(T1)[0].as_bytes().split(b"\n\n")[0]


@AS_USERS
def test_t_adds_command_line_recipients(tern, user):
    """As Postfix: -t takes To/Cc/Bcc and keeps the command line's too."""
    msg = b"To: terntest1@localhost\nBcc: nobody-else\nSubject: both\n\nx\n"
    r = run_sendmail(tern, ["-t", "-i", T2], msg.replace(b"nobody-else", b"terntest1"), user)
    assert r.returncode == 0, r.stderr
    for u in (T1, T2):
        m = delivered(u)[0]
        assert m["Subject"] == "both" and m["Bcc"] is None
    assert len(maildir_new(T1)) == 1, "To: and Bcc: name one user: one copy"


@AS_USERS
def test_f_sets_the_envelope_sender(tern, user):
    r = run_sendmail(tern, ["-f", "list-owner@example.org", T1], b"Subject: f\n\nx\n", user)
    assert r.returncode == 0, r.stderr
    m = delivered(T1)[0]
    assert m["Return-Path"] == "<list-owner@example.org>"


@AS_USERS
def test_oi_keeps_a_lone_dot(tern, user):
    r = run_sendmail(tern, ["-oi", T1], b"Subject: dot\n\nabove\n.\nbelow\n", user)
    assert r.returncode == 0, r.stderr
    body = delivered(T1)[0].get_payload()
    assert body == "above\n.\nbelow\n"


def test_without_i_a_lone_dot_ends_the_message(tern):
    r = run_sendmail(tern, [T1], b"Subject: dot\n\nabove\n.\nbelow\n")
    assert r.returncode == 0, r.stderr
    assert delivered(T1)[0].get_payload() == "above\n"


@AS_USERS
def test_exit_codes(tern, user):
    assert run_sendmail(tern, ["-Z", T1], b"x\n", user).returncode == 64
    assert run_sendmail(tern, ["-bz"], b"", user).returncode == 64
    r = run_sendmail(tern, [], b"Subject: none\n\nx\n", user)
    assert r.returncode == 67, r.stderr
    r = run_sendmail(tern, ["-t"], b"Subject: none\n\nx\n", user)
    assert r.returncode == 67, r.stderr
    # A queue that cannot be written: no maildrop/ in the named queue.
    noqueue = tern.dir / "noqueue"
    noqueue.mkdir(mode=0o755, exist_ok=True)
    conf = noqueue / "tern.conf"
    conf.write_text(re.sub(r"(?m)^queue_directory = .*$", f"queue_directory = {noqueue}",
                           (tern.dir / "etc" / "tern.conf").read_text()))
    conf.chmod(0o644)
    r = run_sendmail(tern, ["-C", str(conf), T1], b"Subject: q\n\nx\n", user)
    assert r.returncode == 75, r.stderr
    assert maildir_new(T1) == []


@AS_USERS
def test_submission_while_stopped_is_delivered_after_start(tern, user):
    tern.stop()
    r = run_sendmail(tern, ["-i", T2], b"Subject: later\n\nwaited\n", user)
    assert r.returncode == 0, r.stderr
    assert len(tern.queue_files("maildrop")) == 1
    out = run_sendmail(tern, [], b"", name="mailq")
    assert out.returncode == 0
    uid = pwd.getpwnam(user or "root").pw_uid
    assert re.search(rb"\(maildrop queue, sender UID %d\)" % uid, out.stdout), out.stdout
    assert re.search(rb"^-- \d+ Kbytes in 1 Request\.$", out.stdout, re.M), out.stdout
    tern.start()
    assert delivered(T2)[0]["Subject"] == "later"
    wait_for(lambda: tern.queue_files("maildrop") == [], what="maildrop/ empty")


# The exact invocations of Debian's callers of sendmail.
CALLERS = {
    "cron": ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", T1],
    "mailutils": ["-oi", "-f", "terntest1@localhost", "-t"],
    "s-nail": ["-i", "--", T1],
    "mutt": ["-oem", "-oi", "-B8BITMIME", "-f", "terntest1@localhost", "--", T1],
    "git-send-email": ["-f", "terntest1@localhost", "-i", T1],
    "unattended-upgrades": ["-oi", "-t"],
    "logwatch": ["-t"],
    "mdadm": ["-t"],
    "sudo": ["-t"],
}


@AS_USERS
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_debian_callers(tern, caller, user):
    """Each caller's arguments, as root and as a user (cron runs it as the
    crontab's owner); the message as that caller writes it, with a To:
    field for -t and 8-bit text for -B8BITMIME."""
    msg = (b"To: terntest1@localhost\nSubject: from " + caller.encode() +
           b"\nContent-Type: text/plain; charset=UTF-8\n\nh\xc3\xa9llo\n.\nend\n")
    r = run_sendmail(tern, CALLERS[caller], msg, user)
    assert r.returncode == 0, r.stderr
    m = delivered(T1)[0]
    assert m["Subject"] == "from " + caller
    uid = pwd.getpwnam(user or "root").pw_uid
    assert any(f"(tern, from userid {uid})" in h for h in m.get_all("Received")), m
    body = m.get_payload(decode=True)
    # -i: the lone dot is text; without it (-t alone) it ends the message.
    if "-i" in CALLERS[caller] or "-oi" in CALLERS[caller]:
        assert body == "h\u00e9llo\n.\nend\n".encode(), body
    else:
        assert body == "h\u00e9llo\n".encode(), body
    if "-f" in CALLERS[caller]:
        assert m["Return-Path"] == "<terntest1@localhost>"
    if caller == "cron":
        login = user or "root"
        assert m["From"].startswith(f'"CronDaemon" <{login}@'), m["From"]


def test_real_client_s_nail(tern):
    """Debian's s-nail, told to use this instance's sendmail (its mta
    variable; the configuration through TERN_CONFIG, as for any program
    that runs sendmail with fixed arguments), as a user and as root."""
    snail = shutil.which("s-nail")
    assert snail, "s-nail is not installed (make deps)"
    env = dict(os.environ, TERN_CONFIG=str(tern.dir / "etc" / "tern.conf"), HOME="/nonexistent",
               MAILRC="/dev/null")
    for user, to in ((T1, T2), (None, T1)):
        cmd = [snail, "-n", "-#", "-S", f"mta={tern.dir / 'bin' / 'sendmail'}", "-S", "sendwait",
               "-s", f"s-nail to {to}", to]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        r = subprocess.run(cmd, input=b"hello from s-nail\n", env=env, capture_output=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        m = delivered(to)[0]
        assert m["Subject"] == f"s-nail to {to}"
        assert m.get_payload(decode=True) == b"hello from s-nail\n"
        uid = pwd.getpwnam(user or "root").pw_uid
        assert any(f"(tern, from userid {uid})" in h for h in m.get_all("Received"))
        assert email.utils.parsedate_to_datetime(m["Date"]) is not None
        assert m["Message-ID"]


def test_cron_style_pipe(tern):
    """A job's output piped into "sendmail -t" by a shell, as a user."""
    sm = tern.dir / "bin" / "sendmail"
    script = (f"(printf 'To: {T2}\\nCc: {T1}@localhost\\nSubject: job output\\n\\n'; "
              f"echo line one; echo .; echo line three) | {sm} -t")
    env = dict(os.environ, TERN_CONFIG=str(tern.dir / "etc" / "tern.conf"))
    r = subprocess.run(["runuser", "-u", T1, "--", "sh", "-c", script], env=env,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    for u in (T1, T2):
        m = delivered(u)[0]
        assert m["Subject"] == "job output"
        # Without -i the lone dot ends the message, as in Postfix.
        assert m.get_payload() == "line one\n"
        name, addr = email.utils.parseaddr(m["From"])
        assert addr.startswith("terntest1@"), m["From"]


def test_added_headers(tern):
    r = run_sendmail(tern, ["-F", "Test User", T2], b"Subject: h\n\nbody\n", T1)
    assert r.returncode == 0, r.stderr
    m = delivered(T2)[0]
    uid = pwd.getpwnam(T1).pw_uid
    received = m.get_all("Received")
    assert any(f"(tern, from userid {uid})" in h for h in received), received
    name, addr = email.utils.parseaddr(m["From"])
    assert name == "Test User" and addr.startswith("terntest1@"), m["From"]
    assert email.utils.parsedate_to_datetime(m["Date"]) is not None
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", m["Message-ID"]), m["Message-ID"]


def test_given_headers_are_kept(tern):
    msg = (b"From: Someone <someone@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"Message-ID: <given@example.org>\nSubject: kept\n\nx\n")
    assert run_sendmail(tern, [T1], msg, T1).returncode == 0
    m = delivered(T1)[0]
    assert m.get_all("From") == ["Someone <someone@example.org>"]
    assert m.get_all("Message-ID") == ["<given@example.org>"]
    assert m.get_all("Date") == ["Mon, 1 Jan 2024 00:00:00 +0000"]


def drop(uid, rcpt, body, sender="terntest1"):
    return (f"tern-drop 1\nuid {uid}\nfrom {sender}\nrcpt {rcpt}\nsize {len(body)}\ndata\n"
            .encode() + body)


def test_hostile_drop_files(tern):
    u1, u2 = pwd.getpwnam(T1), pwd.getpwnam(T2)
    md = tern.queue / "maildrop"
    pickup = tern.services()["pickup"]
    good = drop(u1.pw_uid, T1, b"Subject: good\n\nok\n")
    hostile = {
        "0TRUNCATED": good[:len(good) - 2],
        "0HUGEHEADER": drop(u1.pw_uid, T1, b"X-Big: " + b"a" * 200000 + b"\n\nx\n"),
        "0NULBYTE": drop(u1.pw_uid, T1, b"Subject: n\n\nx\0y\n"),
        "0NOTMINE": drop(u1.pw_uid, T1, b"Subject: forged\n\nx\n", sender="root"),
        "0GARBAGE": b"\x00\xff" * 100,
        # Over message_size_limit (10240000 by default), well formed.
        "0TOOBIG": drop(u1.pw_uid, T1, b"Subject: big\n\n" + (b"x" * 79 + b"\n") * 130000),
    }
    owners = {"0NOTMINE": u2.pw_uid}
    # Made elsewhere and renamed in whole, as ternpostdrop does: pickup
    # must see each file only as it is meant to be.
    stage = tern.dir / "stage"
    stage.mkdir()
    for name, data in hostile.items():
        p = stage / name
        p.write_bytes(data)
        os.chown(p, owners.get(name, u1.pw_uid), u1.pw_gid)
        p.chmod(0o604)
    (stage / "0SYMLINK").symlink_to("/etc/shadow")
    os.mkfifo(stage / "0FIFO")
    os.chown(stage / "0FIFO", u1.pw_uid, u1.pw_gid)
    # A good file with a second name outside maildrop/: refused, since
    # whoever holds the other name could change it under pickup.
    (stage / "0HARDLINK").write_bytes(good)
    os.chown(stage / "0HARDLINK", u1.pw_uid, u1.pw_gid)
    os.link(stage / "0HARDLINK", stage / "other-name")
    specials = ["0SYMLINK", "0FIFO", "0HARDLINK"]
    for name in [*hostile, *specials]:
        os.rename(stage / name, md / name)
    names = sorted(hostile) + specials
    # An over-size file is removed, not kept in corrupt/ (no disk fill).
    removed = {"0TOOBIG"}
    for n in names:
        if n in removed:
            continue
        wait_for(lambda: os.path.lexists(tern.queue / "corrupt" / ("drop-" + n)),
                 what=f"{n} in corrupt/")
    wait_for(lambda: not os.path.lexists(md / "0TOOBIG"), what="0TOOBIG removed")
    assert not os.path.lexists(tern.queue / "corrupt" / "drop-0TOOBIG")
    assert os.listdir(md) == []
    assert tern.services()["pickup"] == pickup, "pickup restarted"
    log = tern.log()
    for n in names:
        assert re.search(rf"maildrop/{n}: refused \(", log), n
    # Still at work: a good submission goes through.
    assert run_sendmail(tern, [T1], b"Subject: after\n\nx\n", T1).returncode == 0
    msgs = delivered(T1)
    assert [m["Subject"] for m in msgs] == ["after"]


def test_mailq_and_modes(tern):
    out = run_sendmail(tern, [], b"", name="mailq")
    assert out.returncode == 0 and out.stdout == b"Mail queue is empty\n", out
    r = run_sendmail(tern, ["-bp"], b"")
    assert r.stdout == out.stdout
    # newaliases builds alias_database (the instance's etc/aliases) into
    # a .db that ternmap reads back; a bad line fails it and keeps the old.
    aliases = tern.dir / "etc" / "aliases"
    aliases.write_text("postmaster: root\nWebmaster: terntest1, terntest2\n")
    r = run_sendmail(tern, [], b"", name="newaliases")
    assert r.returncode == 0, r.stderr
    ternmap = [str(BUILD / "bin" / "ternmap"), "-q"]
    q = subprocess.run([*ternmap, "webmaster", f"hash:{aliases}"],
                       capture_output=True, timeout=30)
    assert q.returncode == 0 and q.stdout == b"terntest1, terntest2\n", q
    aliases.write_text("postmaster root\n")
    r = run_sendmail(tern, ["-bi"], b"")
    assert r.returncode == 65 and b"aliases:1: expected" in r.stderr, r
    q = subprocess.run([*ternmap, "postmaster", f"hash:{aliases}"],
                       capture_output=True, timeout=30)
    assert q.returncode == 0 and q.stdout == b"root\n", q
    assert run_sendmail(tern, ["-q"], b"").returncode == 0
    r = run_sendmail(tern, ["-bv", "terntest1@localhost"], b"")
    assert r.returncode == 0 and b"terntest1@localhost" in r.stdout
    assert run_sendmail(tern, ["-bv", "@@"], b"").returncode == 67
    # -qINTERVAL and -bh read no message: standard input stays open here.
    env = dict(os.environ, TERN_CONFIG=str(tern.dir / "etc" / "tern.conf"))
    for flag in ("-q30m", "-bh"):
        p = subprocess.Popen([str(tern.dir / "bin" / "sendmail"), flag], stdin=subprocess.PIPE,
                             env=env)
        try:
            assert p.wait(timeout=10) == 0, flag
        finally:
            p.stdin.close()
            if p.poll() is None:
                p.kill()


@AS_USERS
def test_bs_session_as_alpine_does(tern, user):
    """Alpine runs "sendmail -bs -odb -oem" and speaks SMTP on the pipe."""
    script = (b"EHLO client\r\nMAIL FROM:<terntest1@localhost>\r\n"
              b"RCPT TO:<terntest2@localhost>\r\nRCPT TO:<bad address@x>\r\n"
              b"DATA\r\nSubject: bs\r\n\r\n..dot\r\nline\r\n.\r\n"
              b"RCPT TO:<terntest2@localhost>\r\nQUIT\r\n")
    r = run_sendmail(tern, ["-bs", "-odb", "-oem"], script, user)
    assert r.returncode == 0, r.stderr
    codes = [l[:3] for l in r.stdout.decode().split("\r\n") if l[:3].isdigit() and l[3:4] == " "]
    assert codes == ["220", "250", "250", "250", "501", "354", "250", "503", "221"], r.stdout
    m = delivered(T2)[0]
    assert m["Subject"] == "bs" and m.get_payload() == ".dot\nline\n"
    assert m["Return-Path"] == "<terntest1@localhost>"
