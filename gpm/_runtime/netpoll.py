"""The platform-free netpoller: PollDesc (Go's pollDesc), the fd table, and
the park/ready protocol around them.  The OS part (netpoll_epoll.py) must
provide a class with netpollopen(pd), netpollclose(pd), netpoll(timeout) ->
[G], block(pp, timeout), wake_owner(pp), add_waiter(delta), close().  The
scheduler reaches it only as ``Sched.netpoller`` (findrunnable's netpoll(0),
stopm's block), set once here.

One PollDesc per fd (Go: a netFD owns its pollDesc).  ``pollopen(sock)``
makes the PollDesc of a socket gpm owns (Conn, Listener, a dial in
progress) and enters it in the process-wide fd table ``_fdtab``;
``wait_fd`` (gpm.net.wait_read/wait_write on an fd gpm does not own) shares
the table's PollDesc of that fd, or makes a *foreign* one that lives while
some wait_fd uses it (``refs``).  So a reader and a writer of one fd, or a
wait_read on a Conn's own fd, use the same slots and the same epoll
registration: a second registration of one fd never happens, and closing one
waiter's PollDesc never drops another's.

A PollDesc has one reader slot ``rg`` and one writer slot ``wg``; each holds
None (empty), READY (an edge arrived while nobody waited) or the parked G.
Deadlines ``rd``/``wd`` are absolute ``time.monotonic()`` values or None.  A
wait_fd brings its own deadline (``rx``/``wx`` mark a parked waiter that
does; moving the fd's deadlines leaves it alone).  While a G waits with a
deadline a runtime timer is armed on the G's home P and kept in ``rt``/``wt``;
a timer that fires when it is no longer the slot's armed timer is stale and
ignored (Go drops stale deadline timers by rseq/wseq; the timer object's
identity is the same test, also for a wait that brings its own deadline).

Wait protocol (``pd.wait(mode)``, goroutine only; the caller has just seen
EAGAIN and will retry its syscall after ``wait`` returns):
  1. under ``pd.lock``: closing -> ClosedError; deadline passed -> Timeout;
     slot READY -> consume it and return (an edge came after the syscall);
     slot holds a G -> RuntimeError (two waiters on one side of an fd: an
     error, never a silent overwrite);
  2. count the waiter (netpoll_waiters, checkdead), store the G in the slot,
     arm the deadline timer, ``gopark`` releasing ``pd.lock``;
  3. a waker (netpoll edge, deadline timer, close, deadline moved into the
     past) under ``pd.lock`` takes the G out of the slot (slot := None),
     deletes its deadline timer, releases the lock, then ``goready``s it;
  4. the G runs again, uncounts itself (after goready: checkdead never sees
     a G that is neither counted nor runnable) and returns; the caller's loop
     rechecks closing/deadline and retries the syscall.
An edge is never lost: it either finds the G (wakes it) or sets READY, which
step 1 of the next wait consumes.

Plain threads never park here: they wait in ``select.poll`` on the fd in
short slices, rechecking ``closing`` and the deadlines (they block their OS
thread, as channels do; API.md).

PollDesc field guards:
  fd owner foreign            set once (owner: a weakref to the owning socket
                              for pollopen's, else None; foreign: made by wait_fd)
  lock                        guards rg wg rd wd rt wt rx wx closing
  refs                        guarded by ``_fdtab_lock``: wait_fd calls using a
                              foreign PollDesc (it leaves the table at 0)
  np                          the Netpoll the fd is registered with; set under
                              ``lock`` on first goroutine wait, cleared by close
  closing                     written under ``lock``; read racily by ``prepare``
                              (a stale False costs one syscall on a closed fd,
                              which the caller maps to ClosedError)
  hup                         set (never cleared) by netpoll before the edge's
                              wake/READY, which publish it under ``lock``
  rdrained                    "a recv saw the socket empty and no read edge has
                              been consumed since": set by the single reader
                              after a short recv (Conn.read), cleared under
                              ``lock`` by every consumption of a read edge (a
                              READY taken in ``wait``, a reader woken by
                              ``netpollready``), whether or not the consumer
                              then reads.  While it holds and ``rg`` is not
                              READY and ``hup`` is unset, a recv can only
                              return EAGAIN, so Conn.read parks first.
  _fdtab                      fd -> its one PollDesc; guarded by ``_fdtab_lock``,
                              which is also held across a PollDesc's close so
                              that a new PollDesc of a reused fd number is made
                              only after the old one left epoll.

Lock order: _fdtab_lock > pd.lock > Netpoll.lock (netpollopen/close, and via
P.wake from modtimer) > P.timers lock and Note locks.  Nothing is readied and
no user code runs under these locks.
"""

