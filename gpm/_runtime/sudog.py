"""Sudog: one wait/wake protocol for goroutines and plain OS threads.

A Sudog stands for one blocked party in one wait queue (a channel's recvq, a
semaphore's queue, a goroutine's joiners).  It wraps either a G (parked with
``gopark``, woken with ``goready``) or a plain thread (blocked on a private
lock used as a binary semaphore, woken by releasing it).  Channels, select,
sema and join are written once against these helpers:

  current_waiter(gr=None)  a Sudog for the caller (the only place that asks
                           "goroutine, plain thread or scheduler greenlet?"
                           before blocking)
  sg.block(L, reason, timeout=None, cancel=None)   release L and park
  park_on(q, L, reason, c, elem)   enqueue the caller's Sudog on q and park
                           (every wait of chansend/chanrecv; a goroutine
                           reuses one Sudog there: G.sudog)
  sg.wake()                wake one (the only wake of one Sudog)
  wake_all(sgs)            wake many: goroutines in one batch per home P
  note_plain(gr=None)      record a plain thread for checkdead (cached per
                           thread in ``_tls`` by a *weak* reference to the
                           runtime, so a thread never keeps one alive)

Protocol, for a structure guarded by lock L:
  1. waiter: with L held, enqueue sg, then ``sg.block(L, reason, timeout, cancel)``,
     which releases L and parks;
  2. waker: with L held, dequeue sg and fill in ``sg.elem``/``sg.ok``; release L;
     then ``sg.wake()`` (never wake with a lock held);
  3. timeout: ``cancel(sg)`` takes L and removes sg if it is still queued;
     True means the timeout won (nobody will wake sg), False means a waker
     already dequeued it and its wake is coming (a thread then consumes it).
  Exactly one of "a waker dequeues sg" and "cancel removes sg" happens, under L,
  so a waiter is woken exactly once.

Fields: ``g``, ``sema`` and (once queued) ``idx`` never change while a Sudog
is in use (select reassigns ``g`` to the Sudogs it takes from a P's cache).  The others
belong to whoever holds the structure's lock while sg is queued, to the
waker between dequeue and ``wake``, then to the waiter (the wake is the
hand-over: a goready's run-queue lock, or the semaphore release).
``timedout`` is written by the timeout callback before it readies ``g``.
``_tls`` is per thread: each thread touches only its own slot.
"""

import threading
import weakref

from greenlet import getcurrent

from .g import WorkerGreenlet
from .locks import new_sema, os_timeout
from . import sched as _sched
from .clock import current_sched as _current_sched, nanotime as _nanotime
from .timers import RTimer, addtimer, deltimer

__all__ = ["Sudog", "wake_all", "note_plain", "current_waiter", "park_on"]


class Sudog:
    """One blocked party in one wait queue; see the module docstring for who owns which field."""

    __slots__ = ("g", "sema", "elem", "ok", "c", "isselect", "sel", "idx", "timedout")

    def __init__(self, g, sema):
        self.g = g                # the parked G, or None for a plain thread (immutable)
        self.sema = sema          # the thread's binary semaphore, held until woken (immutable)
        self.elem = None          # value handed over (queue owner's lock, then the waiter)
        self.ok = True            # False: woken by close (same)
        self.c = None             # the channel (or other queue owner) this waits on (same)
        self.isselect = False     # a select's Sudog: a waker must win claim() first (same)
        self.sel = None           # shared select state [claim sema, winner], see select.py
        self.idx = -1             # select case index (immutable once queued)
        self.timedout = False     # set by _timeout_fire before it readies g

    @staticmethod
    def current():
        """A Sudog for the calling goroutine or plain thread (``current_waiter``)."""
        return current_waiter()

    def block(self, lock, reason, timeout=None, cancel=None) -> bool:
        """Release ``lock`` (held by the caller) and park until woken.

        Returns True when woken, False when ``timeout`` seconds passed and
        ``cancel(self)`` removed this Sudog first.
        """
        if self.g is not None:
            if timeout is None:
                _sched.gopark(lock, reason)
                return True
            t = RTimer(_timeout_fire, (self, cancel))
            pp = self.g.pp
            addtimer(t, _nanotime() + max(timeout, 0.0), pp, pp)
            _sched.gopark(lock, reason)
            if self.timedout:
                return False
            deltimer(t)
            return True
        lock.release()
        if timeout is None:
            self.sema.acquire()
            return True
        if self.sema.acquire(True, os_timeout(timeout)):
            return True
        if cancel(self):
            return False
        self.sema.acquire()      # a waker dequeued us first: its release is coming
        return True

    def wake(self):
        """Wake the waiter.  Call after releasing the structure's lock."""
        if self.g is not None:
            _sched.goready(self.g)
        else:
            self.sema.release()


