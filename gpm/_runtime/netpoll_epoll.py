"""The netpoller's OS part on Linux (layer L3): netpollinit netpollopen netpollclose
netpoll and netpollbreak (``wake_owner``), on ``select.epoll`` (edge-triggered)
and ``os.eventfd``.

One ``Netpoll`` per runtime (``Sched.netpoller``), created on first use by
``netpoll.netpollget`` and closed by api.py's teardown after the Ms have exited.  Each
fd is registered once with IN|OUT|RDHUP|ET (Go's netpollopen); events are
mapped back to their ``PollDesc`` through ``pds`` (Go tags the epoll data with
the pollDesc pointer and an fd sequence number; Python's epoll only carries
the fd, so a stale event for a closed-and-reused fd wakes the new owner once:
harmless, because every waiter retries its syscall after waking).

Poller ownership (DESIGN.md "go idle"): any M may poll without blocking
(``netpoll(0)`` in findrunnable, sysmon); at most one idle M at a time blocks
in ``epoll_wait`` (``block``), with its P's earliest timer as timeout.  That
M's P is ``owner``.  ``P.wake`` calls ``wake_owner``, which writes the
eventfd (deduplicated by ``break_pending``, Go's netpollWakeSig) when the P to
wake is the owner.  No wake is lost: the waker does (1) ``note.wakeup`` then
(2) reads ``owner`` under ``lock``; the owner does (a) sets ``owner`` under
``lock`` then (b) polls its note.  Either (2) sees the owner (eventfd write
ends the epoll_wait) or (b) sees the note signal (the owner does not block).

Field guards:
  ep efd                 set in __init__, closed once by ``close`` (after every M exited)
  lock                   guards pds, owner, break_pending, closed; a leaf except
                         for the eventfd write done under it
  pds                    fd -> PollDesc registered here
  owner                  the P whose M is (about to be) blocked in epoll_wait, or None
  break_pending          an eventfd write is not yet drained
  lastpoll               monotonic time of the last poll; written racily by pollers,
                         read racily by sysmon (a stale float only shifts one
                         sysmon poll by a tick)
  wlock                  guards ``sched.netpoll_waiters`` (a leaf lock)
"""

import os
import select

from .clock import nanotime
from .locks import new_lock

__all__ = ["Netpoll", "EVENTS"]

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_RDHUP = select.EPOLLRDHUP
_ERR = select.EPOLLERR
_HUP = select.EPOLLHUP
EVENTS = _IN | _OUT | _RDHUP | select.EPOLLET    # Go's netpollopen flags
_READ_EV = _IN | _RDHUP | _HUP | _ERR
_WRITE_EV = _OUT | _HUP | _ERR
_HUP_EV = _RDHUP | _HUP | _ERR     # the peer closed or the socket failed: sticky PollDesc.hup
MAX_EVENTS = 128                                 # Go: epoll_wait takes up to 128 events
_epoll = select.epoll                             # bound before gpm.monkey can patch select
MAX_BLOCK = 1e6                                  # cap an epoll timeout (Go: ~11.5 days)


