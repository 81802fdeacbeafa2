"""Outside review of branch vxfix (issue 12): deliver's growable target
list bounded by duplicate_filter_limit / virtual_alias_expansion_limit and
the per-message duplicate filter (deliver/local_targets.c, local_dup.c).
A test marked xfail(strict=True) shows an open finding: the fix turns it
red, and then the mark goes."""

import os
import pwd
import re

import pytest

from conftest import maildir_new, wait_for
from fakesmtp import FakeSmtp
from test_dsn import empty_queue
from test_local_aliases import outdir, removed, set_aliases
from test_lookup import set_column
from test_queue_retry import send
from test_virtual import build_map, virtual_instance, T1, T2


def outcome(inst, qid, rcpt):
    """The status of rcpt's logged outcome, or None."""
    m = re.search(rf"{qid}: to=<{re.escape(rcpt)}>, .*status=(\w+)",
                  inst.log())
    return m.group(1) if m else None


def forwarded_to(fake):
    """Every address the fake smtp service was asked to deliver to."""
    return [r for _, rcpts in fake.seen() for r in rcpts]


def user_file(user, name, text, mode=0o644):
    pw = pwd.getpwnam(user)
    p = pwd_home(user) / name
    p.write_text(text)
    os.chown(p, pw.pw_uid, pw.pw_gid)
    p.chmod(mode)
    return p


def pwd_home(user):
    from pathlib import Path
    return Path(pwd.getpwnam(user).pw_dir)


# Finding 1 (high, denial of service by any local user; in local_expand.c
# since before this branch, but the branch's bounds do not cover it): the
# expansion bounds the targets it keeps and the depth, not the work of
# the walk.  A chain of :include: files each naming the next one ten times
# stays within LX_DEPTH_MAX (16) but is walked 10^levels times: equal
# targets are deduplicated only when added, and no filter remembers an
# include file already read (Postfix's local(8) skips an :include: it has
# read for the same uid, been_here "include ...").  The root deliver
# process then spins on one message to that user; no outcome is logged.
def test_include_fanout_is_bounded(make_instance):
    inst = make_instance()
    home = pwd_home(T1)
    levels = 10
    made = []
    try:
        for k in range(levels):
            nxt = home / f"review-vx.inc{k + 1}"
            made.append(user_file(T1, f"review-vx.inc{k}",
                                  "".join(f":include:{nxt}\n"
                                          for _ in range(10))))
        made.append(user_file(T1, f"review-vx.inc{levels}", f"{T1}\n"))
        made.append(user_file(T1, ".forward",
                              f":include:{home}/review-vx.inc0\n"))
        qid = send(inst, [f"{T1}@localhost"], "vx-incbomb")
        # any outcome (delivered, deferred or bounced) will do
        wait_for(lambda: outcome(inst, qid, f"{T1}@localhost"), timeout=20,
                 what="an outcome for the include fan-out")
    finally:
        for p in made:
            p.unlink(missing_ok=True)


