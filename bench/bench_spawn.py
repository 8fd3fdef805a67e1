"""Spawn N no-op goroutines/greenlets/tasks and wait for all of them.

Metric: microseconds per task (spawn + run + completion wait), measured inside
the already-running scheduler/loop so runtime start-up is not counted.

Variants: gpm procs=1, gpm procs=2, gevent (spawn + joinall), asyncio
(create_task + gather).  Reference figures from the issue: gevent 34.6 us/task,
asyncio 11.5, Go 1.7.
"""

from __future__ import annotations

import time

import _harness as h


def noop():
    pass


# -- workers ----------------------------------------------------------------


def _gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go")
        try:
            WaitGroup = h.require_gpm("sync.WaitGroup").sync.WaitGroup
        except h.Unavailable:
            WaitGroup = None  # fall back to joining every handle

        def main():
            c0, t0 = time.process_time(), time.perf_counter()
            if WaitGroup is not None:
                wg = WaitGroup()
                wg.add(n)
                done = wg.done
                go = gpm.go
                for _ in range(n):
                    go(done)
                wg.wait()
                how = "WaitGroup"
            else:
                go = gpm.go
                handles = [go(noop) for _ in range(n)]
                for g in handles:
                    g.join()
                how = "join"
            return time.perf_counter() - t0, how, time.process_time() - c0

        t0 = time.perf_counter()
        elapsed, how, cpu = gpm.run(main, procs=procs)
        total = time.perf_counter() - t0
        return {"us_per_task": elapsed / n * 1e6, "cpu_us_per_task": cpu / n * 1e6, "n": n, "wait": how,
                "run_total_s": total,
                "note": None if how == "WaitGroup" else
                "gpm.sync.WaitGroup missing: waited with Goroutine.join()"}
    return run


def run_gevent(n: int) -> dict:
    import gevent

    def main():
        t0 = time.perf_counter()
        spawn = gevent.spawn
        gevent.joinall([spawn(noop) for _ in range(n)])
        return time.perf_counter() - t0

    elapsed = gevent.spawn(main).get()
    return {"us_per_task": elapsed / n * 1e6, "n": n}


def run_asyncio(n: int) -> dict:
    import asyncio

    async def anoop():
        pass

    async def main():
        t0 = time.perf_counter()
        create = asyncio.create_task
        await asyncio.gather(*[create(anoop()) for _ in range(n)])
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    return {"us_per_task": elapsed / n * 1e6, "n": n}


VARIANTS = {
    "gpm-p1": _gpm(1),
    "gpm-p2": _gpm(2),
    "gevent": run_gevent,
    "asyncio": run_asyncio,
}


# -- driver -----------------------------------------------------------------


def comparisons(n: int) -> list[h.Comparison]:
    return [h.Comparison(
        title="spawn + wait for N no-op tasks",
        script="bench_spawn.py",
        variants=list(VARIANTS),
        n=n,
        columns=[h.Column("us_per_task", "us/task")],
        reference="gevent",
        published={"gevent": "34.6 us", "asyncio": "11.5 us", "gpm-p1": "Go 1.7 us"},
    )]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=100_000,
                         quick_n=20_000, argv=argv)
    h.run_comparisons(comparisons(args.n), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
