"""The runtime surface behind ``gpm``: run, go, gosched, sleep, current, ...

Public modules (gpm/__init__.py, sync, context, net, _time) call only these
functions and the Sudog/sema/timer primitives.
"""

import functools
import os
import sys
import time
from typing import Any, Callable, ParamSpec, TypeVar

from greenlet import getcurrent

from . import clock as _clock
from . import gcpace as _gcpace
from . import sched as _s
from .debugflags import default_procs
from .locks import new_lock
from .duration import check_duration
from .g import G, WaitReason, WorkerGreenlet
from .timers import RTimer, modtimer

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["duration", "run", "go", "gosched", "sleep", "current", "gomaxprocs", "num_goroutine", "ensure_runtime"]

_bg_lock = new_lock("bg")
_getframe = sys._getframe
_os_sleep = time.sleep            # the original, bound before gpm.monkey can patch time


def _after_fork_child():
    global _bg_lock
    _bg_lock = new_lock("bg")


os.register_at_fork(after_in_child=_after_fork_child)


def _check_procs(procs):
    if procs is None:
        return default_procs()
    if isinstance(procs, bool) or not isinstance(procs, int):
        raise TypeError(f"gpm.run: procs must be an int, got {type(procs).__name__}")
    if procs < 1:
        raise ValueError(f"gpm.run: procs must be >= 1, got {procs}")
    return procs


def _created_at(depth):
    f = sys._getframe(depth)
    return (f.f_code.co_filename, f.f_lineno, f.f_code.co_qualname)


def run(main: Callable[..., T], *args: Any, procs: int | None = None, **kwargs: Any) -> T:
    """Run ``main(*args, **kwargs)`` as goroutine 1 on ``procs`` Ps; return its result."""
    if type(getcurrent()) is WorkerGreenlet:
        raise RuntimeError("gpm.run called from inside a goroutine")
    if not callable(main):
        raise TypeError(f"gpm.run: main must be callable, got {type(main).__name__}")
    procs = _check_procs(procs)
    sched = _s.start_runtime(procs)
    interrupted = None
    try:
        _gcpace.enter(sched)            # full GCs paced by live goroutines (gcpace.py)
        gp = sched.newproc(main, args, kwargs, _created_at(2))
        gp.is_main = True
        sched.start()
        done = sched.done
        while not done.acquire(True, 0.05):
            if sched.main_calls:        # racy hint; run_main_calls takes the lock
                sched.run_main_calls()
    except BaseException as e:          # KeyboardInterrupt and friends: stop promptly, re-raise
        interrupted = e
    finally:
        again = _shutdown(sched)
        _gcpace.exit(sched)             # the user's gc thresholds are back
        try:
            sched.run_main_calls()      # callers are discarded goroutines; run them anyway
            sched.run_exit_hooks()
        except BaseException as e:      # noqa: BLE001 - a hook's failure is the run's failure
            if again is None:
                again = e
    if interrupted is None:
        interrupted = again
    if interrupted is not None:
        raise interrupted
    if sched.panic_exc is not None:
        raise sched.panic_exc
    return sched.main_result


def _shutdown(sched):
    """Stop ``sched``, join its threads, discard what is left and release it.

    Returns a KeyboardInterrupt (or other BaseException) that arrived meanwhile,
    or None.  A second Ctrl-C while the threads are joined stops the waiting
    (the threads are daemons and exit on their own) but never skips the
    release, so the next gpm.run works (issue 8, bug 5).
    """
    caught = None
    release = functools.partial(_s.release_runtime, sched)
    for step in (sched.stop, sched.join_threads, sched.discard_all, release):
        # Each step is idempotent: retried if an interrupt cut it short, except
        # the join, which a second Ctrl-C means to cut short.
        for _ in range(1 if step is sched.join_threads else 3):
            try:
                step()
                break
            except BaseException as e:  # noqa: BLE001 - re-raised by run once released
                if caught is None:
                    caught = e
    return caught


def ensure_runtime() -> Any:
    """The runtime for a plain thread: gpm.run's if one is in progress, else the
    background one, started on first use."""
    sched = _clock.plain_sched()
    if sched is not None:
        return sched
    with _bg_lock:
        sched = _clock.plain_sched()
        if sched is None:
            sched = _s.start_runtime(default_procs(), background=True)
            sched.start()
    return sched


