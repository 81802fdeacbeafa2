"""One copy per message of every target its recipients' expansions share
(deliver/local_dup.c, issue 12's review, finding 3), and the bounds of a
recipient's targets (deliver/local_targets.c, finding 2): a |command is run
and a /file or an mbox file appended to once however many recipients of the
message lead there, each recipient still delivered; recipients sharing a
virtual Maildir all log relay=virtual; an expansion over
local_expansion_limit or virtual_alias_expansion_limit is deferred 4.6.0,
never bounced."""

import re

from conftest import wait_for
from test_local_aliases import outdir, set_aliases
from test_lookup import set_column
from test_queue_retry import send
from test_virtual import (build_map, maildir_files, removed, virtual_instance,
                          T1)


def sent(inst, qid, rcpt, relay):
    return re.search(rf"{qid}: to=<{re.escape(rcpt)}>, relay={relay}, .*"
                     r"status=sent", inst.log())


def deferred_460(inst, qid, rcpt):
    return re.search(rf"{qid}: to=<{re.escape(rcpt)}>, relay=\w+, .*"
                     r"dsn=4\.6\.0, status=deferred", inst.log())


def test_command_and_file_once_per_message(make_instance):
    inst = make_instance()
    out = outdir(inst)
    set_aliases(inst, f"pipe: \"|cat > {out}/cmd.$$\"\n"
                f"pipe2: \"|cat > {out}/cmd.$$\"\n"
                f"f1: {out}/box\n"
                f"f2: {out}/box, {T1}\n")
    # pipe@ and pipe2@ name the same command, but it runs with each
    # one's RECIPIENT and LOCAL (deliver/local_command.c), so they are two
    # different runs, not one copy (issue 12's review vx, finding 6: this
    # test asserted one run, the second recipient's delivery was lost);
    # the file is one copy whoever it is for.
    rcpts = ["pipe@localhost", "pipe2@localhost", "f1@localhost",
             "f2@localhost"]
    qid = send(inst, rcpts, "dedupe-1")
    removed(inst, qid)
    runs = [p for p in out.iterdir() if p.name.startswith("cmd.")]
    assert len(runs) == 2, runs
    for r in runs:
        assert b"X-Token: dedupe-1\n" in r.read_bytes()
    assert (out / "box").read_bytes().count(b"X-Token: dedupe-1\n") == 1
    log = inst.log()
    for r in rcpts:     # every recipient has its outcome
        assert sent(inst, qid, r, "local"), log[-3000:]
    # the file's copy is logged by the recipient it was made for; the
    # other says in one line that it shares it (not a line per target)
    made = re.findall(rf"{qid}: to=<(f[12]@localhost)>, relay=file, .*"
                      rf"status=sent .*mailbox={out}/box$", log, re.M)
    assert len(made) == 1, log[-3000:]
    other = "f2@localhost" if made[0] == "f1@localhost" else "f1@localhost"
    assert re.search(rf"(?m){qid}: to=<{other}>, relay=local, .*dsn=2\.0\.0, "
                     r"status=sent \(delivered as 1 shared copy of targets "
                     rf"already delivered for <{made[0]}>\)$", log), log[-3000:]
    assert "shared cop" not in "".join(
        re.findall(rf"(?m)^.*{qid}: to=<(?:pipe2?|{made[0]})@.*$", log))
    assert "(shared copy)" not in log
    # a second message gets its own copies: the filter is per message
    qid = send(inst, ["pipe@localhost", "f1@localhost"], "dedupe-2")
    removed(inst, qid)
    assert len([p for p in out.iterdir() if p.name.startswith("cmd.")]) == 3
    assert (out / "box").read_bytes().count(b"X-Token: dedupe-2\n") == 1


# The bound of a local expansion is local_expansion_limit (tern's own);
# duplicate_filter_limit only sizes the filter, as in Postfix (this test
# first set duplicate_filter_limit = 2: issue 12's review vx, finding 2).
def test_local_expansion_over_its_limit_defers(make_instance):
    inst = make_instance("local_expansion_limit = 2\n")
    set_aliases(inst, "big: \"|exit 0 #1\", \"|exit 0 #2\", \"|exit 0 #3\"\n"
                "two: \"|exit 0 #1\", \"|exit 0 #2\"\n")
    qid = send(inst, ["big@localhost", "two@localhost"], "limit-1")
    wait_for(lambda: deferred_460(inst, qid, "big@localhost"), timeout=30,
             what="big@ deferred 4.6.0")
    wait_for(lambda: sent(inst, qid, "two@localhost", "local"), timeout=30,
             what="two@ delivered")
    assert "local_expansion_limit" in inst.log()
    assert not re.search(rf"{qid}: to=<big@localhost>.*status=bounced",
                         inst.log())


