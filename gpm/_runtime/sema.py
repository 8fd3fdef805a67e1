"""Semaphores and wait queues: the only runtime primitive gpm.sync uses.

Public to gpm.sync (not to users):
  new_lock        the runtime's lock factory (guards a sync object's state)
  WaitQ           FIFO queue of parked Sudogs guarded by its owner's lock:
                  ``park(lock, reason, elem, lifo)``, ``dequeue()``, ``drain()``
  Sema            counting semaphore, FIFO with direct handoff:
                  ``semacquire``, ``semrelease``, ``try_acquire``
  NotifyList      Go's notifyList (tickets), for Cond: ``add``, ``wait``,
                  ``notify_one``, ``notify_all``
  nanotime        the runtime clock
  wake_all        wake a list of dequeued Sudogs (one batch per home P)
  WaitReason      wait reasons for parked waiters (dump_goroutines)

Protocol (sudog.py): the owner of a WaitQ guards it with one lock L.
  * waiter: with L held, ``park(L, ...)`` enqueues a Sudog and parks, and L is
    released only after the waiter is marked waiting (gopark/Sudog.block);
    it returns the Sudog, whose ``elem``/``ok`` the waker filled in;
  * waker: with L held, ``dequeue()`` (or ``drain()``), fill in the Sudog,
    release L, then ``sg.wake()`` (never wake with a lock held).
Invariants (each guarded by the object's own ``lock``; a WaitQ by its owner's):
  * Sema: ``waiters`` non-empty implies ``count == 0`` (a release with
    waiters hands its token to the oldest instead of counting it; an
    acquirer takes a free token only when nobody waits), so no newcomer ever
    overtakes a waiter;
  * NotifyList: ``notify_ticket <= wait_ticket``; every waiter's ticket is in
    ``[notify_ticket, wait_ticket)``; a ticket below ``notify_ticket`` was
    notified (or skipped as withdrawn) exactly once.
Locks: a Sema/NotifyList lock is taken alone or under a gpm.sync object's
lock; under it only Sched.lock and a P's timer lock (a plain thread's first
wait, a timed wait) are ever acquired (locks.py); wakes come after release.

Works the same for goroutines (gopark/goready) and plain threads (an OS
lock used as a binary semaphore): sudog.py is the one wake protocol.
"""

from collections import deque

from .g import WaitReason
from .locks import new_lock
from .clock import nanotime
from .sudog import current_waiter as _current_sudog, wake_all

__all__ = ["new_lock", "nanotime", "WaitReason", "WaitQ", "Sema", "NotifyList", "wake_all"]


class WaitQ:
    """A FIFO of parked Sudogs.  Every method requires the owner's lock held."""

    __slots__ = ("q",)

    def __init__(self):
        self.q = deque()          # Sudogs, oldest first (guarded by the owner's lock)

    def __len__(self):
        return len(self.q)

    def __bool__(self):
        return bool(self.q)

    def park(self, lock, reason, elem=None, lifo=False):
        """Enqueue the caller and park it, releasing ``lock``; return its Sudog.

        Requires ``lock`` held; returns with it released.  ``elem`` is stored
        in the Sudog for the waker to read (e.g. a weight); ``lifo`` puts the
        caller at the front (Go's requeue of a woken-then-beaten waiter).
        """
        sg = _current_sudog()
        sg.elem = elem
        q = self.q
        if lifo:
            q.appendleft(sg)
        else:
            q.append(sg)
        try:
            sg.block(lock, reason)
        except BaseException:
            # Unwound while parked (GreenletExit into a goroutine discarded
            # when its run ended; KeyboardInterrupt on a plain thread): leave
            # the queue, so an object that outlives the run never hands a
            # wake-up or units to a waiter that is gone.
            _withdraw(lock, q, sg)
            raise
        return sg

    def first(self):
        """The oldest Sudog (not removed), or None."""
        q = self.q
        return q[0] if q else None

    def dequeue(self):
        """Remove and return the oldest Sudog, or None."""
        q = self.q
        return q.popleft() if q else None

    def drain(self):
        """Remove and return every Sudog (oldest first)."""
        q = self.q
        out = list(q)
        q.clear()
        return out


def _withdraw(lock, q, sg) -> bool:
    """Remove ``sg`` from ``q`` (guarded by ``lock``, not held) if a waker has
    not dequeued it yet; True if it was removed.  A waker that already
    dequeued it wakes a waiter that is gone: that race exists only while its
    run is ending (the goroutines of a dying run are discarded)."""
    lock.acquire()
    try:
        q.remove(sg)
    except ValueError:
        return False
    finally:
        lock.release()
    return True


