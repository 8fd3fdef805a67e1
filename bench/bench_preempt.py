"""Preemption: wake latency on a hogged P, hog throughput, cost without a hog.

Needs CPython 3.12+ (sys.monitoring); on 3.11 the gpm variants report
"unavailable".  Every comparison runs preemption on against
GPM_DEBUG=asyncpreemptoff=1 in the same run:

* wake latency: procs=1, a goroutine that never yields (pure-Python loop of
  bounded length, ~1.5 s) shares the P with a goroutine sleeping 5 ms again
  and again; metric: how late each wake is (p50, p99, max).  Off, the first
  wake waits for the hog to finish.
* hog throughput: the same loop alone (nobody else waits for the P): Miter/s.
* no hog: the yield loop (2 goroutines gosched), an unbuffered ping-pong and
  spawn + wait, as bench_yield / bench_chan / bench_spawn measure them; with
  no hog no monitoring event is ever enabled, so only sysmon's per-round
  check differs.  With GPM_BENCH_BEFORE=<checkout of the code before this
  feature> a third variant runs that code in the same run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import _harness as h

HOG_ITERS = 6_000_000        # ~1.5 s of `x += i` on this machine
SLEEP = 0.005


def _gpm_env(off: bool, before: bool = False):
    if sys.version_info < (3, 12):
        raise h.Unavailable("preemption needs CPython 3.12+ (sys.monitoring)")
    if before:
        tree = os.environ.get("GPM_BENCH_BEFORE")
        if not tree:
            raise h.Unavailable("set GPM_BENCH_BEFORE to a checkout of the code before preemption")
        sys.path.insert(0, tree)
    if off:
        os.environ["GPM_DEBUG"] = "asyncpreemptoff=1,blockwarn=0"
    else:
        os.environ["GPM_DEBUG"] = "blockwarn=0"
    return h.require_gpm("run", "go", "sleep", "gosched", "stats")


def _spin(n):
    x = 0
    i = 0
    while i < n:
        x += i
        i += 1
    return x


def _latency(off: bool):
    def run(n: int) -> dict:
        gpm = _gpm_env(off)

        def main():
            hog = gpm.go(_spin, n)                 # runs as soon as main sleeps
            lates = []
            deadline = h.Deadline(60.0)
            while not deadline.expired():
                t0 = time.perf_counter()
                gpm.sleep(SLEEP)
                lates.append((time.perf_counter() - t0 - SLEEP) * 1000.0)
                if hog.done():                     # off: the first wake comes after the hog
                    break
            hog.join()
            return lates, gpm.stats().ps[0].preempted

        lates, preempted = gpm.run(main, procs=1)
        lates.sort()
        p99 = lates[min(len(lates) - 1, int(len(lates) * 0.99))]
        return {"p50_ms": statistics.median(lates), "p99_ms": p99, "max_ms": lates[-1],
                "wakes": len(lates), "preempted": preempted}
    return run


def _throughput(off: bool):
    def run(n: int) -> dict:
        gpm = _gpm_env(off)

        def main():
            t0 = time.perf_counter()
            gpm.go(_spin, n).join()
            return time.perf_counter() - t0, gpm.stats().ps[0].preempted

        elapsed, preempted = gpm.run(main, procs=1)
        return {"miter_s": n / elapsed / 1e6, "preempted": preempted}
    return run


def _nohog(off: bool, before: bool = False):
    def run(n: int) -> dict:
        gpm = _gpm_env(off, before)
        if before:
            assert gpm.__file__.startswith(os.environ["GPM_BENCH_BEFORE"]), gpm.__file__
        Chan = h.require_gpm("Chan").Chan

        def spinner(k):
            for _ in range(k):
                gpm.gosched()

        def pong(a, b):
            for v in a:
                b.send(v)

        def noop():
            pass

        def main():
            t0 = time.perf_counter()
            gs = [gpm.go(spinner, n) for _ in range(2)]
            for g in gs:
                g.join()
            t1 = time.perf_counter()
            a, b = Chan(), Chan()
            gpm.go(pong, a, b)
            for i in range(n):
                a.send(i)
                b.recv()
            a.close()
            t2 = time.perf_counter()
            gs = [gpm.go(noop) for _ in range(n)]
            for g in gs:
                g.join()
            t3 = time.perf_counter()
            return t1 - t0, t2 - t1, t3 - t2

        y, pp, sp = gpm.run(main, procs=1)
        return {"yield_us": y / (2 * n) * 1e6, "pingpong_us": pp / n * 1e6, "spawn_us": sp / n * 1e6}
    return run


VARIANTS = {
    "latency/gpm-preempt-on": _latency(False),
    "latency/gpm-preempt-off": _latency(True),
    "throughput/gpm-preempt-on": _throughput(False),
    "throughput/gpm-preempt-off": _throughput(True),
    "nohog/gpm-preempt-on": _nohog(False),
    "nohog/gpm-preempt-off": _nohog(True),
    "nohog/gpm-before": _nohog(False, before=True),
}


def comparisons(n: int, n_nohog: int) -> list[h.Comparison]:
    return [
        h.Comparison(
            title="wake latency of a goroutine sleeping 5 ms on a hogged P (procs=1), ms",
            script="bench_preempt.py",
            variants=["latency/gpm-preempt-on", "latency/gpm-preempt-off"], n=n,
            columns=[h.Column("p50_ms", "p50 ms", "{:.1f}"), h.Column("p99_ms", "p99 ms", "{:.1f}"),
                     h.Column("max_ms", "max ms", "{:.1f}"), h.Column("wakes", "wakes", "{:.0f}"),
                     h.Column("preempted", "preempted", "{:.0f}")],
            reference="latency/gpm-preempt-off"),
        h.Comparison(
            title="hog throughput, nobody else waiting (procs=1), M iterations/s",
            script="bench_preempt.py",
            variants=["throughput/gpm-preempt-on", "throughput/gpm-preempt-off"], n=n,
            columns=[h.Column("miter_s", "Miter/s", "{:.2f}"), h.Column("preempted", "preempted", "{:.0f}")],
            reference="throughput/gpm-preempt-off", lower_is_better=False),
        h.Comparison(
            title="no hog: yield, ping-pong, spawn+join (procs=1), us/op",
            script="bench_preempt.py",
            variants=["nohog/gpm-preempt-on", "nohog/gpm-preempt-off", "nohog/gpm-before"],
            n=n_nohog,
            columns=[h.Column("yield_us", "yield us", "{:.2f}"),
                     h.Column("pingpong_us", "ping-pong us", "{:.2f}"),
                     h.Column("spawn_us", "spawn us", "{:.2f}")],
            reference="nohog/gpm-preempt-off"),
    ]


def main(argv=None):
    args = h.driver_args(__doc__.splitlines()[0], default_n=HOG_ITERS,
                         quick_n=HOG_ITERS // 3, argv=argv)
    n_nohog = 20_000 if args.n < HOG_ITERS else 50_000
    h.run_comparisons(comparisons(args.n, n_nohog), args.rounds)


if __name__ == "__main__":
    h.script_main(VARIANTS, main)
