"""Before/after guard: gpm's hot-path benchmarks on this tree vs another checkout, same window.

    nice -n -15 python bench/bench_guard.py --before /path/to/old/checkout [--rounds 9] [--only yield,spawn]

Runs the gpm variants that README quotes, each in a fresh process per round
(the bench scripts' own workers), alternately on the old checkout
(``PYTHONPATH=<before>``) and on this tree, the order swapped every round.
The old checkout only needs gpm's public API: the benchmark code is this
tree's.  Reported: process CPU time per op (steadier on a loaded machine:
another process's load does not count, though it still slows this one's
caches) and wall time, medians over rounds, and after/before.

  name           script / variant                   op
  spawn          bench_spawn.py gpm-p1              go(wg.done) + wg.wait(), per goroutine
  yield          bench_yield.py gpm-p1              2 goroutines x N gosched(), per yield
  pingpong       bench_chan.py rt/gpm-p1            unbuffered ping-pong, per round trip
  pingpong-sel   bench_chan.py rt/gpm-p1-select     the same, every op a 2-case select
  pingpong-sel4  bench_chan.py rt/gpm-p1-select4    the same, each receive a select over 4
  recv           bench_chan.py sel/gpm-recv         buffered consumer, plain recv, per item
  select4        bench_chan.py sel/gpm-select4      the same through select over 4 channels
  echo           bench_echo.py gpm-p1               100 clients x N x 64 B: server CPU per request,
                                                    wall = 1 / (requests/s); noisy when loaded
Ratios printed under the table, for before and after: select4/recv (select's
ready-case fast path against a plain receive) and pingpong-sel4/pingpong (a
round trip that parks in a select over 4 against one that parks in recv).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import _harness as h

# name: (script, variant, n, CPU key, wall key); keys in the worker's result dict
BENCHES = {
    "spawn": ("bench_spawn.py", "gpm-p1", 50_000, "cpu_us_per_task", "us_per_task"),
    "yield": ("bench_yield.py", "gpm-p1", 100_000, "cpu_us_per_yield", "us_per_yield"),
    "pingpong": ("bench_chan.py", "rt/gpm-p1", 50_000, "cpu_us_per_rt", "us_per_rt"),
    "pingpong-sel": ("bench_chan.py", "rt/gpm-p1-select", 20_000, "cpu_us_per_rt", "us_per_rt"),
    "pingpong-sel4": ("bench_chan.py", "rt/gpm-p1-select4", 30_000, "cpu_us_per_rt", "us_per_rt"),
    "recv": ("bench_chan.py", "sel/gpm-recv", 200_000, "cpu_us_per_op", "us_per_op"),
    "select4": ("bench_chan.py", "sel/gpm-select4", 200_000, "cpu_us_per_op", "us_per_op"),
    "echo": ("bench_echo.py", "gpm-p1", 500, "server_cpu_us_per_req", None),
}
RATIOS = (("select4", "recv"), ("pingpong-sel4", "pingpong"))


def run_one(name: str, tree: str, scale: float) -> dict:
    """One worker run of benchmark ``name`` with gpm imported from ``tree``:
    {"cpu": us, "wall": us} or the worker's error dict."""
    script, variant, n, cpu_key, wall_key = BENCHES[name]
    env = {"PYTHONPATH": tree}
    timeout = h.DEFAULT_TIMEOUT
    if script == "bench_echo.py":
        import bench_echo
        env[bench_echo.ENV_CLIENT] = json.dumps(bench_echo.build_client()[0])
        timeout = bench_echo.CLIENT_TIMEOUT + 90
    r = h.run_worker(os.path.join(h.BENCH_DIR, script), variant, max(1, int(n * scale)),
                     timeout, env=env)
    if "error" in r or "unavailable" in r:
        return r
    wall = r[wall_key] if wall_key else 1e3 / r["kreq_per_s"]
    return {"cpu": r.get(cpu_key), "wall": wall}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="a checkout of the old code (its gpm is imported)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated names")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    args = ap.parse_args(argv)
    trees = {"before": os.path.abspath(args.before), "after": h.REPO_ROOT}
    names = args.only.split(",")
    res: dict = {(b, t): [] for b in names for t in trees}
    for rnd in range(args.rounds):
        print(f"round {rnd + 1}/{args.rounds} ", end="", flush=True)
        for name in names:
            for t in (("before", "after") if rnd % 2 == 0 else ("after", "before")):
                r = run_one(name, trees[t], args.scale)
                if "error" in r or "unavailable" in r:
                    print(f"\n{name} {t}: {r.get('error') or r.get('unavailable')}", file=sys.stderr)
                    continue
                res[(name, t)].append(r)
            print(".", end="", flush=True)
        print()

    def med(name, t, key, f=statistics.median):
        vals = [r[key] for r in res[(name, t)] if r.get(key) is not None]
        return f(vals) if vals else float("nan")

    print(f"\nmedians (and minima) of {args.rounds} rounds, us per op; after/before (< 1: after "
          "is faster).  On a loaded machine the minimum is the steadier figure.")
    print(f"  {'bench':14} {'CPU before':>10} {'after':>8} {'a/b':>6} {'min a/b':>8}   "
          f"{'wall before':>11} {'after':>8} {'a/b':>6}")
    for name in names:
        cb, ca = med(name, "before", "cpu"), med(name, "after", "cpu")
        mb, ma = med(name, "before", "cpu", min), med(name, "after", "cpu", min)
        wb, wa = med(name, "before", "wall"), med(name, "after", "wall")
        print(f"  {name:14} {cb:10.3f} {ca:8.3f} {ca / cb:6.3f} {ma / mb:8.3f}   "
              f"{wb:11.3f} {wa:8.3f} {wa / wb:6.3f}")
    for a, b in RATIOS:
        if a in names and b in names:
            for t in trees:
                print(f"  {a}/{b} {t}: CPU {med(a, t, 'cpu') / med(b, t, 'cpu'):.2f}x, "
                      f"wall {med(a, t, 'wall') / med(b, t, 'wall'):.2f}x")


if __name__ == "__main__":
    main()
