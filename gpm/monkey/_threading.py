"""threading, patched: locks and conditions that park a goroutine and block a plain thread.

Names: Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier (and ``patch()``, which
installs them in the threading module, with ``threading.local = gpm.local`` (per goroutine inside
goroutines, per thread elsewhere) and a ``Thread.join`` that parks inside a goroutine).

The one primitive is ``Lock``; everything else is CPython's own pure-Python code run on it.

Lock (invariants; the lock ``_l`` *is* the state: the Lock is locked iff ``_l`` is held)
  * a plain thread uses ``_l`` directly: ``acquire`` is ``_l.acquire(blocking, timeout)``, so it
    blocks, times out, validates its arguments and is interrupted exactly as the original;
  * a goroutine never blocks in ``_l``: it tries ``_l.acquire(False)`` and, on contention, queues
    its Sudog in ``_waiters`` (guarded by ``_mu``, a leaf lock) and parks;
  * ``release`` releases ``_l`` and then, if ``_waiters`` is not empty, dequeues one Sudog under
    ``_mu`` and wakes it after releasing ``_mu``.  The woken goroutine tries again (it may lose to a
    newcomer, as with the original lock, which is not fair either) and re-queues if it loses.
  No lost wakeup (Dekker's pattern, with the lock operations as the full barriers): a waiter
  appends its Sudog *before* its last ``_l.acquire(False)``; a releaser releases ``_l`` *before* it
  reads ``_waiters`` (an unlocked read of the deque's length).  Either the waiter's try sees the
  lock free, or the releaser's read sees the waiter.  CPython's lock acquire/release are atomic
  read-modify-writes with full ordering on every build (free-threaded ones too), and every waker
  that finds a Sudog dequeues it under ``_mu``, so each Sudog is woken at most once (or removed by
  its own timeout through ``Sudog.block``'s cancel protocol, never both).

Ownership: a Lock has no owner (any thread or goroutine may release it, as the original).

RLock (invariants) is the original C RLock ``_r`` plus a goroutine layer:
  * ``_r`` is held by the owning plain thread (its recursion counted in C, so a plain thread's
    acquire/release is one C call after the goroutine check), or, while a goroutine owns the
    RLock, by that goroutine's M thread with a C count of 1 (a started goroutine never changes
    threads, so its M releases it again);
  * ``_glock`` (a Lock) orders the goroutines: held by the owning goroutine, or by the one
    goroutine that waits for a plain thread to free ``_r``; the others park on it.  So ``_r``'s
    C owner (an M thread) never stands for two goroutines;
  * ``_gowner``/``_count``: the owning G and its depth, written by that G only while its M
    holds ``_r``, so a plain thread holding ``_r`` always reads ``_gowner`` None, and a success
    of ``_r.acquire`` with ``_gowner`` set is a false C recursion of the M thread itself (its
    scheduler greenlet), refused with RuntimeError;
  * ``_waiters`` (guarded by ``_mu``, a leaf; at most one Sudog): the ``_glock`` holder's while
    ``_r`` is a plain thread's; the thread's release (or Condition.wait's ``_release_save``)
    frees ``_r`` and then reads ``_waiters`` unlocked, the waiter queues before its last try:
    Lock's protocol and code (``_park_acquire``, ``_cancel``, ``_wake_one``).  A release of
    one recursion level wakes it early; it tries again and re-parks.

Condition, Semaphore, BoundedSemaphore, Event and Barrier are the interpreter's own classes
(``threading.Condition`` etc., so every version keeps its exact semantics and messages), rebuilt
as subclasses whose functions resolve ``Lock``, ``RLock``, ``_allocate_lock`` (Condition.wait's
per-waiter lock) and ``Condition`` to the ones here.  A goroutine in ``Condition.wait`` parks on
its waiter Lock; ``notify`` from anywhere releases it.

The runtime never uses these: gpm._runtime allocates its locks from ``_thread.allocate_lock``,
captured at import (locks.py), and starts its threads without holding a lock (syscall.py).
"""

