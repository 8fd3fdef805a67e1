"""Channels (Go's hchan): chansend chanrecv closechan, and nilchan.

Public names: ``Chan`` (``gpm.Chan``) and ``nilchan`` (``gpm.nilchan``).
Internal helpers for select and timers: ``recv_poll``, ``send_poll``,
``send_nb``, ``claim``, ``CLOSED``.

A Chan is one lock (``_lock``) guarding everything else in it:

  _buf     deque of buffered values, len <= _cap          (guarded by _lock)
  _closed  set once by close                              (guarded by _lock)
  _recvq   FIFO deque of Sudogs of blocked receivers      (guarded by _lock)
  _sendq   FIFO deque of Sudogs of blocked senders; each
           carries its value in ``sg.elem``               (guarded by _lock)
  _cap     capacity, read-only after __init__

Invariants (Go's chan.go), whenever ``_lock`` is free:
  * at most one of _recvq and _sendq holds live (unclaimed) Sudogs;
  * receivers wait only while _buf is empty; senders wait only while _buf is
    full (len == _cap; for an unbuffered channel, always);
  * a closed channel has no waiters.
Select Sudogs (``sg.isselect``) may sit in several channels' queues at once;
a waker that dequeues one must first win ``claim(sg)`` (a test-and-set on
the select's shared claim lock), else it drops the stale Sudog and looks at
the next: so exactly one case of a select fires.  The selecting party
removes its other Sudogs itself after waking (select.py, pass 3).

Handoff rules:
  * a sender finding a waiting receiver hands the value over directly
    (``sg.elem``) and readies it: nothing goes through the buffer;
  * a receiver finding a waiting sender on a full buffered channel takes the
    buffer's head and moves the sender's value into the freed tail slot
    (FIFO kept), then readies the sender;
  * close collects every waiter under the lock (receivers get (None, False),
    senders ok=False and raise "send on closed channel"), releases the lock,
    then wakes them all.
Nobody is ever woken, switched to, or called back with ``_lock`` held.

Lock order (locks.py): channel locks, several only in select and then in
ascending ``id()`` order, > the select claim lock (a leaf here).  ``wake``
and ``goready`` run only after the channel lock is released.

Calls from a scheduler greenlet (a timer callback) must be non-blocking
(``send_nb``, or select with ``default``): a blocking op there raises
RuntimeError from ``Sudog.current``.  A plain thread that completes any
channel op without blocking is recorded with ``note_foreign_thread`` (a
blocking one is recorded by ``Sudog.current``), so checkdead knows it may
still wake a goroutine.
"""

import threading
from collections import deque
from typing import Any, Generic, NoReturn, TypeVar

from greenlet import getcurrent as _getcurrent

from .errors import ClosedChannelError
from .g import WaitReason, WorkerGreenlet as _Worker
from .locks import new_lock, new_sema
from .clock import current_sched as _current_sched
from .sched import gopark as _gopark, goready as _goready
from .sched import note_foreign_thread as _note_foreign_thread
from .sudog import Sudog, wake_all as _wake_all

__all__ = ["Chan", "nilchan", "recv_poll", "send_poll", "send_nb", "claim", "CLOSED"]

_current_sudog = Sudog.current
_CHAN_SEND = WaitReason.CHAN_SEND
_CHAN_RECEIVE = WaitReason.CHAN_RECEIVE

CLOSED = object()          # send_poll: the channel is closed

T = TypeVar("T")


def claim(sg) -> bool:
    """Win the select Sudog ``sg`` for this waker (exactly one waker wins).

    Requires the lock of the channel whose queue ``sg`` was taken from.
    ``sg.sel`` is the select's shared ``[claim_lock, winner]`` list.
    """
    sel = sg.sel
    if sel[0].acquire(False):
        sel[1] = sg
        return True
    return False


_tls = threading.local()      # per plain thread: the Sched it was last recorded with


def _note_plain(gr=None):
    """Record a plain thread (not a scheduler greenlet) for checkdead.

    Remembered per thread and runtime, so a thread's later ops cost one
    thread-local read instead of the registry lookup.
    """
    if getattr(gr if gr is not None else _getcurrent(), "pp", None) is None:
        sched = _current_sched()
        if sched is not None and getattr(_tls, "sched", None) is not sched:
            _note_foreign_thread()
            _tls.sched = sched


