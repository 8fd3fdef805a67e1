"""A small, fast HTTP/1.1 server for the gpm.monkey benchmarks (a separate process).

    python bench/_http_server.py DELAY_MS [MAX_SECONDS]

Listens on 127.0.0.1 (port 0), prints ``PORT <n>`` on stdout, then answers every GET with
``200 ok`` after DELAY_MS milliseconds, keeping connections alive unless the client asks for
``Connection: close``.  asyncio Protocol on uvloop when installed, so the server is never the
bottleneck of a Python client.  It exits by itself after MAX_SECONDS (default 300) or when its
stdin closes (the benchmark worker died).
"""

import asyncio
import socket
import sys

RESP = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
        b"Connection: keep-alive\r\n\r\nok")
RESP_CLOSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
              b"Connection: close\r\n\r\nok")


class Http(asyncio.Protocol):
    def __init__(self, delay):
        self.delay = delay
        self.buf = b""
        self.t = None

    def connection_made(self, transport):
        self.t = transport

    def data_received(self, data):
        self.buf += data
        loop = asyncio.get_running_loop()
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head, self.buf = self.buf[:i].lower(), self.buf[i + 4:]
            close = b"connection: close" in head
            loop.call_later(self.delay, self.answer, close)

    def answer(self, close):
        if self.t.is_closing():
            return
        self.t.write(RESP_CLOSE if close else RESP)
        if close:
            self.t.close()


async def main(delay, max_seconds):
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    server = await loop.create_server(lambda: Http(delay), sock=sock, backlog=4096)
    print("PORT", sock.getsockname()[1], flush=True)
    stdin_closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.read1(100):
            loop.remove_reader(sys.stdin.fileno())
            stdin_closed.set_result(None)
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        await asyncio.wait_for(stdin_closed, max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()


if __name__ == "__main__":
    delay = float(sys.argv[1]) / 1000.0
    max_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(delay, max_seconds))
