"""A stand-in for the SMTP client delivery service (issue 9), for routing
tests: it listens on the instance's private/smtp socket, speaks the delivery
protocol of common/proto_deliver.h through ternipc, records the next hop and
the recipients of every request, and answers every recipient with the
outcome answer(nexthop, rcpt) gives ("ok" by default)."""

import os
import socket
import threading

import ternipc


def write_map(root, name, text):
    """A texthash map file the unprivileged qmgr can read: its path."""
    path = root / name
    path.write_text(text)
    path.chmod(0o644)
    return path


class FakeSmtp:
    def __init__(self, queue, answer=None):
        self.path = str(queue / "private" / "smtp")
        self.answer = answer or (lambda nexthop, rcpt: ("ok", "2.0.0", "fake: sent"))
        self.requests = []          # (nexthop, [rcpt, ...]) in arrival order
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(16)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            while not self.stopping:
                try:
                    req = ternipc.read_message(conn, timeout=120)
                except (ConnectionError, OSError, ternipc.FrameError, TimeoutError):
                    return
                if req is None:
                    return
                n = int(req["nrcpt"])
                rcpts = [req[f"rcpt.{i}"] for i in range(n)]
                nexthop = req.get("nexthop", "")
                with self.lock:
                    self.requests.append((nexthop, rcpts))
                attrs = [("nrcpt", str(n))]
                for i, r in enumerate(rcpts):
                    status, dsn, text = self.answer(nexthop, r)
                    attrs += [(f"status.{i}", status), (f"dsn.{i}", dsn), (f"text.{i}", text)]
                ternipc.write_message(conn, ternipc.DELIVER_T_REPLY, attrs)

    def seen(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.stopping = True
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
