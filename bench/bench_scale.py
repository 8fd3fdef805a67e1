"""Scale: mass wake-ups, many sleepers, a million parked goroutines (issue 8).

Three comparisons, each variant in a fresh subprocess, interleaved rounds,
medians (bench/_harness.py):

1. **Mass wake-up**, procs=1: N goroutines park, then one call wakes them
   all: ``Chan.close``, ``Cond.broadcast``, a ``WaitGroup`` reaching zero;
   against waking them one by one with N sends, and gevent's / asyncio's
   ``Event.set``.  Metric: microseconds per woken goroutine, from the wake
   call until every woken goroutine has run.  Measured at N=10,000 and at
   N=1,000,000 (``--quick``: 100,000); the summary prints the large/small
   ratio per variant (target: within 2x, i.e. O(1) per wake) and each wake
   against the sends (target: within 2x).
2. **Sleepers**, procs=1: N=200,000 goroutines each sleep a random duration
   up to 1 s; lateness = wake time - (start + duration).  Metric: max
   lateness (ms), with p50 and p99 (target: max <= 50 ms).  Lateness is
   measured from each goroutine's own start: its deadline is the time it
   called ``sleep`` plus its duration.  ``gpm-sleepers`` runs with gpm's GC
   pacing (gpm/_runtime/gcpace.py: no full collection over the parked
   goroutines' objects while they live, and a young collection every 8 ms
   while 5,000 or more goroutines live, so none walks more than 8 ms of
   allocations); ``-nopace`` with CPython's own
   thresholds (``GPM_DEBUG=gcpaceoff=1``: full collections walk every parked
   goroutine and stop every goroutine meanwhile); ``-nogc`` with the cyclic
   GC disabled for the run, the floor (what is left is the scheduler and the
   machine).  Columns ``full GCs`` and ``GC max ms`` attribute the tail:
   full collections during the run and the longest collection (wall).
3. **A million parked goroutines** (the N=1,000,000 close run of 1): total
   seconds from ``gpm.run`` to its return: spawn, park, release by close,
   exit (target: under 60 s on a 2-core machine); ``gpm-close-nopace`` is the
   same without GC pacing.  Run it as ``nice -n -15`` on a shared machine.
   On a loaded machine compare ``cpu_s`` (process CPU) and the GC columns,
   not wall times; the quiet-machine figures come from

       nice -n -15 python bench/bench_scale.py --variant gpm-close --n 1000000
       nice -n -15 python bench/bench_scale.py --variant gpm-sleepers --n 200000   # x5, median of max_ms

    python bench/bench_scale.py            # full sizes (the 1M runs take minutes, 1 round)
    python bench/bench_scale.py --quick    # 100k instead of 1M, 50k sleepers
    python bench/run_all.py scale
"""

from __future__ import annotations

import random
import resource
import time

import _harness as h

SMALL = 10_000
LARGE = 1_000_000
QUICK_LARGE = 100_000
SLEEPERS = 200_000
QUICK_SLEEPERS = 50_000
MAX_SLEEP = 1.0
TIME_BUDGET = 600.0     # seconds for the spawn loop of a worker
BIG_TIMEOUT = 900.0     # per worker at 1M


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _GCWatch:
    """Full collections and the time spent in collections (wall), from gc.callbacks."""

    def __init__(self):
        import gc
        self.gc = gc
        self.full = 0
        self.total = 0.0
        self.longest = 0.0
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase, info):
        if phase == "start":
            self._t = time.perf_counter()
            return
        d = time.perf_counter() - self._t
        self.total += d
        self.longest = max(self.longest, d)
        if info.get("generation") == 2:
            self.full += 1

    def result(self) -> dict:
        self.gc.callbacks.remove(self._cb)
        return {"full_gcs": self.full, "gc_s": self.total, "gc_max_ms": self.longest * 1e3}


def _gpm_env(nopace: bool) -> None:
    if nopace:
        import os
        os.environ["GPM_DEBUG"] = ",".join(
            x for x in (os.environ.get("GPM_DEBUG", ""), "gcpaceoff=1") if x)


def _bounded_wait(wait, what):
    """Call ``wait()``; the harness kills a worker that outlives its timeout."""
    wait()


# -- 1 and 3: mass wake-up ---------------------------------------------------


