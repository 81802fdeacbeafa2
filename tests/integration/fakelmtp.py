"""A scripted LMTP server (RFC 2033) for the LMTP client's tests: the
replies Dovecot will not give on demand.  It runs an asyncio server on a
thread of its own, on a UNIX socket or a loopback TCP port, and records
every session (LHLO name, MAIL, RCPTs, the message as received, the
commands in order).

The script: rcpt(addr) gives the reply to each RCPT ("250 2.1.5 OK" by
default); dot(addr) the reply for each accepted recipient after the final
dot, in RCPT order ("250 2.0.0 <addr> Saved" by default); after
drop_after such replies the connection is closed without the others (a
server that died mid-way), or with hang=True kept open in silence.  lhlo is the reply to LHLO (EHLO and HELO are
refused with 500, as an LMTP server must).
"""

import asyncio
import threading


class Session:
    def __init__(self):
        self.commands = []      # every command line, without CRLF
        self.lhlo = None
        self.mail_from = None
        self.rcpts = []         # accepted, in order
        self.data = b""         # the message, dot-unstuffed, CRLF kept


class FakeLmtp:
    def __init__(self, unix_path=None, rcpt=None, dot=None, drop_after=None,
                 hang=False, lhlo="250-fake.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES"):
        self.unix_path = unix_path
        self.rcpt = rcpt or (lambda addr: "250 2.1.5 OK")
        self.dot = dot or (lambda addr: f"250 2.0.0 <{addr}> Saved")
        self.drop_after = drop_after
        self.hang = hang
        self.lhlo_reply = lhlo
        self.sessions = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake LMTP server did not start")
        if unix_path is not None:
            self.nexthop = f"unix:{unix_path}"
        else:
            self.nexthop = f"[127.0.0.1]:{self.port}"

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)

        async def start():
            if self.unix_path is not None:
                self.server = await asyncio.start_unix_server(self._serve,
                                                              path=self.unix_path)
            else:
                self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
                self.port = self.server.sockets[0].getsockname()[1]
        self.loop.run_until_complete(start())
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer):
        s = Session()
        with self.lock:
            self.sessions.append(s)

        async def say(text):
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        try:
            await say("220 fake.example LMTP ready")
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    return
                cmd = line.rstrip(b"\r\n").decode(errors="replace")
                s.commands.append(cmd)
                verb = cmd[:4].upper()
                if verb == "LHLO":
                    s.lhlo = cmd[5:]
                    await say(self.lhlo_reply)
                elif verb == "MAIL":
                    s.mail_from = cmd
                    s.rcpts = []
                    await say("250 2.1.0 OK")
                elif verb == "RCPT":
                    addr = cmd[cmd.index("<") + 1:cmd.index(">")]
                    reply = self.rcpt(addr)
                    if reply.startswith("2"):
                        s.rcpts.append(addr)
                    await say(reply)
                elif verb == "DATA":
                    if not s.rcpts:
                        await say("503 5.5.1 No valid recipients")
                        continue
                    await say("354 OK")
                    await self._data(s, reader)
                    for k, addr in enumerate(s.rcpts):
                        if self.drop_after is not None and k >= self.drop_after:
                            if self.hang:
                                await asyncio.sleep(30)
                            return
                        await say(self.dot(addr))
                elif verb == "RSET":
                    await say("250 2.0.0 OK")
                elif verb == "QUIT":
                    await say("221 2.0.0 Bye")
                    return
                else:
                    await say("500 5.5.1 Unknown command")
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _data(self, s, reader):
        body = bytearray()
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if not line:
                raise ConnectionError("eof in DATA")
            if line == b".\r\n":
                break
            if line.startswith(b"."):
                line = line[1:]
            body += line
        s.data = bytes(body)

    def seen(self):
        with self.lock:
            return list(self.sessions)

    def close(self):
        async def stop():
            self.server.close()
            sessions = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in sessions:
                t.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
