"""Shared plumbing for the gpm benchmark suite.

Every bench/bench_*.py file plays two roles:

* **driver** (run with no ``--variant``): for each comparison it runs every
  variant in a *fresh subprocess*, in interleaved rounds (round 1 runs every
  variant once, then round 2, ...; the order is rotated each round so no
  variant always goes first), and prints a table of medians with a ratio
  column against a reference implementation.  Side-by-side runs in the same
  invocation are the only numbers worth comparing on a shared, noisy machine.

* **worker** (run as ``python bench/X.py --variant V --n N``): runs exactly
  one measurement and prints one line ``BENCH_RESULT {json}`` on stdout.

A worker that cannot run its variant (``import gpm`` fails, an API it needs is
missing or raises) reports ``{"unavailable": reason}`` instead; the driver
prints ``gpm: not available: <reason>`` and drops that variant from later
rounds, so the suite keeps working while the runtime is incomplete.

Every worker is killed (with its whole process group) after a timeout, and the
load loops inside the workers are bounded both in count and in time (see
:class:`Deadline`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULT_PREFIX = "BENCH_RESULT "

# Per-worker wall-clock limit (seconds) unless a comparison asks for another.
DEFAULT_TIMEOUT = 120.0


# --------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------


def is_gpm(variant: str) -> bool:
    """Variant names are ``gpm-...`` or ``<group>/gpm-...``."""
    return variant.rsplit("/", 1)[-1].startswith("gpm")


class Unavailable(Exception):
    """Raised by a worker when its variant cannot run on this machine."""


class Deadline:
    """Time budget for a load loop: ``while i < n and not dl.expired(i)``.

    Checking the clock costs more than a channel op in the fast loops, so it
    is only read every ``every`` iterations.
    """

    def __init__(self, seconds: float, every: int = 256):
        self.end = time.perf_counter() + seconds
        self.every = every
        self.hit = False

    def expired(self, i: int = 0) -> bool:
        if i % self.every:
            return False
        if time.perf_counter() >= self.end:
            self.hit = True
        return self.hit


def require_gpm(*names: str):
    """Import gpm and check the dotted API names a variant needs.

    Raises :class:`Unavailable` with a readable reason when anything is
    missing, e.g. ``require_gpm("run", "go", "sync.WaitGroup")``.
    """
    try:
        import gpm  # noqa: F401  (imported for its side effect on sys.modules)
    except Exception as exc:  # ImportError, or a half-written package
        raise Unavailable(f"import gpm failed: {type(exc).__name__}: {exc}") from exc
    import importlib

    for dotted in names:
        obj: Any = gpm
        path = "gpm"
        for part in dotted.split("."):
            path += "." + part
            try:
                obj = getattr(obj, part)
            except AttributeError:
                # Submodules (gpm.sync, gpm.net) may need an explicit import.
                try:
                    obj = importlib.import_module(path)
                except ModuleNotFoundError:
                    raise Unavailable(f"{path} missing") from None
                except Exception as exc:
                    raise Unavailable(f"{path} failed ({type(exc).__name__}: {exc})") from exc
    return gpm


def emit(result: dict) -> None:
    """Print the one machine-readable line the driver looks for."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def worker_main(variants: dict[str, Callable[[int], dict]], argv=None) -> bool:
    """Run one variant if ``--variant`` is on the command line.

    Returns ``False`` when no ``--variant`` was given (so the caller should act
    as the driver).  Variants whose name starts with ``gpm`` turn *any*
    exception into an "unavailable" report: while the runtime is being
    written, a missing or broken API must not break the suite.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--variant")
    parser.add_argument("--n", type=int)
    args, _rest = parser.parse_known_args(argv)
    if args.variant is None:
        return False
    fn = variants.get(args.variant)
    if fn is None:
        emit({"error": f"unknown variant {args.variant!r}"})
        sys.exit(2)
    try:
        result = fn(args.n)
    except Unavailable as exc:
        emit({"unavailable": str(exc)})
    except Exception as exc:
        if not is_gpm(args.variant):
            raise
        traceback.print_exc()
        emit({"unavailable": f"{type(exc).__name__}: {exc}"})
    else:
        emit(result)
    # Skip interpreter teardown: a half-finished runtime (or leftover pool
    # threads) must not be able to hang the worker after it has reported.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# --------------------------------------------------------------------------
# Driver side
# --------------------------------------------------------------------------


def run_worker(script: str, variant: str, n: int, timeout: float = DEFAULT_TIMEOUT,
               extra_args: tuple = (), env: dict | None = None) -> dict:
    """Run ``python script --variant V --n N`` in a fresh process group.

    Returns the parsed result dict; on failure, a dict with ``error`` (crash,
    timeout, no result line) or ``unavailable`` (reported by the worker).
    """
    cmd = [sys.executable, script, "--variant", variant, "--n", str(n), *extra_args]
    full_env = dict(os.environ)
    # Make `import gpm` work from a checkout even without `pip install -e .`.
    full_env["PYTHONPATH"] = REPO_ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.setdefault("PYTHONHASHSEED", "0")
    if env:
        full_env.update(env)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=REPO_ROOT,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Kill the worker and anything it started (e.g. the echo client).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return {"error": f"timed out after {timeout:.0f}s", "stderr": err[-2000:]}
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if "error" in result or "unavailable" in result:
                result.setdefault("stderr", err[-2000:])
            return result
    tail = (err.strip().splitlines() or ["(no stderr)"])[-1]
    return {"error": f"exit code {proc.returncode}, no result: {tail}",
            "stderr": err[-2000:]}


@dataclass
class Column:
    """One reported metric: ``key`` in the worker's JSON, header and format."""
    key: str
    label: str
    fmt: str = "{:.2f}"