# Finding 2 (medium, Postfix compatibility): duplicate_filter_limit is
# Postfix's bound of the duplicate *filter*; beyond it Postfix's local(8)
# stops remembering and still delivers every target.  Here it also bounds
# a local alias expansion (local_expand.c lx_add -> 4.6.0): a mailing
# list of 1200 addresses through :include: that Postfix delivers is
# deferred until maximal_queue_lifetime and then returned to the sender.
def test_long_include_list_is_delivered_as_in_postfix(make_instance):
    inst = make_instance("relayhost = [smarthost.test]:2525\n")
    out = outdir(inst)
    members = out / "members"
    members.write_text("".join(f"m{i}@remote.test\n" for i in range(1200)))
    members.chmod(0o644)
    set_aliases(inst, f"biglist: :include:{members}\n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        qid = send(inst, ["biglist@localhost"], "vx-biglist")
        wait_for(lambda: outcome(inst, qid, "biglist@localhost"),
                 timeout=30, what="biglist's outcome")
        assert outcome(inst, qid, "biglist@localhost") == "sent", \
            inst.log()[-1500:]
    finally:
        fake.close()


# Finding 3 (low, Postfix compatibility): duplicate_filter_limit = 0 is
# Postfix's "no limit" (been_here_init's BH_BOUND_NONE); here the key's
# minimum is 1, so a Postfix configuration with 0 does not start, and 1
# would make every alias of two targets defer 4.6.0.
def test_duplicate_filter_limit_zero_means_no_limit(make_instance):
    inst = make_instance("duplicate_filter_limit = 0\n")
    out = outdir(inst)
    set_aliases(inst, f"two: {out}/a, {out}/b\n")
    qid = send(inst, ["two@localhost"], "vx-zero")
    removed(inst, qid)
    assert outcome(inst, qid, "two@localhost") == "sent"


# Held: the filter keeps the local part's case of a remote address
# (RFC 5321: it is the remote domain's to interpret) and +extensions, and
# folds only the domain.
def test_remote_local_part_case_and_extension_not_merged(make_instance):
    inst, _ = virtual_instance(make_instance)
    build_map(inst.dir / "etc" / "virtual",
              "a@valias.test Bob@remote.test\n"
              "b@valias.test bob@remote.test\n"
              "c@valias.test bob+x@remote.test\n"
              "d@valias.test bob@REMOTE.test\n")
    set_column(inst, "smtpd", 4, "n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        qid = send(inst, ["a@valias.test", "b@valias.test", "c@valias.test",
                          "d@valias.test"], "vx-case")
        removed(inst, qid)
        wait_for(lambda: len(forwarded_to(fake)) >= 3, timeout=30,
                 what="the forwarded copies")
        got = sorted(forwarded_to(fake))
        low = [r for r in got if r.lower() == "bob@remote.test"]
        # Bob@ and bob@ are two mailboxes; bob@REMOTE.test is bob@remote.test
        assert "Bob@remote.test" in got and "bob+x@remote.test" in got, got
        assert len(low) == 2, got
        for r in ("a", "b", "c", "d"):
            assert outcome(inst, qid, f"{r}@valias.test") == "sent"
    finally:
        fake.close()


# Held: the same |command in the .forward of two users runs once for
# each (the filter's key holds the uid).  A second recipient that reaches
# the same user (an alias naming it, and a file) runs it again: the
# command sees that recipient's RECIPIENT and LOCAL (a1@, not T1@), so it
# is not the same run (finding 6; this test first asserted one run per
# uid, the sharing that lost a recipient's own environment).
def test_same_command_of_two_users_runs_for_each(make_instance):
    inst = make_instance("recipient_delimiter = +\n")
    out = outdir(inst)
    set_aliases(inst, f"a1: {T1}, {out}/a1file\n")
    cmd = f"\"|cat > {out}/run.$(id -u).$$\"\n"
    made = []
    try:
        made += [user_file(T1, ".forward", cmd), user_file(T2, ".forward", cmd)]
        rcpts = [f"{T1}@localhost", f"{T2}@localhost", "a1@localhost"]
        qid = send(inst, rcpts, "vx-cmd")
        removed(inst, qid)
        runs = sorted(p.name.split(".")[1] for p in out.iterdir()
                      if p.name.startswith("run."))
        uids = sorted(str(pwd.getpwnam(u).pw_uid) for u in (T1, T2, T1))
        assert runs == uids, runs
        for r in rcpts:
            assert outcome(inst, qid, r) == "sent"
    finally:
        for p in made:
            p.unlink(missing_ok=True)


# Held: the same /file named by two users is appended to for each, with
# each one's rights (two keys), and by one user's two recipients once.
def test_same_file_of_two_users_appended_for_each(make_instance):
    inst = make_instance("recipient_delimiter = +\n")
    out = outdir(inst)
    set_aliases(inst, f"a1: {T1}, {out}/a1file\n")
    box = out / "shared"
    box.touch()
    box.chmod(0o666)
    made = []
    try:
        made += [user_file(T1, ".forward", f"{box}\n"),
                 user_file(T2, ".forward", f"{box}\n")]
        qid = send(inst, [f"{T1}@localhost", f"{T2}@localhost",
                          "a1@localhost"], "vx-file")
        removed(inst, qid)
        assert box.read_bytes().count(b"X-Token: vx-file\n") == 2
    finally:
        for p in made:
            p.unlink(missing_ok=True)


