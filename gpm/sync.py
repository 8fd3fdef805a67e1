"""gpm.sync: Go's sync package (and errgroup, weighted semaphore) for goroutines
and plain threads alike.

Public names: Mutex RWMutex WaitGroup Once Cond Semaphore Group

Everything is built on gpm._runtime.sema (WaitQ, Sema, NotifyList): each
object has one internal lock ``_mu`` (a leaf: nothing is acquired under it)
guarding all its fields; waiters park through the Sudog protocol, and are
woken only after ``_mu`` is released.  A goroutine parks (its P runs
others); a plain thread blocks.

Fairness rules kept from Go:
  * Mutex: normal mode lets a running locker barge ahead of woken waiters
    (fast); a waiter that has waited more than 1 ms switches the mutex into
    starvation mode, where unlock hands ownership straight to the oldest
    waiter and newcomers queue behind.  Starvation mode ends when the waiter
    served waited less than 1 ms or was the last one (sync/mutex.go).
  * RWMutex: a waiting writer blocks new readers (writers are not starved);
    a writer's unlock admits every reader that queued meanwhile before the
    next writer (readers are not starved either).
  * Semaphore: FIFO; a large request at the head blocks smaller ones behind
    it, so it cannot starve.
"""

from typing import TYPE_CHECKING, Callable, ParamSpec, Protocol, TypeVar

from ._runtime.sema import new_lock, nanotime, WaitQ, NotifyList, WaitReason, wake_all
from ._runtime.api import go as _go
from ._runtime.preempt import register_callouts

if TYPE_CHECKING:
    from . import context as _context
    from ._runtime.api import Goroutine as G

_P = ParamSpec("_P")
_T = TypeVar("_T")

__all__ = ["Mutex", "RWMutex", "WaitGroup", "Once", "Cond", "Semaphore", "Group"]

STARVATION_THRESHOLD = 1e-3     # Go's starvationThresholdNs: 1 ms


class Locker(Protocol):
    """What Cond needs (Go's sync.Locker): ``lock()`` and ``unlock()``."""

    def lock(self) -> None: ...

    def unlock(self) -> None: ...


class Mutex:
    """A mutual exclusion lock (Go's sync.Mutex); also a context manager.

    Not owned by a goroutine: any goroutine or thread may unlock it (as Go).
    ``unlock`` of an unlocked Mutex raises RuntimeError.
    """

    __slots__ = ("_mu", "_locked", "_starving", "_waiters")

    def __init__(self) -> None:
        self._mu = new_lock("sync")
        self._locked = False       # held by someone (guarded by _mu)
        self._starving = False     # starvation mode: unlock hands off (guarded by _mu)
        self._waiters = WaitQ()    # Sudogs; elem = time the waiter first queued (guarded by _mu)

    def lock(self) -> None:
        mu = self._mu
        mu.acquire()
        if not self._locked and not self._starving:
            self._locked = True
            mu.release()
            return
        self._lock_slow()

    def _lock_slow(self) -> None:
        """Requires _mu held; returns owning the mutex, _mu released."""
        mu = self._mu
        start = nanotime()
        lifo = False
        while True:
            sg = self._waiters.park(mu, WaitReason.MUTEX_LOCK, start, lifo)
            if sg.ok is None:
                return                  # ownership handed over (starvation mode)
            # Woken in normal mode: compete with newcomers.
            mu.acquire()
            if not self._locked and not self._starving:
                self._locked = True
                mu.release()
                return
            if nanotime() - start > STARVATION_THRESHOLD:
                self._starving = True
            lifo = True                 # beaten: go back to the front (Go)

    def try_lock(self) -> bool:
        mu = self._mu
        mu.acquire()
        if not self._locked and not self._starving:
            self._locked = True
            mu.release()
            return True
        mu.release()
        return False

    def unlock(self) -> None:
        mu = self._mu
        mu.acquire()
        if not self._locked:
            mu.release()
            raise RuntimeError("sync: unlock of unlocked mutex")
        waiters = self._waiters
        if not waiters:
            self._locked = False
            self._starving = False
            mu.release()
            return
        sg = waiters.dequeue()
        if self._starving:
            # Hand off: _locked stays True, the waiter now owns it.
            sg.ok = None
            if not waiters or nanotime() - sg.elem < STARVATION_THRESHOLD:
                self._starving = False
        else:
            self._locked = False
        mu.release()
        sg.wake()

    def __enter__(self) -> "Mutex":
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def __repr__(self) -> str:
        return f"<gpm.sync.Mutex locked={self._locked}>"


