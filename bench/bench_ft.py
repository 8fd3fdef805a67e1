"""Parallel Ps on a free-threaded CPython (issue 10): procs=2 against procs=1, with threads.

Run it with the interpreter to measure (every worker runs on ``sys.executable``):

    .venv-ft/bin/python bench/bench_ft.py --quick    # 3.13t, GIL off (make test-ft builds it)
    .venv/bin/python bench/bench_ft.py --quick       # the GIL build, for the side-by-side column

Comparisons (fresh process per variant, interleaved rounds, medians; bench/_harness.py):
  cpu/*     400 goroutines (threads: a pool of 1 / 2) of pure-Python CPU work (a
            sum-of-squares loop, no call that releases the GIL): ms for all of them.
            Issue target on 3.13t: gpm-p2 >= 1.85x faster than gpm-p1.
  pp/*      unbuffered channel ping-pong between two goroutines (threads: two
            queue.Queue(1)): us per round trip.  Target: gpm-p2 within 1.2x of gpm-p1.
  spawn/*   spawn + WaitGroup.wait of N no-op goroutines: us per goroutine.
            Target: gpm-p2 >= 1.5x faster than gpm-p1.
The echo server's procs=2 vs procs=1 is bench/bench_echo.py, run with the same interpreter.
Each table's header names the interpreter and whether the GIL is on.
"""

from __future__ import annotations

import sys
import sysconfig
import threading
import time

import _harness as h

NJOBS = 400
TIME_BUDGET = 20.0      # seconds per load loop, on top of its count bound


def interpreter() -> str:
    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    kind = ("free-threaded, GIL " + ("on" if gil else "off")) if ft else "GIL build"
    return f"CPython {sys.version.split()[0]} {kind}"


def cpu_job(k: int) -> int:
    s = 0
    for i in range(k):
        s += i * i
    return s


# -- cpu fan-out ------------------------------------------------------------------

def _cpu_gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "sync.WaitGroup")
        expect = cpu_job(n)

        def main():
            out = []
            wg = gpm.sync.WaitGroup()

            def job():
                out.append(cpu_job(n))
            t0 = time.perf_counter()
            for _ in range(NJOBS):
                wg.go(job)
            wg.wait()
            return time.perf_counter() - t0, out
        elapsed, out = gpm.run(main, procs=procs)
        assert len(out) == NJOBS and all(x == expect for x in out)
        return {"ms": elapsed * 1e3, "jobs": NJOBS, "interp": interpreter()}
    return run


def _cpu_threads(workers: int):
    def run(n: int) -> dict:
        from concurrent.futures import ThreadPoolExecutor
        expect = cpu_job(n)
        with ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(cpu_job, [1] * workers))          # start the pool outside the timing
            t0 = time.perf_counter()
            out = list(ex.map(cpu_job, [n] * NJOBS))
            elapsed = time.perf_counter() - t0
        assert all(x == expect for x in out)
        return {"ms": elapsed * 1e3, "jobs": NJOBS, "interp": interpreter()}
    return run


# -- ping-pong ----------------------------------------------------------------------

def _pp_gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "Chan")

        def main():
            ping, pong = gpm.Chan(), gpm.Chan()

            def echo():
                for v in ping:
                    pong.send(v)
            gpm.go(echo)
            r = _round_trips(ping.send, pong.recv, n)
            ping.close()
            return r
        return gpm.run(main, procs=procs)
    return run


def _round_trips(send, recv, n: int) -> dict:
    """Time up to n send/recv round trips (after 100 to warm up)."""
    for i in range(100):
        send(i)
        recv()
    dl = h.Deadline(TIME_BUDGET)
    t0 = time.perf_counter()
    count = 0
    while count < n and not dl.expired(count):
        send(count)
        recv()
        count += 1
    elapsed = time.perf_counter() - t0
    return {"us_per_rt": elapsed / count * 1e6, "round_trips": count,
            "truncated": count < n, "interp": interpreter()}


def run_pp_threads(n: int) -> dict:
    import queue
    ping, pong = queue.Queue(1), queue.Queue(1)

    def echo():
        while (v := ping.get()) is not None:
            pong.put(v)
    t = threading.Thread(target=echo)
    t.start()
    r = _round_trips(ping.put, pong.get, n)
    ping.put(None)
    t.join()
    return r


# -- spawn ----------------------------------------------------------------------------

def _spawn_gpm(procs: int):
    def run(n: int) -> dict:
        gpm = h.require_gpm("run", "go", "sync.WaitGroup")

        def main():
            wg = gpm.sync.WaitGroup()
            wg.add(n)
            done, go = wg.done, gpm.go
            t0 = time.perf_counter()
            for _ in range(n):
                go(done)
            wg.wait()
            return time.perf_counter() - t0
        elapsed = gpm.run(main, procs=procs)
        return {"us_per_task": elapsed / n * 1e6, "n": n, "interp": interpreter()}
    return run


def run_spawn_threads(n: int) -> dict:
    # One OS thread per task would measure thread creation (~50 us); a pool of 2 running
    # n no-op submissions is the closest "spawn + wait" threads offer.
    from concurrent.futures import ThreadPoolExecutor, wait
    with ThreadPoolExecutor(max_workers=2) as ex:
        ex.submit(int).result()
        t0 = time.perf_counter()
        wait([ex.submit(int) for _ in range(n)])
        elapsed = time.perf_counter() - t0
    return {"us_per_task": elapsed / n * 1e6, "n": n, "interp": interpreter()}


VARIANTS = {
    "cpu/gpm-p1": _cpu_gpm(1),
    "cpu/gpm-p2": _cpu_gpm(2),
    "cpu/threads-1": _cpu_threads(1),
    "cpu/threads-2": _cpu_threads(2),
    "pp/gpm-p1": _pp_gpm(1),
    "pp/gpm-p2": _pp_gpm(2),
    "pp/threads": run_pp_threads,
    "spawn/gpm-p1": _spawn_gpm(1),
    "spawn/gpm-p2": _spawn_gpm(2),
    "spawn/threads-pool2": run_spawn_threads,
}


def _names(group: str) -> list[str]:
    return [v for v in VARIANTS if v.startswith(group + "/")]


def comparisons(quick: bool) -> list[h.Comparison]:
    interp = interpreter()
    return [
        h.Comparison(
            title=f"pure-Python CPU fan-out, {NJOBS} jobs [{interp}]", script="bench_ft.py",
            variants=_names("cpu"), n=20_000 if quick else 50_000,
            columns=[h.Column("ms", "ms total", "{:.0f}")], reference="cpu/gpm-p1"),
        h.Comparison(
            title=f"unbuffered ping-pong round trip [{interp}]", script="bench_ft.py",
            variants=_names("pp"), n=20_000 if quick else 100_000,
            columns=[h.Column("us_per_rt", "us/round trip")], reference="pp/gpm-p1"),
        h.Comparison(
            title=f"spawn + wait [{interp}]", script="bench_ft.py",
            variants=_names("spawn"), n=100_000,
            columns=[h.Column("us_per_task", "us/task")], reference="spawn/gpm-p1"),
    ]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=0, quick_n=0, argv=argv)
    print(f"interpreter: {interpreter()}")
    h.run_comparisons(comparisons(args.quick), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
