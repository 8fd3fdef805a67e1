"""python -m gpm.stress: how fairly does gpm spread goroutines over its Ps?

Spawns N goroutines doing one kind of work, waits for all of them, and prints
a per-P table (goroutines run, executed, stolen, steals, runq max), Jain's
fairness index over the Ps' shares, and the wait from runnable to running
(max, p99).  A progress bar goes to stderr while it runs.

    python -m gpm.stress --procs 2 -n 5000 --work hash --spawn one
    GPM_DEBUG=schedtrace=200 python -m gpm.stress --procs 2 -n 4000 --work hash
    python -m gpm.stress --work pingpong --spawn all --json

Work kinds: ``hash`` (sha256 of a buffer: releases the GIL, so Ps run in
parallel), ``cpu`` (a pure-Python loop: holds the GIL), ``sleep`` (gpm.sleep:
parks on a timer), ``pingpong`` (pairs of goroutines bouncing a value over two
unbuffered channels).  Spawn patterns: ``one`` (goroutine 1 spawns all),
``all`` (one spawner goroutine per P, each spawning its share), ``bursty``
(bursts of --burst goroutines separated by --gap-ms of sleep).

How it measures, without touching the scheduler's hot path:
  * wait = (first line of the goroutine) - (just before its go() call), both
    ``time.monotonic()``; it includes the go() call itself.
  * the P a goroutine ran on is its M thread's name (gpm-M<i> drives P<i>).
  * executed/stolen/steals/spawned come from ``gpm.stats()`` at the end;
    runq max is the largest local queue length seen by a sampler thread that
    reads ``gpm.stats()`` every --sample-ms (a sampled maximum, not exact).
  * each goroutine writes only its own slot of the result lists (index i),
    and each M only its own progress counter, so no lock is needed and the
    "exactly once" check is exact.

Exit status 0 when every goroutine ran exactly once, 1 otherwise.
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from typing import IO, Any, Callable

import gpm

__all__ = ["run_stress", "format_report", "jain_index", "main"]

_mono = time.monotonic
_tl = threading.local()


def _pid() -> int:
    """The P this goroutine runs on: M thread gpm-M<i> always drives P<i>."""
    pid = getattr(_tl, "pid", None)
    if pid is None:
        name = threading.current_thread().name
        pid = int(name[5:]) if name.startswith("gpm-M") else -1
        _tl.pid = pid
    return pid


def jain_index(xs: Iterable[float]) -> float:
    """Jain's fairness index (sum x)^2 / (n * sum x^2): 1.0 = perfectly even, 1/n = one takes all."""
    xs = list(xs)
    sq = sum(x * x for x in xs)
    if not xs or sq == 0:
        return 1.0
    return sum(xs) ** 2 / (len(xs) * sq)


def _percentile(sorted_xs: Sequence[float], q: float) -> float:
    if not sorted_xs:
        return 0.0
    k = min(len(sorted_xs) - 1, max(0, int(round(q * (len(sorted_xs) - 1)))))
    return sorted_xs[k]


def _make_work(kind: str, opts: argparse.Namespace) -> Callable[[int], None] | None:
    if kind == "hash":
        buf = os.urandom(opts.hash_bytes)
        sha = hashlib.sha256

        def work(i: int) -> None:
            sha(buf).digest()        # >2 KiB: hashlib releases the GIL
    elif kind == "cpu":
        iters = opts.cpu_iters

        def work(i: int) -> None:
            x = 0
            for j in range(iters):
                x += j
    elif kind == "sleep":
        d = opts.sleep_ms / 1000.0

        def work(i: int) -> None:
            gpm.sleep(d)
    elif kind == "pingpong":
        return None                  # built per pair in _spawn_one
    else:
        raise ValueError(f"unknown work kind {kind!r}")
    return work