import select
import weakref

from greenlet import getcurrent

from . import sched as _s
from .clock import nanotime
from .errors import throw
from .g import WaitReason, WorkerGreenlet
from .locks import new_lock
from .netpoll_epoll import Netpoll
from .timers import RTimer, modtimer, deltimer

__all__ = ["PollDesc", "ClosedError", "Timeout", "READY", "netpollget", "pollopen", "wait_fd", "maybe_yield"]

READY = "READY"             # Go's pdReady
_MODE_R = 0
_MODE_W = 1
THREAD_POLL_SLICE = 0.05    # a plain thread rechecks close/deadline this often

_init_lock = new_lock("netpollinit")     # serializes creation of a runtime's Netpoll
_poll = select.poll         # bound before gpm.monkey can patch select (the runtime waits the original way)


class ClosedError(OSError):
    """Use of a closed network connection or listener (Go's net.ErrClosed)."""

    def __init__(self, msg="use of closed network connection"):
        super().__init__(msg)


class Timeout(TimeoutError):
    """An I/O deadline passed (Go's os.ErrDeadlineExceeded)."""

    def __init__(self, msg="i/o timeout"):
        super().__init__(msg)


def maybe_yield():
    """Yield the P if the running goroutine's time slice (10 ms) is used up.

    Goroutine or plain thread.  An I/O loop that never has to park (an accept
    loop with a full backlog, a reader of a fast peer) would otherwise hold
    its P forever: Go preempts it, gpm cannot (no async preemption), so the
    net operations offer a yield point on their no-park path instead.
    """
    pp = getattr(getcurrent(), "pp", None)
    if pp is not None and nanotime() - pp.slice_start > _s.TIME_SLICE:
        _s.gosched()


def netpollget(sched):
    """The runtime's Netpoll, created on first use.  Any thread."""
    np = sched.netpoller
    if np is not None:
        return np
    with _init_lock:
        np = sched.netpoller
        if np is None:
            if sched.stopping:
                raise RuntimeError("gpm.net: the runtime is stopping")
            np = Netpoll(sched)
            sched.netpoller = np        # published once constructed: P.wake and the Ms read it
    return np


_OWN = object()             # wait(): no deadline of its own, use the fd's rd/wd


