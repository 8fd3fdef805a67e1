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
  gcpaceoff=1       keep CPython's own GC thresholds during gpm.run (no pacing: gcpace.py)

Unknown keys and malformed values are reported with a warning (logger "gpm")
and ignored.
"""

import dataclasses
import logging
import os
from typing import Any

__all__ = ["DebugFlags", "parse_debug", "default_procs", "available_cpus", "cgroup_cpu_limit"]

log = logging.getLogger("gpm")

_KEYS = {"schedtrace": 0, "scheddetail": 0, "blockwarn": 100, "seed": None, "randomize": 0,
         "checks": 0, "lockrank": 0, "asyncpreemptoff": 0, "gcpaceoff": 0}


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
    gcpaceoff: int = 0       # 1 = CPython's GC thresholds unchanged during gpm.run


def parse_debug(text: str | None) -> DebugFlags:
    """Parse a GPM_DEBUG string; unknown keys and bad values warn and are ignored."""
    values: dict[str, Any] = dict(_KEYS)
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


CGROUP_ROOT = "/sys/fs/cgroup"          # the cgroup v2 mount
CGROUP_MIN_PROCS = 1                    # floor of a quota-derived count (see default_procs)


def _cgroup_cpu_max_path() -> str:
    """This process's cgroup v2 ``cpu.max``: the leaf cgroup named in
    /proc/self/cgroup (``0::/path``), as Go reads it; the mount's own file
    when that is absent (inside a container the leaf is usually ``/``)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, _, rest = line.rstrip("\n").partition(":")
                ctrls, _, rel = rest.partition(":")
                if hid == "0" and ctrls == "" and rel.startswith("/"):
                    leaf = os.path.join(CGROUP_ROOT, rel.lstrip("/"), "cpu.max")
                    if os.path.exists(leaf):
                        return leaf
    except OSError:
        pass
    return os.path.join(CGROUP_ROOT, "cpu.max")


def cgroup_cpu_limit(path: str | None = None) -> int | None:
    """The CPU count allowed by a cgroup v2 ``cpu.max`` file, or None.

    The file reads ``"<quota> <period>"`` (microseconds) or ``"max <period>"``
    (no limit).  The count is quota/period rounded up, at least
    CGROUP_MIN_PROCS.  None when the file is missing, unreadable, says
    ``max`` or does not parse (no limit known).  ``path`` defaults to this
    process's cgroup (tests pass a fake file).
    """
    if path is None:
        path = _cgroup_cpu_max_path()
    try:
        with open(path) as f:
            fields = f.read().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(CGROUP_MIN_PROCS, -(-quota // period))


def available_cpus() -> int:
    """CPUs this process may run on: os.process_cpu_count() (3.13+), else the
    affinity mask (os.sched_getaffinity), else os.cpu_count(); at least 1."""
    pcc = getattr(os, "process_cpu_count", None)
    if pcc is not None:
        n = pcc()
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            n = os.cpu_count()
    return n or 1


def default_procs(cpu_max: str | None = None) -> int:
    """The default number of Ps (Go 1.25's default GOMAXPROCS).

    GPM_MAXPROCS if set (it wins; an invalid value raises ValueError), else
    the CPUs this process may use (``available_cpus``) capped by the cgroup
    v2 CPU quota (``cgroup_cpu_limit(cpu_max)``).  Go rounds the quota up
    the same way; its floor is 2 where ours (CGROUP_MIN_PROCS) is 1.
    """
    raw = os.environ.get("GPM_MAXPROCS")
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"GPM_MAXPROCS must be a positive integer, got {raw!r}") from None
        if n < 1:
            raise ValueError(f"GPM_MAXPROCS must be >= 1, got {n}")
        return n
    n = available_cpus()
    limit = cgroup_cpu_limit(cpu_max)
    if limit is not None and limit < n:
        n = limit
    return n
