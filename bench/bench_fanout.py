"""Fan-out of N CPU jobs that release the GIL: hashlib.sha256 over 1 MiB.

hashlib drops the GIL while hashing large buffers, so two OS threads can
really hash in parallel.  The question is how much of that each runtime turns
into speed-up when going from 1 worker to 2.

Variants (N jobs each, all submitted at once, wait for all):
  gpm-p1 / gpm-p2                  goroutines hashing directly, procs=1 / 2
  gpm-p1-syscall / gpm-p2-syscall  goroutines calling gpm.syscall(hashlib.sha256, data)
  threads-1 / threads-2            concurrent.futures.ThreadPoolExecutor
  asyncio-1 / asyncio-2            asyncio.to_thread on a default executor of 1 / 2 threads
  gevent-1 / gevent-2              gevent.threadpool.ThreadPool(1 / 2)
  serial                           a plain loop, for scale

Reference speed-ups (2 workers over 1) from the issue: threads 1.89x,
asyncio 1.76x, gevent 1.65x.
"""

from __future__ import annotations

import hashlib
import os
import time

import _harness as h

BLOCK = 1 << 20  # 1 MiB per job


def _data() -> bytes:
    return os.urandom(BLOCK)


def job(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _result(elapsed: float, n: int, digests: list) -> dict:
    # Every job hashes the same block: check the work was really done.
    assert len(digests) == n and all(d == digests[0] for d in digests)
    return {"ms": elapsed * 1e3, "jobs": n}


# -- workers ----------------------------------------------------------------


def _gpm(procs: int, use_syscall: bool):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", *(["syscall"] if use_syscall else []))
        data = _data()

        if use_syscall:
            def work():
                return gpm.syscall(hashlib.sha256, data).digest()
        else:
            def work():
                return job(data)

        def main():
            t0 = time.perf_counter()
            handles = [gpm.go(work) for _ in range(n)]
            digests = [g.join() for g in handles]
            return time.perf_counter() - t0, digests

        elapsed, digests = gpm.run(main, procs=procs)
        return _result(elapsed, n, digests)
    return run


def _threads(workers: int):
    def run(n: int) -> dict:
        from concurrent.futures import ThreadPoolExecutor

        data = _data()
        with ThreadPoolExecutor(max_workers=workers) as ex:
            ex.submit(job, b"warm").result()  # start the pool outside the timing
            t0 = time.perf_counter()
            digests = list(ex.map(job, [data] * n))
            elapsed = time.perf_counter() - t0
        return _result(elapsed, n, digests)
    return run


def _asyncio(workers: int):
    def run(n: int) -> dict:
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        data = _data()

        async def main():
            asyncio.get_running_loop().set_default_executor(
                ThreadPoolExecutor(max_workers=workers))
            await asyncio.to_thread(job, b"warm")
            t0 = time.perf_counter()
            digests = await asyncio.gather(*[asyncio.to_thread(job, data)
                                             for _ in range(n)])
            return time.perf_counter() - t0, list(digests)

        elapsed, digests = asyncio.run(main())
        return _result(elapsed, n, digests)
    return run


def _gevent(workers: int):
    def run(n: int) -> dict:
        import gevent.threadpool

        data = _data()
        pool = gevent.threadpool.ThreadPool(workers)
        pool.apply(job, (b"warm",))
        t0 = time.perf_counter()
        pending = [pool.spawn(job, data) for _ in range(n)]
        digests = [r.get() for r in pending]
        elapsed = time.perf_counter() - t0
        pool.kill()
        return _result(elapsed, n, digests)
    return run


def run_serial(n: int) -> dict:
    data = _data()
    t0 = time.perf_counter()
    digests = [job(data) for _ in range(n)]
    return _result(time.perf_counter() - t0, n, digests)


VARIANTS = {
    "gpm-p1": _gpm(1, False),
    "gpm-p2": _gpm(2, False),
    "gpm-p1-syscall": _gpm(1, True),
    "gpm-p2-syscall": _gpm(2, True),
    "threads-1": _threads(1),
    "threads-2": _threads(2),
    "asyncio-1": _asyncio(1),
    "asyncio-2": _asyncio(2),
    "gevent-1": _gevent(1),
    "gevent-2": _gevent(2),
    "serial": run_serial,
}

# (family, 1-worker variant, 2-worker variant, issue figure)
SPEEDUPS = [
    ("gpm direct (procs 1 -> 2)", "gpm-p1", "gpm-p2", ""),
    ("gpm syscall (procs 1 -> 2)", "gpm-p1-syscall", "gpm-p2-syscall", ""),
    ("gpm direct p1 -> syscall p2", "gpm-p1", "gpm-p2-syscall", ""),
    ("threads", "threads-1", "threads-2", "1.89x"),
    ("asyncio to_thread", "asyncio-1", "asyncio-2", "1.76x"),
    ("gevent threadpool", "gevent-1", "gevent-2", "1.65x"),
]


# -- driver -----------------------------------------------------------------


def comparisons(n: int) -> list[h.Comparison]:
    return [h.Comparison(
        title="fan-out: N x sha256(1 MiB)",
        script="bench_fanout.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("ms", "ms total", "{:.1f}")],
        reference="serial",
    )]


def report_speedups(comp: h.Comparison) -> None:
    """Speed-up of 2 workers over 1 within each family, from the medians."""
    print()
    print("  speed-up of 2 workers over 1 (median time 1 / median time 2):")
    print(f"  {'family':30s} {'speed-up':>9s} {'issue figure':>13s}")
    for family, one, two, figure in SPEEDUPS:
        t1, t2 = comp.median(one), comp.median(two)
        value = f"{t1 / t2:.2f}x" if t1 and t2 else "n/a"
        print(f"  {family:30s} {value:>9s} {figure:>13s}")


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=400, quick_n=200,
                         argv=argv)
    for comp in comparisons(args.n):
        print(f"-- {comp.title}")
        comp.run(args.rounds)
        comp.report()
        report_speedups(comp)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