import _thread
import re
import threading as _th
import types
from collections import deque
from typing import Any, Callable

from greenlet import getcurrent as _getcurrent

from .._runtime.g import WaitReason, WorkerGreenlet as _Worker
from .._runtime.glocal import local as _glocal
from .._runtime.clock import nanotime as _nanotime
from .._runtime.sched import raw_thread_delta as _raw_thread_delta
from .._runtime.sudog import Sudog
from . import _registry

__all__ = ["Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore", "Event", "Barrier", "patch"]

_allocate = _thread.allocate_lock          # the original, captured before any patching
_CRLock = _thread.RLock                    # the original C RLock (patch() leaves _thread alone)
_get_ident = _thread.get_ident


def _park_acquire(owner: Any, lk: Any, gp: Any, obj: Any, deadline: float | None) -> bool:
    """Acquire the C lock ``lk`` for goroutine ``gp`` after a failed try: queue a Sudog on
    ``owner._waiters`` (guarded by ``owner._mu``) and park until a releaser wakes it, then try
    again (the Dekker pattern of the module doc).  ``obj`` names the lock in sysmon's stuck
    warning; ``deadline`` (nanotime) or None.  Lock and RLock (for its C RLock) share it."""
    mu = owner._mu
    waiters = owner._waiters
    try:
        while True:
            sg = Sudog(gp, None)
            sg.c = obj
            gp.waiting = sg        # names the lock in sysmon's stuck warning
            mu.acquire()
            waiters.append(sg)
            if lk.acquire(False):
                waiters.pop()          # our own Sudog: appended under this same hold of _mu
                mu.release()
                return True
            if deadline is None:
                sg.block(mu, WaitReason.THREADING_LOCK)
            else:
                remaining = deadline - _nanotime()
                if remaining <= 0:
                    waiters.pop()
                    mu.release()
                    return False
                if not sg.block(mu, WaitReason.THREADING_LOCK, remaining, owner._cancel):
                    return bool(lk.acquire(False))     # timed out (a last try is harmless)
            if lk.acquire(False):
                return True
    finally:
        gp.waiting = None


class Lock:
    """threading.Lock that parks a goroutine on contention and blocks a plain thread (module doc)."""

    __slots__ = ("_l", "_mu", "_waiters", "__weakref__")

    def __init__(self) -> None:
        self._l = _allocate()          # held iff this Lock is locked (atomic; no guard)
        self._mu = _allocate()         # guards _waiters (a leaf lock)
        self._waiters: deque[Sudog] = deque()   # Sudogs of parked goroutines, oldest first (guarded by _mu;
        #                                release reads its length unlocked, see the module doc)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        # Uncontended, default timeout: one try, the same for threads and goroutines (the
        # original validates nothing more in that case; acquire(False) is a valid call).
        if timeout == -1 and self._l.acquire(False):
            return True
        if type(_getcurrent()) is not _Worker:
            return self._l.acquire(blocking, timeout)
        return self._acquire_g(blocking, timeout)

    def _acquire_g(self, blocking: bool, timeout: float, obj: Any = None) -> bool:
        """acquire for the running goroutine (never blocks its M).  ``obj``: the object the
        caller waits on, for sysmon's stuck warning (an RLock passes itself; default: this)."""
        if timeout != -1:
            _allocate().acquire(blocking, timeout)    # the original's argument checks and messages
        lk = self._l
        if lk.acquire(False):
            return True
        if not blocking:
            return False
        deadline = None if timeout < 0 else _nanotime() + timeout
        return _park_acquire(self, lk, _getcurrent().gp, self if obj is None else obj, deadline)  # type: ignore[attr-defined]

    def _cancel(self: Any, sg: Sudog) -> bool:     # Any: RLock shares it
        """Sudog.block's timeout: remove ``sg`` if no releaser dequeued it yet."""
        mu = self._mu
        mu.acquire()
        try:
            self._waiters.remove(sg)
            return True
        except ValueError:
            return False
        finally:
            mu.release()

    def release(self) -> None:
        self._l.release()              # RuntimeError("release unlocked lock") as the original
        if self._waiters:
            self._wake_one()

    def _wake_one(self: Any) -> None:     # Any: RLock shares it (same _mu/_waiters)
        mu = self._mu
        mu.acquire()
        waiters = self._waiters
        sg = waiters.popleft() if waiters else None
        mu.release()
        if sg is not None:
            sg.wake()

    __enter__ = acquire

    def __exit__(self, t: object, v: object, tb: object) -> None:
        self._l.release()
        if self._waiters:
            self._wake_one()

    def locked(self) -> bool:
        return self._l.locked()

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    @property
    def _is_owned(self) -> Callable[[], bool]:
        """For Condition: a Lock has no owner, so "owned" is "held by anyone", which is what
        Condition's fallback (acquire(False), release) computes; this is the C ``locked``,
        so ``notify`` costs no Python call for the check."""
        return self._l.locked

    def _at_fork_reinit(self) -> None:
        self._l._at_fork_reinit()  # type: ignore[attr-defined]
        self._mu._at_fork_reinit()  # type: ignore[attr-defined]
        self._waiters.clear()

    def __repr__(self) -> str:
        state = "locked" if self._l.locked() else "unlocked"
        return f"<{state} {type(self).__module__}.{type(self).__qualname__} object at {id(self):#x}>"


