"""ternipc - a small client for tern's IPC framing (common/ipc.h), for tests.

A frame is

    u32 length (big-endian, bytes after this field, 2 .. FRAME_MAX)
    u8  version (VERSION)
    u8  type
    name\\0value\\0 ... attribute pairs

Names are 1..NAME_MAX bytes of [a-z0-9_.]; values are bytes other than NUL,
at most VALUE_MAX.  encode() and decode() enforce the same rules as
ipc_decode(), so a test can also build deliberately broken frames with
encode_raw().  Values are str (UTF-8, undecodable bytes kept with
surrogateescape) or bytes.

    reply = call("/path/to/private/resolver", RESOLVER_T_MX,
                 {"v": "1", "domain": "example.org"}, timeout=10)
    reply.type, reply["status"], reply.get("dsn"), reply.pairs
"""

import re
import socket
import struct
import time

VERSION = 1
FRAME_MAX = 256 * 1024
NAME_MAX = 32
VALUE_MAX = 64 * 1024
ATTR_MAX = 4096

# proto_common.h
IPC_T_OK = 0x01
IPC_T_ERROR = 0x02
# proto_qmgr.h, proto_deliver.h, proto_resolver.h
QMGR_T_NOTIFY = 0x10
QMGR_T_COMMITTED = 0x12
QMGR_VERSION = "2"      # PROTO_QMGR_VERSION
DELIVER_T_REQUEST = 0x20
DELIVER_T_REPLY = 0x21
RESOLVER_T_MX = 0x30
RESOLVER_T_REPLY = 0x31

_NAME_RE = re.compile(rb"[a-z0-9_.]{1,%d}" % NAME_MAX)


class FrameError(ValueError):
    """A frame that breaks the rules of common/ipc.h."""


class Message:
    """A decoded message: a type and an ordered list of (name, value)."""

    def __init__(self, mtype, pairs):
        self.type = mtype
        self.pairs = list(pairs)

    def get(self, name, default=None):
        for n, v in self.pairs:
            if n == name:
                return v
        return default

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name) is not None

    def dict(self):
        """The attributes as a dict (first value of each name wins)."""
        out = {}
        for n, v in self.pairs:
            out.setdefault(n, v)
        return out

    def __repr__(self):
        return f"Message(type=0x{self.type:02x}, pairs={self.pairs!r})"


def _to_bytes(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def _pairs(attrs):
    if attrs is None:
        return []
    if isinstance(attrs, dict):
        return list(attrs.items())
    return list(attrs)


def encode_raw(mtype, payload, version=VERSION, length=None):
    """A frame around an arbitrary payload, unchecked (for negative tests).
    length overrides the length field."""
    body = bytes([version & 0xFF, mtype & 0xFF]) + payload
    n = len(body) if length is None else length
    return struct.pack(">I", n) + body


def encode(mtype, attrs=None):
    """Encode type and attrs (dict or iterable of pairs); checks the rules."""
    pairs = _pairs(attrs)
    if len(pairs) > ATTR_MAX:
        raise FrameError("too many attributes")
    payload = bytearray()
    for name, value in pairs:
        nb, vb = _to_bytes(name), _to_bytes(value)
        if not _NAME_RE.fullmatch(nb):
            raise FrameError(f"bad attribute name {name!r}")
        if b"\0" in vb or len(vb) > VALUE_MAX:
            raise FrameError(f"bad value for {name!r}")
        payload += nb + b"\0" + vb + b"\0"
    if len(payload) + 2 > FRAME_MAX:
        raise FrameError("frame too large")
    return encode_raw(mtype, bytes(payload))


def frame_length(head):
    """Total frame size from its first 4 bytes, like ipc_frame_length()."""
    if len(head) < 4:
        raise FrameError("short header")
    n = struct.unpack(">I", head[:4])[0]
    if n < 2 or n > FRAME_MAX:
        raise FrameError(f"bad frame length {n}")
    return n + 4


def decode(frame):
    """Decode one complete frame (length field included) into a Message."""
    frame = bytes(frame)
    if frame_length(frame) != len(frame):
        raise FrameError("frame length does not match")
    if frame[4] != VERSION:
        raise FrameError(f"bad version {frame[4]}")
    body = frame[6:]
    if body and not body.endswith(b"\0"):
        raise FrameError("attribute area not terminated")
    parts = body.split(b"\0")[:-1] if body else []
    if len(parts) % 2:
        raise FrameError("name without value")
    pairs = []
    for i in range(0, len(parts), 2):
        name, value = parts[i], parts[i + 1]
        if not _NAME_RE.fullmatch(name) or len(value) > VALUE_MAX:
            raise FrameError(f"bad attribute {name!r}")
        pairs.append((name.decode("ascii"),
                      value.decode("utf-8", "surrogateescape")))
    if len(pairs) > ATTR_MAX:
        raise FrameError("too many attributes")
    return Message(frame[5], pairs)


def _recv_exact(sock, n, deadline):
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out reading a frame")
        sock.settimeout(left)
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionResetError("peer closed the connection")
        out += chunk
    return bytes(out)


def read_message(sock, timeout=10.0):
    """Read and decode one frame from a connected socket."""
    deadline = time.monotonic() + timeout
    head = _recv_exact(sock, 4, deadline)
    rest = _recv_exact(sock, frame_length(head) - 4, deadline)
    return decode(head + rest)


def write_message(sock, mtype, attrs=None, timeout=10.0):
    sock.settimeout(timeout)
    sock.sendall(encode(mtype, attrs))


class Client:
    """A persistent connection: several calls, one at a time."""

    def __init__(self, path, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))

    def send(self, mtype, attrs=None):
        write_message(self.sock, mtype, attrs, self.timeout)

    def send_raw(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def recv(self, timeout=None):
        return read_message(self.sock, self.timeout if timeout is None else timeout)

    def call(self, mtype, attrs=None, timeout=None):
        self.send(mtype, attrs)
        return self.recv(timeout)

    def closed_by_peer(self, timeout=None):
        """True once the peer closes the connection (EOF or reset)."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def call(sock_path, mtype, attrs=None, timeout=10.0):
    """Connect, send one request, return the decoded reply, close."""
    with Client(sock_path, timeout) as c:
        return c.call(mtype, attrs)
