"""Waiting for file descriptors, shared by the gpm.monkey items (socket, ssl, select, subprocess).

The dual rule in one place: ``in_goroutine()`` decides (one C call and a type test); a goroutine
parks on the runtime's netpoller (``gpm._runtime.netpoll.PollDesc``), a plain thread blocks in
the original ``select.poll`` (bound here at import, before any patch), exactly as CPython's own
socket code waits for a timeout socket.

``FdWaiter`` is the per-object goroutine side (one per patched socket or epoll object, made on
the first goroutine that has to wait).  Its PollDesc has one reader and one writer slot, while
the originals let any number of threads block on one socket (several acceptors of one listening
socket, several readers of a UDP socket).  So goroutines that wait in the same direction queue
on a ``gpm.sync.Mutex`` per direction, held from the first EAGAIN until the operation succeeds
or fails; the uncontended path only pays a ``try_lock``.  A goroutine that had to queue retries
its syscall before parking: the previous holder may have left data behind, and an
edge-triggered poller reports no new edge for it.

Field guards (FdWaiter): ``pd`` and ``mu`` are set once in ``__init__``; the PollDesc guards
itself (its own lock).  Each wait brings its own deadline (``PollDesc.wait(mode, deadline)``),
so the fd's deadline fields are never touched.

Lock order: Mutex (a gpm.sync leaf, held across a park, never a runtime lock) > PollDesc.lock.
"""

import errno
import select as _select_mod
import time as _time_mod

from greenlet import getcurrent

from .._runtime.g import WorkerGreenlet
from .._runtime.locks import new_lock
from .._runtime.netpoll import ClosedError, Timeout, pollopen, wait_fd, _MODE_R, _MODE_W
from .._runtime.clock import nanotime
from ..sync import Mutex

__all__ = ["in_goroutine", "WorkerGreenlet", "FdWaiter", "waiter_of", "thread_wait", "wait_fd_deadline",
           "MODE_R", "MODE_W", "nanotime", "ebadf", "new_lock"]

MODE_R = _MODE_R
MODE_W = _MODE_W

_poll = _select_mod.poll            # the originals, bound before any patch
_sleep = _time_mod.sleep
_POLL_EV = (_select_mod.POLLIN, _select_mod.POLLOUT)


def in_goroutine():
    """True inside a goroutine (its greenlet is a WorkerGreenlet of an M)."""
    return type(getcurrent()) is WorkerGreenlet


def ebadf():
    return OSError(errno.EBADF, "Bad file descriptor")


class FdWaiter:
    """Parks goroutines on one fd (see module doc).  Goroutines only."""

    __slots__ = ("pd", "mu")

    def __init__(self, owner):
        # owner: the patched object (its fileno() is the fd).  ``pollopen`` is gpm.net's own
        # registration path (Conn, Listener): the PollDesc enters the fd table now, replacing a
        # stale entry of the same fd number (its fd was closed behind its owner's back: its
        # waiters get EBADF), and the table's weak reference to ``owner`` recognises a PollDesc
        # whose object was closed or collected without close.
        if owner.fileno() < 0:
            raise ebadf()
        self.pd = pollopen(owner)
        self.mu = (Mutex(), Mutex())

    def run(self, mode, deadline, fn, args, tmsg="timed out"):
        """Retry ``fn(*args)`` until it does not raise BlockingIOError, parking in between.

        Called after ``fn`` raised BlockingIOError once.  ``deadline`` (nanotime clock) or None;
        past it raise TimeoutError(tmsg).  A close of the fd raises OSError(EBADF).
        """
        mu = self.mu[mode]
        queued = not mu.try_lock()
        if queued:
            mu.lock()
        try:
            if queued:
                try:
                    return fn(*args)
                except BlockingIOError:
                    pass
            while True:
                self.park(mode, deadline, tmsg)
                try:
                    return fn(*args)
                except BlockingIOError:
                    pass
        finally:
            mu.unlock()

    def park(self, mode, deadline, tmsg="timed out"):
        """One wait for readiness (or the deadline, or close).  Requires mu[mode] held."""
        pd = self.pd
        try:
            while not pd.wait(mode, deadline):   # woken by the deadline timer or close: next wait raises
                pass
        except Timeout:
            raise TimeoutError(tmsg) from None
        except ClosedError:
            raise ebadf() from None

    def close(self):
        """Unregister from the netpoller and wake parked goroutines (they raise EBADF).  Any thread."""
        self.pd.close()


_gw_mu = Mutex()      # serializes the lazy creation of FdWaiters (a goroutine lock: pollopen may
#                       goready the waiters of a stale PollDesc it replaces, never under a runtime lock)


def waiter_of(obj):
    """``obj._gw``, the FdWaiter of a patched socket or epoll object, made on first use.

    Goroutines only.  ``_gw`` is written once here (under ``_gw_mu``) and cleared by the object's
    close/detach; an unlocked read sees None or the one FdWaiter.
    """
    w = obj._gw
    if w is None:
        _gw_mu.lock()
        try:
            w = obj._gw
            if w is None:
                w = obj._gw = FdWaiter(obj)
        finally:
            _gw_mu.unlock()
    return w


def thread_wait(fd, mode, deadline):
    """A plain thread: block until ``fd`` is ready for ``mode``; False if ``deadline`` passed."""
    p = _poll()
    p.register(fd, _POLL_EV[mode])
    if deadline is None:
        p.poll()
        return True
    rem = deadline - nanotime()
    if rem <= 0:
        return False
    return bool(p.poll(rem * 1000.0))


def wait_fd_deadline(fd, mode, deadline):
    """A goroutine: park until a foreign fd is ready; False if ``deadline`` passed first.

    The fd is registered for this wait only (gpm.net.wait_read's machinery).
    """
    try:
        wait_fd(fd, mode, deadline)
    except Timeout:
        return False
    return True