class RLock:
    """threading.RLock owned by a goroutine inside goroutines, by a thread on plain threads.

    Built on the original C RLock ``_r``, so a plain thread's acquire/release is one C call plus
    a goroutine check (module doc, "RLock").
    """

    __slots__ = ("_r", "_glock", "_mu", "_gowner", "_count", "_waiters", "__weakref__")

    def __init__(self) -> None:
        self._r = _CRLock()            # held by the owning plain thread, or by the owning G's M
        self._glock = Lock()           # held by the owning G or the one G waiting for _r
        self._mu = _allocate()         # guards _waiters (a leaf lock)
        self._gowner: Any = None       # the owning G (written by it only, while its M holds _r)
        self._count = 0                # its recursion depth (written by it only)
        self._waiters: deque[Sudog] = deque()  # the _glock holder's Sudog while a thread holds _r

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        gr = _getcurrent()
        if type(gr) is not _Worker:
            if self._r.acquire() if blocking is True and timeout == -1 else self._r.acquire(blocking, timeout):
                if self._gowner is None:
                    return True
                self._r.release()      # a recursion of the M thread that a goroutine's hold made
                raise RuntimeError("gpm: a patched RLock held by a goroutine was acquired on its "
                                   "M's scheduler greenlet (it would block the goroutine's own M)")
            return False
        return self._acquire_g(gr.gp, blocking, timeout)

    __enter__ = acquire

    def _acquire_g(self, gp: Any, blocking: bool, timeout: float) -> bool:
        if timeout != -1:
            _allocate().acquire(blocking, timeout)    # the original's argument checks and messages
        if self._gowner is gp:
            self._count += 1
            return True
        deadline = None if timeout < 0 else _nanotime() + timeout
        if not self._glock._acquire_g(blocking, timeout, self):
            return False
        if not self._take_r(gp, blocking, deadline):
            self._glock.release()
            return False
        self._gowner = gp
        self._count = 1
        return True

    def _take_r(self, gp: Any, blocking: bool, deadline: float | None) -> bool:
        """Acquire ``_r`` for ``gp``, which holds ``_glock``; a plain thread may hold ``_r``."""
        if self._r.acquire(False):
            return True
        if not blocking:
            return False
        return _park_acquire(self, self._r, gp, self, deadline)

    _cancel = Lock._cancel             # the same _mu/_waiters protocol as Lock's
    _wake_one = Lock._wake_one

    def release(self) -> None:
        owner = self._gowner
        if owner is None:
            self._r.release()          # RuntimeError("cannot release un-acquired lock") as the original
            if self._waiters:
                self._wake_one()
            return
        gr = _getcurrent()
        if type(gr) is not _Worker or gr.gp is not owner:
            raise RuntimeError("cannot release un-acquired lock")
        c = self._count - 1
        self._count = c
        if not c:
            self._gowner = None
            self._r.release()          # from the G's own M: a started goroutine never moves
            self._glock.release()

    def __exit__(self, t: object, v: object, tb: object) -> None:
        if self._gowner is None:       # release, inlined for plain threads
            self._r.release()
            if self._waiters:
                self._wake_one()
            return
        self.release()

    def _is_owned(self) -> bool:
        gr = _getcurrent()
        owner = self._gowner
        if type(gr) is _Worker:
            return owner is gr.gp
        return owner is None and self._r._is_owned()  # type: ignore[attr-defined]

    def _release_save(self) -> Any:
        gr = _getcurrent()
        if type(gr) is not _Worker:
            state = self._r._release_save()  # type: ignore[attr-defined]
            if self._waiters:                # frees _r: a goroutine may wait for it (Condition.wait)
                self._wake_one()
            return state
        if self._gowner is not gr.gp:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, gr.gp)
        self._count = 0
        self._gowner = None
        self._r.release()
        self._glock.release()
        return state

    def _acquire_restore(self, state: Any) -> None:
        gr = _getcurrent()
        if type(gr) is not _Worker:
            self._r._acquire_restore(state)  # type: ignore[attr-defined]
            return
        self._acquire_g(gr.gp, True, -1)
        self._count, self._gowner = state

    def _gpm_owner(self) -> Any:
        """The runtime's owned-lock protocol (Sched._owned_deadlock): the G that alone may
        release this RLock, or None (free, or a plain thread's: C-owned)."""
        return self._gowner

    def _recursion_count(self) -> int:
        gr = _getcurrent()
        if type(gr) is _Worker:
            return self._count if self._gowner is gr.gp else 0
        return self._r._recursion_count() if self._gowner is None else 0  # type: ignore[attr-defined]

    def locked(self) -> bool:
        return repr(self._r).startswith("<locked")

    def _at_fork_reinit(self) -> None:
        self._r._at_fork_reinit()  # type: ignore[attr-defined]
        self._glock._at_fork_reinit()
        self._mu._at_fork_reinit()  # type: ignore[attr-defined]
        self._gowner = None
        self._count = 0
        self._waiters.clear()

    def __repr__(self) -> str:
        owner = self._gowner
        state, who, count = "unlocked", "0", "0"
        if owner is not None:
            state, who, count = "locked", f"goroutine-{owner.goid}", str(self._count)
        else:
            m = _RLOCK_REPR.match(repr(self._r))
            if m:
                state, who, count = m.group(1), m.group(2), m.group(3)
        return (f"<{state} {type(self).__module__}.{type(self).__qualname__} object "
                f"owner={who} count={count} at {id(self):#x}>")


