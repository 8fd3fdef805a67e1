"""gpm.context: Go's context package.

Public names: background with_cancel with_timeout with_deadline with_value
Canceled DeadlineExceeded Context

A ctx has ``done() -> Chan`` (closed when cancelled; ``nilchan`` for a
context that can never be cancelled, as Go's nil Done), ``err()`` (None or a
Canceled / DeadlineExceeded instance), ``deadline()`` (float on the
``time.monotonic()`` clock, or None) and ``value(key)``.

Cancellation tree: each cancellable ctx keeps its cancellable children in
``_children`` (guarded by its ``_mu``).  ``cancel`` (step by step):
  1. under ``_mu``: if already cancelled, stop; record the error, detach
     the children set;
  2. release ``_mu``, close the done channel (wakes waiters; never with a
     lock held), cancel each detached child the same way;
  3. remove itself from its parent's children (parent's ``_mu``).
Lock order: a ctx's ``_mu`` is taken alone (never nested with another
ctx's, nor with a channel lock), so there is no order to keep.
Deadlines are runtime timers (per-P heaps); their callback only takes these
short locks and closes channels, which never blocks.
"""

from typing import Any, Callable

from ._runtime.duration import check_duration, check_deadline
from ._runtime.chan import Chan, nilchan
from ._runtime.locks import new_lock
from ._runtime.clock import nanotime
from ._time import _arm_runtime_timer, _stop_runtime_timer

__all__ = ["background", "with_cancel", "with_timeout", "with_deadline",
           "with_value", "Canceled", "DeadlineExceeded"]


class Canceled(Exception):
    """The context was cancelled (Go's context.Canceled)."""

    def __init__(self, msg: str = "context canceled") -> None:
        super().__init__(msg)


class DeadlineExceeded(TimeoutError):
    """The context's deadline passed (Go's context.DeadlineExceeded)."""

    def __init__(self, msg: str = "context deadline exceeded") -> None:
        super().__init__(msg)


class Context:
    """Base class: a context that is never cancelled and carries no values."""

    __slots__ = ()

    def done(self) -> Chan[Any]:
        return nilchan

    def err(self) -> Exception | None:
        return None

    def deadline(self) -> float | None:
        return None

    def value(self, key: object) -> Any:
        return None

    def __repr__(self) -> str:
        return "context.Background"


_background = Context()


def background() -> Context:
    """The root context: never cancelled, no deadline, no values."""
    return _background


def _parent_cancel_ctx(parent: Context) -> "_CancelCtx | None":
    """The nearest cancellable ancestor (through value contexts), or None."""
    while True:
        if isinstance(parent, _CancelCtx):
            return parent
        if isinstance(parent, _ValueCtx):
            parent = parent._parent
            continue
        return None


class _CancelCtx(Context):
    __slots__ = ("_parent", "_mu", "_done", "_err", "_children")

    def __init__(self, parent: Context) -> None:
        self._parent = parent          # read-only after __init__
        self._mu = new_lock("context")
        self._done: Chan[Any] = Chan(0)    # closed once by cancel (after _err is set)
        self._err: Exception | None = None     # guarded by _mu; set once
        # cancellable children (guarded by _mu; None once cancelled)
        self._children: set[_CancelCtx] | None = set()

    def done(self) -> Chan[Any]:
        return self._done

    def err(self) -> Exception | None:
        return self._err               # one reference read: atomic

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def value(self, key: object) -> Any:
        return self._parent.value(key)

    def _cancel(self, remove: bool, err: Exception | None) -> None:
        mu = self._mu
        mu.acquire()
        if self._err is not None:
            mu.release()
            return
        self._err = err
        children = self._children
        self._children = None
        mu.release()
        self._done.close()
        for child in children or ():
            child._cancel(False, err)
        self._stop_timer()
        if remove:
            p = _parent_cancel_ctx(self._parent)
            if p is not None:
                with p._mu:
                    if p._children is not None:
                        p._children.discard(self)

    def _stop_timer(self) -> None:
        pass

    def _propagate(self) -> None:
        """Attach to the parent's cancellation (Go's propagateCancel)."""
        parent = self._parent
        if parent.done() is nilchan:
            return
        p = _parent_cancel_ctx(parent)
        if p is not None:
            p._mu.acquire()
            if p._err is not None:
                err = p._err
                p._mu.release()
                self._cancel(False, err)
                return
            children = p._children     # not None: p._err is None (both set together)
            assert children is not None
            children.add(self)
            p._mu.release()
            return
        # A foreign Context implementation: watch it from a goroutine.
        from ._runtime.api import go
        from ._runtime.select import select

        def watch() -> None:
            i, _ = select(parent.done().recv, self._done.recv)
            if i == 0:
                self._cancel(False, parent.err())
        go(watch)

    def __repr__(self) -> str:
        return f"<gpm.context {type(self).__name__} err={self._err!r}>"


