"""Tables and services a configuration names, and what goes wrong with them:
ternctl check refuses a table spec the daemons would refuse (unknown type,
relative pgsql: path) or could not read (a hash: file never built), with
the reason on stderr; a bad spec stops deliver once per restart under the
master's back-off, a missing table defers; a master.conf without the
lookup service is warned about by the master and is a problem for check;
a table rebuilt by ternmap a moment ago is what deliver answers from
(never a 5.1.1 on the version before); and one stopped lookup process
does not stop the recipient lookups."""

import os
import re
import signal
import subprocess
import time

from conftest import BUILD, wait_for
from test_queue_retry import copies, send
from test_virtual import build_map

T1 = "terntest1"


def check(inst):
    env = dict(os.environ, TERN_CONFIG=str(inst.dir / "etc" / "tern.conf"))
    return subprocess.run([str(BUILD / "bin" / "ternctl"), "check"],
                          capture_output=True, text=True, env=env, timeout=60)


def set_conf(inst, text):
    """tern.conf as the instance wrote it, with text's "key = value" lines
    in place of its own for those keys."""
    conf = inst.dir / "etc" / "tern.conf"
    base = getattr(inst, "_base_conf", None)
    if base is None:
        base = inst._base_conf = conf.read_text()
    keys = {l.split("=")[0].strip() for l in text.splitlines() if "=" in l}
    kept = [l for l in base.splitlines(keepends=True)
            if l.split("=")[0].strip() not in keys]
    conf.write_text("".join(kept) + text)


def test_check_refuses_bad_tables(tern):
    r = check(tern)
    assert r.returncode == 0, r.stdout + r.stderr
    etc = tern.dir / "etc"
    cases = [
        ("virtual_alias_maps = nosuch:/etc/x\n", "virtual_alias_maps",
         "unsupported map type", "can never be opened"),
        (f"alias_maps = pgsql:relative/{etc.name}.cf\n", "alias_maps",
         "not an absolute path", "can never be opened"),
        (f"transport_maps = hash:{etc}/no-such-table\n", "transport_maps",
         "no-such-table.db", "cannot be read now"),
        (f"virtual_mailbox_domains = example.test, texthash:{etc}/nodomains\n",
         "virtual_mailbox_domains", "nodomains", "cannot be read now"),
        ("virtual_uid_maps = static:\n", "virtual_uid_maps", "static",
         "can never be opened"),
        ("smtp_tls_policy_maps = inline:{ novalue }\n", "smtp_tls_policy_maps",
         "inline", "can never be opened"),
    ]
    for text, key, why, what in cases:
        set_conf(tern, text)
        r = check(tern)
        assert r.returncode == 1, (text, r.stdout, r.stderr)
        assert f"ternctl: {key}: " in r.stderr and why in r.stderr, (text, r.stderr)
        assert re.search(rf"(?m)^problem: {key}: .*{what}", r.stdout), (text, r.stdout)
    set_conf(tern, "")
    assert check(tern).returncode == 0


def test_bad_spec_is_throttled_missing_table_defers(make_instance):
    inst = make_instance()
    set_conf(inst, "virtual_alias_maps = nosuch:/etc/x\n")
    os.kill(inst.master_pid(), signal.SIGHUP)
    # deliver says why, in words naming the key, at each start ...
    wait_for(lambda: re.search(r"fatal: virtual_alias_maps: nosuch:/etc/x: "
                               r"unsupported map type", inst.log()),
             what="deliver's fatal error")
    # ... and the master spaces its restarts out (1 s, 2 s, 4 s, ...)
    wait_for(lambda: re.search(r"service deliver pid \d+ exited with status 1 "
                               r"[0-9.]+ s after its start; restarting in [48] s",
                               inst.log()),
             timeout=30, what="the restart back-off to grow")
    # 4 slots, each started at most 4 times by now (at 0, 1, 3 and 7 s)
    starts = len(re.findall(r"deliver\[\d+\]: fatal: virtual_alias_maps", inst.log()))
    assert 4 <= starts <= 4 * 4, starts

    # A table that is merely missing is no reason to die: the mail waits
    # (smtpd's own check would say 451 first: off, to reach deliver).
    set_conf(inst, "local_recipient_check = no\n")
    (inst.dir / "etc" / "aliases.db").unlink()
    os.kill(inst.master_pid(), signal.SIGHUP)
    limits = inst.service_limits()
    wait_for(lambda: all(len(inst.services().get(s, ())) == n for s, n in limits.items()),
             timeout=90, what="every service running again")
    delivers = sorted(inst.services()["deliver"])
    qid = send(inst, [f"{T1}@localhost"], "nodb-1")
    wait_for(lambda: re.search(rf"{qid}: to=<{T1}@localhost>, relay=local.*"
                               r"dsn=4\.3\.0, status=deferred \(alias lookup failed",
                               inst.log()),
             timeout=60, what="the deferral")
    assert not re.search(rf"{qid}: .*status=bounced", inst.log())
    assert sorted(inst.services()["deliver"]) == delivers
    assert copies(T1, "nodb-1") == 0


