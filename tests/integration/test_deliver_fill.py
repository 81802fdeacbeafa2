"""qmgr fills a busy deliver connection with one recipient's requests only
where nothing else can be held up (qmgr/qmgr_transport.c, pool_filling).

deliver answers a batch only when all of it is done, so whatever waits on
an agent stuck in a batch waits for that batch's deadline
(local_time_limit).  qmgr therefore puts a request behind a busy agent
before an idle one only when the agent's last reply said that the same
address went to one Maildir written by its worker (mailbox.<i>,
common/proto_deliver.h).  The first test sends a stream of mail with one
message in the middle that hangs and requires everything else to be
delivered well before that message's deadline; it caught the first
version of the fill (regardless of recipient: 3 failures in 3 runs).
The second shows from qmgr's log that a mailbox's stream is filled and a
command's never is.  (A timed test of a command that hangs on one
message was dropped: when every agent is busy, a request is pipelined
behind the least busy, which may be the hung one for half a second; that
is the policy before the fill too.)"""

import os
import signal
import threading
import time

from conftest import maildir_new, wait_for
from test_deliver_deadline import hung
from test_local_aliases import outdir, set_aliases
from test_queue_retry import copies, send

LIMIT = 30  # never waited for by a passing run: the mount goes at the end
AGENTS = 8


def more_agents(inst):
    """deliver_concurrency is AGENTS (extra_conf); give deliver as many
    processes, so that a burst finds idle agents however slow the machine:
    only then must nothing wait behind a busy one."""
    conf = inst.dir / "etc" / "master.conf"
    lines = []
    for line in conf.read_text().splitlines(keepends=True):
        f = line.split()
        if f and f[0] == "deliver":
            f[5] = str(AGENTS)
            line = " ".join(f) + "\n"
        lines.append(line)
    conf.write_text("".join(lines))
    os.kill(inst.master_pid(), signal.SIGHUP)
    wait_for(lambda: len(inst.services().get("deliver", ())) == AGENTS,
             what=f"{AGENTS} deliver processes")


def delivered(user, tokens):
    """Have all tokens reached user's new/?  One read of each file."""
    seen = set()
    for p in maildir_new(user):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        seen.update(t for t in tokens if f"X-Token: {t}\n".encode() in data)
    return seen == set(tokens)


def conf():
    return f"deliver_concurrency = {AGENTS}\nverbose = yes\n"


FILLING = "filling a busy agent"


def send_parallel(inst, rcpt, prefix, sessions=4, each=10):
    """sessions sessions at once, each sending each messages to rcpt."""
    errors = []

    def one(k):
        try:
            send_burst(inst, [(rcpt, f"{prefix}-{k}-{i}", "body") for i in range(each)])
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    threads = [threading.Thread(target=one, args=(k,)) for k in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [f"{prefix}-{k}-{i}" for k in range(sessions) for i in range(each)]


def send_burst(inst, messages):
    """Send [(recipient, token, body), ...] over one session, back to back."""
    with inst.smtp() as s:
        s.ehlo("burst.example")
        for rcpt, token, body in messages:
            assert s.mail("r@example.org")[0] == 250
            assert s.rcpt(rcpt)[0] == 250
            code, text = s.data(f"Subject: {token}\r\nX-Token: {token}\r\n\r\n{body}\r\n".encode())
            assert code == 250, text


def test_mail_for_others_never_waits_behind_a_hung_mailbox(make_instance):
    """terntest2's Maildir hangs.  10 messages for terntest1, one for
    terntest2, 10 more for terntest1, over one session: all 20 of
    terntest1's are delivered well within terntest2's deadline (30 s),
    and terntest2's is still waiting then."""
    inst, mount = hung(make_instance, LIMIT, conf())
    try:
        more_agents(inst)
        send(inst, ["terntest1@localhost"], "burst-0")
        wait_for(lambda: copies("terntest1", "burst-0") == 1,
                 what="a first delivery (the connections to deliver have answered)")
        before = [("terntest1@localhost", f"burst-a{i}", "body") for i in range(10)]
        after = [("terntest1@localhost", f"burst-b{i}", "body") for i in range(10)]
        start = time.monotonic()
        send_burst(inst, before + [("terntest2@localhost", "burst-hung", "body")] + after)
        tokens = [t for _, t, _ in before + after]
        wait_for(lambda: delivered("terntest1", tokens),
                 timeout=LIMIT + 10, what="terntest1's 20 deliveries")
        took = time.monotonic() - start
        assert took < LIMIT - 5, \
            f"{took:.1f} s: terntest1's mail waited for the hung mailbox's deadline"
        # Nothing was delivered only after terntest2's deadline.
        assert not inst.queue_files("deferred"), inst.queue_files("deferred")
    finally:
        mount.release()


def test_only_a_maildir_stream_fills_a_busy_agent(make_instance):
    """deliver says of a recipient that went to one Maildir written by its
    worker that it did (mailbox.<i>), and only then does qmgr put that
    address's next requests behind the busy agent ("filling a busy agent"
    in qmgr's debug log).  A stream for a command alias, for a file alias
    or for an alias of two mailboxes never fills; one for a mailbox does,
    within a few rounds of 40 messages from 4 sessions at once."""
    inst = make_instance(conf())
    out = outdir(inst)
    set_aliases(inst, f"cmd: \"|cat > $(mktemp {out}/c.XXXXXX)\"\n"
                      f"tofile: {out}/box\n"
                      f"both: terntest1, terntest2\n")
    more_agents(inst)
    tokens = send_parallel(inst, "cmd@localhost", "c")
    wait_for(lambda: len(list(out.glob("c.*"))) == len(tokens), what="the command's deliveries")
    tokens = send_parallel(inst, "tofile@localhost", "f")
    wait_for(lambda: (out / "box").exists() and
             (out / "box").read_bytes().count(b"X-Token: f-") == len(tokens),
             what="the file's deliveries")
    tokens = send_parallel(inst, "both@localhost", "b")
    wait_for(lambda: delivered("terntest2", tokens), what="the list's deliveries")
    assert FILLING not in inst.log()
    for r in range(10):
        tokens = send_parallel(inst, "terntest1@localhost", f"m{r}")
        wait_for(lambda: delivered("terntest1", tokens), what="the mailbox's deliveries")
        if FILLING in inst.log():
            break
    assert FILLING in inst.log(), "no request for the mailbox was given to a busy agent"
