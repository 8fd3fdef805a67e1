"""Sudog: one wait/wake protocol for goroutines and plain OS threads.

A Sudog stands for one blocked party in one wait queue (a channel's recvq, a
semaphore's queue, a goroutine's joiners).  It wraps either a G (parked with
``gopark``, woken with ``goready``) or a plain thread (blocked on a private
lock used as a binary semaphore, woken by releasing it).  Channels, select,
sema and join are written once against ``block``/``wake``.

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

Fields other than ``g``/``sema`` belong to whoever holds the structure's lock
(or, after dequeue, to the waker until ``wake``, then to the waiter).
"""

from greenlet import getcurrent

from .g import WorkerGreenlet
from .locks import new_sema, os_timeout
from . import sched as _sched
from .clock import nanotime as _nanotime
from .timers import RTimer, addtimer, deltimer

__all__ = ["Sudog", "wake_all"]


class Sudog:
    __slots__ = ("g", "sema", "elem", "ok", "c", "isselect", "sel", "idx", "timedout")

    def __init__(self, g, sema):
        self.g = g                # the parked G, or None for a plain thread
        self.sema = sema          # the thread's binary semaphore (held until woken)
        self.elem = None          # value handed over
        self.ok = True            # False: woken by close
        self.c = None             # the channel (or other queue owner) this waits on
        self.isselect = False
        self.sel = None           # shared select state (claim), see select.py
        self.idx = -1             # select case index
        self.timedout = False

    @staticmethod
    def current(sched=None):
        """A Sudog for the calling goroutine or plain thread."""
        gr = getcurrent()
        if type(gr) is WorkerGreenlet:
            return Sudog(gr.gp, None)
        if getattr(gr, "pp", None) is not None:
            raise RuntimeError("gpm: blocking operation on a scheduler greenlet (runtime bug)")
        _sched.note_foreign_thread()
        sema = new_sema()
        sema.acquire()
        return Sudog(None, sema)

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
