"""TLS echo server: 50 concurrent clients, each a new TLS connection then N round trips of 64 B.

Each worker process makes a throwaway CA and server certificate (trustme), starts one server on
127.0.0.1 (port 0) and runs the load generator as a separate process against it: this file with
``--client``, one thread per connection on blocking ``ssl`` sockets (the same client for every
server; its handshakes and records cost about as much CPU as the server's, so absolute figures
are bounded by the client on 2 cores; compare the ratios).

Servers (one goroutine/greenlet/thread/handler per connection):
  gpm-p1, gpm-p2    gpm.net.listen_tls / TLSConn.read / write (ssl.MemoryBIO), procs=1 / 2
  gevent            gevent.server.StreamServer with an ssl_context
  asyncio-streams   asyncio.start_server(ssl=...) with StreamReader/StreamWriter
  threads           thread per connection, blocking ssl sockets

Metrics: round trips/s over the whole run (handshakes included), p50 and p99 round-trip latency,
median handshake time (client side).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import _harness as h

HOST = "127.0.0.1"      # loopback only
CONNS = 50
MSGSIZE = 64
CLIENT_TIMEOUT = 60.0


# -- certificates and the load generator ---------------------------------------------------

def _certs(tmpdir: str) -> tuple[ssl.SSLContext, str]:
    try:
        import trustme
    except ImportError as e:
        raise h.Unavailable(f"trustme missing: {e}") from None
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(ctx)
    cafile = os.path.join(tmpdir, "ca.pem")
    ca.cert_pem.write_to_path(cafile)
    return ctx, cafile


def run_client(port: int, rounds: int, cafile: str) -> dict:
    """The load generator in its own process; blocking, so servers run it off their loop."""
    cmd = [sys.executable, os.path.abspath(__file__), "--client", HOST, str(port), str(CONNS),
           str(rounds), cafile]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT + 30)
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"tls client failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    res = json.loads(lines[-1])
    if res["errors"]:
        raise RuntimeError(f"tls client saw {res['errors']} failed connections: {res['first_error']}")
    return res


def client_main(host: str, port: int, conns: int, rounds: int, cafile: str) -> None:
    ctx = ssl.create_default_context(cafile=cafile)
    msg = b"x" * MSGSIZE
    lats: list[float] = []
    hss: list[float] = []
    errors: list[str] = []
    mu = threading.Lock()
    deadline = time.monotonic() + CLIENT_TIMEOUT
    start = threading.Barrier(conns + 1)

    def one() -> None:
        mine, hs = [], 0.0
        try:
            start.wait()
            t0 = time.perf_counter()
            import socket
            raw = socket.create_connection((host, port), timeout=CLIENT_TIMEOUT)
            s = ctx.wrap_socket(raw, server_hostname=host)
            hs = time.perf_counter() - t0
            with s:
                for _ in range(rounds):
                    if time.monotonic() > deadline:
                        break
                    t = time.perf_counter()
                    s.sendall(msg)
                    got = 0
                    while got < MSGSIZE:
                        b = s.recv(65536)
                        if not b:
                            raise ConnectionError("server closed early")
                        got += len(b)
                    mine.append(time.perf_counter() - t)
        except Exception as e:          # noqa: BLE001 - reported in the result
            with mu:
                errors.append(repr(e))
            return
        with mu:
            lats.extend(mine)
            hss.append(hs)

    ts = [threading.Thread(target=one) for _ in range(conns)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    lats.sort()
    hss.sort()

    def pct(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1e6 if xs else 0.0
    print(json.dumps({"rt_per_s": len(lats) / dt if dt else 0.0, "krt_per_s": len(lats) / dt / 1e3,
                      "p50_us": pct(lats, 0.5), "p99_us": pct(lats, 0.99),
                      "handshake_ms": pct(hss, 0.5) / 1e3, "round_trips": len(lats),
                      "errors": len(errors), "first_error": errors[0] if errors else None}))


# -- servers ---------------------------------------------------------------------------------

def _gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "syscall", "net.listen_tls")
        net = gpm.net
        with tempfile.TemporaryDirectory() as tmp:
            ctx, cafile = _certs(tmp)

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
                    pass          # client went away (ssl.SSLError is an OSError)

            def main():
                ln = net.listen_tls("tcp", f"{HOST}:0", ctx)

                def acceptor():
                    while True:
                        try:
                            conn = ln.accept()
                        except net.ClosedError:
                            return
                        gpm.go(handle, conn)
                gpm.go(acceptor)
                try:
                    return gpm.syscall(run_client, ln.addr[1], n, cafile)
                finally:
                    ln.close()
            return gpm.run(main, procs=procs)
    return run


def run_gevent(n: int) -> dict:
    import gevent
    from gevent.server import StreamServer
    with tempfile.TemporaryDirectory() as tmp:
        ctx, cafile = _certs(tmp)

        def handle(sock, _addr):
            try:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    sock.sendall(data)
            except OSError:
                pass
        server = StreamServer((HOST, 0), handle, backlog=1024, ssl_context=ctx)
        server.start()
        try:
            return gevent.get_hub().threadpool.apply(run_client, (server.server_port, n, cafile))
        finally:
            server.stop()


def run_asyncio_streams(n: int) -> dict:
    import asyncio
    with tempfile.TemporaryDirectory() as tmp:
        ctx, cafile = _certs(tmp)

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
            server = await asyncio.start_server(handle, HOST, 0, ssl=ctx, backlog=1024)
            port = server.sockets[0].getsockname()[1]
            try:
                return await asyncio.to_thread(run_client, port, n, cafile)
            finally:
                server.close()
        return asyncio.run(main())


def run_threads(n: int) -> dict:
    import socket
    with tempfile.TemporaryDirectory() as tmp:
        ctx, cafile = _certs(tmp)

        def handle(raw):
            try:
                with ctx.wrap_socket(raw, server_side=True) as s:
                    while True:
                        data = s.recv(65536)
                        if not data:
                            return
                        s.sendall(data)
            except OSError:
                pass
        lsock = socket.create_server((HOST, 0), backlog=1024)

        def acceptor():
            while True:
                try:
                    sock, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=handle, args=(sock,), daemon=True).start()
        threading.Thread(target=acceptor, daemon=True).start()
        try:
            return run_client(lsock.getsockname()[1], n, cafile)
        finally:
            lsock.close()


VARIANTS = {
    "gpm-p1": _gpm(1),
    "gpm-p2": _gpm(2),
    "gevent": run_gevent,
    "asyncio-streams": run_asyncio_streams,
    "threads": run_threads,
}


def comparisons(n: int) -> list[h.Comparison]:
    return [h.Comparison(
        title=f"TLS echo server, {CONNS} new TLS connections x N round trips of {MSGSIZE} B",
        script="bench_tls_echo.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("krt_per_s", "k rt/s", "{:.1f}"),
                 h.Column("p50_us", "p50 us", "{:.0f}"),
                 h.Column("p99_us", "p99 us", "{:.0f}"),
                 h.Column("handshake_ms", "handshake ms", "{:.1f}")],
        reference="gevent",
        lower_is_better=False,
        timeout=CLIENT_TIMEOUT + 90,
    )]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=400, quick_n=100, argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        host, port, conns, rounds, cafile = sys.argv[2:7]
        client_main(host, int(port), int(conns), int(rounds), cafile)
    elif not h.worker_main(VARIANTS):
        main(sys.argv[1:])
