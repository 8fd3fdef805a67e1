"""gpm.monkey: ordinary blocking libraries inside goroutines, against gevent, threads and asyncio.

Comparisons (every variant in a fresh subprocess: patching is process-global):

* ``requests.get`` x N (default 1000), all concurrent, to a local server (bench/_http_server.py,
  its own process) that answers each request after 20 ms:
    - new connection each: gpm+monkey procs 1 and 2, gevent+monkey, ThreadPoolExecutor(100),
      asyncio + httpx (keep-alive off);
    - keep-alive: one shared Session (pool of N; a warm-up round opens the connections, the
      timed round reuses them), same variants.
  Metrics: requests/s, wall time, and wall / ideal, where ideal = 20 ms x N / concurrency
  (N for gpm, gevent and asyncio, 100 for the thread pool); also requests per CPU-second of
  the client process (all its threads): on a shared machine a process with more runnable
  threads gets more CPU from the OS, so wall-time figures favour the thread pool and procs=2.
* redis-py: 100 workers x N GET+SET pairs against a local redis-server: gpm procs 1,
  gevent, 100 threads.  Skipped when redis-server is missing.
* the cost of the socket patch on plain-thread code, no runtime running: send+recv of 64 B on
  a socketpair (data always ready), and a two-thread ping-pong over blocking sockets;
  original vs patched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import _harness as h

DELAY_MS = 20
POOL_THREADS = 100
REDIS_WORKERS = 100
SERVER = os.path.join(h.BENCH_DIR, "_http_server.py")


# -- peers ------------------------------------------------------------------------------------


def start_http_server():
    """(process, url); the server exits when our stdin pipe closes or after 300 s."""
    p = subprocess.Popen([sys.executable, SERVER, str(DELAY_MS), "300"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "PORT":
        p.kill()
        raise RuntimeError("bench http server did not start")
    return p, f"http://127.0.0.1:{line[1]}/"


def start_redis():
    exe = shutil.which("redis-server")
    if exe is None:
        raise h.Unavailable("redis-server not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import tempfile
    d = tempfile.mkdtemp()
    p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                          "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return p, port
        except OSError:
            time.sleep(0.02)
    p.kill()
    raise RuntimeError("redis-server did not start")


def _stop(p):
    try:
        p.stdin.close()
    except Exception:
        pass
    p.kill()
    p.wait()


def _session(size):
    """A requests.Session whose one pool keeps ``size`` connections alive."""
    import requests
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=size))
    return session


def _result(n, wall, ok, concurrency, cpu):
    ideal = DELAY_MS / 1000.0 * n / concurrency
    return {"req_per_s": n / wall, "wall_ms": wall * 1000, "vs_ideal": wall / ideal, "ok": ok,
            "req_per_cpu_s": n / cpu, "cpu_ms": cpu * 1000,
            "note": f"concurrency {concurrency}, ideal {ideal * 1000:.0f} ms"}


# -- HTTP variants ----------------------------------------------------------------------------


def _gpm_http(procs, keepalive):
    def run(n):
        h.require_gpm("run", "go", "monkey")
        import gpm
        import gpm.monkey
        gpm.monkey.patch_all()
        import requests
        srv, url = start_http_server()
        try:
            def main():
                session = None
                if keepalive:
                    session = _session(n)
                    wg = gpm.sync.WaitGroup()
                    for _ in range(n):
                        wg.go(session.get, url)
                    wg.wait()                                 # warm-up: opens n connections
                get = session.get if session else requests.get
                codes = []
                t0, c0 = time.perf_counter(), time.process_time()
                wg = gpm.sync.WaitGroup()
                for _ in range(n):
                    wg.go(lambda: codes.append(get(url, timeout=60).status_code))
                wg.wait()
                return time.perf_counter() - t0, codes.count(200), time.process_time() - c0
            wall, ok, cpu = gpm.run(main, procs=procs)
        finally:
            _stop(srv)
        return _result(n, wall, ok, n, cpu)
    return run


def _gevent_http(keepalive):
    def run(n):
        from gevent import monkey
        monkey.patch_all()
        import gevent
        import requests
        srv, url = start_http_server()
        try:
            session = None
            if keepalive:
                session = _session(n)
                gevent.joinall([gevent.spawn(session.get, url) for _ in range(n)])
            get = session.get if session else requests.get
            t0, c0 = time.perf_counter(), time.process_time()
            gs = [gevent.spawn(get, url, timeout=60) for _ in range(n)]
            gevent.joinall(gs)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ok = sum(1 for g in gs if g.value is not None and g.value.status_code == 200)
        finally:
            _stop(srv)
        return _result(n, wall, ok, n, cpu)
    return run


def _threads_http(keepalive):
    def run(n):
        import concurrent.futures
        import requests
        srv, url = start_http_server()
        try:
            with concurrent.futures.ThreadPoolExecutor(POOL_THREADS) as ex:
                session = None
                if keepalive:
                    session = _session(POOL_THREADS)
                    list(ex.map(lambda _: session.get(url), range(POOL_THREADS)))
                get = session.get if session else requests.get
                t0, c0 = time.perf_counter(), time.process_time()
                codes = list(ex.map(lambda _: get(url, timeout=60).status_code, range(n)))
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            _stop(srv)
        return _result(n, wall, codes.count(200), POOL_THREADS, cpu)
    return run


def _httpx_http(keepalive):
    def run(n):
        reason = h.have_module("httpx")
        if reason:
            raise h.Unavailable(reason)
        import asyncio
        import httpx
        srv, url = start_http_server()
        try:
            async def main():
                limits = httpx.Limits(max_connections=n, max_keepalive_connections=n if keepalive else 0)
                async with httpx.AsyncClient(limits=limits, timeout=60) as client:
                    if keepalive:
                        await asyncio.gather(*(client.get(url) for _ in range(n)))
                    t0, c0 = time.perf_counter(), time.process_time()
                    rs = await asyncio.gather(*(client.get(url) for _ in range(n)))
                    return (time.perf_counter() - t0, sum(1 for r in rs if r.status_code == 200),
                            time.process_time() - c0)
            wall, ok, cpu = asyncio.run(main())
        finally:
            _stop(srv)
        return _result(n, wall, ok, n, cpu)
    return run


# -- redis ------------------------------------------------------------------------------------


def _redis_result(n, wall, cpu):
    ops = REDIS_WORKERS * n * 2
    return {"kops_per_s": ops / wall / 1000, "wall_ms": wall * 1000, "kops_per_cpu_s": ops / cpu / 1000}


def _redis_work(r, n, w):
    for j in range(n):
        r.set(f"k{w}:{j % 64}", j)
        r.get(f"k{w}:{j % 64}")


def _gpm_redis(procs):
    def run(n):
        h.require_gpm("run", "go", "monkey")
        import gpm
        import gpm.monkey
        gpm.monkey.patch_all()
        import redis
        srv, port = start_redis()
        try:
            r = redis.Redis(host="127.0.0.1", port=port, max_connections=REDIS_WORKERS)

            def main():
                wg = gpm.sync.WaitGroup()
                t0, c0 = time.perf_counter(), time.process_time()
                for w in range(REDIS_WORKERS):
                    wg.go(_redis_work, r, n, w)
                wg.wait()
                return time.perf_counter() - t0, time.process_time() - c0
            wall, cpu = gpm.run(main, procs=procs)
        finally:
            srv.kill()
            srv.wait()
        return _redis_result(n, wall, cpu)
    return run


def _gevent_redis(n):
    from gevent import monkey
    monkey.patch_all()
    import gevent
    import redis
    srv, port = start_redis()
    try:
        r = redis.Redis(host="127.0.0.1", port=port, max_connections=REDIS_WORKERS)
        t0, c0 = time.perf_counter(), time.process_time()
        gevent.joinall([gevent.spawn(_redis_work, r, n, w) for w in range(REDIS_WORKERS)], raise_error=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        srv.kill()
        srv.wait()
    return _redis_result(n, wall, cpu)


def _threads_redis(n):
    import threading
    import redis
    srv, port = start_redis()
    try:
        r = redis.Redis(host="127.0.0.1", port=port, max_connections=REDIS_WORKERS)
        ts = [threading.Thread(target=_redis_work, args=(r, n, w)) for w in range(REDIS_WORKERS)]
        t0, c0 = time.perf_counter(), time.process_time()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        srv.kill()
        srv.wait()
    return _redis_result(n, wall, cpu)


# -- the cost of patching on plain threads ----------------------------------------------------


def _patch_cost(patched):
    def run(n):
        if patched:
            h.require_gpm("monkey")
            import gpm.monkey
            gpm.monkey.patch_socket()
        import threading
        a, b = socket.socketpair()
        msg = b"x" * 64
        # data always ready: one send + one recv per op, the no-wait path of the wrappers
        send, recv = b.send, a.recv
        best = float("inf")
        for _ in range(5):
            t0 = time.thread_time()        # CPU time: the machine is shared, wall time is noise
            for _ in range(n):
                send(msg)
                recv(64)
            best = min(best, time.thread_time() - t0)
        # two threads ping-pong over blocking sockets: recv waits every time
        m = max(1, n // 20)

        def echo():
            for _ in range(m):
                b.sendall(b.recv(64))
        t = threading.Thread(target=echo)
        t.start()
        t0 = time.perf_counter()
        for _ in range(m):
            a.sendall(msg)
            a.recv(64)
        pp = time.perf_counter() - t0
        t.join()
        return {"ns_per_op": best / n * 1e9, "pingpong_us": pp / m * 1e6}
    return run


VARIANTS = {
    "new/gpm-p1": _gpm_http(1, False),
    "new/gpm-p2": _gpm_http(2, False),
    "new/gevent": _gevent_http(False),
    "new/threads100": _threads_http(False),
    "new/asyncio-httpx": _httpx_http(False),
    "ka/gpm-p1": _gpm_http(1, True),
    "ka/gpm-p2": _gpm_http(2, True),
    "ka/gevent": _gevent_http(True),
    "ka/threads100": _threads_http(True),
    "ka/asyncio-httpx": _httpx_http(True),
    "redis/gpm-p1": _gpm_redis(1),
    "redis/gevent": _gevent_redis,
    "redis/threads": _threads_redis,
    "cost/original": _patch_cost(False),
    "cost/patched": _patch_cost(True),
}


def comparisons(n_http, n_redis, n_cost):
    http_cols = [h.Column("req_per_s", "req/s", "{:.0f}"), h.Column("wall_ms", "wall ms", "{:.0f}"),
                 h.Column("vs_ideal", "wall/ideal", "{:.2f}"), h.Column("req_per_cpu_s", "req/CPU-s", "{:.0f}"),
                 h.Column("ok", "200s", "{:.0f}")]
    return [
        h.Comparison(title=f"requests.get x N concurrent, server answers after {DELAY_MS} ms, new connection each",
                     script="bench_monkey.py", variants=[v for v in VARIANTS if v.startswith("new/")],
                     n=n_http, columns=http_cols, reference="new/gevent", lower_is_better=False, timeout=180),
        h.Comparison(title=f"requests.get x N concurrent, server answers after {DELAY_MS} ms, keep-alive Session",
                     script="bench_monkey.py", variants=[v for v in VARIANTS if v.startswith("ka/")],
                     n=n_http, columns=http_cols, reference="ka/gevent", lower_is_better=False, timeout=180),
        h.Comparison(title=f"redis-py, {REDIS_WORKERS} workers x N GET+SET pairs",
                     script="bench_monkey.py", variants=[v for v in VARIANTS if v.startswith("redis/")],
                     n=n_redis, columns=[h.Column("kops_per_s", "k ops/s", "{:.1f}"),
                                         h.Column("wall_ms", "wall ms", "{:.0f}"),
                                         h.Column("kops_per_cpu_s", "k ops/CPU-s", "{:.1f}")],
                     reference="redis/gevent", lower_is_better=False, timeout=300),
        h.Comparison(title="socket patch on plain-thread code (no runtime): send+recv 64 B, ready data (CPU ns)",
                     script="bench_monkey.py", variants=["cost/original", "cost/patched"],
                     n=n_cost, columns=[h.Column("ns_per_op", "ns/op", "{:.0f}"),
                                        h.Column("pingpong_us", "2-thread ping-pong us", "{:.1f}")],
                     reference="cost/original", lower_is_better=True),
    ]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=1000, quick_n=1000, argv=argv)
    quick = "--quick" in (argv or [])
    h.run_comparisons(comparisons(args.n, 200 if quick else 1000, 20000 if quick else 100000), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