class _Run:
    """Result slots shared by the goroutines; slot i is written only by goroutine i."""

    def __init__(self, n: int, procs: int) -> None:
        self.n = n
        self.spawn_t = [0.0] * n
        self.start_t = [0.0] * n
        self.runs = [0] * n
        self.where = [-1] * n
        self.done_by = [0] * (procs + 1)   # per-M progress counter (last slot: not on an M)


def run_stress(procs: int = 2, n: int = 5000, work: str = "hash", spawn: str = "one", *,
               hash_bytes: int = 256 * 1024, cpu_iters: int = 2000, sleep_ms: float = 1.0,
               rounds: int = 50, burst: int = 100, gap_ms: float = 5.0, sample_ms: float = 5.0,
               progress: Callable[[int, int, float], None] | None = None) -> dict[str, Any]:
    """Run one stress round and return the result as plain data (what --json prints).

    ``progress`` is None (no bar), or a callable(done, total, elapsed) called
    from the sampler thread every ~100 ms and once at the end.
    """
    if procs < 1:
        raise ValueError(f"procs must be >= 1, got {procs}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if work == "pingpong" and n % 2:
        n += 1                          # pairs
    opts = argparse.Namespace(hash_bytes=hash_bytes, cpu_iters=cpu_iters, sleep_ms=sleep_ms)
    fn = _make_work(work, opts)
    R = _Run(n, procs)
    spawn_t, start_t, runs, where, done_by = R.spawn_t, R.start_t, R.runs, R.where, R.done_by

    def body(i: int) -> None:
        start_t[i] = _mono()
        runs[i] += 1
        p = _pid()
        where[i] = p
        assert fn is not None
        fn(i)
        done_by[p] += 1

    def ping(i: int, a: gpm.Chan[int], b: gpm.Chan[int]) -> None:
        start_t[i] = _mono()
        runs[i] += 1
        p = _pid()
        where[i] = p
        for r in range(rounds):
            a.send(r)
            b.recv()
        done_by[p] += 1

    def pong(i: int, a: gpm.Chan[int], b: gpm.Chan[int]) -> None:
        start_t[i] = _mono()
        runs[i] += 1
        p = _pid()
        where[i] = p
        for r in range(rounds):
            a.recv()
            b.send(r)
        done_by[p] += 1

    go = gpm.go

    def spawn_range(lo: int, hi: int, bursty: bool = False) -> list[gpm.Goroutine[None]]:
        hs: list[gpm.Goroutine[None]] = []
        i = lo
        while i < hi:
            end = min(hi, i + burst) if bursty else hi
            while i < end:
                if work == "pingpong":
                    a: gpm.Chan[int] = gpm.Chan()
                    b: gpm.Chan[int] = gpm.Chan()
                    spawn_t[i] = _mono()
                    hs.append(go(ping, i, a, b))
                    spawn_t[i + 1] = _mono()
                    hs.append(go(pong, i + 1, a, b))
                    i += 2
                else:
                    spawn_t[i] = _mono()
                    hs.append(go(body, i))
                    i += 1
            if bursty and i < hi:
                gpm.sleep(gap_ms / 1000.0)
        return hs

    def main() -> tuple[float, gpm.Stats]:
        t0 = _mono()
        if spawn == "one":
            hs = spawn_range(0, n)
        elif spawn == "bursty":
            hs = spawn_range(0, n, bursty=True)
        elif spawn == "all":
            k = procs
            bounds = [n * j // k for j in range(k + 1)]
            if work == "pingpong":
                bounds = [b - b % 2 for b in bounds]
                bounds[-1] = n
            spawners = [go(spawn_range, bounds[j], bounds[j + 1]) for j in range(k)]
            hs = [h for s in spawners for h in s.join()]
        else:
            raise ValueError(f"unknown spawn pattern {spawn!r}")
        for h in hs:
            h.join()
        elapsed = _mono() - t0
        return elapsed, gpm.stats()

    # Sampler: runq max per P (sampled) and the progress bar.  A plain thread,
    # not named gpm-*: it is the tool's, not the runtime's.
    runq_max = [0] * procs
    glob_max = [0]
    stop = threading.Event()
    t_start = _mono()

    def sampler() -> None:
        period = max(sample_ms, 0.5) / 1000.0
        next_bar = 0.0
        while not stop.wait(period):
            try:
                st = gpm.stats()
            except RuntimeError:            # runtime not started yet / finished
                continue
            for ps in st.ps:
                if ps.id < procs and ps.runq > runq_max[ps.id]:
                    runq_max[ps.id] = ps.runq
            if st.global_runq > glob_max[0]:
                glob_max[0] = st.global_runq
            now = _mono()
            if progress is not None and now >= next_bar:
                next_bar = now + 0.1
                progress(sum(done_by), n, now - t_start)

    th = threading.Thread(target=sampler, name="stress-sampler", daemon=True)
    th.start()
    try:
        elapsed, st = gpm.run(main, procs=procs)
    finally:
        stop.set()
        th.join()
    if progress is not None:
        progress(sum(done_by), n, _mono() - t_start)

    waits = sorted(s - q for s, q in zip(start_t, spawn_t, strict=True) if s)
    tasks = [0] * procs
    for p in where:
        if 0 <= p < procs:
            tasks[p] += 1
    per_p = []
    for ps in st.ps:
        per_p.append({
            "p": ps.id, "goroutines": tasks[ps.id], "share": tasks[ps.id] / n,
            "executed": ps.executed, "stolen": ps.stolen, "steals": ps.steals,
            "spawned": ps.spawned, "runq_max": runq_max[ps.id],
            "longest_hold_ms": ps.longest_hold * 1000.0,
        })
    never = sum(1 for r in runs if r == 0)
    multi = sum(1 for r in runs if r > 1)
    return {
        "config": {"procs": procs, "goroutines": n, "work": work, "spawn": spawn,
                   "hash_bytes": hash_bytes, "cpu_iters": cpu_iters, "sleep_ms": sleep_ms,
                   "rounds": rounds, "burst": burst, "gap_ms": gap_ms, "python": sys.version.split()[0]},
        "elapsed_s": elapsed,
        "goroutines_per_s": n / elapsed if elapsed > 0 else 0.0,
        "goroutines": n,
        "ran_once": sum(1 for r in runs if r == 1),
        "never_ran": never,
        "ran_more_than_once": multi,
        "executed_once": never == 0 and multi == 0,
        "per_p": per_p,
        "jain_index": jain_index(tasks),
        "wait_ms": {
            "max": (waits[-1] if waits else 0.0) * 1000.0,
            "p99": _percentile(waits, 0.99) * 1000.0,
            "p50": _percentile(waits, 0.50) * 1000.0,
            "mean": (sum(waits) / len(waits) if waits else 0.0) * 1000.0,
        },
        "global_runq_max": glob_max[0],
        "context_switches": st.context_switches,
    }


def format_report(res: dict[str, Any]) -> str:
    """The human-readable table of a run_stress result."""
    c = res["config"]
    out = [f"gpm.stress: {res['goroutines']} goroutines, work={c['work']}, spawn={c['spawn']}, "
           f"procs={c['procs']}, python {c['python']}",
           f"elapsed {res['elapsed_s']:.3f}s ({res['goroutines_per_s']:,.0f} goroutines/s), "
           f"context switches {res['context_switches']}", ""]
    hdr = f"{'P':>3} {'goroutines':>10} {'share':>7} {'executed':>9} {'stolen':>7} {'steals':>7} " \
          f"{'spawned':>8} {'runq max':>9} {'max hold':>9}"
    out.append(hdr)
    out.append("-" * len(hdr))
    for p in res["per_p"]:
        out.append(f"{p['p']:>3} {p['goroutines']:>10} {p['share'] * 100:>6.1f}% {p['executed']:>9} "
                   f"{p['stolen']:>7} {p['steals']:>7} {p['spawned']:>8} {p['runq_max']:>9} "
                   f"{p['longest_hold_ms']:>7.1f}ms")
    out.append("")
    w = res["wait_ms"]
    out.append(f"Jain's fairness index: {res['jain_index']:.4f} (1.0 = even, "
               f"{1 / max(1, len(res['per_p'])):.2f} = one P did all)")
    out.append(f"runnable->running wait: max {w['max']:.2f}ms  p99 {w['p99']:.2f}ms  "
               f"p50 {w['p50']:.2f}ms  mean {w['mean']:.2f}ms")
    out.append(f"global runq max (sampled): {res['global_runq_max']}")
    if res["executed_once"]:
        out.append(f"every goroutine ran exactly once ({res['ran_once']}/{res['goroutines']})")
    else:
        out.append(f"ERROR: {res['never_ran']} goroutines never ran, "
                   f"{res['ran_more_than_once']} ran more than once")
    return "\n".join(out)


class _Bar:
    """Progress on stderr: a redrawn bar on a terminal, else (or when schedtrace
    lines share stderr) one line every half second."""

    def __init__(self, stream: IO[str], redraw: bool) -> None:
        self.stream = stream
        self.redraw = redraw
        self.last_line = -1.0
        self.last_done = -1

    def __call__(self, done: int, total: int, elapsed: float) -> None:
        final = done >= total
        if not self.redraw and not final and elapsed - self.last_line < 0.5:
            return
        if not self.redraw and done == self.last_done:
            return
        self.last_line = elapsed
        self.last_done = done
        width = 30
        fill = width * done // total if total else width
        text = f"[{'#' * fill}{'.' * (width - fill)}] {done}/{total} {100 * done // max(1, total):3d}% {elapsed:5.1f}s"
        try:
            if self.redraw:
                self.stream.write("\r" + text + ("\n" if final else ""))
            else:
                self.stream.write("progress " + text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gpm.stress", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=None, help="number of Ps (default: GPM_MAXPROCS or CPUs)")
    ap.add_argument("-n", "--goroutines", type=int, default=5000, help="goroutines to spawn (default 5000)")
    ap.add_argument("--work", choices=["hash", "cpu", "sleep", "pingpong"], default="hash")
    ap.add_argument("--spawn", choices=["one", "all", "bursty"], default="one")
    ap.add_argument("--hash-bytes", type=int, default=256 * 1024, help="bytes hashed per goroutine (hash)")
    ap.add_argument("--cpu-iters", type=int, default=2000, help="loop iterations per goroutine (cpu)")
    ap.add_argument("--sleep-ms", type=float, default=1.0, help="sleep per goroutine (sleep)")
    ap.add_argument("--rounds", type=int, default=50, help="exchanges per pair (pingpong)")
    ap.add_argument("--burst", type=int, default=100, help="goroutines per burst (bursty)")
    ap.add_argument("--gap-ms", type=float, default=5.0, help="sleep between bursts (bursty)")
    ap.add_argument("--sample-ms", type=float, default=5.0, help="runq sampling period")
    ap.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    a = ap.parse_args(argv)
    if a.procs is None:
        from ._runtime.debugflags import default_procs
        a.procs = default_procs()
    if a.procs < 1:
        ap.error("--procs must be >= 1")
    if a.goroutines < 1:
        ap.error("--goroutines must be >= 1")
    if a.work == "pingpong":
        try:
            gpm.Chan()
        except NotImplementedError:
            ap.error("--work pingpong needs gpm.Chan, which this build does not have yet")
    bar = None
    if not a.no_progress:
        tracing = "schedtrace" in os.environ.get("GPM_DEBUG", "")
        redraw = sys.stderr.isatty() and not tracing
        bar = _Bar(sys.stderr, redraw)
    res = run_stress(a.procs, a.goroutines, a.work, a.spawn, hash_bytes=a.hash_bytes,
                     cpu_iters=a.cpu_iters, sleep_ms=a.sleep_ms, rounds=a.rounds, burst=a.burst,
                     gap_ms=a.gap_ms, sample_ms=a.sample_ms, progress=bar)
    if a.json:
        json.dump(res, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(res))
    return 0 if res["executed_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