_RLOCK_REPR = re.compile(r"<(locked|unlocked) .*owner=(\d+) count=(\d+)")


# -- Condition, Semaphore, BoundedSemaphore, Event, Barrier: the interpreter's code on our Lock ----

def _rebind(cls: type, ns: dict[str, Any], name: str, module: str = "threading") -> Any:
    """A subclass of ``cls`` whose functions (along its MRO) resolve globals in ``ns``."""
    d: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        for k, v in vars(klass).items():
            if isinstance(v, types.FunctionType):
                f = types.FunctionType(v.__code__, ns, v.__name__, v.__defaults__, v.__closure__)
                f.__kwdefaults__ = v.__kwdefaults__
                f.__qualname__ = v.__qualname__
                f.__doc__ = v.__doc__
                f.__dict__.update(v.__dict__)
                d[k] = f
    d["__module__"] = module
    d["__qualname__"] = name
    d["__doc__"] = cls.__doc__
    return type(name, (cls,), d)


_ns: dict[str, Any] = dict(vars(_th))
_ns.update(Lock=Lock, _allocate_lock=Lock, RLock=RLock, _CRLock=RLock)
Condition = _rebind(_th.Condition, _ns, "Condition")


def _cond_enter(self: Any) -> bool:
    """Condition.__enter__ (``self._lock.__enter__()``) with Lock's uncontended path inlined:
    one Python frame less per ``with cond:`` (queue.Queue takes one in every put and get)."""
    lk = self._lock
    if type(lk) is Lock and lk._l.acquire(False):
        return True
    return lk.__enter__()  # type: ignore[no-any-return]