def test_virtual_targets_once_per_message(make_instance):
    inst, base = virtual_instance(make_instance)
    build_map(inst.dir / "etc" / "virtual",
              "x1@valias.test dave@vdomain.test\n"
              "x2@valias.test dave@vdomain.test\n"
              "y1@valias.test carol@vdomain.test\n"
              "y2@valias.test carol@vdomain.test\n")
    set_column(inst, "smtpd", 4, "n")     # apart from the merge's bug
    rcpts = ["x1@valias.test", "x2@valias.test", "y1@valias.test",
             "y2@valias.test", "dave@vdomain.test"]
    qid = send(inst, rcpts, "vdedupe")
    removed(inst, qid)
    dave = (base / "vdomain.test" / "dave").read_bytes()
    assert dave.count(b"X-Token: vdedupe\n") == 1
    assert len(maildir_files(base / "vdomain.test" / "carol")) == 1
    log = inst.log()
    for r in rcpts:     # relay=virtual, also for the one that follows
        assert sent(inst, qid, r, "virtual"), log[-3000:]
    assert not re.search(rf"{qid}: to=<y2@valias.test>, relay=local", log)


def test_virtual_expansion_limits_defer(make_instance):
    inst, _ = virtual_instance(
        make_instance, extra="virtual_alias_expansion_limit = 3\n")
    build_map(inst.dir / "etc" / "virtual",
              "wide@valias.test a@remote.test, b@remote.test, "
              "c@remote.test, d@remote.test\n"
              "deep@valias.test big@localhost\n"
              "ok@valias.test carol@vdomain.test, small@localhost\n")
    set_aliases(inst, "big: \"|exit 0 #1\", \"|exit 0 #2\", \"|exit 0 #3\", "
                "\"|exit 0 #4\"\n"
                "small: \"|exit 0 #1\"\n")
    set_column(inst, "smtpd", 4, "n")     # apart from the merge's bug
    qid = send(inst, ["wide@valias.test", "deep@valias.test",
                      "ok@valias.test"], "vlimit")
    # four addresses: virtual_alias_expansion_limit in the expansion itself
    wait_for(lambda: deferred_460(inst, qid, "wide@valias.test"), timeout=30,
             what="wide@ deferred 4.6.0")
    # one address whose local alias makes four targets: the target bound
    wait_for(lambda: deferred_460(inst, qid, "deep@valias.test"), timeout=30,
             what="deep@ deferred 4.6.0")
    wait_for(lambda: sent(inst, qid, "ok@valias.test", "local"), timeout=30,
             what="ok@ delivered")
    assert not re.search(rf"{qid}: to=<(wide|deep)@valias.test>.*"
                         r"status=bounced", inst.log())


# A shared copy that failed: the recipient that shares it says so in its
# one line, with the failure's status and dsn and the counts; its own
# target is still logged on its own line.
def test_shared_copy_failure_in_one_line(make_instance):
    inst = make_instance()
    out = outdir(inst)
    ro = inst.dir / "ro"            # default_privs cannot write here
    ro.mkdir(exist_ok=True)
    ro.chmod(0o755)
    set_aliases(inst, f"g1: {ro}/box\ng2: {ro}/box, {out}/ok2\n")
    rcpts = ["g1@localhost", "g2@localhost"]
    qid = send(inst, rcpts, "shared-fail")
    pat = rf"(?m){qid}: to=<(g[12]@localhost)>, relay=local, .*mailbox=aliases$"
    wait_for(lambda: len(re.findall(pat, inst.log())) == 2, timeout=30,
             what="both outcomes")
    log = inst.log()
    made = re.findall(rf"(?m){qid}: to=<(g[12]@localhost)>, relay=file, .*"
                      rf"dsn=(\S+), status=(deferred|bounced) .*"
                      rf"mailbox={ro}/box$", log)
    assert len(made) == 1, log[-3000:]
    maker, dsn, status = made[0]
    other = "g2@localhost" if maker == "g1@localhost" else "g1@localhost"
    counts = "1 deferred, 0 bounced" if status == "deferred" else \
        "0 deferred, 1 bounced"
    assert re.search(rf"(?m){qid}: to=<{other}>, relay=local, .*"
                     rf"dsn={re.escape(dsn)}, status={status} \(1 shared copy "
                     rf"of targets already tried for <{maker}>: 0 sent, "
                     rf"{counts}; first failure: .+\)$", log), log[-3000:]
    assert not re.search(rf"{qid}: to=<{other}>, relay=file, .*{ro}/box",
                         log)
    if other == "g2@localhost":
        assert re.search(rf"{qid}: to=<g2@localhost>, relay=file, .*"
                         rf"status=sent .*mailbox={out}/ok2", log), log[-3000:]
