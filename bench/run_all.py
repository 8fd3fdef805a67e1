"""Run the gpm benchmark suite.

    python bench/run_all.py                  # everything, default sizes, 5 rounds
    python bench/run_all.py --quick          # smaller sizes, 3 rounds
    python bench/run_all.py chan echo        # only these benches
    python bench/run_all.py --rounds 7 spawn

Each bench compares its variants side by side in this run (fresh subprocess
per measurement, interleaved rounds, medians, ratio vs a reference), so only
compare numbers within one table.  gpm variants are skipped with
"gpm: not available: <reason>" while the runtime lacks what they need.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time

import _harness as h

# Name on the command line -> module; run in this order.
BENCHES = {
    "spawn": "bench_spawn",
    "yield": "bench_yield",
    "fanout": "bench_fanout",
    "chan": "bench_chan",
    "echo": "bench_echo",
    "preempt": "bench_preempt",     # CPython 3.12+ (unavailable on 3.11)
    "scale": "bench_scale",     # minutes at full size (1M goroutines); --quick: 100k
    "monkey-sync": "bench_monkey_sync",
    "tls-echo": "bench_tls_echo",
}


def version_of(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "?")
    except Exception:
        return "not installed"


def gpm_status() -> str:
    """One line on how far the runtime is, checked in a subprocess so a
    broken gpm cannot take the driver down."""
    probe = ("import gpm; gpm.run(lambda: None, procs=1); "
             "names = ['Chan', 'select', 'syscall', 'sync', 'net']; "
             "import importlib\n"
             "def has(n):\n"
             "    try:\n"
             "        getattr(gpm, n) if hasattr(gpm, n) else importlib.import_module('gpm.' + n)\n"
             "        return True\n"
             "    except Exception:\n"
             "        return False\n"
             "print('gpm.run works; has ' + ', '.join(n + ('' if has(n) else ' (missing)') for n in names))")
    env = dict(os.environ)
    env["PYTHONPATH"] = h.REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                              text=True, timeout=30, env=env, cwd=h.REPO_ROOT)
    except subprocess.TimeoutExpired:
        return "gpm.run(lambda: None) hung for 30s"
    if proc.returncode == 0:
        return proc.stdout.strip()
    last = (proc.stderr.strip().splitlines() or ["?"])[-1]
    return f"not usable: {last}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benches", nargs="*", metavar="BENCH",
                        help=f"subset to run: {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and 3 rounds")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per comparison (default 5, --quick 3)")
    args = parser.parse_args(argv)

    unknown = [b for b in args.benches if b not in BENCHES]
    if unknown:
        parser.error(f"unknown bench(es) {', '.join(unknown)}; "
                     f"choose from {', '.join(BENCHES)}")
    selected = args.benches or list(BENCHES)

    bench_argv = []
    if args.quick:
        bench_argv.append("--quick")
    if args.rounds is not None:
        bench_argv += ["--rounds", str(args.rounds)]

    print(f"gpm benchmark suite  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"  python {platform.python_version()} ({sys.executable})")
    print(f"  {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        # Parallel benches (fanout, procs=2) need idle cores to mean anything.
        print("  WARNING: the machine is busy; expect wide spreads, and treat "
              "2-worker speed-ups with suspicion")
    print(f"  greenlet {version_of('greenlet')}, gevent {version_of('gevent')}, "
          f"uvloop {version_of('uvloop')}")
    print(f"  gpm: {gpm_status()}")
    print(f"  mode: {'quick' if args.quick else 'full'}; benches: {', '.join(selected)}")

    started = time.perf_counter()
    for name in selected:
        t0 = time.perf_counter()
        print(f"\n##### {name} " + "#" * 60)
        module = importlib.import_module(BENCHES[name])
        module.main(bench_argv)
        print(f"  ({name} took {time.perf_counter() - t0:.0f}s; load average now "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
    print(f"\nall done in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