class Netpoll:
    def __init__(self, sched):
        self.sched = sched
        self.ep = _epoll()
        try:
            self.efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except BaseException:
            self.ep.close()
            raise
        self.ep.register(self.efd, _IN)          # level-triggered: drained on every sight
        self.lock = new_lock("netpoll")
        self.wlock = new_lock("netpollw")
        self.pds = {}
        self.owner = None
        self.break_pending = False
        self.closed = False
        self.lastpoll = 0.0

    # -- registration -----------------------------------------------------

    def netpollopen(self, pd):
        """Register ``pd.fd`` once (IN|OUT|RDHUP|ET).  Any thread.

        Never drops another PollDesc's registration: the fd table keeps one
        PollDesc per fd, so an entry of another one here is stale (its fd was
        closed behind gpm's back and the kernel already dropped its epoll
        registration); should the kernel still hold one, ``pd`` takes it over.
        """
        with self.lock:
            if self.closed:
                raise RuntimeError("gpm.net: the runtime's netpoller is closed")
            pds = self.pds
            old = pds.get(pd.fd)
            if old is pd:
                return
            # Publish before registering: netpoll reads pds without the lock,
            # and an edge reported before the entry exists would be lost (ET).
            pds[pd.fd] = pd
            try:
                self.ep.register(pd.fd, EVENTS)
            except FileExistsError:
                if old is None:
                    del pds[pd.fd]
                    raise
                self.ep.modify(pd.fd, EVENTS)
            except BaseException:
                if old is None:
                    del pds[pd.fd]
                else:
                    pds[pd.fd] = old
                raise

    def netpollclose(self, pd):
        """Unregister ``pd.fd`` (before the fd is closed).  Any thread."""
        with self.lock:
            if self.pds.get(pd.fd) is pd:
                del self.pds[pd.fd]
                if not self.closed:
                    try:
                        self.ep.unregister(pd.fd)
                    except OSError:
                        pass          # fd already closed by its owner: the kernel dropped it

    # -- waiter count (checkdead) -------------------------------------------

    def add_waiter(self, delta):
        """Adjust ``sched.netpoll_waiters``.  +1 before a G parks, -1 after it ran again."""
        with self.wlock:
            self.sched.netpoll_waiters += delta

    # -- polling -----------------------------------------------------------

    def netpoll(self, timeout=0.0):
        """Poll once; return the Gs made runnable (caller readies them).  Any M.

        ``timeout`` 0 never blocks; only ``block`` passes a positive timeout.
        """
        try:
            events = self.ep.poll(timeout, MAX_EVENTS)
        except (OSError, ValueError):
            if self.closed:
                return []
            raise
        self.lastpoll = nanotime()
        if not events:
            return []
        efd = self.efd
        pds = self.pds
        gs = []
        for fd, ev in events:
            if fd == efd:
                # Only a blocking poll consumes a break (Go: a non-blocking
                # poller that drained it could leave the owner asleep).
                if timeout != 0:
                    self._drain()
                continue
            pd = pds.get(fd)          # one dict read of a key: atomic; see module doc on staleness
            if pd is None:
                continue
            if ev & _HUP_EV:
                pd.hup = True         # before the wake/READY below, which publish it (pd.lock)
            pd.netpollready(ev & _READ_EV, ev & _WRITE_EV, gs)
        return gs

    def block(self, pp, timeout):
        """Block this idle M in epoll_wait if no other M does.  Owner P's M only.

        Returns None when another M already owns the poller (the caller sleeps
        on its note instead), else the list of Gs made runnable.  ``timeout``
        None means until woken.
        """
        with self.lock:
            if self.owner is not None or self.closed:
                return None
            self.owner = pp
        try:
            # A wake that came before we became owner went to the note only.
            if pp.note.sleep(0):
                return []
            if timeout is None:
                timeout = -1
            elif timeout > MAX_BLOCK:
                timeout = MAX_BLOCK
            return self.netpoll(timeout)
        finally:
            with self.lock:
                self.owner = None

    def wake_owner(self, pp):
        """Go's netpollBreak, deduplicated: interrupt the blocked epoll_wait if ``pp``'s M
        is the poller owner.  Any thread (via P.wake)."""
        with self.lock:
            if self.owner is not pp or self.break_pending or self.closed:
                return
            self.break_pending = True
            os.eventfd_write(self.efd, 1)

    def _drain(self):
        with self.lock:
            try:
                os.eventfd_read(self.efd)
            except (BlockingIOError, OSError):
                pass
            self.break_pending = False

    def close(self):
        """Close epoll and eventfd.  Only after every M has exited (api.join_threads)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            pds = list(self.pds.values())
            self.pds.clear()
        for pd in pds:
            if pd.np is self:
                pd.np = None
        self.ep.close()
        os.close(self.efd)