def go(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> G[T]:
    """Spawn a goroutine running fn(*args, **kwargs); return its Goroutine handle."""
    if not callable(fn):
        raise TypeError(f"gpm.go: fn must be callable, got {type(fn).__name__}")
    pp = getattr(getcurrent(), "pp", None)          # set on Ms' greenlets only
    sched = pp.sched if pp is not None else (_clock.plain_sched() or ensure_runtime())
    f = _getframe(1)
    code = f.f_code
    return sched.newproc(fn, args, kwargs or None, (code.co_filename, f.f_lineno, code.co_qualname))


gosched: Callable[[], None] = _s.gosched


def _sleep_fire(gp, now):
    _s.goready(gp)


class _SleepTimer:
    """A goroutine's reusable sleep timer (``G.sleep_timer``), armed by gopark.

    gopark calls ``release()`` once the G is WAITING (Go's ``resetForSleep``,
    the unlockf of timeSleep's gopark): any M may fire any P's timers
    (steal_timers), so a timer armed while the G still ran could be fired by
    another M before the park, and goready would find the G RUNNING (a fatal
    casgstatus error under checks=1).  Fields are the owner G's only: set by
    ``sleep`` and read in ``release`` on the G's own M, before the timer is
    armed.
    """

    __slots__ = ("t", "when", "pp")

    def __init__(self, gp):
        self.t = RTimer(_sleep_fire, gp)
        self.when = 0.0
        self.pp = None

    def release(self):
        pp = self.pp
        modtimer(self.t, self.when, 0.0, pp, pp)


def duration(what: str, seconds: object) -> float:
    """Validate a duration in seconds (int or float, not NaN) and return it as float.

    Kept for callers of the old name; the rules live in duration.check_duration.
    """
    return check_duration(seconds, f"{what}: seconds")


# time.sleep refuses long waits (OverflowError past time_t, EINVAL near
# TIMEOUT_MAX): a plain thread sleeps a far duration in chunks of this.
OS_SLEEP_CHUNK = 1e6                # seconds (~11.6 days), as netpoll's MAX_BLOCK


def plain_sleep(d, sleep=None, clock=None, chunk=OS_SLEEP_CHUNK):
    """Block the calling OS thread for at least ``d`` seconds (``inf``: forever).

    Any thread.  ``sleep``/``clock`` default to the original time.sleep and
    the runtime clock (tests inject fakes).
    """
    sleep = _os_sleep if sleep is None else sleep
    if d <= chunk:
        sleep(max(d, 0.0))
        return
    clock = _clock.nanotime if clock is None else clock
    end = clock() + d                 # inf stays inf: never returns
    while True:
        left = end - clock()
        if left <= 0:
            return
        sleep(min(left, chunk))


def sleep(seconds: float) -> None:
    """Park the goroutine for at least ``seconds`` (a timer, not an OS sleep)."""
    d = check_duration(seconds, "gpm.sleep: seconds")
    gr = getcurrent()
    gp = getattr(gr, "gp", None)
    if gp is None:
        plain_sleep(d)                # a plain thread blocks (API.md: plain threads block)
        return
    if d <= 0:
        _s.gosched()
        return
    st = gp.sleep_timer
    if st is None:
        st = gp.sleep_timer = _SleepTimer(gp)
    st.pp = gr.pp  # type: ignore[attr-defined]   # a goroutine's greenlet is a WorkerGreenlet
    st.when = _clock.nanotime() + d
    _s.gopark(st, WaitReason.SLEEP)   # arms the timer once the G is WAITING (see _SleepTimer)


def current() -> G[Any] | None:
    """The running Goroutine, or None on a plain thread."""
    return getattr(getcurrent(), "gp", None)


def _sched_or_error(name):
    sched = _clock.current_sched()
    if sched is None:
        raise RuntimeError(f"gpm.{name}: no runtime is running")
    return sched


def gomaxprocs() -> int:
    """Number of Ps of the running runtime."""
    return _sched_or_error("gomaxprocs").procs


def num_goroutine() -> int:
    """Goroutines that exist (not finished)."""
    sched = _clock.current_sched()
    if sched is None:
        return 0
    return len(sched.allgs)