class Sema:
    """Go's runtime semaphore: ``count`` tokens, FIFO waiters, direct handoff.

    ``semrelease`` with waiters hands its token straight to the oldest one
    (so a newcomer can never overtake a waiter: no starvation).  Any thread.

    Fields: ``lock`` guards ``count`` and ``waiters``.
    """

    __slots__ = ("lock", "count", "waiters")

    def __init__(self, count=0):
        self.lock = new_lock("sema")
        self.count = count        # free tokens (guarded by lock)
        self.waiters = WaitQ()    # parked acquirers (guarded by lock)

    def semacquire(self, reason):
        lock = self.lock
        lock.acquire()
        if self.count > 0 and not self.waiters:
            self.count -= 1
            lock.release()
            return
        self.waiters.park(lock, reason)

    def try_acquire(self) -> bool:
        lock = self.lock
        lock.acquire()
        if self.count > 0 and not self.waiters:
            self.count -= 1
            lock.release()
            return True
        lock.release()
        return False

    def semrelease(self):
        lock = self.lock
        lock.acquire()
        sg = self.waiters.dequeue()
        if sg is None:
            self.count += 1
        lock.release()
        if sg is not None:
            sg.wake()


class NotifyList:
    """Go's notifyList: ticket-based wait/notify for Cond.

    ``add()`` takes a ticket while the caller still holds the Cond's locker;
    ``wait(t)`` (after the locker is released) parks unless ticket ``t`` was
    already notified, so a signal between "unlock" and "park" is never lost.

    Fields (guarded by ``lock``): ``wait_ticket`` (next ticket to hand
    out), ``notify_ticket`` (next ticket to notify), ``waiters`` (Sudogs with
    their ticket in ``elem``, in ticket order), ``withdrawn`` (tickets given
    back by callers that never waited, see ``withdraw``; None when empty;
    only tickets >= notify_ticket matter).
    """

    __slots__ = ("lock", "wait_ticket", "notify_ticket", "waiters", "withdrawn")

    def __init__(self):
        self.lock = new_lock("sema")
        self.wait_ticket = 0
        self.notify_ticket = 0
        self.waiters = deque()
        self.withdrawn = None

    def withdraw(self, t):
        """Give back ticket ``t`` of a caller that will not wait (its unlock
        failed), so no later notify is spent on it.  Any thread.

        If ``t`` was notified already, that notification is passed on to the
        next ticket (the signal was meant for a real waiter).
        """
        lock = self.lock
        lock.acquire()
        if t < self.notify_ticket:
            lock.release()
            self.notify_one()
            return
        if t == self.wait_ticket - 1:
            self.wait_ticket = t           # the newest ticket: un-issue it
        else:
            nt = self.notify_ticket
            w = {x for x in self.withdrawn if x >= nt} if self.withdrawn else set()
            w.add(t)
            self.withdrawn = w
        lock.release()

    def add(self) -> int:
        with self.lock:
            t = self.wait_ticket
            self.wait_ticket = t + 1
        return t

    def wait(self, t, reason):
        lock = self.lock
        lock.acquire()
        if t < self.notify_ticket:
            lock.release()
            return
        sg = _current_sudog()
        sg.elem = t
        self.waiters.append(sg)
        try:
            sg.block(lock, reason)
        except BaseException:
            # As WaitQ.park: a waiter unwound while parked gives its ticket
            # back, so the next signal reaches a live waiter.
            if _withdraw(lock, self.waiters, sg):
                self.withdraw(t)
            raise

    def notify_one(self):
        lock = self.lock
        lock.acquire()
        t = self.notify_ticket
        w = self.withdrawn
        if w:                              # skip tickets nobody waits on
            while t in w:
                w.discard(t)
                t += 1
        if t == self.wait_ticket:
            self.notify_ticket = t
            lock.release()
            return
        self.notify_ticket = t + 1
        found = None
        for sg in self.waiters:
            if sg.elem == t:
                found = sg
                break
        if found is not None:
            self.waiters.remove(found)
        lock.release()
        if found is not None:
            found.wake()

    def notify_all(self):
        lock = self.lock
        lock.acquire()
        self.notify_ticket = self.wait_ticket
        ws = list(self.waiters)
        self.waiters.clear()
        lock.release()
        if ws:
            wake_all(ws)