class Chan(Generic[T]):
    """A Go channel of Python objects: ``Chan(cap=0)``; ``Chan[int]`` for type checkers.

    ``send(v)``, ``recv()``, ``recv_ok()``, ``close()``, ``len(ch)``,
    ``ch.cap``, ``for v in ch``.  Works from goroutines (they park) and from
    plain threads (they block).  Go's rules: send on a closed channel raises
    ClosedChannelError, receive from a closed and drained one gives None
    (``recv_ok``: ``(None, False)``), close of a closed channel raises.
    """

    __slots__ = ("_lock", "_buf", "_cap", "_closed", "_recvq", "_sendq", "__weakref__")

    def __init__(self, cap: int = 0) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int):
            raise TypeError(f"gpm.Chan: cap must be an int, got {type(cap).__name__}")
        if cap < 0:
            raise ValueError(f"gpm.Chan: cap must be >= 0, got {cap}")
        self._lock = new_lock("chan")
        self._buf: deque[Any] = deque()
        self._cap = cap
        self._closed = False
        self._recvq: deque[Any] = deque()
        self._sendq: deque[Any] = deque()

    # -- chansend ------------------------------------------------------------

    def send(self, v: T) -> None:
        """Send ``v``: block until a receiver takes it or it fits in the buffer.

        Raises ClosedChannelError("send on closed channel") if the channel is
        closed, also when it gets closed while this sender waits.
        """
        gr = _getcurrent()
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise ClosedChannelError("send on closed channel")
        q = self._recvq
        while q:
            sg = q.popleft()
            if sg.isselect and not claim(sg):
                continue
            sg.elem = v
            lock.release()
            g = sg.g                     # Sudog.wake, inlined (hot path)
            if g is not None:
                _goready(g)
            else:
                sg.sema.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return
        buf = self._buf
        if len(buf) < self._cap:
            buf.append(v)
            lock.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return
        if type(gr) is _Worker:
            sg = Sudog(gr.gp, None)          # Sudog.current, inlined (hot path)
        else:
            sg = _current_sudog()
        sg.elem = v
        sg.c = self
        self._sendq.append(sg)
        if sg.g is not None:
            _gopark(lock, _CHAN_SEND)
        else:
            sg.block(lock, _CHAN_SEND)
        if not sg.ok:
            raise ClosedChannelError("send on closed channel")

    # -- chanrecv ------------------------------------------------------------

    def recv(self) -> T | None:
        """Receive a value; block until one arrives.  None once closed and drained."""
        gr = _getcurrent()
        lock = self._lock
        lock.acquire()
        q = self._sendq
        while q:
            sg = q.popleft()
            if sg.isselect and not claim(sg):
                continue
            buf = self._buf
            if buf:
                v = buf.popleft()
                buf.append(sg.elem)
            else:
                v = sg.elem
            lock.release()
            g = sg.g                     # Sudog.wake, inlined (hot path)
            if g is not None:
                _goready(g)
            else:
                sg.sema.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return v
        buf = self._buf
        if buf:
            v = buf.popleft()
            lock.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return v
        if self._closed:
            lock.release()
            return None
        if type(gr) is _Worker:
            sg = Sudog(gr.gp, None)          # Sudog.current, inlined (hot path)
        else:
            sg = _current_sudog()
        sg.c = self
        self._recvq.append(sg)
        if sg.g is not None:
            _gopark(lock, _CHAN_RECEIVE)
        else:
            sg.block(lock, _CHAN_RECEIVE)
        return sg.elem

    def recv_ok(self) -> tuple[T | None, bool]:
        """Receive ``(value, ok)``; ``ok`` is False only for the None after close.

        The body repeats ``recv``'s on purpose: sharing it would add a call and
        a tuple to every plain ``recv`` (the channel hot path)."""
        gr = _getcurrent()
        lock = self._lock
        lock.acquire()
        q = self._sendq
        while q:
            sg = q.popleft()
            if sg.isselect and not claim(sg):
                continue
            buf = self._buf
            if buf:
                v = buf.popleft()
                buf.append(sg.elem)
            else:
                v = sg.elem
            lock.release()
            g = sg.g                     # Sudog.wake, inlined (hot path)
            if g is not None:
                _goready(g)
            else:
                sg.sema.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return v, True
        buf = self._buf
        if buf:
            v = buf.popleft()
            lock.release()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return v, True
        if self._closed:
            lock.release()
            return None, False
        if type(gr) is _Worker:
            sg = Sudog(gr.gp, None)          # Sudog.current, inlined (hot path)
        else:
            sg = _current_sudog()
        sg.c = self
        self._recvq.append(sg)
        if sg.g is not None:
            _gopark(lock, _CHAN_RECEIVE)
        else:
            sg.block(lock, _CHAN_RECEIVE)
        return sg.elem, sg.ok

    def __iter__(self) -> "Chan[T]":
        return self

    def __next__(self) -> T:
        """Iteration receives until the channel is closed and drained."""
        v, ok = self.recv_ok()
        if not ok:
            raise StopIteration
        return v  # type: ignore[return-value]   # ok: a sent value, not the None of close

    # -- closechan -----------------------------------------------------------

    def close(self) -> None:
        """Close: wake every receiver with (None, False) and every blocked sender
        (they raise).  Raises ClosedChannelError("close of closed channel")."""
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise ClosedChannelError("close of closed channel")
        self._closed = True
        wake = []
        for sg in self._recvq:
            if sg.isselect and not claim(sg):
                continue
            sg.elem = None
            sg.ok = False
            wake.append(sg)
        self._recvq.clear()
        for sg in self._sendq:
            if sg.isselect and not claim(sg):
                continue
            sg.elem = None
            sg.ok = False
            wake.append(sg)
        self._sendq.clear()
        lock.release()
        if wake:
            _wake_all(wake)
        if type(_getcurrent()) is not _Worker:
            _note_plain()

    # -- inspection ----------------------------------------------------------

    def __len__(self) -> int:
        """Buffered items now (one racy read of the deque's length: atomic)."""
        return len(self._buf)

    @property
    def cap(self) -> int:
        return self._cap

    def __bool__(self) -> bool:
        return True          # a channel is truthy even when empty (not a container)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<gpm.Chan cap={self._cap} len={len(self._buf)}{state} at {id(self):#x}>"


