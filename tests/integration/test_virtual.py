"""Virtual domains (common/virtual.c, deliver/virtual_*.c), Postfix's
parameters: hosted mailboxes with no system account (one Maildir, created
on first delivery, one mbox file) written as the uid and gid of
virtual_uid_maps/virtual_gid_maps; virtual aliases to a local user, to a
virtual mailbox, to a remote address (a fake SMTP service) and an @domain
catch-all; unknown addresses of a virtual domain refused at RCPT (550); a
uid below virtual_minimum_uid deferred with a log line; a table that
cannot be read gives 451, not 550.  Tables are hash: files built by
ternmap.  A virtual domain that is also in mydestination is a problem
for ternctl check and a warning in the log."""

import os
import re
import signal
import subprocess

from conftest import BUILD, wait_for
from fakesmtp import FakeSmtp
from test_queue_retry import copies, send

T1, T2 = "terntest1", "terntest2"
VUID = VGID = 5000          # no account: virtual(8)'s usual vmail ids


def build_map(path, text):
    path.write_text(text)
    path.chmod(0o644)
    r = subprocess.run([str(BUILD / "bin" / "ternmap"), f"hash:{path}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def virtual_instance(make_instance, uid=VUID, extra=""):
    """An instance with a virtual mailbox domain (vdomain.test), a virtual
    alias domain (valias.test) and a catch-all one (catch.test)."""
    inst = make_instance("relayhost = [smarthost.test]:2525\n")
    etc = inst.dir / "etc"
    base = inst.dir / "vmail"
    (base / "vdomain.test").mkdir(parents=True)
    for d in (base, base / "vdomain.test"):
        os.chown(d, VUID, VGID)
        d.chmod(0o755)
    build_map(etc / "vmailbox",
              "carol@vdomain.test  vdomain.test/carol/\n"
              "dave@vdomain.test   vdomain.test/dave\n")
    build_map(etc / "virtual",
              f"info@valias.test   {T1}@localhost\n"
              "sales@valias.test  carol@vdomain.test\n"
              "far@valias.test    someone@remote.test\n"
              f"team@valias.test   {T2}, carol@vdomain.test, other@remote.test\n"
              f"@catch.test        {T2}@localhost\n"
              f"wide@valias.test   r1@remote.test, {T1}, r2@remote.test\n")
    conf = etc / "tern.conf"
    conf.write_text(conf.read_text() +
                    "virtual_mailbox_domains = vdomain.test\n"
                    f"virtual_mailbox_base = {base}\n"
                    f"virtual_mailbox_maps = hash:{etc}/vmailbox\n"
                    f"virtual_uid_maps = static:{uid}\n"
                    f"virtual_gid_maps = static:{VGID}\n"
                    "virtual_alias_domains = valias.test, catch.test\n"
                    f"virtual_alias_maps = hash:{etc}/virtual\n" + extra)
    inst.stop()
    inst.start()
    return inst, base


def rcpt_code(inst, addr):
    with inst.smtp() as s:
        s.ehlo("virtual.example")
        assert s.mail("r@example.org")[0] == 250
        return s.rcpt(addr)[0]


def removed(inst, qid):
    wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=30,
             what=f"{qid} to be finished")


def maildir_files(box):
    new = box / "new"
    return [new / n for n in os.listdir(new)] if new.is_dir() else []


def test_virtual_mailboxes(make_instance):
    inst, base = virtual_instance(make_instance)
    carol = base / "vdomain.test" / "carol"
    dave = base / "vdomain.test" / "dave"
    assert not carol.exists()
    qid = send(inst, ["carol@vdomain.test", "Dave@VDomain.test"], "virt-1")
    removed(inst, qid)
    # the Maildir was made, as the mapped ids, and holds the message
    for sub in ("tmp", "new", "cur"):
        st = os.stat(carol / sub)
        assert (st.st_uid, st.st_gid) == (VUID, VGID), sub
    files = maildir_files(carol)
    assert len(files) == 1
    data = files[0].read_bytes()
    assert b"X-Token: virt-1\n" in data
    assert data.startswith(b"Return-Path: <r@example.org>\nDelivered-To: carol@vdomain.test\n")
    st = os.stat(files[0])
    assert (st.st_uid, st.st_gid) == (VUID, VGID)
    # the mbox file, the same ids, in mbox format, no lock left behind
    box = dave.read_bytes()
    assert box.startswith(b"From r@example.org ") and b"X-Token: virt-1\n" in box
    st = os.stat(dave)
    assert (st.st_uid, st.st_gid) == (VUID, VGID) and st.st_mode & 0o777 == 0o600
    assert not (base / "vdomain.test" / "dave.lock").exists()
    assert re.search(rf"{qid}: to=<carol@vdomain.test>, relay=virtual, .*"
                     r"status=sent", inst.log())
    # a second message joins the first
    qid = send(inst, ["carol@vdomain.test"], "virt-2")
    removed(inst, qid)
    assert len(maildir_files(carol)) == 2
    # unknown addresses of virtual domains are refused at RCPT
    assert rcpt_code(inst, "erin@vdomain.test") == 550
    assert rcpt_code(inst, "nobody@valias.test") == 550
    # ... known ones accepted from anyone, as our own destinations
    assert rcpt_code(inst, "carol@vdomain.test") == 250
    assert rcpt_code(inst, "info@valias.test") == 250
    assert rcpt_code(inst, "whoever@catch.test") == 250


def test_virtual_aliases(make_instance):
    inst, base = virtual_instance(make_instance)
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    carol = base / "vdomain.test" / "carol"
    try:
        qid = send(inst, ["info@valias.test", "sales@valias.test",
                          "far@valias.test", "anyone@catch.test"], "valias-1")
        wait_for(lambda: fake.seen(), timeout=30, what="the forwarded copy")
        assert [r for _, r in fake.seen()] == [["someone@remote.test"]]
        assert fake.seen()[0][0] == "[smarthost.test]:2525"
        wait_for(lambda: copies(T1, "valias-1") == 1 and copies(T2, "valias-1") == 1
                 and len(maildir_files(carol)) == 1,
                 what="the local and virtual copies")
        # deliver writes a batch's log lines just before its replies, and
        # the forwarded copy can reach the fake server before that.
        wait_for(lambda: any(f"{qid}: to=<far@valias.test>" in l and "status=sent" in l
                             for l in inst.log().splitlines()),
                 what="the forward's log line")
        # a copy that comes back (it carries our Delivered-To:) is a loop
        with inst.smtp() as s:
            s.ehlo("loop.example")
            assert s.mail("r@example.org")[0] == 250
            assert s.rcpt("far@valias.test")[0] == 250
            code, text = s.data(b"Delivered-To: far@valias.test\r\n"
                                b"X-Token: vloop-1\r\n\r\nbody\r\n")
            assert code == 250, text
            lqid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
        wait_for(lambda: re.search(rf"{lqid}: to=<far@valias.test>, relay=virtual, "
                                   r"delay=[0-9.]+, dsn=5\.4\.6, status=bounced "
                                   r"\(mail forwarding loop", inst.log()),
                 what="the loop bounced")
        assert [r for _, r in fake.seen()].count(["someone@remote.test"]) == 1
        # one alias, three kinds of targets
        qid = send(inst, ["team@valias.test"], "valias-2")
        wait_for(lambda: ["other@remote.test"] in [r for _, r in fake.seen()],
                 timeout=30, what="the forwarded copy")
        wait_for(lambda: copies(T2, "valias-2") == 1 and len(maildir_files(carol)) == 2,
                 what="the local and virtual copies of team@")
        removed(inst, qid)
        assert copies(T1, "valias-2") == 0
        # every remote target of one alias in one new message: one request
        qid = send(inst, ["wide@valias.test"], "valias-3")
        wait_for(lambda: ["r1@remote.test", "r2@remote.test"] in
                 [sorted(r) for _, r in fake.seen()],
                 timeout=30, what="one forwarded copy for both")
        assert not [r for _, r in fake.seen() if r in (["r1@remote.test"],
                                                       ["r2@remote.test"])]
        wait_for(lambda: copies(T1, "valias-3") == 1, what="the local copy")
    finally:
        fake.close()


def test_minimum_uid_defers(make_instance):
    inst, base = virtual_instance(make_instance, uid=50)
    qid = send(inst, ["carol@vdomain.test"], "lowuid-1")
    wait_for(lambda: re.search(rf"{qid}: to=<carol@vdomain.test>, relay=virtual.*"
                               r"dsn=4\.3\.5, status=deferred \(mail system "
                               r"configuration error", inst.log()),
             what="the deferral")
    assert re.search(r"recipient carol@vdomain.test: bad uid 50: below "
                     r"virtual_minimum_uid 100", inst.log())
    assert not (base / "vdomain.test" / "carol").exists()


def test_missing_table_tempfails(make_instance):
    inst, _ = virtual_instance(make_instance)
    conf = inst.dir / "etc" / "tern.conf"
    conf.write_text(re.sub(r"(?m)^virtual_mailbox_maps = .*$",
                           f"virtual_mailbox_maps = hash:{inst.dir}/etc/no-such",
                           conf.read_text()))
    inst.stop()
    inst.start()
    assert rcpt_code(inst, "carol@vdomain.test") == 451
    assert rcpt_code(inst, "erin@vdomain.test") == 451
    # the alias domain's table is still there
    assert rcpt_code(inst, "nobody@valias.test") == 550
    assert rcpt_code(inst, "info@valias.test") == 250


def test_virtual_domain_in_mydestination(make_instance):
    inst, _ = virtual_instance(make_instance)
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    check = [str(BUILD / "bin" / "ternctl"), "check"]
    r = subprocess.run(check, capture_output=True, text=True, env=env, timeout=60)
    assert "mydestination" not in r.stdout, r.stdout
    conf = inst.dir / "etc" / "tern.conf"
    conf.write_text(re.sub(r"(?m)^mydestination = .*$",
                           "mydestination = localhost, vdomain.test",
                           conf.read_text()))
    r = subprocess.run(check, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert ("problem: domain vdomain.test is in mydestination and is a "
            "virtual domain too") in r.stdout, r.stdout
    os.kill(inst.master_pid(), signal.SIGHUP)
    wait_for(lambda: "do not list domain vdomain.test in both mydestination"
             in inst.log(), what="qmgr's warning")
