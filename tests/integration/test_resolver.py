"""The resolver daemon, end to end: the real binary, started the way the
master starts it (listening socket on fd 3, -c -s -u -f -l), answering MX
requests from a real DNS server (dnszone: unbound on 127.0.0.1).

Lookups that leave libunbound with server failures or time-outs behind run
in a resolver of their own, so no test depends on another's cache or on
libunbound's memory of a misbehaving server.
"""

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import ternipc
from conftest import BUILD, wait_for
from dnszone import dns_server, make_dns_server  # noqa: F401 (fixtures)
from ternipc import IPC_T_ERROR, IPC_T_OK, RESOLVER_T_MX, RESOLVER_T_REPLY

RESOLVER = BUILD / "bin" / "resolver"
LISTEN_FD = 3

MX_EXAMPLE = {
    "status": "ok", "text": "MX hosts found", "implicit": "0", "nmx": "2",
    "mx.0": "10 mx1.mx.example", "addr.0": "2001:db8::1 192.0.2.1",
    "mx.1": "20 mx2.mx.example", "addr.1": "192.0.2.2",
}


class Resolver:
    """One resolver process with its own tern.conf, queue directory and
    listening socket."""

    def __init__(self, nameserver, timeout=2, user=None, chroot=False, env=None):
        # /tmp, not pytest's tmp_path: a UNIX socket path must stay short.
        self.dir = Path(tempfile.mkdtemp(prefix="tern-resolver-"))
        self.dir.chmod(0o755)
        self.sock_path = self.dir / "resolver.sock"
        self.conf = self.dir / "tern.conf"
        self.logfile = self.dir / "resolver.log"
        self.conf.write_text(f"queue_directory = {self.dir}\n"
                             f"resolver_nameservers = {nameserver}\n"
                             f"resolver_timeout = {timeout}\n")
        self.user = user or getpass.getuser()
        self.chroot = chroot
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self):
        if not os.access(RESOLVER, os.X_OK):
            pytest.fail(f"{RESOLVER} is not built (make, or set TERN_BUILD)")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.sock_path))
        listener.listen(128)
        fd = listener.fileno()

        def to_fd3():
            # In the child, before exec.  close_fds=False because
            # subprocess would close fd 3 after this runs; every fd Python
            # opened is close-on-exec anyway, so nothing else leaks.
            if fd != LISTEN_FD:
                os.dup2(fd, LISTEN_FD)
            else:
                os.set_inheritable(LISTEN_FD, True)

        args = [str(RESOLVER), "-c", str(self.conf), "-s", "resolver",
                "-u", self.user, "-f", "-l", "-v"]
        if self.chroot:
            args.append("-C")
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.env,
                                         close_fds=False, preexec_fn=to_fd3)
        listener.close()
        # Ready when it answers; a request it cannot serve is the cheapest.
        wait_for(self._answers, timeout=10, what="the resolver to answer")
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"resolver exited {self.proc.returncode}:\n{self.log()}")
        try:
            return self.call(IPC_T_OK, {"v": "1"}, timeout=1).type == IPC_T_ERROR
        except (OSError, ternipc.FrameError):
            return False

    def call(self, mtype, attrs, timeout=10):
        return ternipc.call(self.sock_path, mtype, attrs, timeout)

    def mx(self, domain, timeout=10):
        return self.call(RESOLVER_T_MX, {"v": "1", "domain": domain}, timeout)

    def client(self, timeout=10):
        return ternipc.Client(self.sock_path, timeout)

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=10):
        """SIGTERM; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"resolver ignored SIGTERM:\n{self.log()}")
        return self.proc.returncode

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _stop_and_check(r):
    try:
        rc = r.stop()
        assert rc == 0, f"resolver exited {rc} on SIGTERM:\n{r.log()}"
    finally:
        r.cleanup()


@pytest.fixture(scope="module")
def resolver(dns_server):
    """A resolver shared by the tests whose lookups all succeed or fail
    cleanly (no time-outs): ok, NXDOMAIN, null MX, protocol errors."""
    r = Resolver(dns_server.nameserver).start()
    yield r
    _stop_and_check(r)


@pytest.fixture
def make_resolver(dns_server):
    """Factory for a fresh resolver: make_resolver(timeout=2, ...)."""
    made = []

    def make(**kw):
        r = Resolver(dns_server.nameserver, **kw)
        made.append(r)
        return r.start()

    yield make
    for r in made:
        _stop_and_check(r)


# ---- replies ---------------------------------------------------------------

def test_mx_sorted_with_addresses(resolver):
    reply = resolver.mx("mx.example")
    assert reply.type == RESOLVER_T_REPLY
    # The exact attribute list, in order: the zone lists MX 20 first.
    assert reply.pairs == list(MX_EXAMPLE.items())


def test_mx_domain_is_case_insensitive(resolver):
    assert resolver.mx("MX.Example").dict() == MX_EXAMPLE


def test_implicit_mx(resolver):
    assert resolver.mx("implicit.example").dict() == {
        "status": "ok", "text": "no MX records, implicit MX", "implicit": "1",
        "nmx": "1", "mx.0": "0 implicit.example", "addr.0": "192.0.2.10"}
    assert resolver.mx("implicit6.example").dict() == {
        "status": "ok", "text": "no MX records, implicit MX", "implicit": "1",
        "nmx": "1", "mx.0": "0 implicit6.example", "addr.0": "2001:db8::10"}


def test_nxdomain_is_perm(resolver):
    assert resolver.mx("nosuch.example").dict() == {
        "status": "perm", "text": "domain not found", "dsn": "5.1.2"}


def test_null_mx_is_perm(resolver):
    assert resolver.mx("nullmx.example").dict() == {
        "status": "perm", "text": "domain does not accept mail", "dsn": "5.1.10"}


def test_mx_without_address_is_perm(resolver):
    assert resolver.mx("noaddr.example").dict() == {
        "status": "perm", "text": "no address for mail exchanger", "dsn": "5.4.4"}


def test_no_mx_and_no_address_is_perm(resolver):
    assert resolver.mx("empty.example").dict() == {
        "status": "perm", "text": "domain has no MX or address records",
        "dsn": "5.1.2"}


def test_host_without_address_is_listed_empty(resolver):
    assert resolver.mx("partial.example").dict() == {
        "status": "ok", "text": "MX hosts found", "implicit": "0", "nmx": "2",
        "mx.0": "5 gone.partial.example", "addr.0": "",
        "mx.1": "10 up.partial.example", "addr.1": "192.0.2.30"}


def test_equal_preferences_are_shuffled(resolver):
    seen = set()
    with resolver.client() as c:
        for _ in range(64):
            reply = c.call(RESOLVER_T_MX, {"v": "1", "domain": "tie.example"})
            hosts = (reply["mx.0"], reply["mx.1"])
            assert sorted(hosts) == ["10 a.tie.example", "10 b.tie.example"]
            addrs = {reply["mx.0"]: reply["addr.0"], reply["mx.1"]: reply["addr.1"]}
            assert addrs == {"10 a.tie.example": "192.0.2.21",
                             "10 b.tie.example": "192.0.2.22"}
            seen.add(hosts)
            if len(seen) == 2:
                break
    assert len(seen) == 2, "64 lookups, always the same order"


# ---- temporary failures -----------------------------------------------------

def test_servfail_is_temp(make_resolver):
    r = make_resolver(timeout=5)
    # The server answers REFUSED; libunbound reports SERVFAIL.
    assert r.mx("refused.example").dict() == {
        "status": "temp", "text": "DNS lookup of MX failed: SERVFAIL",
        "dsn": "4.4.3"}
    assert r.mx("mxfail.example").dict() == {
        "status": "temp",
        "text": "DNS lookup of mail exchanger addresses failed: SERVFAIL",
        "dsn": "4.4.3"}
    # and it still resolves what works
    assert r.mx("mx.example").dict() == MX_EXAMPLE


def test_timeout_is_temp(make_resolver):
    r = make_resolver(timeout=1)
    t0 = time.monotonic()
    reply = r.mx("deny.example")
    elapsed = time.monotonic() - t0
    assert reply.dict() == {"status": "temp", "text": "DNS lookup timed out",
                            "dsn": "4.4.3"}
    assert 0.8 < elapsed < 5, elapsed
    assert r.mx("mx.example").dict() == MX_EXAMPLE


def test_slow_lookup_does_not_block_others(make_resolver):
    r = make_resolver(timeout=3)
    with r.client() as slow:
        slow.send(RESOLVER_T_MX, {"v": "1", "domain": "deny.example"})
        t0 = time.monotonic()
        assert r.mx("mx.example").dict() == MX_EXAMPLE
        assert r.mx("nullmx.example")["dsn"] == "5.1.10"
        assert time.monotonic() - t0 < 2
        assert slow.recv()["text"] == "DNS lookup timed out"


# ---- the protocol -------------------------------------------------------------

@pytest.mark.parametrize("mtype,attrs,text", [
    (RESOLVER_T_MX, {"v": "1"}, "missing domain"),
    (RESOLVER_T_MX, {"v": "1", "domain": "bad..example"}, "invalid domain"),
    (RESOLVER_T_MX, {"v": "1", "domain": "mx.example."}, "invalid domain"),
    (RESOLVER_T_MX, {"v": "1", "domain": "[192.0.2.1]"}, "invalid domain"),
    (RESOLVER_T_MX, {"v": "1", "domain": "a" * 64 + ".example"}, "invalid domain"),
    (RESOLVER_T_MX, {"domain": "mx.example"}, "missing v"),
    (RESOLVER_T_MX, {"v": "2", "domain": "mx.example"}, "unsupported protocol version"),
    (RESOLVER_T_REPLY, {"v": "1", "domain": "mx.example"}, "unknown request type"),
    (0x7f, {}, "unknown request type"),
])
def test_malformed_request_gets_error(resolver, mtype, attrs, text):
    with resolver.client() as c:
        reply = c.call(mtype, attrs)
        assert reply.type == IPC_T_ERROR
        assert reply.pairs == [("text", text)]
        # The connection stays usable.
        assert c.call(RESOLVER_T_MX, {"v": "1", "domain": "mx.example"}).dict() == MX_EXAMPLE


@pytest.mark.parametrize("frame", [
    ternipc.encode_raw(RESOLVER_T_MX, b"v\x001\x00", version=2),     # IPC version
    ternipc.encode_raw(RESOLVER_T_MX, b"v\x001"),                    # no final NUL
    ternipc.encode_raw(RESOLVER_T_MX, b"V\x001\x00"),                # bad name
    ternipc.encode_raw(RESOLVER_T_MX, b"", length=1),                # too short
    ternipc.encode_raw(RESOLVER_T_MX, b"", length=ternipc.FRAME_MAX + 1),
    ternipc.encode(RESOLVER_T_MX, {"v": "1", "pad": "x" * 9000}),    # too large
], ids=["version", "unterminated", "name", "short", "huge", "large"])
def test_malformed_frame_drops_connection(resolver, frame):
    with resolver.client() as c:
        c.send_raw(frame)
        assert c.closed_by_peer()
    assert resolver.mx("mx.example").dict() == MX_EXAMPLE


def test_pipelined_requests_answered_in_order(resolver):
    with resolver.client() as c:
        c.send_raw(ternipc.encode(RESOLVER_T_MX, {"v": "1", "domain": "nullmx.example"}) +
                   ternipc.encode(RESOLVER_T_MX, {"v": "1"}) +
                   ternipc.encode(RESOLVER_T_MX, {"v": "1", "domain": "mx.example"}))
        assert c.recv()["dsn"] == "5.1.10"
        assert c.recv().type == IPC_T_ERROR
        assert c.recv().dict() == MX_EXAMPLE


def test_many_clients_at_once(resolver):
    domains = ["mx.example", "nosuch.example", "implicit.example", "nullmx.example"]
    clients = [resolver.client() for _ in range(40)]
    try:
        for i, c in enumerate(clients):
            c.send(RESOLVER_T_MX, {"v": "1", "domain": domains[i % len(domains)]})
        for i, c in enumerate(clients):
            reply = c.recv()
            assert reply.type == RESOLVER_T_REPLY
            assert reply["status"] == ("perm" if i % 2 else "ok"), (domains[i % 4], reply)
    finally:
        for c in clients:
            c.close()


# ---- process life -------------------------------------------------------------

def test_client_leaving_mid_lookup(make_resolver):
    r = make_resolver(timeout=2)
    with r.client() as c:
        c.send(RESOLVER_T_MX, {"v": "1", "domain": "deny.example"})
    # The abandoned lookup is cancelled quietly; the resolver goes on.
    assert r.mx("implicit.example")["implicit"] == "1"
    t0 = time.monotonic()
    assert r.mx("deny.example")["dsn"] == "4.4.3"
    assert time.monotonic() - t0 < 5


def test_sigterm_during_lookup_exits_cleanly(make_resolver):
    r = make_resolver(timeout=30)
    with r.client() as c:
        c.send(RESOLVER_T_MX, {"v": "1", "domain": "deny.example"})
        # the lookup is in flight once the resolver answers someone else
        assert r.mx("nosuch.example")["dsn"] == "5.1.2"
        t0 = time.monotonic()
        assert r.stop() == 0, r.log()
        assert time.monotonic() - t0 < 5
        assert c.closed_by_peer()


def test_runs_unprivileged_in_chroot(make_resolver):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges and chroot")
    nobody = pwd.getpwnam("nobody")
    # A sanitizer build's leak check needs /proc, which the chroot hides;
    # the other tests check for leaks.
    r = make_resolver(user="nobody", chroot=True,
                      env={"ASAN_OPTIONS": "detect_leaks=0"})
    status = Path(f"/proc/{r.proc.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {str(nobody.pw_uid)}
    assert os.readlink(f"/proc/{r.proc.pid}/root") == str(r.dir)
    assert r.mx("mx.example").dict() == MX_EXAMPLE
    assert r.mx("nosuch.example")["dsn"] == "5.1.2"


def test_no_listening_socket_is_fatal(dns_server):
    r = Resolver(dns_server.nameserver)
    try:
        p = subprocess.run([str(RESOLVER), "-c", str(r.conf), "-s", "resolver",
                            "-u", r.user, "-f"], capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 1
        assert "no listening socket" in p.stderr
    finally:
        r.cleanup()