@dataclass
class Comparison:
    """A set of variants measured side by side, and how to report them."""
    title: str
    script: str
    variants: list[str]
    n: int
    columns: list[Column]               # columns[0] is the metric the ratio uses
    reference: str | None = None        # variant the ratio column divides by
    lower_is_better: bool = True        # for the note under the table
    published: dict[str, str] = field(default_factory=dict)  # issue's figures
    timeout: float = DEFAULT_TIMEOUT
    extra_args: tuple = ()
    env: dict | None = None
    # Filled in by run():
    results: dict[str, list[dict]] = field(default_factory=dict)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)

    def median(self, variant: str, key: str | None = None) -> float | None:
        key = key or self.columns[0].key
        vals = [r[key] for r in self.results.get(variant, []) if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def run(self, rounds: int, verbose: bool = True) -> "Comparison":
        """Interleaved rounds: each round runs every live variant once."""
        live = list(self.variants)
        for rnd in range(rounds):
            if not live:
                break
            # Rotate the order so no variant always runs first (cold caches,
            # CPU frequency ramps) or right after a particular neighbour.
            shift = rnd % len(live)
            order = live[shift:] + live[:shift]
            if verbose:
                print(f"  round {rnd + 1}/{rounds}: ", end="", flush=True)
            for variant in order:
                res = run_worker(os.path.join(BENCH_DIR, self.script), variant,
                                 self.n, self.timeout, self.extra_args, self.env)
                if "unavailable" in res or "error" in res:
                    if "unavailable" in res:
                        self.failures[variant] = ("not available", res["unavailable"])
                    else:
                        self.failures[variant] = ("FAILED", res["error"])
                    live.remove(variant)
                    if verbose:
                        print("x", end="", flush=True)
                    if "error" in res and os.environ.get("BENCH_VERBOSE"):
                        print("\n" + res.get("stderr", ""), file=sys.stderr)
                    continue
                self.results.setdefault(variant, []).append(res)
                if verbose:
                    print(".", end="", flush=True)
            if verbose:
                print(flush=True)
        return self

    def report(self) -> None:
        """Print the table: medians, spread, ratio vs reference, issue figure."""
        print()
        print(f"== {self.title}  (n={self.n}, medians of "
              f"{max((len(v) for v in self.results.values()), default=0)} runs)")
        for variant in self.variants:
            if variant in self.failures:
                kind, reason = self.failures[variant]
                prefix = "gpm" if is_gpm(variant) else variant
                print(f"  {prefix}: {kind}: {reason}"
                      + (f"  [{variant}]" if prefix != variant else ""))
        rows = [v for v in self.variants if self.results.get(v)]
        if not rows:
            print("  (no results)")
            return
        ref = self.median(self.reference) if self.reference else None
        headers = ["variant"] + [c.label for c in self.columns] + ["spread"]
        if self.reference:
            headers.append(f"ratio vs {self.reference}")
        if self.published:
            headers.append("issue figure")
        table = [headers]
        for v in rows:
            cells = [v]
            for c in self.columns:
                m = self.median(v, c.key)
                cells.append("-" if m is None else c.fmt.format(m))
            vals = [r[self.columns[0].key] for r in self.results[v]]
            med = statistics.median(vals)
            spread = (max(vals) - min(vals)) / med * 100 if med else 0.0
            cells.append(f"±{spread / 2:.0f}%")
            if self.reference:
                cells.append(f"{med / ref:.2f}x" if ref else "-")
            if self.published:
                cells.append(self.published.get(v, ""))
            table.append(cells)
        widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
        for i, row in enumerate(table):
            line = "  " + row[0].ljust(widths[0]) + "  " + "  ".join(
                cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))
            print(line)
            if i == 0:
                print("  " + "-" * (len(line) - 2))
        # Workers may explain themselves with a "note" (e.g. which wait
        # primitive a gpm variant fell back to); print each distinct one.
        for v in rows:
            notes = sorted({r["note"] for r in self.results[v] if r.get("note")})
            for note in notes:
                print(f"  note [{v}]: {note}")
        better = "lower" if self.lower_is_better else "higher"
        print(f"  ({self.columns[0].label}: {better} is better; spread = half the "
              f"min..max range over rounds, relative to the median)")


def run_comparisons(comps, rounds: int) -> None:
    """Run and report each comparison in turn (every bench script's driver)."""
    for comp in comps:
        print(f"-- {comp.title}")
        comp.run(rounds)
        comp.report()


def script_main(variants: dict[str, Callable[[int], dict]], main: Callable[[list[str]], Any]) -> None:
    """A bench script's entry point: be the worker if ``--variant`` is given,
    else the driver ``main(sys.argv[1:])``."""
    if not worker_main(variants):
        main(sys.argv[1:])


def driver_args(description: str, default_n: int, quick_n: int, argv=None):
    """Common driver command line: --quick, --rounds, --n."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per comparison (default 5, --quick 3)")
    parser.add_argument("--n", type=int, default=None, help="override the size")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 5
    if args.n is None:
        args.n = quick_n if args.quick else default_n
    return args


def have_module(name: str) -> str | None:
    """Return None if ``name`` imports, else the reason it does not."""
    try:
        __import__(name)
        return None
    except Exception as exc:
        return f"{name} not installed ({type(exc).__name__})"