# -- helpers for select and timers (require the channel lock held) ----------

def recv_poll(c):
    """Try to receive from ``c`` without blocking.  Requires ``c._lock`` held.

    Returns None (would block) or ``(value, ok, sg)`` where ``sg`` is a
    sender to wake after releasing the lock (or None).
    """
    q = c._sendq
    while q:
        sg = q.popleft()
        if sg.isselect and not claim(sg):
            continue
        buf = c._buf
        if buf:
            v = buf.popleft()
            buf.append(sg.elem)
        else:
            v = sg.elem
        return v, True, sg
    buf = c._buf
    if buf:
        return buf.popleft(), True, None
    if c._closed:
        return None, False, None
    return None


def send_poll(c, v):
    """Try to send ``v`` on ``c`` without blocking.  Requires ``c._lock`` held.

    Returns None (would block), ``CLOSED``, True (buffered) or a receiver
    Sudog to wake after releasing the lock.
    """
    if c._closed:
        return CLOSED
    q = c._recvq
    while q:
        sg = q.popleft()
        if sg.isselect and not claim(sg):
            continue
        sg.elem = v
        return sg
    buf = c._buf
    if len(buf) < c._cap:
        buf.append(v)
        return True
    return None


def send_nb(c: Chan[Any], v: Any) -> bool:
    """Non-blocking send (Go's ``select { case c <- v: default: }``).  Any
    thread, including a scheduler greenlet (timer callbacks).  Returns whether
    the value was sent; raises ClosedChannelError on a closed channel."""
    lock = c._lock
    lock.acquire()
    r = send_poll(c, v)
    lock.release()
    if r is None:
        return False
    if r is CLOSED:
        raise ClosedChannelError("send on closed channel")
    if r is not True:
        r.wake()
    return True


# -- the nil channel -----------------------------------------------------------

def block_forever(reason: str) -> NoReturn:
    """Park the caller for good (nil channel ops, ``select()``)."""
    sg = _current_sudog()
    lock = new_sema()
    lock.acquire()
    sg.block(lock, reason)
    from .errors import throw
    throw("a goroutine blocked forever was woken")


class _NilChan(Chan[Any]):
    """Go's nil channel: send and receive block forever; close raises."""

    __slots__ = ()

    def send(self, v: Any) -> NoReturn:
        block_forever(WaitReason.CHAN_SEND_NIL)

    def recv(self) -> NoReturn:
        block_forever(WaitReason.CHAN_RECEIVE_NIL)

    def recv_ok(self) -> NoReturn:
        block_forever(WaitReason.CHAN_RECEIVE_NIL)

    def __next__(self) -> NoReturn:
        block_forever(WaitReason.CHAN_RECEIVE_NIL)

    def close(self) -> NoReturn:
        raise ClosedChannelError("close of nil channel")

    def __repr__(self) -> str:
        return "gpm.nilchan"


nilchan: Chan[Any] = _NilChan(0)
