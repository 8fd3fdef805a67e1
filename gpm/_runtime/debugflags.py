"""GPM_MAXPROCS and GPM_DEBUG, parsed once when a runtime starts.

GPM_DEBUG is a comma-separated list of key=value pairs, as Go's GODEBUG:

  schedtrace=MS     print a SCHED line to stderr every MS milliseconds
  scheddetail=1     with schedtrace, also a line per P, M and G
  blockwarn=MS      warn when one goroutine holds its P longer than MS (default 100; 0 = off)
  seed=N            every random choice of the runtime comes from seed N (steal victims,
                    select poll order, randomized queue order); unset = a fresh seed per run
  randomize=1       shuffle run-queue order at each schedule (the seed is printed to stderr)
  checks=1          check every G status change (Go's casgstatus); an illegal one is fatal
  lockrank=1        check every runtime lock acquisition against the lock order; fatal if not
  asyncpreemptoff=1 no preemption of goroutines that hold their P past the time slice

Unknown keys and malformed values are reported with a warning (logger "gpm")
and ignored.
"""

import dataclasses
import logging
import os

__all__ = ["DebugFlags", "parse_debug", "default_procs"]

log = logging.getLogger("gpm")

_KEYS = {"schedtrace": 0, "scheddetail": 0, "blockwarn": 100, "seed": None, "randomize": 0,
         "checks": 0, "lockrank": 0, "asyncpreemptoff": 0}


@dataclasses.dataclass(frozen=True)
class DebugFlags:
    schedtrace: int = 0      # ms between SCHED lines; 0 = off
    scheddetail: int = 0     # 1 = per P/M/G lines too
    blockwarn: int = 100     # ms a goroutine may hold its P before a warning; 0 = off
    seed: int | None = None  # seed of the runtime's random choices; None = fresh per run
    randomize: int = 0       # 1 = shuffle run-queue order at each schedule
    checks: int = 0          # 1 = check every G status change (casgstatus)
    lockrank: int = 0        # 1 = check the runtime lock order on every acquisition
    asyncpreemptoff: int = 0 # 1 = no preemption past the time slice


def parse_debug(text: str | None) -> DebugFlags:
    """Parse a GPM_DEBUG string; unknown keys and bad values warn and are ignored."""
    values = dict(_KEYS)
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key not in _KEYS:
            log.warning("GPM_DEBUG: unknown key %r ignored (known: %s)", key, ", ".join(sorted(_KEYS)))
            continue
        try:
            val = int(raw) if sep else 1
            if val < 0:
                raise ValueError
        except ValueError:
            log.warning("GPM_DEBUG: %s=%r is not a non-negative integer; ignored", key, raw)
            continue
        values[key] = val
    return DebugFlags(**values)


def default_procs() -> int:
    """GPM_MAXPROCS if set and valid, else os.cpu_count()."""
    raw = os.environ.get("GPM_MAXPROCS")
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"GPM_MAXPROCS must be a positive integer, got {raw!r}") from None
        if n < 1:
            raise ValueError(f"GPM_MAXPROCS must be >= 1, got {n}")
        return n
    return os.cpu_count() or 1
