"""Channels (Go's hchan): chansend chanrecv closechan, and nilchan.

Public names: ``Chan`` (``gpm.Chan``) and ``nilchan`` (``gpm.nilchan``).
For select and timers: ``chansend``, ``chanrecv``, ``send_poll``,
``recv_ready``, ``send_ready``, ``dequeue``, ``claim``, ``CLOSED``.

One implementation of each operation, as Go's chan.go:
  chansend(c, v, *, block)  every send: ``Chan.send`` *is* chansend (block=True),
                          select's first pass calls it with block=False
  chanrecv(c, *, block)   every receive: ``Chan.recv_ok`` *is* chanrecv,
                          ``recv`` and iteration call it, select's first pass
                          with block=False; -> (value, ok), None = would block
  (``chansend`` and ``Chan.recv`` take a buffered value's case inline, under
  the lock, before the general code: a call less on the hottest paths)
  send_poll(c, v)         a send's lock-held core (chansend, timers)
  Chan.close              closechan
  dequeue(q)              Go's waitq.dequeue, with the select claim
Waking goes through ``Sudog.wake``/``wake_all``; a waiter enqueues and
parks with ``park_on`` (its Sudog from ``current_waiter``); the plain-thread
bookkeeping is ``note_plain`` (all in sudog.py).

A Chan is one lock (``_lock``) guarding everything else in it:

  _buf     deque of buffered values, len <= _cap          (guarded by _lock)
  _closed  set once by close, never unset                 (guarded by _lock)
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
the next (``dequeue``): so exactly one case of a select fires.  The
selecting party removes its other Sudogs itself after waking (select.py,
pass 3).  A stale Sudog left in a queue can make ``recv_ready``/
``send_ready`` say "ready" wrongly, never "not ready" wrongly.

Unlocked reads (each of one field, atomic; proofs at the code): ``len(ch)``,
and the fast paths of a failed non-blocking chansend/chanrecv (Go's).

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
ascending ``id()`` of the lock, > the select claim lock (a trylock) and, for a
plain thread's first wait, > Sched.lock.  ``wake`` and ``goready`` run only
after the channel lock is released.

Calls from a scheduler greenlet (a timer callback) must be non-blocking
(``block=False``, or select with ``default``): a blocking op there raises
RuntimeError from ``current_waiter``.  A plain thread that completes any
channel op is recorded with ``note_plain`` (a blocking one by
``current_waiter``), so checkdead knows it may still wake a goroutine.
"""

from collections import deque
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from greenlet import getcurrent as _getcurrent

from .errors import ClosedChannelError
from .g import WaitReason, WorkerGreenlet as _Worker
from .locks import new_lock, new_sema
from .sudog import current_waiter as _current_waiter, note_plain as _note_plain, park_on as _park_on
from .sudog import wake_all as _wake_all

__all__ = ["Chan", "nilchan", "chansend", "chanrecv", "send_poll", "recv_ready", "send_ready", "claim", "dequeue", "CLOSED"]

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


def dequeue(q):
    """Go's ``waitq.dequeue``: pop and return the oldest Sudog of ``q`` this
    waker may use, or None.  A select's Sudog is used only if this waker wins
    ``claim``; a lost one is dropped (its select removes its others itself).
    Requires the lock of the channel owning ``q``.
    """
    while q:
        sg = q.popleft()
        if not sg.isselect or claim(sg):
            return sg
    return None


# -- chansend / chanrecv: the one implementation of every send and receive ----
#
# ``Chan.send``/``recv``/``recv_ok``/iteration call them with block=True,
# select's first pass with block=False.  A send's lock-held core is
# ``send_poll`` (timers send under their own lock); select's second pass only
# asks ``recv_ready``/``send_ready`` with every lock held and, if a case
# became ready, goes back to its first pass.

def chansend(c, v, *, block=True):
    """Go's chansend: send ``v`` on ``c``.  Any thread; a scheduler greenlet
    only with ``block=False``.

    Returns None once sent (so that ``Chan.send`` can be this function),
    False when ``block`` is False and the send would block.  Raises ClosedChannelError("send on closed channel") if ``c`` is
    closed, also when it gets closed while this sender waits.
    """
    if not block and not c._closed and (
            not c._recvq if c._cap == 0 else len(c._buf) == c._cap):
        # Go's fast path for a failed non-blocking send, without the lock: two
        # racy reads, each of one field (atomic).  Closed is never unset, so
        # "not closed" at the first read and "full" (no receiver waiting, for
        # an unbuffered channel) at the second mean the channel was both at
        # the second read: the send would have blocked then.
        return False
    lock = c._lock
    lock.acquire()
    buf = c._buf
    if not c._recvq and len(buf) < c._cap and not c._closed:
        buf.append(v)                    # send_poll's buffered case, without the call (hot path)
        lock.release()
        gr = _getcurrent()
        if type(gr) is not _Worker:
            _note_plain(gr)
        return None
    r = send_poll(c, v)
    if r is None:
        if not block:
            lock.release()
            return False
        sg = _park_on(c._sendq, lock, _CHAN_SEND, c, v)
        if not sg.ok:
            raise ClosedChannelError("send on closed channel")
        return None
    lock.release()
    if r is CLOSED:
        raise ClosedChannelError("send on closed channel")
    if r is not True:
        r.wake()
    gr = _getcurrent()
    if type(gr) is not _Worker:
        _note_plain(gr)
    return None