class PollDesc:
    __slots__ = ("fd", "owner", "foreign", "refs", "lock", "np", "rg", "wg", "rd", "wd", "rt", "wt", "rx", "wx",
                 "closing", "hup", "rdrained")

    def __init__(self, fd, owner=None, foreign=False):
        self.fd = fd
        self.owner = owner      # weakref to the owning socket (pollopen), else None
        self.foreign = foreign  # made by wait_fd for an fd gpm does not own; lives while refs > 0
        self.refs = 0           # wait_fd calls using it (_fdtab_lock)
        self.lock = new_lock("polldesc")
        self.np = None
        self.rg = None
        self.wg = None
        self.rd = None
        self.wd = None
        self.rt = None
        self.wt = None
        self.rx = False         # the G in rg brought its own deadline (wait_fd)
        self.wx = False         # the G in wg brought its own deadline (wait_fd)
        self.hup = False        # an edge carried RDHUP/HUP/ERR: set once by netpoll, never cleared
        self.rdrained = False   # a recv saw the socket empty and no read edge was consumed since
        self.closing = False

    # -- checks ------------------------------------------------------------

    def prepare(self, mode):
        """Raise ClosedError/Timeout before an I/O attempt (racy read; see module doc)."""
        if self.closing:
            raise ClosedError()
        d = self.rd if mode == _MODE_R else self.wd
        if d is not None and d <= nanotime():
            raise Timeout()

    # -- waiting -------------------------------------------------------------

    def wait(self, mode, deadline=_OWN):
        """Park until the fd may be ready for ``mode``; raise on close/deadline.

        Goroutine: parks on the netpoller.  Plain thread: blocks in select.poll.
        Returns True when an I/O edge woke it, False after another wake
        (deadline timer, close): the caller's loop then rechecks and raises.
        ``deadline`` (wait_fd): this wait's own deadline instead of the fd's.
        """
        gr = getcurrent()
        if type(gr) is not WorkerGreenlet:
            self._thread_wait(mode, deadline)
            return True
        gp = gr.gp
        sched = gp.sched
        np = self.np
        if np is None or np.sched is not sched:
            np = netpollget(sched)
            self._register(np)
        own = deadline is not _OWN
        lock = self.lock
        lock.acquire()
        if self.closing:
            lock.release()
            raise ClosedError()
        if mode == _MODE_R:
            slot, d = self.rg, self.rd
        else:
            slot, d = self.wg, self.wd
        if own:
            d = deadline
        if d is not None and d <= nanotime():
            lock.release()
            raise Timeout()
        if slot is READY:
            if mode == _MODE_R:
                self.rg = None
                self.rdrained = False     # the edge is consumed: data may be pending
            else:
                self.wg = None
            lock.release()
            return True
        if slot is not None:
            lock.release()
            what = "read" if mode == _MODE_R else "write"
            raise RuntimeError(f"gpm.net: fd {self.fd} already has a goroutine waiting to {what} "
                               f"(goroutine {getattr(slot, 'goid', '?')}); one reader and one writer "
                               f"may wait on an fd at a time")
        np.add_waiter(1)
        if mode == _MODE_R:
            self.rg = gp
            self.rx = own
            if d is not None:
                self.rt = self._arm(gp, _MODE_R, d)
        else:
            self.wg = gp
            self.wx = own
            if d is not None:
                self.wt = self._arm(gp, _MODE_W, d)
        gp.param = None
        try:
            _s.gopark(lock, WaitReason.IO_WAIT)
        except BaseException:
            # Unwound while parked (GreenletExit into a goroutine discarded at
            # exit): leave the slot, or a close() in its own ``with conn:`` exit
            # would evict -- goready -- the running G itself.
            with lock:
                if (self.rg if mode == _MODE_R else self.wg) is gp:
                    self._take(mode)
            np.add_waiter(-1)
            raise
        np.add_waiter(-1)
        woke = gp.param
        gp.param = None
        return woke is READY

    def _register(self, np):
        """Register with ``np`` (once per runtime), as the fd table's PollDesc of the fd.

        A PollDesc made directly (not by pollopen or wait_fd) enters the table
        here; another live PollDesc of the fd is an error, never overwritten.
        """
        gs = None
        with _fdtab_lock:
            cur = _fdtab.get(self.fd)
            if cur is not self:
                if cur is not None and not cur.closing and not (cur.owner is not None and _stale(cur)):
                    raise RuntimeError(f"gpm.net: fd {self.fd} already has a PollDesc; share it "
                                       f"(netpoll.pollopen / wait_fd) instead of making a second one")
                if not self.closing:
                    _fdtab[self.fd] = self
                if cur is not None:
                    gs = cur._shut()
            with self.lock:
                if self.closing:
                    raise ClosedError()
                if self.np is not np:
                    np.netpollopen(self)
                    self.np = np
        for g in gs or ():
            _s.goready(g)

    def _arm(self, gp, mode, when):
        """Arm a deadline timer on gp's home P.  Requires self.lock."""
        t = RTimer(_deadline_fire)
        t.arg = (self, mode, t)           # the callback checks it is still the armed timer
        cur = getattr(getcurrent(), "pp", None)
        modtimer(t, when, 0.0, gp.pp, cur)
        return t

    def _thread_wait(self, mode, deadline=_OWN):
        """A plain thread: block in select.poll, rechecking close and the deadline."""
        ev = select.POLLIN if mode == _MODE_R else select.POLLOUT
        p = _poll()
        p.register(self.fd, ev)
        while True:
            if deadline is _OWN:
                self.prepare(mode)
                d = self.rd if mode == _MODE_R else self.wd
            else:
                if self.closing:
                    raise ClosedError()
                d = deadline
                if d is not None and d <= nanotime():
                    raise Timeout()
            slice_ = THREAD_POLL_SLICE
            if d is not None:
                slice_ = max(0.0, min(slice_, d - nanotime()))
            if p.poll(slice_ * 1000.0):
                return

    # -- waking --------------------------------------------------------------

    def netpollready(self, rready, wready, gs):
        """An edge for this fd: wake or mark each side.  Called by netpoll."""
        with self.lock:
            if rready:
                g = self.rg
                if g is None:
                    self.rg = READY
                elif g is not READY:
                    self.rg = None
                    self.rdrained = False     # the edge is consumed by the woken reader
                    g.param = READY       # tells wait() an edge woke it (G owns param once woken)
                    gs.append(g)
                    if self.rt is not None:
                        deltimer(self.rt)
                        self.rt = None
            if wready:
                g = self.wg
                if g is None:
                    self.wg = READY
                elif g is not READY:
                    self.wg = None
                    g.param = READY       # tells wait() an edge woke it (G owns param once woken)
                    gs.append(g)
                    if self.wt is not None:
                        deltimer(self.wt)
                        self.wt = None

    def _take(self, mode):
        """Take the parked G of ``mode`` (or None) and stop its timer.  Requires lock."""
        if mode == _MODE_R:
            g = self.rg
            if g is None or g is READY:
                return None
            self.rg = None
            t, self.rt = self.rt, None
        else:
            g = self.wg
            if g is None or g is READY:
                return None
            self.wg = None
            t, self.wt = self.wt, None
        if t is not None:
            deltimer(t)
        return g

    def set_deadline(self, mode, when):
        """Set the read (0), write (1) or both (2) deadline.  Any thread.

        A waiting G sees the new deadline: its timer is re-armed, or it is
        woken at once if the deadline is already past (it then raises Timeout).
        A wait_fd waiter with its own deadline is left alone.  ClosedError
        after close (Go's SetDeadline returns ErrClosed).
        """
        wake = []
        with self.lock:
            if self.closing:
                raise ClosedError()
            for m in ((_MODE_R, _MODE_W) if mode == 2 else (mode,)):
                if m == _MODE_R:
                    self.rd = when
                    g, own = self.rg, self.rx
                else:
                    self.wd = when
                    g, own = self.wg, self.wx
                if g is None or g is READY or own:
                    continue
                if when is not None and when <= nanotime():
                    wake.append(self._take(m))
                    continue
                old = self.rt if m == _MODE_R else self.wt
                if old is not None:
                    deltimer(old)
                t = None
                if when is not None:
                    t = self._arm(g, m, when)
                if m == _MODE_R:
                    self.rt = t
                else:
                    self.wt = t
        for g in wake:
            _s.goready(g)

    def close(self):
        """pollUnblock + netpollclose: wake both sides with ClosedError.  Any thread.

        The caller closes the fd afterwards.  Returns False if already closed.
        """
        with _fdtab_lock:
            if _fdtab.get(self.fd) is self:
                del _fdtab[self.fd]
            gs = self._shut()
        if gs is None:
            return False
        for g in gs:
            _s.goready(g)
        return True

    def _shut(self):
        """Mark closing, take both waiters, leave epoll.  Requires _fdtab_lock.

        Returns the Gs to ready (after releasing _fdtab_lock), None if already closed.
        """
        with self.lock:
            if self.closing:
                return None
            self.closing = True
            gs = [g for g in (self._take(_MODE_R), self._take(_MODE_W)) if g is not None]
            np = self.np
            self.np = None
        if np is not None:
            np.netpollclose(self)
        return gs


