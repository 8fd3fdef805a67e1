"""Helpers shared by tests (the place tests reach into gpm._runtime)."""

import os
import sys
import threading
import time

import pytest

from gpm._runtime.p import RunQueue, P, TIMERQ_BURST
from gpm._runtime import timers as rtimers
from gpm._runtime.clock import current_sched, getg, nanotime
from gpm._runtime import clock as rclock
from gpm._runtime.sched import Sched
from gpm._runtime.api import stop_background, start_runtime
from gpm._runtime import sched as rsched
from gpm._runtime.g import G, Gstatus, casgstatus, TRANSITIONS
from gpm._runtime.sudog import Sudog, current_waiter, note_plain, wake_all
from gpm._runtime import chan as rchan
from gpm._runtime import select as rselect
from gpm._runtime.timers import RTimer
from gpm._runtime.errors import FatalError
from gpm._runtime import netpoll
from gpm._runtime.netpoll_epoll import Netpoll
from gpm._runtime.locks import Note, FdNote, new_note
from gpm._runtime import preempt
from gpm._runtime import locks as rlocks
from gpm._runtime import sema as rsema

# make mutants (docs/HACKING.md): mutmut sets MUTANT_UNDER_TEST in its processes.
# Property tests then run fewer examples (one mutant's tests must take seconds).
MUTATION = "MUTANT_UNDER_TEST" in os.environ


# Free-threaded builds (make test-ft): property tests of single-threaded structures (run queue,
# timer heap, channel model) gain nothing from the GIL being off, and run there without the
# specializing interpreter and with CPython 3.13t's non-generational GC, whose every collection
# walks the whole heap of the late-suite process: TestRunQueue took 43 s alone and over the
# 240 s per-test timeout in a full run at load 12 (which killed the run).  A third of the
# examples there; the GIL builds run them all.
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