def _gpm_wake(how: str, nopace: bool = False):
    def run(n: int) -> dict:
        _gpm_env(nopace)
        gpm = h.require_gpm("run", "go", "Chan", "sync")
        import gpm.sync as gsync

        def main():
            parked = gsync.WaitGroup()
            woke = gsync.WaitGroup()
            parked.add(n)
            woke.add(n)
            c = gpm.Chan()
            mu = gsync.Mutex()
            cond = gsync.Cond(mu)
            gate = gsync.WaitGroup()
            gate.add(1)

            if how in ("close", "sends"):
                def waiter():
                    parked.done()
                    c.recv()
                    woke.done()
            elif how == "broadcast":
                def waiter():
                    mu.lock()
                    parked.done()
                    cond.wait()
                    mu.unlock()
                    woke.done()
            else:
                def waiter():
                    parked.done()
                    gate.wait()
                    woke.done()

            go = gpm.go
            t0 = time.perf_counter()
            dl = h.Deadline(TIME_BUDGET)
            i = 0
            while i < n:
                if dl.expired(i):
                    raise RuntimeError("spawn budget exceeded")
                go(waiter)
                i += 1
            t1 = time.perf_counter()
            _bounded_wait(parked.wait, "parking")
            if how == "broadcast":
                mu.lock()             # every waiter is inside cond.wait now
                mu.unlock()
            t2 = time.perf_counter()
            if how == "close":
                c.close()
            elif how == "broadcast":
                mu.lock()
                cond.broadcast()
                mu.unlock()
            elif how == "waitgroup":
                gate.done()
            else:
                send = c.send
                for v in range(n):
                    send(v)
            _bounded_wait(woke.wait, "waking")
            t3 = time.perf_counter()
            return t1 - t0, t2 - t1, t3 - t2

        w = _GCWatch()
        t = time.perf_counter()
        spawn, park, wake = gpm.run(main, procs=1)
        total = time.perf_counter() - t
        return {"us_per_wake": wake / n * 1e6, "spawn_s": spawn, "park_s": park,
                "wake_s": wake, "total_s": total, "cpu_s": _cpu_s(), "rss_mb": _rss_mb(),
                **w.result()}
    return run


def run_gevent_event(n: int) -> dict:
    import gevent
    import gevent.event

    ev = gevent.event.Event()
    woke = [0]

    def waiter():
        ev.wait()
        woke[0] += 1

    t = time.perf_counter()
    gs = [gevent.spawn(waiter) for _ in range(n)]
    t1 = time.perf_counter()
    gevent.sleep(0)                 # every greenlet runs up to ev.wait()
    t2 = time.perf_counter()
    ev.set()
    gevent.joinall(gs)
    t3 = time.perf_counter()
    assert woke[0] == n
    return {"us_per_wake": (t3 - t2) / n * 1e6, "spawn_s": t1 - t, "park_s": t2 - t1,
            "wake_s": t3 - t2, "total_s": t3 - t, "cpu_s": _cpu_s(), "rss_mb": _rss_mb()}


def run_asyncio_event(n: int) -> dict:
    import asyncio

    async def main():
        ev = asyncio.Event()
        woke = [0]

        async def waiter():
            await ev.wait()
            woke[0] += 1

        t = time.perf_counter()
        ts = [asyncio.ensure_future(waiter()) for _ in range(n)]
        t1 = time.perf_counter()
        await asyncio.sleep(0)      # every task runs up to ev.wait()
        t2 = time.perf_counter()
        ev.set()
        await asyncio.gather(*ts)
        t3 = time.perf_counter()
        assert woke[0] == n
        return t, t1, t2, t3

    t0 = time.perf_counter()
    t, t1, t2, t3 = asyncio.run(main())
    return {"us_per_wake": (t3 - t2) / n * 1e6, "spawn_s": t1 - t, "park_s": t2 - t1,
            "wake_s": t3 - t2, "total_s": time.perf_counter() - t0, "cpu_s": _cpu_s(),
            "rss_mb": _rss_mb()}


# -- 2: sleepers ---------------------------------------------------------------


def _lateness(late: list[float]) -> dict:
    late.sort()
    n = len(late)

    def q(p):
        return late[min(n - 1, int(p * n))] * 1e3

    return {"max_ms": late[-1] * 1e3, "p50_ms": q(0.50), "p99_ms": q(0.99), "rss_mb": _rss_mb()}


def _gpm_sleepers(mode: str):
    def run(n: int) -> dict:
        _gpm_env(mode == "nopace")
        gpm = h.require_gpm("run", "go", "sleep", "sync")
        import gc
        import gpm.sync as gsync

        def main():
            wg = gsync.WaitGroup()
            wg.add(n)
            late = [0.0] * n
            rng = random.Random(1)
            mono = time.monotonic
            sleep = gpm.sleep

            def sleeper(i, d):
                due = mono() + d
                sleep(d)
                late[i] = mono() - due
                wg.done()

            for i in range(n):
                gpm.go(sleeper, i, rng.random() * MAX_SLEEP)
            _bounded_wait(wg.wait, "sleepers")
            return late

        if mode == "nogc":
            gc.disable()
        w = _GCWatch()
        try:
            late = gpm.run(main, procs=1)
        finally:
            gc.enable()
        return {**_lateness(late), **w.result()}
    return run


def run_gevent_sleepers(n: int) -> dict:
    import gevent

    late = [0.0] * n
    rng = random.Random(1)
    mono = time.monotonic

    def sleeper(i, d):
        due = mono() + d
        gevent.sleep(d)
        late[i] = mono() - due

    gs = [gevent.spawn(sleeper, i, rng.random() * MAX_SLEEP) for i in range(n)]
    gevent.joinall(gs)
    return _lateness(late)