def _deadline_fire(arg, now):
    """Timer callback: a deadline passed; wake the waiter unless the timer is stale."""
    pd, mode, t = arg
    with pd.lock:
        if mode == _MODE_R:
            if pd.rt is not t:
                return                # deleted, replaced or the G already woken
            pd.rt = None
            g = pd.rg
            if g is None or g is READY:
                return
            pd.rg = None
        else:
            if pd.wt is not t:
                return
            pd.wt = None
            g = pd.wg
            if g is None or g is READY:
                return
            pd.wg = None
    _s.goready(g)


# -- the fd table ------------------------------------------------------------

_fdtab: dict[int, "PollDesc"] = {}   # fd -> its one PollDesc (see module doc)
_fdtab_lock = new_lock("fdtab")    # guards _fdtab and every PollDesc.refs; held across a close


def _stale(pd):
    """An owned PollDesc whose socket is gone or closed (closed behind gpm's back:
    the fd number may have been reused).  Requires _fdtab_lock."""
    sock = pd.owner()
    return sock is None or sock.fileno() != pd.fd


def pollopen(sock):
    """The PollDesc of a socket gpm owns and has just made or accepted.  Any thread.

    It replaces any table entry of the same fd number: the kernel just handed
    the number out, so that entry's fd was closed behind gpm's back (its
    waiters get ClosedError).  Close the PollDesc before closing the socket.
    """
    fd = sock.fileno()
    pd = PollDesc(fd, weakref.ref(sock))
    gs = None
    with _fdtab_lock:
        old = _fdtab.get(fd)
        _fdtab[fd] = pd
        if old is not None:
            gs = old._shut()
    for g in gs or ():
        _s.goready(g)
    return pd