def test_master_warns_without_lookup(tern):
    warning = ("service smtpd runs smtpd, but no service listens on "
               "private/lookup")
    assert warning not in tern.log()
    tern.drop_service("lookup")
    wait_for(lambda: warning in tern.log(), what="the master's warning")
    r = check(tern)
    assert r.returncode == 1
    assert re.search(r"(?m)^problem: service smtpd runs smtpd, but no service "
                     r"listens on private/lookup", r.stdout), r.stdout


def test_rebuilt_table_never_bounces(make_instance):
    """ternmap rebuilds the virtual alias table with a new address, and
    mail to it is sent at once, right after deliver looked in the old
    version: delivered, every time, never 5.1.1."""
    inst = make_instance()
    etc = inst.dir / "etc"
    entries = f"info@valias.test  {T1}@localhost\n"
    build_map(etc / "virtual", entries)
    set_conf(inst, "virtual_alias_domains = valias.test\n"
                   f"virtual_alias_maps = hash:{etc}/virtual\n")
    inst.stop()
    inst.start()
    for i in range(8):
        token = f"warm-{i}"
        send(inst, ["info@valias.test"], token)
        wait_for(lambda: copies(T1, token) == 1, what="the warm-up copy")
        entries += f"new{i}@valias.test  {T1}@localhost\n"
        build_map(etc / "virtual", entries)
        token = f"fresh-{i}"
        qid = send(inst, [f"new{i}@valias.test"], token)
        wait_for(lambda: f"{qid}: removed" in inst.log(), timeout=30,
                 what=f"{qid} finished")
        assert not re.search(rf"{qid}: to=<new{i}@valias.test>.*status=bounced",
                             inst.log()), inst.log()[-3000:]
        assert copies(T1, token) == 1


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except OSError:
        return None
    return None


def test_stopped_lookup_process(make_instance):
    """One lookup process stopped (a slow NSS or pgsql lookup would do
    the same) leaves the others answering: an SMTP session gets its
    recipient checked within a bounded number of tries, each bounded by
    smtpd_lookup_timeout, while that process stays stopped."""
    inst = make_instance("smtpd_lookup_timeout = 2s\n")
    lookups = inst.services()["lookup"]
    assert len(lookups) >= 2, "the default runs several lookup processes"
    stopped = lookups[0]
    os.kill(stopped, signal.SIGSTOP)
    try:
        # kill() returns before the target has stopped: on a loaded
        # machine it may not run for a while, and until it does it could
        # still answer.
        wait_for(lambda: proc_state(stopped) == "T", timeout=30,
                 what="the lookup process to stop")
        codes = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with inst.smtp() as s:
                s.ehlo("stopped.example")
                assert s.mail("r@example.org")[0] == 250
                codes.append(s.rcpt(f"{T1}@localhost")[0])
                if codes[-1] == 250:
                    codes.append(s.rcpt(f"nobody-here@localhost")[0])
                    break
        assert codes[-2:] == [250, 550], codes
        assert len(codes) <= 6, codes
        assert proc_state(stopped) == "T"
    finally:
        os.kill(stopped, signal.SIGCONT)
