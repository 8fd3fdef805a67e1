"""Time: after, Timer, after_func, Ticker (re-exported by gpm), on the
runtime's per-P timer heaps (gpm/_runtime/timers.py).

Public names: after Timer after_func Ticker

Go 1.23 semantics:
  * ``Timer.c`` / ``Ticker.c`` hold at most one value (a cap-1 channel the
    timer fills without ever blocking); ``stop``/``reset`` drain it, so once
    they return no stale value can be received.  ``stop``/``reset`` return
    True if the timer was pending: armed, or fired but not yet received
    (Go 1.23 counts a drained value as pending);
  * a Ticker drops ticks a slow reader misses (the heap re-arms at the next
    period boundary after now, and a full channel drops the tick);
  * a duration <= 0 for Timer/after/after_func fires at once; a Ticker
    period <= 0 raises ValueError (Go panics).

Each Timer/Ticker has a lock ``_mu`` guarding ``_gen`` (bumped by every
stop/reset: a callback already popped from the heap for an older arm sees
a different generation and does nothing), ``_armed`` and the RTimer's
``arg``.  Lock order: Timer._mu > channel lock > (leaf) P.timers lock and
the P's note (modtimer may wake the P's M; that is a note wakeup, not a
goroutine wake).  Goroutines are woken only after ``_mu`` is released.
The callbacks run on a scheduler greenlet: they only take these short
locks, do non-blocking channel sends and spawn goroutines.
"""

import contextvars
from typing import Any, Callable

from greenlet import getcurrent

from ._runtime.duration import check_duration
from ._runtime.chan import Chan, send_poll, CLOSED
from ._runtime.locks import new_lock
from ._runtime.clock import nanotime
from ._runtime.timers import RTimer, modtimer, deltimer
from ._runtime import api as _api

__all__ = ["after", "Timer", "after_func", "Ticker"]


def _duration(seconds: object, name: str) -> float:
    return check_duration(seconds, f"gpm.{name}: seconds")


def _pps() -> tuple[Any, Any]:
    """(P to arm a new timer on, the caller's own P or None)."""
    own = getattr(getcurrent(), "pp", None)
    if own is not None:
        return own, own
    return _api.ensure_runtime().allp[0], None


def _arm_runtime_timer(f: Callable[[Any, float], None], arg: Any, when: float, period: float = 0.0) -> Any:
    """A new RTimer calling ``f(arg, now)`` at ``when`` (context deadlines)."""
    t = RTimer(f, arg, period)
    pp, own = _pps()
    modtimer(t, when, period, pp, own)
    return t


def _stop_runtime_timer(t: Any) -> bool:
    return deltimer(t)


def _drain(c: Chan[Any]) -> bool:
    """Drop a pending value from timer channel ``c``.  Requires the Timer's _mu."""
    lock = c._lock
    lock.acquire()
    had = bool(c._buf)
    c._buf.clear()
    lock.release()
    return had


def _deliver(tm: "Timer | Ticker", gen: int, now: float) -> None:
    """Fire ``tm`` for arm ``gen`` unless stopped/reset since (any thread)."""
    mu = tm._mu
    mu.acquire()
    if gen != tm._gen or not tm._armed:
        mu.release()
        return
    fn = tm._fn
    if fn is not None:
        tm._armed = False
        mu.release()
        # A fresh copy per firing: a reset timer may fire again while the
        # goroutine of the last firing still runs in its copy.
        ctx = tm._ctx
        assert ctx is not None
        _api.go(ctx.copy().run, fn)
        return
    if tm._t.period <= 0:
        tm._armed = False
    c = tm.c
    lock = c._lock
    lock.acquire()
    r = send_poll(c, now)         # full (a tick nobody read): dropped
    lock.release()
    mu.release()
    if r is not None and r is not True and r is not CLOSED:
        r.wake()


def _fire(arg: tuple["Timer | Ticker", int], now: float) -> None:
    """RTimer callback (scheduler greenlet): must not block."""
    _deliver(arg[0], arg[1], now)


