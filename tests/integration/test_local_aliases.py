"""Local delivery through aliases, :include:, ~/.forward and address
extensions (deliver/local_expand.c and its real world, local_world.c):
postmaster and root reach a user, a |command alias gets the message (and
its exit 75 defers), a /file alias is appended to in mbox format, an
include file's names are expanded, a .forward sends to another user, a
file and a remote address (a fake SMTP service), user+tag reaches user,
and a missing alias table defers rather than bounces."""

import grp
import mailbox
import os
import pwd
import re
import shutil
import subprocess

from conftest import BUILD, INSTANCE_ROOT, maildir_new, user_home, wait_for
from fakesmtp import FakeSmtp
from test_queue_retry import copies, send

T1, T2 = "terntest1", "terntest2"


def set_aliases(inst, text, extra_files=()):
    """Write the instance's aliases, build them as newaliases does, and
    restart so that deliver reads them."""
    (inst.dir / "etc" / "aliases").write_text(text)
    r = subprocess.run([str(BUILD / "bin" / "ternmap"), "-a", "-c",
                        str(inst.dir / "etc" / "tern.conf")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    inst.stop()
    inst.start()


def outdir(inst):
    """A directory default_privs (nobody) can write into."""
    d = inst.dir / "out"
    d.mkdir(exist_ok=True)
    d.chmod(0o1777)
    return d


def removed(inst, qid):
    wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=30,
             what=f"{qid} to be finished")


def test_postmaster_root_command_file_include(make_instance):
    inst = make_instance()
    out = outdir(inst)
    inc = inst.dir / "etc" / "staff"
    inc.write_text("# the staff\nterntest2\n")
    inc.chmod(0o644)
    set_aliases(inst, f"postmaster: root\nroot: {T1}\n"
                f"pipe: \"|cat > {out}/pipe.$RECIPIENT.$$; id -un > {out}/pipe.user\"\n"
                f"later: |exit 75\n"
                f"broken: \"|echo no such thing; exit 67\"\n"
                f"tofile: {out}/box\n"
                f"staff: :include:{inc}\n"
                f"both: {T1}, both\n")
    qid = send(inst, ["postmaster@localhost", "root@localhost"], "alias-1")
    removed(inst, qid)
    assert copies(T1, "alias-1") == 1    # one message, one mailbox
    qid = send(inst, ["pipe@localhost", "tofile@localhost", "staff@localhost"],
               "alias-2")
    removed(inst, qid)
    piped = [p for p in out.iterdir() if p.name.startswith("pipe.pipe@")]
    assert len(piped) == 1, list(out.iterdir())
    data = piped[0].read_bytes()
    assert b"X-Token: alias-2\n" in data and b"Delivered-To: pipe@localhost\n" in data
    assert (out / "pipe.user").read_text().strip() == "nobody"
    box = (out / "box").read_bytes()
    assert box.startswith(b"From r@example.org ") and b"X-Token: alias-2\n" in box
    assert os.stat(out / "box").st_uid == pwd.getpwnam("nobody").pw_uid
    assert copies(T2, "alias-2") == 1
    # an alias naming itself delivers to its account too: "both" has none
    qid = send(inst, ["later@localhost", "broken@localhost"], "alias-3")
    wait_for(lambda: re.search(rf"{qid}: to=<later@localhost>, relay=local.*"
                               r"status=deferred", inst.log()),
             what="the exit 75 command deferred")
    wait_for(lambda: re.search(rf"{qid}: to=<broken@localhost>, relay=local.*"
                               r"status=bounced \(command exited 67: no such thing",
                               inst.log()),
             what="the exit 67 command bounced")


def test_extension_and_dotforward(make_instance, tmp_path):
    inst = make_instance(f"recipient_delimiter = +\n"
                         f"relayhost = [smarthost.test]:2525\n")
    set_aliases(inst, f"postmaster: root\nlist+x: {T2}\n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    home = user_home(T1)
    pw = pwd.getpwnam(T1)
    fwd = home / ".forward"
    try:
        qid = send(inst, [f"{T1}+tag@localhost", "list+x@localhost"], "ext-1")
        removed(inst, qid)
        assert copies(T1, "ext-1") == 1 and copies(T2, "ext-1") == 1
        fwd.write_text(f"# forward\n{T2}, {home}/saved, far@remote.test, {T1}\n")
        os.chown(fwd, pw.pw_uid, pw.pw_gid)
        fwd.chmod(0o644)
        qid = send(inst, [f"{T1}@localhost"], "fwd-1")
        wait_for(lambda: fake.seen(), timeout=30, what="the forwarded copy")
        assert fake.seen()[0][1] == ["far@remote.test"]
        wait_for(lambda: copies(T2, "fwd-1") == 1 and copies(T1, "fwd-1") == 1,
                 what="the local copies of the .forward")
        saved = home / "saved"
        assert b"X-Token: fwd-1\n" in saved.read_bytes()
        assert os.stat(saved).st_uid == pw.pw_uid
        # group-writable: ignored, the mail stays with the user
        fwd.chmod(0o664)
        qid = send(inst, [f"{T1}@localhost"], "fwd-2")
        removed(inst, qid)
        assert copies(T1, "fwd-2") == 1 and copies(T2, "fwd-2") == 0
    finally:
        fake.close()
        for p in (fwd, home / "saved"):
            if p.exists():
                p.unlink()


def test_missing_alias_table_defers(make_instance):
    inst = make_instance()
    conf = inst.dir / "etc" / "tern.conf"
    conf.write_text(re.sub(r"(?m)^alias_maps = .*$",
                           f"alias_maps = hash:{inst.dir}/etc/no-such-aliases",
                           conf.read_text()))
    inst.stop()
    inst.start()
    # smtpd's RCPT check cannot tell either: 451, not 550
    with inst.smtp() as s:
        s.ehlo("noalias.example")
        assert s.mail("r@example.org")[0] == 250
        assert s.rcpt(f"{T1}@localhost")[0] == 451
    # without the check, deliver defers
    conf.write_text(conf.read_text() + "local_recipient_check = no\n")
    inst.stop()
    inst.start()
    qid = send(inst, [f"{T1}@localhost"], "noalias-1")
    wait_for(lambda: re.search(rf"{qid}: to=<{T1}@localhost>, relay=local.*"
                               r"dsn=4\.3\.0, status=deferred \(alias lookup failed",
                               inst.log()),
             what="the deferral")
    assert copies(T1, "noalias-1") == 0


def test_delivered_to_loop_bounces(tern):
    with tern.smtp() as s:
        s.ehlo("loop.example")
        assert s.mail("r@example.org")[0] == 250
        assert s.rcpt(f"{T1}@localhost")[0] == 250
        assert s.rcpt(f"{T2}@localhost")[0] == 250
        code, text = s.data(f"Delivered-To: {T1}@Localhost\r\n"
                            "X-Token: loop-1\r\n\r\nbody\r\n".encode())
        assert code == 250, text
        qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
    wait_for(lambda: re.search(rf"{qid}: to=<{T1}@localhost>, relay=local, "
                               r"delay=[0-9.]+, dsn=5\.4\.6, status=bounced "
                               r"\(mail forwarding loop",
                               tern.log()), what="the loop bounced")
    wait_for(lambda: copies(T2, "loop-1") == 1, what="the other copy")
    assert copies(T1, "loop-1") == 0


def test_mbox_spool_delivery(make_instance):
    spool = INSTANCE_ROOT / f"spool-{os.getpid()}"
    spool.mkdir(exist_ok=True)
    os.chown(spool, 0, grp.getgrnam("mail").gr_gid)
    spool.chmod(0o2775)
    try:
        inst = make_instance(f"home_mailbox =\nmail_spool_directory = {spool}\n")
        box = spool / T1
        # Each message is delivered before the next is sent, so that their
        # order in the mailbox is known (two queued at once may go either way).
        for n in (1, 2):
            with inst.smtp() as s:
                s.ehlo("mbox.example")
                assert s.mail("r@example.org")[0] == 250
                assert s.rcpt(f"{T1}@localhost")[0] == 250
                code, text = s.data(f"Subject: mbox {n}\r\nX-Token: mbox-{n}\r\n"
                                    "\r\nFrom here on\r\n>From quoted\r\nend\r\n".encode())
                assert code == 250, text
            wait_for(lambda: box.exists() and box.read_bytes().count(b"X-Token: mbox-") == n,
                     what=f"{n} message(s) in the spool mailbox")
        st = os.stat(box)
        assert st.st_uid == pwd.getpwnam(T1).pw_uid and st.st_mode & 0o777 == 0o600
        # The text is in the mailbox before the helper's fsync, close and
        # unlock; the delivery is reported only after them.
        wait_for(lambda: inst.log().count("status=sent (delivered to mailbox)") == 2,
                 what="both deliveries reported")
        assert not (spool / f"{T1}.lock").exists()
        msgs = list(mailbox.mbox(str(box)))
        assert [m["Subject"] for m in msgs] == ["mbox 1", "mbox 2"]
        assert b"\n>From here on\n>>From quoted\nend\n" in box.read_bytes()
        assert msgs[0]["Delivered-To"] == f"{T1}@localhost"
        assert maildir_new(T1) == []
        # as a mail reader sees it (s-nail locks the mailbox as it reads)
        if shutil.which("s-nail"):
            r = subprocess.run(["s-nail", "-n", "-N", "-R", "-H", "-f", str(box)],
                               env=dict(os.environ, MAILRC="/dev/null"),
                               capture_output=True, text=True, timeout=30)
            lines = [l for l in r.stdout.splitlines() if "r@example.org" in l]
            assert len(lines) == 2 and "mbox 1" in lines[0] and "mbox 2" in lines[1], r
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def test_rcpt_check_knows_aliases_and_extensions(make_instance):
    inst = make_instance("recipient_delimiter = +\n")
    set_aliases(inst, f"postmaster: root\nsales: {T2}\nlist+x: {T1}\n")
    with inst.smtp() as s:
        s.ehlo("rcpt.example")
        assert s.mail("r@example.org")[0] == 250
        assert s.rcpt("sales@localhost")[0] == 250
        assert s.rcpt("Sales@localhost")[0] == 250
        assert s.rcpt(f"{T1}+anything@localhost")[0] == 250
        assert s.rcpt("list+x@localhost")[0] == 250
        assert s.rcpt("mailer-daemon@localhost")[0] == 250
        assert s.rcpt("no-such-user-tern@localhost")[0] == 550
        assert s.rcpt("nobody-here+x@localhost")[0] == 550


def notices(user, token):
    """user's delivered failure notices about the message with token."""
    out = []
    for p in maildir_new(user):
        data = p.read_bytes()
        if b"From: MAILER-DAEMON@" in data and f"X-Token: {token}".encode() in data:
            out.append(data)
    return out


def test_owner_gets_member_failures(make_instance):
    """aliases(5) owner-NAME: the failures of list's members (an unknown
    user, a command that exits 67) are reported to owner-list, not to the
    sender, and the list itself counts as delivered; a remote member's copy
    is forwarded from owner-list.  A list without an owner bounces to the
    sender as before."""
    inst = make_instance("relayhost = [smarthost.test]:2525\n")
    set_aliases(inst, f"postmaster: root\nroot: {T1}\n"
                f"list: {T2}, nosuchuser-tern, \"|exit 67\", far@remote.test\n"
                f"owner-list: {T1}\n"
                f"plain: {T2}, nosuchuser-tern\n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        with inst.smtp() as s:
            s.ehlo("owner.example")
            assert s.mail(f"{T2}@localhost")[0] == 250
            assert s.rcpt("list@localhost")[0] == 250
            code, text = s.data(b"Subject: owner-1\r\nX-Token: owner-1\r\n\r\nbody\r\n")
            assert code == 250, text
        qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()
        removed(inst, qid)
        wait_for(lambda: len(notices(T1, "owner-1")) == 2, timeout=30,
                 what="two failure notices for owner-list")
        wait_for(lambda: fake.seen(), timeout=30, what="the remote member's copy")
        assert fake.seen()[0][1] == ["far@remote.test"]
        assert re.search(rf"{qid}: to=<list@localhost>, relay=local.*status=sent",
                         inst.log())
        found = b"\n".join(notices(T1, "owner-1"))
        assert b"nosuchuser-tern@" in found and b"command exited 67" in found
        assert found.count(b"Original-Recipient: rfc822; list@localhost") == 2
        # the forwarded copy came from owner-list
        assert re.search(r"from=<owner-list@[^>]+>, size=\d+, nrcpt=1", inst.log())
        # the sender got the list's copy, and no notice
        assert copies(T2, "owner-1") == 1 and notices(T2, "owner-1") == []

        # without an owner, the sender hears of the failure
        qid = send(inst, ["plain@localhost"], "owner-2")
        wait_for(lambda: re.search(rf"{qid}: to=<plain@localhost>, relay=local.*"
                                   r"status=bounced \(user unknown", inst.log()),
                 what="the bounce of plain")
        assert notices(T1, "owner-2") == []
    finally:
        fake.close()