class _TimerCtx(_CancelCtx):
    __slots__ = ("_deadline", "_timer")

    def __init__(self, parent: Context, deadline: float) -> None:
        super().__init__(parent)
        self._deadline = deadline      # read-only after __init__
        self._timer: Any = None        # the runtime timer, set once before the ctx is published

    def deadline(self) -> float:
        return self._deadline

    def _stop_timer(self) -> None:
        t = self._timer
        if t is not None:
            _stop_runtime_timer(t)


def _fire_deadline(ctx: _CancelCtx, now: float) -> None:
    """Timer callback (on a scheduler greenlet): must not block."""
    ctx._cancel(True, DeadlineExceeded())


class _ValueCtx(Context):
    __slots__ = ("_parent", "_key", "_val")

    def __init__(self, parent: Context, key: object, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def done(self) -> Chan[Any]:
        return self._parent.done()

    def err(self) -> Exception | None:
        return self._parent.err()

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def value(self, key: object) -> Any:
        ctx: Context = self
        while isinstance(ctx, _ValueCtx):
            if ctx._key == key:
                return ctx._val
            ctx = ctx._parent
        return ctx.value(key)

    def __repr__(self) -> str:
        return f"<gpm.context value {self._key!r}>"


def _check_parent(parent: object, name: str) -> None:
    if not isinstance(parent, Context):
        raise TypeError(f"context.{name}: parent must be a Context, got {type(parent).__name__}")


def with_cancel(parent: Context) -> tuple[Context, Callable[[], None]]:
    """A child of ``parent`` and its ``cancel()``: cancelling it (or the
    parent) closes ``ctx.done()`` and sets ``ctx.err()`` to Canceled."""
    _check_parent(parent, "with_cancel")
    ctx = _CancelCtx(parent)
    ctx._propagate()
    return ctx, lambda: ctx._cancel(True, Canceled())


def with_deadline(parent: Context, deadline: float) -> tuple[Context, Callable[[], None]]:
    """As with_cancel, also cancelled with DeadlineExceeded at ``deadline``
    (a ``time.monotonic()`` value)."""
    _check_parent(parent, "with_deadline")
    d = check_deadline(deadline, "context.with_deadline: deadline")
    cur = parent.deadline()
    if cur is not None and cur <= d:
        return with_cancel(parent)     # the parent's deadline comes first
    ctx = _TimerCtx(parent, d)
    ctx._propagate()
    if d <= nanotime():
        ctx._cancel(True, DeadlineExceeded())
    else:
        with ctx._mu:
            armed = ctx._err is None
        if armed:
            ctx._timer = _arm_runtime_timer(_fire_deadline, ctx, d)
            if ctx._err is not None:   # cancelled meanwhile: drop the timer
                _stop_runtime_timer(ctx._timer)
    return ctx, lambda: ctx._cancel(True, Canceled())


def with_timeout(parent: Context, seconds: float) -> tuple[Context, Callable[[], None]]:
    """with_deadline(parent, time.monotonic() + seconds)."""
    _check_parent(parent, "with_timeout")
    s = check_duration(seconds, "context.with_timeout: seconds")
    return with_deadline(parent, nanotime() + s)


def with_value(parent: Context, key: object, value: Any) -> Context:
    """A child of ``parent`` whose ``value(key)`` is ``value``."""
    _check_parent(parent, "with_value")
    return _ValueCtx(parent, key, value)