def run_asyncio_sleepers(n: int) -> dict:
    import asyncio

    late = [0.0] * n
    rng = random.Random(1)
    mono = time.monotonic

    async def sleeper(i, d):
        due = mono() + d
        await asyncio.sleep(d)
        late[i] = mono() - due

    async def main():
        await asyncio.gather(*[sleeper(i, rng.random() * MAX_SLEEP) for i in range(n)])

    asyncio.run(main())
    return _lateness(late)


VARIANTS = {
    "gpm-close": _gpm_wake("close"),
    "gpm-broadcast": _gpm_wake("broadcast"),
    "gpm-waitgroup": _gpm_wake("waitgroup"),
    "gpm-sends": _gpm_wake("sends"),
    "gpm-close-nopace": _gpm_wake("close", nopace=True),
    "gevent-event": run_gevent_event,
    "asyncio-event": run_asyncio_event,
    "gpm-sleepers": _gpm_sleepers("pace"),
    "gpm-sleepers-nopace": _gpm_sleepers("nopace"),
    "gpm-sleepers-nogc": _gpm_sleepers("nogc"),
    "gevent-sleepers": run_gevent_sleepers,
    "asyncio-sleepers": run_asyncio_sleepers,
}

WAKE = ["gpm-close", "gpm-close-nopace", "gpm-broadcast", "gpm-waitgroup", "gpm-sends",
        "gevent-event", "asyncio-event"]
SLEEP = ["gpm-sleepers", "gpm-sleepers-nopace", "gpm-sleepers-nogc", "gevent-sleepers",
         "asyncio-sleepers"]


# -- driver -----------------------------------------------------------------


def _wake_comparison(n: int, timeout: float) -> h.Comparison:
    return h.Comparison(
        title=f"mass wake-up of N parked goroutines, procs=1 (N={n:,})",
        script="bench_scale.py",
        variants=WAKE,
        n=n,
        columns=[h.Column("us_per_wake", "us/woken", "{:.2f}"),
                 h.Column("spawn_s", "spawn s", "{:.2f}"),
                 h.Column("park_s", "park s", "{:.2f}"),
                 h.Column("wake_s", "wake s", "{:.2f}"),
                 h.Column("total_s", "total s", "{:.1f}"),
                 h.Column("cpu_s", "CPU s", "{:.1f}"),
                 h.Column("rss_mb", "RSS MiB", "{:.0f}"),
                 h.Column("full_gcs", "full GCs", "{:.0f}"),
                 h.Column("gc_s", "GC s", "{:.1f}")],
        reference="gpm-sends",
        timeout=timeout,
    )


def comparisons(large: int, sleepers: int) -> list[h.Comparison]:
    return [
        _wake_comparison(SMALL, h.DEFAULT_TIMEOUT),
        _wake_comparison(large, BIG_TIMEOUT),
        h.Comparison(
            title=f"{sleepers:,} sleepers of up to {MAX_SLEEP:g} s, procs=1: lateness",
            script="bench_scale.py",
            variants=SLEEP,
            n=sleepers,
            columns=[h.Column("max_ms", "max ms", "{:.0f}"),
                     h.Column("p50_ms", "p50 ms", "{:.1f}"),
                     h.Column("p99_ms", "p99 ms", "{:.0f}"),
                     h.Column("rss_mb", "RSS MiB", "{:.0f}"),
                     h.Column("full_gcs", "full GCs", "{:.0f}"),
                     h.Column("gc_max_ms", "GC max ms", "{:.0f}")],
            reference="gevent-sleepers",
            timeout=BIG_TIMEOUT,
        ),
    ]


def _summary(small: h.Comparison, big: h.Comparison) -> None:
    print(f"\n== per-wake cost, N={big.n:,} over N={small.n:,} (target <= 2x), "
          f"and each wake against one-by-one sends at N={big.n:,} (target <= 2x)")
    sends = big.median("gpm-sends")
    for v in WAKE:
        a, b = small.median(v), big.median(v)
        if a is None or b is None:
            print(f"  {v}: no result")
            continue
        vs = f"{b / sends:.2f}x sends" if sends else "-"
        print(f"  {v:14s} {a:7.2f} -> {b:7.2f} us/woken: {b / a:.2f}x;  {vs}")
    for v in ("gpm-close", "gpm-close-nopace"):
        c = big.median(v, "total_s")
        if c is not None:
            cpu = big.median(v, "cpu_s")
            print(f"  {big.n:,} parked goroutines, spawn + park + close + exit ({v}): {c:.1f} s "
                  f"wall, {cpu:.1f} s CPU, {big.median(v, 'gc_s'):.1f} s in GC (target < 60 s)")


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=LARGE,
                         quick_n=QUICK_LARGE, argv=argv)
    sleepers = QUICK_SLEEPERS if args.quick else SLEEPERS
    comps = comparisons(args.n, sleepers)
    for i, comp in enumerate(comps):
        # The 1M runs take minutes each: one round unless asked for more.
        rounds = args.rounds if (i != 1 or args.quick or args.n < LARGE) else min(args.rounds, 1)
        print(f"-- {comp.title}")
        comp.run(rounds)
        comp.report()
    _summary(comps[0], comps[1])


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