def _cond_exit(self: Any, *args: Any) -> Any:
    """Condition.__exit__ (``self._lock.__exit__(*args)``) with Lock.__exit__ inlined."""
    lk = self._lock
    if type(lk) is Lock:
        lk._l.release()
        if lk._waiters:
            lk._wake_one()
        return None
    return lk.__exit__(*args)


Condition.__enter__ = _cond_enter
Condition.__exit__ = _cond_exit
_ns["Condition"] = Condition
Semaphore = _rebind(_th.Semaphore, _ns, "Semaphore")
_ns["Semaphore"] = Semaphore
BoundedSemaphore = _rebind(_th.BoundedSemaphore, _ns, "BoundedSemaphore")
_ns["BoundedSemaphore"] = BoundedSemaphore
Event = _rebind(_th.Event, _ns, "Event")
_ns["Event"] = Event
Barrier = _rebind(_th.Barrier, _ns, "Barrier")
_ns["Barrier"] = Barrier

# -- Thread.join inside a goroutine ------------------------------------------------------------

_JOIN_POLL_MIN = 0.0005            # first poll interval of a goroutine joining a thread
_JOIN_POLL_MAX = 0.02              # cap: a finished thread is noticed within 20 ms


def _make_join(orig_join: Callable[..., None]) -> Callable[..., None]:
    def join(self: _th.Thread, timeout: float | None = None) -> None:
        """Thread.join; inside a goroutine it parks (polling on timers) instead of blocking the M."""
        if type(_getcurrent()) is not _Worker:
            return orig_join(self, timeout)
        orig_join(self, 0)             # the original's checks (not started, current thread)
        if not self.is_alive():
            return
        from .._runtime.api import sleep
        deadline = None if timeout is None else _nanotime() + max(timeout, 0.0)
        delay = _JOIN_POLL_MIN
        while self.is_alive():
            if deadline is not None:
                left = deadline - _nanotime()
                if left <= 0:
                    return
                delay = min(delay, left)
            sleep(delay)
            delay = min(delay * 2, _JOIN_POLL_MAX)
        orig_join(self, 0)
    join.__qualname__ = "Thread.join"
    join.__doc__ = orig_join.__doc__
    return join


_orig_start_new_thread = _thread.start_new_thread


def start_new_thread(function: Callable[..., object], args: tuple[Any, ...],
                     kwargs: dict[str, Any] | None = None) -> int:
    """_thread.start_new_thread, counted for checkdead from before the start until ``function``
    returns (a thread that is started but not yet running is in neither threading.enumerate()
    nor _thread._count(); a goroutine waiting on a patched lock it will release is no deadlock)."""
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")

    def run() -> None:
        try:
            function(*args, **(kwargs or {}))
        finally:
            _raw_thread_delta(-1)
    _raw_thread_delta(1)
    try:
        return _orig_start_new_thread(run, ())
    except BaseException:
        _raw_thread_delta(-1)
        raise


def patch() -> None:
    for name, obj in (("Lock", Lock), ("RLock", RLock), ("Condition", Condition),
                      ("Semaphore", Semaphore), ("BoundedSemaphore", BoundedSemaphore),
                      ("Event", Event), ("Barrier", Barrier)):
        _registry.patch_attr(_th, name, obj)
    _registry.patch_attr(_th, "local", _glocal)
    _registry.patch_attr(_thread, "start_new_thread", start_new_thread, "_thread")
    _registry.patch_attr(_th.Thread, "join", _make_join(_th.Thread.join), "threading.Thread")
