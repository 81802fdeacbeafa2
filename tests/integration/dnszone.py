"""dnszone - a real DNS server for tests: unbound(8) on 127.0.0.1.

The server runs in the foreground (`unbound -d -c CONF`) from a temporary
directory, on a free port of 127.0.0.1, and only ever talks to 127.0.0.0/8:
it serves the zones given to it from local data, refuses every name outside
them, and iterates only into stub zones that point at loopback addresses.

Zones are described with plain data, so each test module can bring its own:

    Zone("mx.example", records=["mx.example. MX 10 mx1.mx.example.",
                                "mx1.mx.example. A 192.0.2.1"])
    Zone("refused.example", kind="refuse")     # REFUSED: clients SERVFAIL
    Zone("slow.example", kind="deny")          # dropped: a time-out
    Zone("dead.example", stub="127.0.0.1@1")   # iterate to a dead server

The names live under "example." (RFC 2606), not "test.": libunbound, like
unbound, answers NXDOMAIN for test. itself (a default local zone, RFC 6761)
and would never ask this server.

Use the `dns_server` fixture (session scope, DEFAULT_ZONES) or build your
own with `make_dns_server(zones)`; the returned DnsServer has `.port`,
`.nameserver` ("127.0.0.1@PORT", the form tern.conf's resolver_nameservers
takes) and `.query(name, rdtype)`.  Readiness is a bounded poll with real
DNS queries, never a fixed sleep.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

try:
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype
except ImportError:  # pragma: no cover - reported by the fixture
    dns = None

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 10.0
PORT_RANGE = range(27000, 28000)


@dataclass
class Zone:
    """One zone of the test server.

    kind: a local-zone type of unbound.conf(5): "static" answers from
    records only (NXDOMAIN/NODATA for the rest), "refuse" answers REFUSED,
    "deny" drops queries; stub: "addr@port" of a server to iterate to
    instead (must be 127.0.0.0/8)."""
    name: str
    records: list = field(default_factory=list)
    kind: str = "static"
    stub: str = None


# The zones the resolver tests (and anyone else) can rely on.
DEFAULT_ZONES = [
    Zone("example", records=[
        # two MX, preferences 10 and 20, with A and AAAA records
        "mx.example. MX 20 mx2.mx.example.",
        "mx.example. MX 10 mx1.mx.example.",
        "mx1.mx.example. A 192.0.2.1",
        "mx1.mx.example. AAAA 2001:db8::1",
        "mx2.mx.example. A 192.0.2.2",
        # no MX: the implicit MX is the domain's own address
        "implicit.example. A 192.0.2.10",
        "implicit6.example. AAAA 2001:db8::10",
        # RFC 7505 null MX
        "nullmx.example. MX 0 .",
        # an MX host that does not exist
        "noaddr.example. MX 10 nohost.noaddr.example.",
        # the name exists (TXT) but has neither MX nor addresses
        "empty.example. TXT \"nothing here\"",
        # equal preferences, to be shuffled
        "tie.example. MX 10 a.tie.example.",
        "tie.example. MX 10 b.tie.example.",
        "a.tie.example. A 192.0.2.21",
        "b.tie.example. A 192.0.2.22",
        # one reachable host, one without any address
        "partial.example. MX 5 gone.partial.example.",
        "partial.example. MX 10 up.partial.example.",
        "up.partial.example. A 192.0.2.30",
        # the MX host's address lookups fail
        "mxfail.example. MX 10 mx.refused.example.",
    ]),
    Zone("refused.example", kind="refuse"),
    Zone("deny.example", kind="deny"),
]


def _port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def free_port():
    """A port of 127.0.0.1 that is free for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if _port_free(port):
            return port
    for port in PORT_RANGE:
        if _port_free(port):
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def _apparmor_confines_unbound():
    """Is Debian's AppArmor profile for unbound loaded in enforce mode?  It
    allows reading configuration only below /etc/unbound, so the server
    could not read ours from a temporary directory."""
    try:
        profiles = Path("/sys/kernel/security/apparmor/profiles").read_text()
    except OSError:
        return False
    for line in profiles.splitlines():
        name, _, mode = line.rpartition(" ")
        if name in ("unbound", UNBOUND) and mode == "(enforce)":
            return True
    return False


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_loopback(addr):
    host = addr.split("@", 1)[0]
    if not host.startswith("127."):
        raise ValueError(f"test DNS may only use 127.0.0.0/8, not {addr}")