class RWMutex:
    """A reader/writer lock (Go's sync.RWMutex); writers are not starved.

    ``rlock``/``runlock`` for readers, ``lock``/``unlock`` for the writer,
    ``try_lock``, ``try_rlock``; the context manager takes the write lock.
    """

    __slots__ = ("_mu", "_readers", "_writer", "_rwait", "_wwait")

    def __init__(self) -> None:
        self._mu = new_lock("sync")
        self._readers = 0         # active readers (guarded by _mu)
        self._writer = False      # a writer holds it (guarded by _mu)
        self._rwait = WaitQ()     # parked readers (guarded by _mu)
        self._wwait = WaitQ()     # parked writers (guarded by _mu)

    def rlock(self) -> None:
        mu = self._mu
        mu.acquire()
        if not self._writer and not self._wwait:
            self._readers += 1
            mu.release()
            return
        self._rwait.park(mu, WaitReason.RWMUTEX_RLOCK)   # admitted by the waker

    def try_rlock(self) -> bool:
        with self._mu:
            if not self._writer and not self._wwait:
                self._readers += 1
                return True
            return False

    def runlock(self) -> None:
        mu = self._mu
        mu.acquire()
        if self._readers <= 0:
            mu.release()
            raise RuntimeError("sync: runlock of unlocked RWMutex")
        self._readers -= 1
        sg = None
        if self._readers == 0 and self._wwait:
            sg = self._wwait.dequeue()
            self._writer = True
        mu.release()
        if sg is not None:
            sg.wake()

    def lock(self) -> None:
        mu = self._mu
        mu.acquire()
        if not self._writer and self._readers == 0 and not self._wwait:
            self._writer = True
            mu.release()
            return
        self._wwait.park(mu, WaitReason.RWMUTEX_LOCK)    # ownership handed over

    def try_lock(self) -> bool:
        with self._mu:
            if not self._writer and self._readers == 0 and not self._wwait:
                self._writer = True
                return True
            return False

    def unlock(self) -> None:
        mu = self._mu
        mu.acquire()
        if not self._writer:
            mu.release()
            raise RuntimeError("sync: unlock of unlocked RWMutex")
        self._writer = False
        if self._rwait:
            wake = self._rwait.drain()
            self._readers += len(wake)
        elif self._wwait:
            wake = [self._wwait.dequeue()]
            self._writer = True
        else:
            wake = ()
        mu.release()
        for sg in wake:
            sg.wake()

    def __enter__(self) -> "RWMutex":
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()


