"""N consecutive runtime starts in one process: memory, fds and threads left behind.

Each run uses channels, a timer, a loopback TCP echo and a blocking call on a
pool thread, and leaves some goroutines parked at exit (discarded):
  gpm:     gpm.run(main) with gpm.Chan, gpm.after, gpm.net, gpm.syscall,
           10 goroutines parked on a channel at exit
  asyncio: asyncio.run(main) with asyncio.Queue, asyncio.sleep, a loopback
           asyncio.start_server echo, asyncio.to_thread, 10 tasks pending at exit
Metrics, measured after 20 warm-up runs and a gc.collect at the end:
  rss_mib   VmRSS growth over the N runs (MiB)
  fds       open fds at the end minus after warm-up
  threads   live threads at the end minus after warm-up
  ms_run    wall time per run
Issue 8's target: gpm 1,000 runs, RSS growth under 5 MiB, fds and threads flat
(before the fix: +27.5 MiB at procs=1, +60.7 MiB at procs=4).
"""

from __future__ import annotations

import gc
import os
import threading
import time

import _harness as h

WARMUP = 20
TIME_BUDGET = 240.0      # seconds for the N runs, on top of the count bound
PARKED = 10


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _measure(one_run, n: int) -> dict:
    for _ in range(WARMUP):
        one_run()
    gc.collect()
    rss0, fds0, th0 = _rss_mib(), _fds(), threading.active_count()
    deadline = h.Deadline(TIME_BUDGET, every=1)
    t0 = time.perf_counter()
    i = 0
    while i < n and not deadline.expired(i):
        one_run()
        i += 1
    elapsed = time.perf_counter() - t0
    gc.collect()
    return {"rss_mib": _rss_mib() - rss0, "fds": _fds() - fds0,
            "threads": threading.active_count() - th0,
            "ms_run": elapsed / max(i, 1) * 1e3, "runs": i, "truncated": i < n}


def _gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan", "after", "syscall", "net.listen", "net.dial")

        def main():
            ch = gpm.Chan()
            gpm.go(lambda: ch.send(gpm.syscall(sum, (1, 2))))
            assert ch.recv() == 3
            gpm.after(0.001).recv()
            with gpm.net.listen("tcp", "127.0.0.1:0") as ln:
                def serve():
                    c = ln.accept()
                    c.write(c.read(5))
                    c.close()
                gpm.go(serve)
                c = gpm.net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
                c.write(b"hello")
                assert c.read_exactly(5) == b"hello"
                c.close()
            never = gpm.Chan()
            for _ in range(PARKED):
                gpm.go(never.recv)
            gpm.sleep(0.001)

        res = _measure(lambda: gpm.run(main, procs=procs), n)
        try:
            from gpm._runtime.sched import Sched
            res["live_scheds"] = sum(1 for o in gc.get_objects() if type(o) is Sched)
        except ImportError:
            pass
        return res
    return run


def run_asyncio(n: int) -> dict:
    import asyncio

    async def main():
        q = asyncio.Queue()

        async def put():
            await q.put(await asyncio.to_thread(sum, (1, 2)))
        t = asyncio.create_task(put())
        assert await q.get() == 3
        await t
        await asyncio.sleep(0.001)

        async def echo(r, w):
            w.write(await r.readexactly(5))
            await w.drain()
            w.close()
        srv = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"hello")
        assert await r.readexactly(5) == b"hello"
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
        never = asyncio.Event()
        for _ in range(PARKED):
            asyncio.create_task(never.wait())
        await asyncio.sleep(0.001)

    return _measure(lambda: asyncio.run(main()), n)


VARIANTS = {
    "gpm-p1": _gpm(1),
    "gpm-p4": _gpm(4),
    "asyncio": run_asyncio,
}


def comparisons(n: int) -> list[h.Comparison]:
    return [h.Comparison(
        title=f"{n} consecutive runs (channels, timer, TCP echo, syscall, parked at exit)",
        script="bench_runs.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("rss_mib", "RSS growth MiB"), h.Column("fds", "fds", "{:.0f}"),
                 h.Column("threads", "threads", "{:.0f}"), h.Column("ms_run", "ms/run")],
        reference="asyncio",
        published={"gpm-p1": "before: +27.5 MiB", "gpm-p4": "before: +60.7 MiB"},
        timeout=600.0,
    )]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=1000, quick_n=200, argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