def current_waiter(gr=None):
    """A fresh Sudog for the caller: its G, or a plain thread with a held
    private semaphore (the thread is recorded with ``note_plain``).  ``gr``:
    the caller's ``getcurrent()`` if it already has it.  Raises RuntimeError
    on a scheduler greenlet (a timer callback must not block).
    """
    if gr is None:
        gr = getcurrent()
    if type(gr) is WorkerGreenlet:
        return Sudog(gr.gp, None)
    if getattr(gr, "pp", None) is not None:
        raise RuntimeError("gpm: blocking operation on a scheduler greenlet (runtime bug)")
    note_plain(gr)
    sema = new_sema()
    sema.acquire()
    return Sudog(None, sema)


def park_on(q, lock, reason, c=None, elem=None):
    """Enqueue a Sudog for the caller on ``q`` and park until woken; return it.

    Go's acquireSudog + enqueue + gopark, for chansend and chanrecv.  Requires
    ``lock`` (the one guarding ``q``) held; returns with it released, after
    the wake, so the waker's ``elem``/``ok`` are visible.  ``c`` is the
    queue's owner (the channel), ``elem`` the waiter's payload.  The
    goroutine case is ``current_waiter`` and ``Sudog.block`` written out (no
    allocation and two calls less on every blocking channel op).

    A goroutine reuses one Sudog for all its waits here (Go's sudog cache, per
    G): a Sudog is free again once its wait returned, because every waker
    dequeues it before ``wake`` and touches it no more after.  So only callers
    that drop the Sudog on return may use this (chan), not sync, which keeps
    a waiter's Sudog around (``sema.WaitQ.park``).
    """
    gr = getcurrent()
    if type(gr) is WorkerGreenlet:
        gp = gr.gp
        sg = gp.sudog
        if sg is None:
            sg = gp.sudog = Sudog(gp, None)
        else:
            sg.ok = True                 # the last wait may have ended in close
    else:
        sg = current_waiter(gr)
    sg.c = c
    sg.elem = elem
    q.append(sg)
    if sg.g is not None:
        _sched.gopark(lock, reason)
    else:
        sg.block(lock, reason)
    return sg


# Per plain thread: a weak reference to the runtime it was last recorded with
# (a strong one kept every runtime alive from every thread that ever used a
# channel, issue 12).  Each thread reads and writes only its own slot.
_tls = threading.local()


def note_plain(gr=None):
    """Record the calling plain thread for checkdead (API.md: a live plain thread
    that used a channel or sync object may still wake a goroutine).  No-op on a
    goroutine or a scheduler greenlet.  Any thread.

    The one plain-thread check of chan, select and sema.  Hot callers guard it
    with ``type(gr) is not WorkerGreenlet`` so goroutines never pay the call.
    Remembered per thread and runtime: a thread's later ops cost one
    thread-local read and one weakref call instead of the registry lookup.
    """
    if getattr(gr if gr is not None else getcurrent(), "pp", None) is not None:
        return
    sched = _current_sched()
    if sched is None:
        return
    ref = getattr(_tls, "sched", None)
    if ref is None or ref() is not sched:
        _sched.note_foreign_thread()
        _tls.sched = weakref.ref(sched)


def wake_all(sgs):
    """Wake every Sudog of ``sgs`` (dequeued by close, broadcast, a WaitGroup
    release): plain threads one by one, goroutines in one batch per home P
    (``goready_list``).  Call after releasing the structure's lock."""
    gs = []
    for sg in sgs:
        if sg.g is not None:
            gs.append(sg.g)
        else:
            sg.sema.release()
    if gs:
        _sched.goready_list(gs)


def _timeout_fire(arg, now):
    sg, cancel = arg
    if cancel(sg):
        sg.timedout = True
        _sched.goready(sg.g)