def examples(n):
    """Hypothesis ``max_examples``: ``n`` normally, a sixth of it under mutmut, a third on a
    free-threaded build."""
    if MUTATION:
        return max(10, n // 6)
    if FREE_THREADED:
        return max(10, n // 3)
    return n


__all__ = ["MUTATION", "examples", "RunQueue", "P", "TIMERQ_BURST", "rtimers", "RTimer", "current_sched", "Sched", "getg", "nanotime",
           "stop_background", "start_runtime", "internal_g", "FakeG", "jain", "gpm_threads",
           "rsched", "G", "Gstatus", "casgstatus", "TRANSITIONS", "Sudog", "FatalError", "run_prog",
           "netpoll", "Netpoll", "Note", "FdNote", "new_note", "preempt", "rlocks", "rsema",
           "current_waiter", "note_plain", "wake_all", "rchan", "rselect", "rclock", "nanotime"]


def internal_g(h):
    """The runtime's G behind a public Goroutine handle (status, waitreason, sched, ...)."""
    return h._g


class FakeG:
    """A stand-in G for data-structure tests: free iff ``pp is None``."""
    __slots__ = ("n", "pp")

    def __init__(self, n, pinned):
        self.n = n
        self.pp = object() if pinned else None

    def __repr__(self):
        return f"G{self.n}{'p' if self.pp is not None else 'f'}"


def jain(xs):
    """Jain's fairness index: 1.0 when all equal, 1/n when one takes all."""
    xs = list(xs)
    s = sum(xs)
    if s == 0:
        return 1.0
    return s * s / (len(xs) * sum(x * x for x in xs))


def gpm_threads():
    return [t for t in threading.enumerate() if t.name.startswith("gpm-")]


def run_prog(src, debug=None, timeout=60, **env):
    """Run Python source ``src`` in a fresh interpreter; returns CompletedProcess (text).

    ``debug`` is appended to the inherited GPM_DEBUG (the suite's checks stay on).
    """
    import os
    import subprocess
    import sys
    e = dict(os.environ, **env)
    if debug is not None:
        e["GPM_DEBUG"] = ",".join(x for x in (e.get("GPM_DEBUG", ""), debug) if x)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", src], env=e, capture_output=True, text=True,
                          timeout=timeout, cwd=root)


# The package-wide duration validator (gpm/_runtime/duration.py).
from gpm._runtime.duration import check_duration, check_timeout, check_deadline  # noqa: E402

__all__ += ["check_duration", "check_timeout", "check_deadline"]

# Default procs (Go 1.25's container-aware GOMAXPROCS).
from gpm._runtime.debugflags import default_procs, cgroup_cpu_limit, available_cpus  # noqa: E402

__all__ += ["default_procs", "cgroup_cpu_limit", "available_cpus"]

# gpm.sleep on a plain thread (far durations in chunks).
from gpm._runtime.api import plain_sleep  # noqa: E402

__all__ += ["plain_sleep"]


# -- gpm.net tests -------------------------------------------------------------

def nfds():
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def fd_table():
    """{fd: what it points at} for this process (a failed fd-count check prints the difference)."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:                  # closed meanwhile (listdir's own fd among them)
            pass
    return out


@pytest.fixture
def fdcheck():
    """No fd leaks: the count of open fds is the same after the test."""
    before = nfds()
    yield
    assert nfds() == before, "file descriptors leaked"


def wait_until(cond, limit=5.0, what="the condition", interval=0.001):
    """Return once ``cond()`` is true; fail as a deadlock after ``limit`` seconds.

    The one polling helper of the suite (STYLE.md 5: it waits on the condition
    itself, with a deadline, instead of sleeping for a guessed time).  In a
    goroutine it parks between polls (``gpm.sleep(interval)``; ``interval=0``:
    ``gpm.gosched()``), so what it waits for can run; on a plain thread it
    sleeps ``interval`` (at least 0.5 ms).
    """
    import gpm
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"deadlock: {what} not reached within {limit} s")
        if gpm.current() is None:
            time.sleep(max(interval, 0.0005))
        elif interval > 0:
            gpm.sleep(interval)
        else:
            gpm.gosched()


def wait_blocked(q, n=1, timeout=5.0):
    """Wait (yielding) until channel queue ``q`` (``ch._recvq``/``ch._sendq``)
    holds at least ``n`` waiters (pygolang's waitBlocked)."""
    wait_until(lambda: len(q) >= n, timeout, f"{n} waiter(s) blocked", interval=0)


def wait_parked(h, reason, limit=10.0):
    """Wait until goroutine ``h`` is parked with wait reason ``reason``."""
    g = internal_g(h)
    wait_until(lambda: g.waitreason == reason, limit, f"goroutine parked on {reason!r}")


def wait_io(h, limit=5.0):
    """Wait until goroutine ``h`` is parked on the netpoller."""
    g = internal_g(h)
    wait_until(lambda: g.waitreason == "IO wait" and g.status == 4, limit,
               "goroutine parked in IO wait")


__all__ += ["nfds", "fdcheck", "wait_until", "wait_blocked", "wait_parked", "wait_io"]

# Goroutine dumps: the snapshot path (free-threaded builds; tests force it on GIL builds too).
from gpm._runtime import trace as trace_mod  # noqa: E402
_TRACE_SNAPSHOT = trace_mod.SNAPSHOT


def trace_snapshot_default():
    return _TRACE_SNAPSHOT


__all__ += ["trace_mod", "trace_snapshot_default"]

# sysmon, the api module and GPM_DEBUG parsing (sysmon, timer, trace tests).
from gpm._runtime import sysmon as rsysmon  # noqa: E402
from gpm._runtime.sysmon import Sysmon, sysmon_tick  # noqa: E402
from gpm._runtime import api as rapi  # noqa: E402
from gpm._runtime.debugflags import parse_debug  # noqa: E402

__all__ += ["rsysmon", "Sysmon", "sysmon_tick", "rapi", "parse_debug"]

# GC pacing during gpm.run (tests/runtime/test_gcpace.py).
from gpm._runtime import gcpace  # noqa: E402

__all__ += ["gcpace"]


# -- protocol tests on an unstarted Sched (test_sched_protocol, test_timers) ---

def parked_g(s, goid, pp):
    """A real G of Sched ``s``, pinned to ``pp`` and parked (WAITING)."""
    from gpm._runtime.g import G
    gp = G(s, goid, None, (), {})
    gp.pp = pp
    gp.status = Gstatus.WAITING
    return gp


def on_m(pp, fn, *args):
    """Run ``fn(*args)`` as if on ``pp``'s own M (a g0-like greenlet carrying ``pp``)."""
    import greenlet

    class _G0(greenlet.greenlet):
        pass
    g0 = _G0(run=lambda: fn(*args))
    g0.pp = pp
    return g0.switch()


__all__ += ["parked_g", "on_m"]