# Amplification: a catch-all to one remote address, the most recipients
# smtpd takes in one message (smtpd_recipient_limit 1000).  The duplicate
# filter is per delivery batch (deliver_message.c batch_item_dup), and
# qmgr hands deliver a message's recipients in several batches, so the
# question is how many copies leave.
def test_catchall_thousand_recipients_amplification(make_instance):
    inst, _ = virtual_instance(make_instance)
    build_map(inst.dir / "etc" / "virtual",
              "@catch.test someone@remote.test\n")
    set_column(inst, "smtpd", 4, "n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        rcpts = [f"r{i}@catch.test" for i in range(1000)]
        qid = send(inst, rcpts, "vx-amp")
        wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=120,
                 what="the message finished")
        fwd = set(re.findall(rf"{qid}: to=<[^>]*>, relay=forward, .*"
                             r"forwarded as ([0-9A-Z]+)", inst.log()))
        # one copy per message is the claim (measured: 1); allow one per
        # deliver batch of DELIVER_BATCH_RCPT (100) recipients at most
        assert 1 <= len(fwd) <= 10, f"{len(fwd)} copies to someone@remote.test"
    finally:
        fake.close()


# Over the limit: 4.6.0 deferral that expires with a notice to the sender
# (not a loop, not an early bounce); the recipient within the limit is
# delivered.  (The limit is local_expansion_limit since finding 2's fix:
# duplicate_filter_limit no longer bounds an expansion.)
def test_over_limit_deferral_expires_with_a_notice(make_instance):
    inst = make_instance("local_expansion_limit = 2\n"
                         "maximal_queue_lifetime = 3s\n"
                         "minimal_backoff_time = 1s\n"
                         "maximal_backoff_time = 2s\n"
                         "queue_scan_interval = 1s\n")
    out = outdir(inst)
    set_aliases(inst, f"big: {out}/1, {out}/2, {out}/3\n"
                f"two: {out}/1, {out}/2\n")
    with inst.smtp() as s:
        s.ehlo("vx.example")
        assert s.mail(f"{T2}@localhost")[0] == 250
        for r in ("big@localhost", "two@localhost"):
            assert s.rcpt(r)[0] == 250
        code, text = s.data(b"Subject: vx-expire\r\nX-Token: vx-expire\r\n"
                            b"\r\nbody\r\n")
        assert code == 250
        qid = re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()

    def notice():
        for p in maildir_new(T2):
            try:
                d = p.read_bytes()
            except FileNotFoundError:
                continue
            if b"MAILER-DAEMON" in d and b"vx-expire" in d and \
                    b"big@localhost" in d:
                return d
        return None
    wait_for(notice, timeout=60, what="the expiry notice to the sender")
    wait_for(lambda: empty_queue(inst), timeout=30, what="an empty queue")
    log = inst.log()
    assert re.search(rf"{qid}: to=<big@localhost>, .*dsn=4\.6\.0", log)
    assert outcome(inst, qid, "two@localhost") == "sent"
    assert not re.search(rf"{qid}: to=<big@localhost>, .*status=bounced.*"
                         r"dsn=5\.3\.5", log)


# Memory and error paths under the sanitizers (run with TERN_BUILD at
# build-san): a virtual alias whose local aliases overflow
# virtual_alias_expansion_limit in the merge (lx_result_merge frees the
# rest), a local expansion over local_expansion_limit through :include:,
# and a wide list within both, in one message.
def test_overflow_paths_are_clean(make_instance):
    inst, _ = virtual_instance(
        make_instance, extra="virtual_alias_expansion_limit = 500\n"
        "local_expansion_limit = 1000\n")
    out = outdir(inst)
    inc = out / "many"
    inc.write_text("".join(f"x{i}@remote.test\n" for i in range(1500)))
    inc.chmod(0o644)
    build_map(inst.dir / "etc" / "virtual",
              "merge@valias.test l1@localhost, l2@localhost\n"
              "inc@valias.test inc@localhost\n"
              "ok@valias.test l1@localhost\n")
    set_aliases(inst,
                "l1: " + ", ".join(f"a{i}@remote.test" for i in range(300))
                + "\nl2: " + ", ".join(f"b{i}@remote.test" for i in range(300))
                + f"\ninc: :include:{inc}\n")
    set_column(inst, "smtpd", 4, "n")
    inst.drop_service("smtp")
    fake = FakeSmtp(inst.queue)
    try:
        qid = send(inst, ["merge@valias.test", "inc@valias.test",
                          "ok@valias.test", "l2@localhost"], "vx-san")
        for r in ("merge@valias.test", "inc@valias.test"):
            wait_for(lambda r=r: outcome(inst, qid, r), timeout=60,
                     what=f"{r}'s outcome")
            assert outcome(inst, qid, r) == "deferred"
        wait_for(lambda: outcome(inst, qid, "ok@valias.test") and
                 outcome(inst, qid, "l2@localhost"), timeout=60,
                 what="the lists within the limits")
        assert outcome(inst, qid, "ok@valias.test") == "sent"
        assert outcome(inst, qid, "l2@localhost") == "sent"
        log = inst.log()
        assert re.search(rf"{qid}: to=<merge@valias.test>, .*dsn=4\.6\.0", log)
        assert re.search(rf"{qid}: to=<inc@valias.test>, .*dsn=4\.6\.0", log)
    finally:
        fake.close()