class WaitGroup:
    """Wait for a collection of goroutines (Go's sync.WaitGroup).

    ``add(n)``, ``done()``, ``wait()``, and ``go(fn, *args, **kwargs)`` which
    adds one, runs ``fn`` in a goroutine and calls ``done`` when it returns
    or raises.  A negative counter raises ValueError.
    """

    __slots__ = ("_mu", "_n", "_waiters")

    def __init__(self) -> None:
        self._mu = new_lock("sync")
        self._n = 0               # counter (guarded by _mu)
        self._waiters = WaitQ()   # parked wait() callers (guarded by _mu)

    def add(self, n: int = 1) -> None:
        # Validate before taking _mu: nothing may raise while it is held.
        # The counter is an int as in Go (bool is not a count).
        if type(n) is not int and (isinstance(n, bool) or not isinstance(n, int)):
            raise TypeError(f"WaitGroup.add: n must be an int, got {type(n).__name__}")
        mu = self._mu
        mu.acquire()
        c = self._n + n
        if c < 0:
            mu.release()
            raise ValueError("sync: negative WaitGroup counter")
        self._n = c
        wake = self._waiters.drain() if c == 0 else ()
        mu.release()
        if wake:
            wake_all(wake)

    def done(self) -> None:
        self.add(-1)

    def wait(self) -> None:
        mu = self._mu
        mu.acquire()
        if self._n == 0:
            mu.release()
            return
        self._waiters.park(mu, WaitReason.WAITGROUP_WAIT)

    def go(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> "G[_T]":
        """Run ``fn(*args, **kwargs)`` in a new goroutine tracked by this group."""
        if not callable(fn):
            raise TypeError(f"WaitGroup.go: fn must be callable, got {type(fn).__name__}")
        self.add(1)

        def run() -> _T:
            try:
                return fn(*args, **kwargs)
            finally:
                self.done()
        try:
            return _go(run)
        except BaseException:
            self.done()
            raise

    def __repr__(self) -> str:
        return f"<gpm.sync.WaitGroup count={self._n}>"


class Once:
    """Run a function once (Go's sync.Once).  A raising fn still counts as done;
    concurrent callers wait until the first call has finished."""

    __slots__ = ("_done", "_m")

    def __init__(self) -> None:
        self._done = False        # written under _m, read racily as a fast-path hint
        self._m = Mutex()

    def do(self, fn: Callable[[], object]) -> None:
        if not callable(fn):           # before anything: a bad fn must not use up the Once
            raise TypeError(f"Once.do: fn must be callable, got {type(fn).__name__}")
        # Unlocked read: _done only goes False -> True, and is set after fn
        # finished under _m; a stale False just takes the lock and rechecks.
        if self._done:
            return
        m = self._m
        m.lock()
        try:
            if not self._done:
                try:
                    fn()
                finally:
                    self._done = True
        finally:
            m.unlock()


class Cond:
    """A condition variable on ``locker`` (anything with lock/unlock, e.g. Mutex).

    ``wait()`` unlocks ``locker``, parks until signalled, and locks it again;
    ``signal()`` wakes one waiter, ``broadcast()`` all of them.
    """

    __slots__ = ("L", "_notify")

    def __init__(self, locker: Locker) -> None:
        if not (hasattr(locker, "lock") and hasattr(locker, "unlock")):
            raise TypeError("Cond: locker must have lock() and unlock()")
        self.L = locker
        self._notify = NotifyList()

    def wait(self) -> None:
        # Check first: a ticket taken by a caller that then fails to unlock
        # would be notified in place of a real waiter (a lost signal).
        if not _held(self.L):
            raise RuntimeError("sync: Cond.wait without holding its locker")
        t = self._notify.add()
        try:
            self.L.unlock()
        except BaseException:
            # A locker we cannot inspect (or one unlocked behind our back
            # since the check): give the ticket back before failing.
            self._notify.withdraw(t)
            raise
        try:
            self._notify.wait(t, WaitReason.COND_WAIT)
        finally:
            self.L.lock()

    def signal(self) -> None:
        self._notify.notify_one()

    def broadcast(self) -> None:
        self._notify.notify_all()


def _held(locker: Locker) -> bool:
    """Whether ``locker`` looks locked (by anyone: a gpm Mutex has no owner).

    Unlocked reads of one field: a goroutine that holds the lock sees its
    own True; a stale answer only for a caller that races another unlock,
    which the unlock itself then reports (Cond.wait withdraws its ticket).
    Other lockers cannot be asked: assumed held (their unlock decides).
    """
    if isinstance(locker, Mutex):
        return locker._locked
    if isinstance(locker, RWMutex):
        return locker._writer
    return True


class Semaphore:
    """A weighted semaphore of ``n`` units (golang.org/x/sync/semaphore).

    ``acquire(k=1)`` blocks until ``k`` units are free; waiters are served in
    FIFO order and a large request is never overtaken by smaller ones.
    ``release(k=1)``, ``try_acquire(k=1)``; the context manager takes one unit.
    """

    __slots__ = ("_mu", "_size", "_cur", "_waiters")

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"Semaphore: n must be an int, got {type(n).__name__}")
        if n < 0:
            raise ValueError(f"Semaphore: n must be >= 0, got {n}")
        self._mu = new_lock("sync")
        self._size = n
        self._cur = 0             # units held (guarded by _mu)
        self._waiters = WaitQ()   # Sudogs with their weight in elem (guarded by _mu)

    def _check(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"Semaphore: k must be an int, got {type(k).__name__}")
        if k < 0:
            raise ValueError(f"Semaphore: k must be >= 0, got {k}")

    def acquire(self, k: int = 1) -> bool:
        self._check(k)
        if k > self._size:
            raise ValueError(f"Semaphore: acquire({k}) exceeds the size {self._size}")
        mu = self._mu
        mu.acquire()
        if self._size - self._cur >= k and not self._waiters:
            self._cur += k
            mu.release()
            return True
        self._waiters.park(mu, WaitReason.SEMACQUIRE, k)   # units granted by the waker
        return True

    def try_acquire(self, k: int = 1) -> bool:
        self._check(k)
        with self._mu:
            if self._size - self._cur >= k and not self._waiters:
                self._cur += k
                return True
            return False

    def release(self, k: int = 1) -> None:
        self._check(k)
        mu = self._mu
        mu.acquire()
        if k > self._cur:
            mu.release()
            raise ValueError("Semaphore: released more than held")
        self._cur -= k
        wake = []
        q = self._waiters
        while q:
            sg = q.first()
            if self._size - self._cur < sg.elem:
                break             # FIFO: the head waits for its full weight
            self._cur += sg.elem
            q.dequeue()
            wake.append(sg)
        mu.release()
        for sg in wake:
            sg.wake()

    def __enter__(self) -> "Semaphore":
        self.acquire(1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release(1)


class Group:
    """errgroup: run goroutines, ``wait()`` for all, re-raise the first exception.

    ``Group(ctx=None, limit=None)``: with ``ctx``, ``group.ctx`` is a derived
    context cancelled on the first failure (and when ``wait`` returns);
    without, ``group.ctx`` is None.  ``limit`` caps the goroutines running at
    once: ``go`` blocks until one finishes.
    """

    __slots__ = ("ctx", "_cancel", "_wg", "_sem", "_mu", "_err")

    def __init__(self, ctx: "_context.Context | None" = None, limit: int | None = None) -> None:
        # Validate limit before deriving a ctx: a child attached to ``ctx``
        # and then dropped would stay in its parent's children until it ends.
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"Group: limit must be a positive int or None, got {limit!r}")
        self.ctx: _context.Context | None = None
        self._cancel: Callable[[], None] | None = None
        if ctx is not None:
            from .context import with_cancel
            self.ctx, self._cancel = with_cancel(ctx)
        self._wg = WaitGroup()
        self._sem = Semaphore(limit) if limit is not None else None
        self._mu = new_lock("sync")
        self._err: Exception | None = None    # first exception (guarded by _mu)

    def go(self, fn: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        if not callable(fn):
            raise TypeError(f"Group.go: fn must be callable, got {type(fn).__name__}")
        sem = self._sem
        if sem is not None:
            sem.acquire(1)
        self._wg.add(1)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            except Exception as e:
                with self._mu:
                    first = self._err is None
                    if first:
                        self._err = e
                if first and self._cancel is not None:
                    self._cancel()
            finally:
                if sem is not None:
                    sem.release(1)
                self._wg.done()
        try:
            _go(run)
        except BaseException:
            if sem is not None:
                sem.release(1)
            self._wg.done()
            raise

    def wait(self) -> None:
        self._wg.wait()
        if self._cancel is not None:
            self._cancel()
        if self._err is not None:
            raise self._err
        return None


# The goroutine wrappers of WaitGroup.go and Group.go only call the user's fn
# (holding no lock): a preemption safe point may have them below it (preempt.py).
register_callouts(WaitGroup.go, Group.go)
