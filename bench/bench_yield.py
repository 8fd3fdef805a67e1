"""Yield loop: 2 goroutines/greenlets/tasks each yield N times.

Metric: microseconds per yield (wall time / total yields).  With one
scheduler thread every yield is a switch to the other task.

Variants: gpm.gosched with procs=1 and procs=2, gevent.sleep(0),
asyncio.sleep(0), and a raw greenlet.switch ping-pong as the floor that any
greenlet-based scheduler pays.  Reference figures from the issue: gevent
2.4 us, asyncio 3.6, Go 0.06.
"""

from __future__ import annotations

import time

import _harness as h

TASKS = 2
TIME_BUDGET = 30.0  # seconds per loop, on top of the count bound


def _result(elapsed: float, counts: list[int], n: int, cpu: float | None = None) -> dict:
    total = sum(counts)
    r = {"us_per_yield": elapsed / total * 1e6, "yields": total,
         "truncated": total < TASKS * n}  # True if the time budget hit
    if cpu is not None:        # process CPU time: robust to a loaded machine (bench_guard.py)
        r["cpu_us_per_yield"] = cpu / total * 1e6
    return r


# -- workers ----------------------------------------------------------------


def _gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "gosched")

        def spinner(deadline):
            gosched = gpm.gosched
            i = 0
            while i < n and not deadline.expired(i):
                gosched()
                i += 1
            return i

        def main():
            deadline = h.Deadline(TIME_BUDGET)
            c0, t0 = time.process_time(), time.perf_counter()
            handles = [gpm.go(spinner, deadline) for _ in range(TASKS)]
            counts = [g.join() for g in handles]
            return time.perf_counter() - t0, counts, time.process_time() - c0

        elapsed, counts, cpu = gpm.run(main, procs=procs)
        return _result(elapsed, counts, n, cpu)
    return run


def run_gevent(n: int) -> dict:
    import gevent

    def spinner(deadline):
        sleep = gevent.sleep
        i = 0
        while i < n and not deadline.expired(i):
            sleep(0)
            i += 1
        return i

    deadline = h.Deadline(TIME_BUDGET)
    t0 = time.perf_counter()
    gs = [gevent.spawn(spinner, deadline) for _ in range(TASKS)]
    gevent.joinall(gs)
    elapsed = time.perf_counter() - t0
    return _result(elapsed, [g.value for g in gs], n)


def run_asyncio(n: int) -> dict:
    import asyncio

    async def spinner(deadline):
        sleep = asyncio.sleep
        i = 0
        while i < n and not deadline.expired(i):
            await sleep(0)
            i += 1
        return i

    async def main():
        deadline = h.Deadline(TIME_BUDGET)
        t0 = time.perf_counter()
        counts = await asyncio.gather(*[spinner(deadline) for _ in range(TASKS)])
        return time.perf_counter() - t0, counts

    elapsed, counts = asyncio.run(main())
    return _result(elapsed, list(counts), n)


def run_greenlet(n: int) -> dict:
    """Floor: bare greenlet switches between two greenlets, no scheduler.

    The main greenlet and one helper switch straight to each other; each
    switch stands for one yield, so TASKS * n switches are timed.
    """
    import greenlet

    main = greenlet.getcurrent()

    def partner():
        back = main.switch
        while True:
            back()

    helper = greenlet.greenlet(partner)
    deadline = h.Deadline(TIME_BUDGET)
    there = helper.switch
    i = 0
    t0 = time.perf_counter()
    while i < n and not deadline.expired(i):
        there()  # one switch there, one back: two "yields"
        i += 1
    elapsed = time.perf_counter() - t0
    return _result(elapsed, [i] * TASKS, n)


VARIANTS = {
    "gpm-p1": _gpm(1),
    "gpm-p2": _gpm(2),
    "gevent": run_gevent,
    "asyncio": run_asyncio,
    "greenlet-raw": run_greenlet,
}


# -- driver -----------------------------------------------------------------


def comparisons(n: int) -> list[h.Comparison]:
    return [h.Comparison(
        title=f"yield loop, {TASKS} tasks x N yields",
        script="bench_yield.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("us_per_yield", "us/yield", "{:.3f}")],
        reference="gevent",
        published={"gevent": "2.4 us", "asyncio": "3.6 us", "gpm-p1": "Go 0.06 us"},
    )]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=200_000,
                         quick_n=50_000, argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