def _fdacquire(fd):
    """The table's PollDesc of ``fd`` for a wait_fd (shared, or a new foreign one)."""
    gs = None
    with _fdtab_lock:
        pd = _fdtab.get(fd)
        if pd is not None and pd.owner is not None and _stale(pd):
            del _fdtab[fd]
            gs = pd._shut()
            pd = None
        if pd is None:
            pd = PollDesc(fd, foreign=True)
            _fdtab[fd] = pd
        pd.refs += 1
    for g in gs or ():
        _s.goready(g)
    return pd


def _fdrelease(pd):
    """End a wait_fd's use of ``pd``; the last user of a foreign PollDesc closes it."""
    with _fdtab_lock:
        pd.refs -= 1
        if pd.refs or not pd.foreign:
            return
        if _fdtab.get(pd.fd) is pd:
            del _fdtab[pd.fd]
        gs = pd._shut()
    if gs:
        throw(f"gpm.net: foreign PollDesc of fd {pd.fd} closed with {len(gs)} waiter(s)")


def wait_fd(fd, mode, deadline=None):
    """Park until a foreign non-blocking fd is ready (gpm.net.wait_read/wait_write).

    Uses the fd's one PollDesc (a Conn's own, or a foreign one shared by
    concurrent wait_fd calls and unregistered by the last), so the caller may
    close the fd at any time after we return.
    """
    pd = _fdacquire(fd)
    try:
        while not pd.wait(mode, deadline):    # woken by the deadline timer: the next wait raises
            pass
    finally:
        _fdrelease(pd)