def chanrecv(c, *, block=True):
    """Go's chanrecv: receive from ``c``.  Any thread; a scheduler greenlet
    only with ``block=False``.

    Returns ``(value, ok)`` (``ok`` False only for the None of a closed and
    drained channel), or None when ``block`` is False and it would block.
    """
    if not block and (not c._sendq if c._cap == 0 else not c._buf) and not c._closed:
        # Go's fast path for a failed non-blocking receive, without the lock:
        # "empty" (no value buffered; no sender waiting, for an unbuffered
        # channel) at the first racy read and "not closed" at the second mean
        # it was empty and open at the first (closed is never unset), so the
        # receive would have blocked then.  (A closed channel is rechecked
        # under the lock: it may have been filled and closed in between.)
        return None
    lock = c._lock
    lock.acquire()
    q = c._sendq
    sg = None
    if q:                                # dequeue(q), its first step and claim written out (hot path)
        sg = q.popleft()
        if sg.isselect:
            sel = sg.sel
            if sel[0].acquire(False):
                sel[1] = sg
            else:
                sg = dequeue(q)
    buf = c._buf
    if sg is not None:                   # Go's recv(): a waiting sender
        if buf:                          # (full buffer: take its head, its value to the tail)
            v = buf.popleft()
            buf.append(sg.elem)
        else:
            v = sg.elem
        lock.release()
        sg.wake()
        ok = True
    elif buf:
        v = buf.popleft()
        lock.release()
        ok = True
    elif c._closed:
        lock.release()
        v = None
        ok = False
    elif not block:
        lock.release()
        return None
    else:
        sg = _park_on(c._recvq, lock, _CHAN_RECEIVE, c)
        return sg.elem, sg.ok
    gr = _getcurrent()
    if type(gr) is not _Worker:
        _note_plain(gr)
    return v, ok


def send_poll(c, v):
    """The lock-held core of a send: try to send ``v`` on ``c`` without
    blocking.  Requires ``c._lock`` held; leaves it held.

    Returns None (would block), ``CLOSED``, True (buffered) or the receiver's
    Sudog, which the caller wakes after releasing every lock it holds.
    """
    if c._closed:
        return CLOSED
    q = c._recvq
    if q:                                # dequeue(q), its first step and claim written out (hot path)
        sg = q.popleft()
        if sg.isselect:
            sel = sg.sel
            if sel[0].acquire(False):
                sel[1] = sg
            else:
                sg = dequeue(q)
        if sg is not None:
            sg.elem = v
            return sg
    buf = c._buf
    if len(buf) < c._cap:
        buf.append(v)
        return True
    return None


def recv_ready(c):
    """Whether a receive on ``c`` would not block now (select's second pass).
    Requires ``c._lock`` held.  A queued select Sudog that lost its claim
    makes this a false positive, never a false negative: the caller's retry
    (a ``chanrecv``) drops it."""
    return bool(c._buf or c._sendq or c._closed)


def send_ready(c):
    """Whether a send on ``c`` would not block now (see ``recv_ready``)."""
    return bool(c._closed or c._recvq or len(c._buf) < c._cap)


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

    # ``send`` and ``recv_ok`` are chansend and chanrecv themselves (block is
    # keyword-only and defaults to True, so ``ch.send(a, b)`` is still a
    # TypeError): a wrapper would add a call to every channel op.
    if TYPE_CHECKING:
        def send(self, v: T) -> None:
            """Send ``v``: block until a receiver takes it or it fits in the buffer."""

        def recv_ok(self) -> tuple[T | None, bool]:
            """Receive ``(value, ok)``; ``ok`` is False only for the None after close."""
    else:
        send = chansend
        recv_ok = chanrecv

    def recv(self) -> T | None:
        """Receive a value; block until one arrives.  None once closed and drained."""
        lock = self._lock
        lock.acquire()
        buf = self._buf
        if buf and not self._sendq:      # chanrecv's buffered case, without the call (hot path)
            v = buf.popleft()
            lock.release()
            gr = _getcurrent()
            if type(gr) is not _Worker:
                _note_plain(gr)
            return v  # type: ignore[no-any-return]
        lock.release()
        return chanrecv(self)[0]  # type: ignore[index]   # block=True: never None

    def __iter__(self) -> "Chan[T]":
        return self

    def __next__(self) -> T:
        """Iteration receives until the channel is closed and drained."""
        v, ok = chanrecv(self)  # type: ignore[misc]
        if not ok:
            raise StopIteration
        return v  # type: ignore[no-any-return]   # ok: a sent value, not the None of close

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
        for q in (self._recvq, self._sendq):
            while (sg := dequeue(q)) is not None:
                sg.elem = None
                sg.ok = False
                wake.append(sg)
        lock.release()
        if wake:
            _wake_all(wake)
        gr = _getcurrent()
        if type(gr) is not _Worker:
            _note_plain(gr)

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


# -- the nil channel -----------------------------------------------------------

def block_forever(reason: str) -> NoReturn:
    """Park the caller for good (nil channel ops, ``select()``)."""
    sg = _current_waiter()
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