# Finding 4 (medium; smtpd, before this branch, but it decides whether the
# branch's per-recipient outcomes exist at all): smtpd keeps one recipient
# per *account* (smtpd_dialog.c smtpd_dialog_has_rcpt, the account from
# common/local_recipient.c), and user+ext resolves to user's account, so
# RCPT TO:<user> then RCPT TO:<user+ext> answers 250 to both but stores
# only the first.  The second recipient's own delivery is lost: deliver
# consults ~/.forward+ext first (local_expand.c lx_account), so what the
# user set up for +ext (here a command) never happens, and that
# recipient's NOTIFY/ORCPT are dropped.  (It is also why
# test_target_dedupe's "pipe+x" never reaches deliver's filter.)
def test_user_and_user_plus_ext_each_get_their_delivery(make_instance):
    inst = make_instance("recipient_delimiter = +\n")
    out = outdir(inst)
    made = []
    try:
        made.append(user_file(T1, ".forward+x", f"\"|cat > {out}/plus.$$\"\n"))
        qid = send(inst, [f"{T1}@localhost", f"{T1}+x@localhost"], "vx-plus")
        removed(inst, qid)
        assert outcome(inst, qid, f"{T1}@localhost") == "sent"
        assert [p for p in out.iterdir() if p.name.startswith("plus.")], \
            "the +x recipient's .forward+x command did not run"
        assert outcome(inst, qid, f"{T1}+x@localhost") == "sent"
    finally:
        for p in made:
            p.unlink(missing_ok=True)


def dsn_send(inst, sender, rcpts, token, opts):
    with inst.smtp() as s:
        s.ehlo("vx.example")
        assert s.mail(sender)[0] == 250
        for r in rcpts:
            assert s.rcpt(r, list(opts))[0] == 250
        code, text = s.data(f"Subject: {token}\r\nX-Token: {token}\r\n"
                            f"\r\nbody\r\n".encode())
        assert code == 250
        return re.search(rb"queued as ([0-9A-Z]+)", text).group(1).decode()


def success_blocks(user, token):
    from test_dsn import notices, parts
    out = []
    for n in notices(user, token):
        _, blocks, _ = parts(n)
        out += [b for b in blocks[1:] if "Final-Recipient" in b]
    return out


# Held: recipients sharing a /file (one copy, deliver/local_dup.c) each get
# their own success notice block with NOTIFY=SUCCESS.
def test_shared_file_each_recipient_gets_its_success_notice(make_instance):
    inst = make_instance()
    out = outdir(inst)
    set_aliases(inst, f"s1: {out}/shared\ns2: {out}/shared\n")
    qid = dsn_send(inst, f"{T2}@localhost", ["s1@localhost", "s2@localhost"],
                   "vx-dsn", ["NOTIFY=SUCCESS"])
    removed(inst, qid)
    assert (out / "shared").read_bytes().count(b"X-Token: vx-dsn\n") == 1
    wait_for(lambda: len(success_blocks(T2, "vx-dsn")) >= 2, timeout=30,
             what="success notices for s1 and s2")
    finals = sorted(b["Final-Recipient"] for b in success_blocks(T2, "vx-dsn"))
    assert finals == ["rfc822; s1@localhost", "rfc822; s2@localhost"], finals


