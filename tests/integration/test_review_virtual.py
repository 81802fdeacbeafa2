"""Review of the virtual and lookup branches together (branch revvl).
Tests marked xfail(strict=True) show an open finding: a fix turns them
red, and then the mark goes (both findings are fixed, branch vxfix)."""

import re

from conftest import wait_for
from fakesmtp import FakeSmtp
from test_lookup import set_column
from test_queue_retry import copies, send
from test_virtual import build_map, rcpt_code, removed, virtual_instance, T1, T2


def test_chrooted_smtpd_answers_virtual_and_local(make_instance):
    inst, _ = virtual_instance(make_instance)
    assert rcpt_code(inst, f"{T1}@localhost") == 250
    assert rcpt_code(inst, "carol@vdomain.test") == 250
    assert rcpt_code(inst, "nobody@valias.test") == 550


# Fixed: a list longer than the old fixed 100 targets, within
# virtual_alias_expansion_limit (1000), is delivered, not bounced 5.3.5.
def test_virtual_alias_to_150_mailboxes_is_delivered(make_instance):
    inst, base = virtual_instance(make_instance)
    etc = inst.dir / "etc"
    members = ", ".join(f"m{i}@vdomain.test" for i in range(150))
    build_map(etc / "virtual", f"list@valias.test {members}\n")
    build_map(etc / "vmailbox",
              "".join(f"m{i}@vdomain.test vdomain.test/m{i}/\n"
                      for i in range(150)))
    # after the tables: the reload restarts every daemon
    set_column(inst, "smtpd", 4, "n")     # apart from the merge's bug
    qid = send(inst, ["list@valias.test"], "list150")
    removed(inst, qid)
    log = inst.log()
    assert not re.search(rf"{qid}: to=<list@valias.test>.*status=bounced",
                         log), log[-2000:]
    assert all((base / "vdomain.test" / f"m{i}" / "new").is_dir()
               for i in range(150))


# Fixed: the message's duplicate filter (deliver/local_dup.c) forwards
# one copy per message to an address that many recipients expand to.
def test_catchall_fanout_forwards_one_copy_per_message(make_instance):
    inst, _ = virtual_instance(make_instance, extra="recipient_delimiter = +\n")
    build_map(inst.dir / "etc" / "virtual",
              "@catch.test someone@remote.test\n"
              "far@valias.test someone@remote.test\n")
    set_column(inst, "smtpd", 4, "n")     # apart from the merge's bug
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        rcpts = [f"r{i}@catch.test" for i in range(40)] + \
                [f"far+{i}@valias.test" for i in range(40)]
        qid = send(inst, rcpts, "fanout")
        removed(inst, qid)      # every forward is queued before this
        fwd = set(re.findall(rf"{qid}: to=<[^>]*>, relay=forward, .*"
                             r"forwarded as ([0-9A-Z]+)", inst.log()))
        assert len(fwd) == 1, f"{len(fwd)} forwarded queue files to someone@remote.test"
    finally:
        fake.close()


# Held: a target that defers does not make the others repeat at each retry.
def test_one_deferring_target_does_not_repeat_the_others(make_instance):
    inst, _ = virtual_instance(
        make_instance, extra="minimal_backoff_time = 1s\n"
        "maximal_backoff_time = 2s\nqueue_scan_interval = 1s\n")
    etc = inst.dir / "etc"
    build_map(etc / "virtual", f"team2@valias.test {T2}, bad@vdomain.test\n")
    build_map(etc / "vmailbox", "bad@vdomain.test vdomain.test/bad/\n")
    # bad@ has no uid entry: a configuration error that defers (4.3.5)
    build_map(etc / "vuid", "carol@vdomain.test 5000\n")
    conf = etc / "tern.conf"
    conf.write_text(conf.read_text().replace(
        "virtual_uid_maps = static:5000", f"virtual_uid_maps = hash:{etc}/vuid"))
    set_column(inst, "smtpd", 4, "n")     # apart from the merge's bug (reloads)
    inst.stop()
    inst.start()
    send(inst, ["team2@valias.test"], "retry-dup")
    wait_for(lambda: len(re.findall(r"qmgr\[\d+\]: \w+: to=<team2@valias.test>, "
                                    r"status=deferred", inst.log())) >= 3,
             timeout=60, what="three delivery attempts")
    assert copies(T2, "retry-dup") == 1