class Timer:
    """A single event after ``seconds`` (Go's time.Timer).

    ``c`` receives the ``time.monotonic()`` value of the firing (None for an
    ``after_func`` timer).  ``stop()`` and ``reset(seconds)`` return whether
    the timer was pending; after they return no stale value is received.
    """

    __slots__ = ("c", "_mu", "_t", "_gen", "_armed", "_fn", "_ctx", "__weakref__")
    # Typed as a channel for ``t.c.recv()``; it is None only for an
    # after_func timer, which has no channel (Go's nil C).
    c: Chan[float]

    def __init__(self, seconds: float, _fn: Callable[[], object] | None = None) -> None:
        d = _duration(seconds, "Timer")
        self._mu = new_lock("timer")
        self._fn = _fn                 # after_func's function, else None (read-only)
        # after_func's goroutine runs in the caller's context as it was at
        # after_func (as if the caller had spawned it then), not in the
        # context of the scheduler that fires the timer.  Read-only.
        self._ctx = contextvars.copy_context() if _fn is not None else None
        self.c = Chan(1) if _fn is None else None  # type: ignore[assignment]
        self._t = RTimer(_fire, None)  # the runtime timer; arg guarded by _mu
        self._gen = 0                  # guarded by _mu
        self._armed = False            # guarded by _mu
        now = nanotime()
        with self._mu:
            self._arm(now, d)

    def _arm(self, now: float, d: float) -> None:
        """Requires _mu held."""
        self._gen += 1
        self._armed = True
        if d <= 0:
            gen = self._gen
            self._mu.release()
            try:
                _deliver(self, gen, now)
            finally:
                self._mu.acquire()
            return
        t = self._t
        t.arg = (self, self._gen)
        pp, own = (t.pp, getattr(getcurrent(), "pp", None)) if t.pp is not None else _pps()
        modtimer(t, now + d, 0.0, pp, own)

    def stop(self) -> bool:
        """Stop the timer; True if it was pending (armed, or fired and unread)."""
        with self._mu:
            self._gen += 1
            was = self._armed
            self._armed = False
            deltimer(self._t)
            if self.c is not None and _drain(self.c):
                was = True
            return was

    def reset(self, seconds: float) -> bool:
        """Re-arm to fire ``seconds`` from now; True if it was pending."""
        d = _duration(seconds, "Timer.reset")
        now = nanotime()
        with self._mu:
            was = self._armed
            if d <= 0:
                deltimer(self._t)
            if self.c is not None and _drain(self.c):
                was = True
            self._arm(now, d)
            return was

    def __repr__(self) -> str:
        return f"<gpm.Timer armed={self._armed}>"


def after(seconds: float) -> Chan[float]:
    """A channel that receives the ``time.monotonic()`` time after ``seconds``."""
    return Timer(_duration(seconds, "after")).c


def after_func(seconds: float, fn: Callable[[], object]) -> Timer:
    """Run ``fn()`` in a new goroutine after ``seconds``; returns the Timer
    (``stop`` cancels it; its ``c`` is None)."""
    if not callable(fn):
        raise TypeError(f"gpm.after_func: fn must be callable, got {type(fn).__name__}")
    return Timer(_duration(seconds, "after_func"), _fn=fn)


class Ticker:
    """Ticks every ``seconds`` on ``c`` (Go's time.Ticker); drops ticks a slow
    reader misses.  ``stop()``, ``reset(seconds)``.  A period <= 0 raises
    ValueError."""

    __slots__ = ("c", "_mu", "_t", "_gen", "_armed", "_fn", "_ctx", "__weakref__")
    c: Chan[float]

    def __init__(self, seconds: float) -> None:
        d = _duration(seconds, "Ticker")
        if d <= 0:
            raise ValueError("gpm.Ticker: non-positive interval for Ticker")
        self._mu = new_lock("timer")
        self._fn = None
        self._ctx = None
        self.c = Chan(1)
        self._t = RTimer(_fire, None, d)
        self._gen = 0                  # guarded by _mu
        self._armed = False            # guarded by _mu
        with self._mu:
            self._arm(d)

    def _arm(self, d: float) -> None:
        """Requires _mu held."""
        self._gen += 1
        self._armed = True
        t = self._t
        t.arg = (self, self._gen)
        pp, own = (t.pp, getattr(getcurrent(), "pp", None)) if t.pp is not None else _pps()
        modtimer(t, nanotime() + d, d, pp, own)

    def stop(self) -> None:
        """Stop ticking; no tick is received after this returns."""
        with self._mu:
            self._gen += 1
            self._armed = False
            deltimer(self._t)
            _drain(self.c)

    def reset(self, seconds: float) -> None:
        """Stop and restart with period ``seconds`` (must be > 0)."""
        d = _duration(seconds, "Ticker.reset")
        if d <= 0:
            raise ValueError("gpm.Ticker: non-positive interval for Ticker.reset")
        with self._mu:
            _drain(self.c)
            self._arm(d)

    def __repr__(self) -> str:
        return f"<gpm.Ticker period={self._t.period}>"