# Finding 5 (low, RFC 3461 6.2.7.3 / Postfix; before this branch):
# an alias that expands to several targets reports "delivered" to a
# NOTIFY=SUCCESS sender, never "expanded": OUTCOME_EXPANDED
# (common/queue_outcome.h) is read by bounce_compose.c but nothing writes
# it (deliver/local.c local_pending_combine records a plain delivery).
def test_alias_list_success_notice_says_expanded(make_instance):
    inst = make_instance()
    out = outdir(inst)
    set_aliases(inst, f"team: {out}/a, {out}/b\n")
    qid = dsn_send(inst, f"{T2}@localhost", ["team@localhost"], "vx-exp",
                   ["NOTIFY=SUCCESS"])
    removed(inst, qid)
    wait_for(lambda: success_blocks(T2, "vx-exp"), timeout=30,
             what="the success notice")
    b, = success_blocks(T2, "vx-exp")
    assert b["Action"] == "expanded", b


# Held: deliver killed (SIGKILL) in the middle of a batch whose recipients
# share a /file: after the retry every recipient's own command has run and
# the shared file has the message (duplicates allowed, no loss), and every
# recipient ends delivered.
def test_kill_mid_batch_loses_nothing(make_instance):
    import signal
    inst = make_instance("minimal_backoff_time = 1s\n"
                         "maximal_backoff_time = 2s\n"
                         "queue_scan_interval = 1s\n")
    out = outdir(inst)
    n = 8
    set_aliases(inst, "".join(
        f"k{i}: \"|sleep 0.4; cat > {out}/k{i}.$$\", {out}/shared\n"
        for i in range(n)))
    rcpts = [f"k{i}@localhost" for i in range(n)]
    qid = send(inst, rcpts, "vx-kill")
    wait_for(lambda: any(p.name.startswith("k") for p in out.iterdir()),
             timeout=30, what="the first command's output")
    for pid in inst.services().get("deliver", []):
        os.kill(pid, signal.SIGKILL)
    removed(inst, qid)
    for i in range(n):
        got = [p for p in out.iterdir() if p.name.startswith(f"k{i}.")]
        assert got, f"k{i}'s command never ran"
        assert any(b"X-Token: vx-kill\n" in p.read_bytes() for p in got)
    assert (out / "shared").read_bytes().count(b"X-Token: vx-kill\n") >= 1
    log = inst.log()
    for r in rcpts:
        assert re.search(rf"qmgr\[\d+\]: {qid}: to=<{r}>.*status=sent", log) \
            or re.search(rf"{qid}: to=<{r}>, relay=local, .*status=sent", log)


# Finding 6 (high, a loss introduced by this branch: deliver/local_dup.c
# local_dup_key "C\n<uid>\n<command>", used by local_command.c across all
# the recipients of the message): a |command gets RECIPIENT, LOCAL,
# EXTENSION and DOMAIN of the recipient it runs for (cmd_exec), so the
# same command text run for two recipients is two different deliveries --
# "support: |tickets $LOCAL" and "sales: |tickets $LOCAL" file the
# message in two queues.  The filter runs it once, for the first
# recipient, and gives the second its outcome: sales' copy is lost while
# its recipient is logged "sent".  Postfix's local(8) suppresses a command
# only for the same recipient ("Duplicate commands for the same recipient
# are suppressed", local/command.c).  The key must hold the recipient (or
# at least everything the environment carries).
def test_same_command_for_two_recipients_sees_each_recipient(make_instance):
    inst = make_instance()
    out = outdir(inst)
    cmd = f"\"|cat > {out}/for.$LOCAL\""
    set_aliases(inst, f"support: {cmd}\nsales: {cmd}\n")
    qid = send(inst, ["support@localhost", "sales@localhost"], "vx-env")
    removed(inst, qid)
    assert outcome(inst, qid, "support@localhost") == "sent"
    assert outcome(inst, qid, "sales@localhost") == "sent"
    got = sorted(p.name for p in out.iterdir() if p.name.startswith("for."))
    assert got == ["for.sales", "for.support"], got
