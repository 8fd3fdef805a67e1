"""TCP echo server: 100 concurrent clients x N round trips of 64 bytes.

Each worker process starts one server on 127.0.0.1 (port 0) and then runs the
load generator as a separate process against it: bench/echo_client.c, built
with gcc into a cache directory on first use (one epoll loop in C, so the
client stays cheap and is identical for every server).  If gcc is missing or
the build fails, bench/echo_client.py (same protocol, pure Python) is used
for every server instead, and the table says so.

Servers (one goroutine/greenlet/thread/handler per connection):
  gpm-p1, gpm-p2    gpm.net listen/accept/Conn.read/Conn.write, procs=1 / 2
  gevent            gevent.server.StreamServer
  asyncio-protocol  asyncio.Protocol (transport.write in data_received)
  asyncio-streams   asyncio.start_server with StreamReader/StreamWriter
  threads           thread-per-connection with blocking sockets
  uvloop            asyncio.Protocol on uvloop, if uvloop is installed

Metrics: requests/s, p50 and p99 round-trip latency (client side).
Issue figures: gevent 25.6k req/s, asyncio Protocol 18.5k, uvloop 69k, Go 62k.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import _harness as h

HOST = "127.0.0.1"      # loopback only
CONNS = 100
MSGSIZE = 64
CLIENT_TIMEOUT = 60.0   # the client stops by itself after this many seconds
ENV_CLIENT = "GPM_BENCH_ECHO_CLIENT"  # driver -> worker: which client to run

C_SOURCE = os.path.join(h.BENCH_DIR, "echo_client.c")
PY_CLIENT = os.path.join(h.BENCH_DIR, "echo_client.py")


# -- the load generator ------------------------------------------------------


def build_client() -> tuple[list[str], str]:
    """Return (command prefix, description) of the load generator to use.

    The C client is compiled once per source version into a per-user cache
    directory (atomic rename, so concurrent builds cannot clash).
    """
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc and os.path.exists(C_SOURCE):
        with open(C_SOURCE, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        cache = os.path.join(tempfile.gettempdir(), f"gpm-bench-{os.getuid()}")
        exe = os.path.join(cache, f"echo_client-{digest}")
        if not os.access(exe, os.X_OK):
            os.makedirs(cache, exist_ok=True)
            tmp = f"{exe}.{os.getpid()}.tmp"
            proc = subprocess.run([gcc, "-O2", "-Wall", "-o", tmp, C_SOURCE],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode == 0:
                os.replace(tmp, exe)
            else:
                print(f"  echo_client.c did not build, using the Python client:\n"
                      f"{proc.stderr.strip()}", file=sys.stderr)
        if os.access(exe, os.X_OK):
            return [exe], "C epoll client (bench/echo_client.c)"
    return [sys.executable, PY_CLIENT], "Python selectors client (bench/echo_client.py)"


def client_command() -> list[str]:
    chosen = os.environ.get(ENV_CLIENT)
    return json.loads(chosen) if chosen else build_client()[0]


def run_client(port: int, rounds: int) -> dict:
    """Run the load generator against HOST:port; blocking, so callers run it
    on a thread (or gpm.syscall) while their server keeps serving."""
    cmd = client_command() + [HOST, str(port), str(CONNS), str(rounds),
                              str(MSGSIZE), str(CLIENT_TIMEOUT)]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT + 30)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"echo client failed (exit {proc.returncode}): "
                           f"{proc.stderr.strip()[-500:]}")
    result = json.loads(lines[-1])
    if result["errors"]:
        raise RuntimeError(f"echo client saw {result['errors']} failed connections")
    result["kreq_per_s"] = result["req_per_s"] / 1e3
    return result


# -- servers -----------------------------------------------------------------


def _gpm(procs: int):
    def run(n: int) -> dict:
        import threading

        gpm = h.require_gpm("run", "go", "sleep", "net.listen")
        net = gpm.net
        has_syscall = hasattr(gpm, "syscall")

        def handle(conn):
            try:
                with conn:
                    read, write = conn.read, conn.write
                    while True:
                        data = read(65536)
                        if not data:
                            return
                        write(data)
            except (OSError, net.ClosedError):
                pass  # client went away: not a server failure

        def main():
            ln = net.listen("tcp", f"{HOST}:0")

            def acceptor():
                while True:
                    try:
                        conn = ln.accept()
                    except net.ClosedError:
                        return
                    gpm.go(handle, conn)

            gpm.go(acceptor)
            try:
                if has_syscall:
                    # The client blocks: run it on a syscall thread (an M
                    # without a P) while the Ps keep serving.  The client is
                    # another process: this process's CPU time is the server's.
                    c0 = time.process_time()
                    r = gpm.syscall(run_client, ln.addr[1], n)
                    r["server_cpu_us_per_req"] = (time.process_time() - c0) / r["requests"] * 1e6
                    return r
                # Older runtime without gpm.syscall: a plain thread runs the
                # client and this goroutine polls it with timer sleeps.
                box = {}

                def client_thread():
                    try:
                        box["result"] = run_client(ln.addr[1], n)
                    except BaseException as exc:
                        box["error"] = exc

                t = threading.Thread(target=client_thread, daemon=True)
                t.start()
                while t.is_alive():
                    gpm.sleep(0.05)
                if "error" in box:
                    raise box["error"]
                return box["result"]
            finally:
                ln.close()

        result = gpm.run(main, procs=procs)
        if not has_syscall:
            result["note"] = "gpm.syscall missing: client run from a plain thread"
        return result
    return run


def run_gevent(n: int) -> dict:
    import gevent
    from gevent.server import StreamServer

    def handle(sock, _addr):
        recv, sendall = sock.recv, sock.sendall
        try:
            while True:
                data = recv(65536)
                if not data:
                    return
                sendall(data)
        except OSError:
            pass

    server = StreamServer((HOST, 0), handle, backlog=1024)
    server.start()
    try:
        # The client blocks, so it runs on a hub thread-pool thread.
        return gevent.get_hub().threadpool.apply(run_client, (server.server_port, n))
    finally:
        server.stop()


def _asyncio_protocol_server():
    """asyncio.Protocol echo server + client run, shared by asyncio and uvloop."""
    import asyncio

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    async def main(n: int) -> dict:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, HOST, 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.to_thread(run_client, port, n)
        finally:
            server.close()

    return main


def run_asyncio_protocol(n: int) -> dict:
    import asyncio

    return asyncio.run(_asyncio_protocol_server()(n))


def run_uvloop(n: int) -> dict:
    reason = h.have_module("uvloop")
    if reason:
        raise h.Unavailable(reason)
    import uvloop

    return uvloop.run(_asyncio_protocol_server()(n))


def run_asyncio_streams(n: int) -> dict:
    import asyncio

    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, HOST, 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.to_thread(run_client, port, n)
        finally:
            server.close()

    return asyncio.run(main())


def run_threads(n: int) -> dict:
    import socket
    import threading

    def handle(sock):
        with sock:
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    sock.sendall(data)
            except OSError:
                pass

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((HOST, 0))
    lsock.listen(1024)

    def acceptor():
        while True:
            try:
                sock, _ = lsock.accept()
            except OSError:
                return  # listener closed
            threading.Thread(target=handle, args=(sock,), daemon=True).start()

    threading.Thread(target=acceptor, daemon=True).start()
    try:
        return run_client(lsock.getsockname()[1], n)
    finally:
        lsock.close()


VARIANTS = {
    "gpm-p1": _gpm(1),
    "gpm-p2": _gpm(2),
    "gevent": run_gevent,
    "asyncio-protocol": run_asyncio_protocol,
    "asyncio-streams": run_asyncio_streams,
    "threads": run_threads,
    "uvloop": run_uvloop,
}


# -- driver -----------------------------------------------------------------


def comparisons(n: int) -> list[h.Comparison]:
    cmd, desc = build_client()
    print(f"  load generator: {desc}")
    return [h.Comparison(
        title=f"echo server, {CONNS} clients x N round trips of {MSGSIZE} B",
        script="bench_echo.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("kreq_per_s", "k req/s", "{:.1f}"),
                 h.Column("p50_us", "p50 us", "{:.0f}"),
                 h.Column("p99_us", "p99 us", "{:.0f}")],
        reference="gevent",
        lower_is_better=False,
        published={"gevent": "25.6k", "asyncio-protocol": "18.5k",
                   "uvloop": "69k", "gpm-p1": "Go 62k"},
        timeout=CLIENT_TIMEOUT + 90,
        env={ENV_CLIENT: json.dumps(cmd)},
    )]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=2000, quick_n=300,
                         argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