def unbound_conf(directory, port, zones):
    """The text of an unbound.conf for the given zones."""
    d = str(directory)
    lines = [
        "server:",
        "    verbosity: 1",
        f"    interface: {LOOPBACK}",
        f"    port: {port}",
        "    do-ip4: yes",
        "    do-ip6: no",
        "    do-udp: yes",
        "    do-tcp: yes",
        "    num-threads: 1",
        "    so-reuseport: no",
        "    do-daemonize: no",
        '    username: ""',
        '    chroot: ""',
        f"    directory: {_quote(d)}",
        f"    pidfile: {_quote(d + '/unbound.pid')}",
        '    logfile: ""',
        "    use-syslog: no",
        "    log-time-ascii: yes",
        '    module-config: "iterator"',
        "    do-not-query-localhost: no",
        "    qname-minimisation: no",
        "    access-control: 127.0.0.0/8 allow",
        # Outside the test zones: REFUSED, never the Internet.
        '    local-zone: "." refuse',
    ]
    stubs = []
    for z in zones:
        name = z.name.rstrip(".") + "."
        if z.stub:
            _check_loopback(z.stub)
            # transparent: no local data, so queries go to the stub.
            lines.append(f"    local-zone: {_quote(name)} transparent")
            stubs += ["stub-zone:", f"    name: {_quote(name)}",
                      f"    stub-addr: {z.stub}"]
            continue
        lines.append(f"    local-zone: {_quote(name)} {z.kind}")
        for rr in z.records:
            lines.append(f"    local-data: {_quote(rr)}")
    lines += ["remote-control:", "    control-enable: no"]
    return "\n".join(lines + stubs) + "\n"


class DnsServer:
    """A running unbound on 127.0.0.1:port with the given zones."""

    def __init__(self, directory, zones, port=None, copy_binary=None):
        self.dir = Path(directory)
        self.zones = list(zones)
        self.port = port
        # AppArmor profiles attach by path: a copy of the binary runs
        # unconfined.  None: only when the profile would get in the way.
        self.copy_binary = copy_binary
        self.proc = None
        self.conf = self.dir / "unbound.conf"
        self.logfile = self.dir / "unbound.log"

    @property
    def nameserver(self):
        return f"{LOOPBACK}@{self.port}"

    def query(self, name, rdtype="A", timeout=1.0, tcp=False):
        """One query to this server; returns the dnspython response."""
        q = dns.message.make_query(name, dns.rdatatype.from_text(rdtype))
        send = dns.query.tcp if tcp else dns.query.udp
        return send(q, LOOPBACK, port=self.port, timeout=timeout)

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def _ready(self):
        """Any answer at all, even REFUSED, means the server is up."""
        try:
            self.query(".", "SOA", timeout=0.3)
        except (OSError, dns.exception.DNSException):
            return False
        return True

    def _launch(self):
        self.conf.write_text(unbound_conf(self.dir, self.port, self.zones))
        check = subprocess.run([shutil.which("unbound-checkconf") or
                                "unbound-checkconf", str(self.conf)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"bad unbound.conf: {check.stdout}{check.stderr}")
        binary = UNBOUND
        copy = self.copy_binary
        if copy is None:
            copy = _apparmor_confines_unbound()
        if copy:
            binary = str(self.dir / "unbound")
            shutil.copy2(UNBOUND, binary)
        log = open(self.logfile, "ab")
        try:
            self.proc = subprocess.Popen([binary, "-d", "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        finally:
            log.close()

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            # Still ours: not some other server that took the port.
            if self._ready() and self.proc.poll() is None:
                return True
            time.sleep(0.05)
        raise RuntimeError(f"unbound did not answer within {READY_TIMEOUT}s:\n{self.log()}")

    def start(self):
        """Start on self.port, or on a free port (a few tries, in case
        another process takes the port between the check and the bind)."""
        fixed = self.port is not None
        for _ in range(1 if fixed else 5):
            if not fixed:
                self.port = free_port()
            self._launch()
            if self._wait_ready():
                return self
        raise RuntimeError(f"unbound exited at start-up:\n{self.log()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _require_tools():
    if dns is None:
        pytest.skip("python3-dnspython is not installed (make deps)")
    if not os.path.exists(UNBOUND):
        pytest.skip("unbound is not installed (make deps)")


@pytest.fixture(scope="session")
def make_dns_server():
    """Factory: make_dns_server(zones=DEFAULT_ZONES) -> started DnsServer.
    Every server is stopped, and its directory removed, at session end."""
    _require_tools()
    made = []

    def make(zones=None):
        d = tempfile.mkdtemp(prefix="tern-dns-")
        os.chmod(d, 0o755)
        srv = DnsServer(d, DEFAULT_ZONES if zones is None else zones)
        made.append(srv)
        return srv.start()

    yield make
    for srv in made:
        srv.stop()
        shutil.rmtree(srv.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def dns_server(make_dns_server):
    """One unbound with DEFAULT_ZONES for the whole session."""
    return make_dns_server()
