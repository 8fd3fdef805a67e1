"""gpm.monkey select item: ``select.select``, ``select.poll``, ``select.epoll`` and ``selectors``.

Inside a goroutine each blocking call first asks the original without waiting (timeout 0): if
anything is ready, or the timeout is 0, that answer is returned.  Otherwise the goroutine parks
on the netpoller until one of the fds may be ready or the timeout passes, then asks the
original again (so results, ordering and error cases are always the original's):

  * ``epoll`` objects are themselves pollable fds: the patched ``epoll`` (a wrapper) registers
    its own fd with the netpoller once, on the first goroutine wait, and unregisters it on close;
  * ``select()`` and ``poll`` objects have no fd of their own: a blocking call builds a private,
    level-triggered epoll of the given fds for the length of that one wait and parks on it.

On a plain thread, or with no runtime, the originals run unchanged.  ``selectors`` is covered by
pointing ``PollSelector._selector_cls`` and ``EpollSelector._selector_cls`` (``DefaultSelector``)
at the patched classes and ``SelectSelector._select`` at the patched ``select``.  Selectors
created before patching keep their original selector objects.

Timeout argument checks happen before anything else, with the originals' messages.
"""

import errno
import math
import operator
import select as _sel
import selectors as _selectors

from greenlet import getcurrent

from .._runtime import netpoll_epoll as _netpoll_epoll    # noqa: F401 - imported before patching: it binds the original epoll
from ._fdwait import WorkerGreenlet as _WG, waiter_of, MODE_R, nanotime, wait_fd_deadline
from ._registry import patch_attr

__all__ = ["select", "poll", "epoll", "patch"]

_orig_select = _sel.select
_orig_poll = _sel.poll
_orig_epoll = _sel.epoll
_EPOLLIN = _sel.EPOLLIN
_EPOLLOUT = _sel.EPOLLOUT
_EPOLLPRI = _sel.EPOLLPRI
# poll bits that epoll understands with the same values on Linux
_POLL_TO_EPOLL = (_sel.POLLIN | _sel.POLLPRI | _sel.POLLOUT | _sel.POLLRDNORM | _sel.POLLRDBAND
                  | _sel.POLLWRNORM | _sel.POLLWRBAND | getattr(_sel, "POLLRDHUP", 0))


def _deadline_seconds(timeout, msg):
    """Absolute nanotime deadline for a timeout in seconds (None: forever)."""
    if timeout is None:
        return None
    if not isinstance(timeout, float):
        try:
            timeout = operator.index(timeout)
        except TypeError:
            raise TypeError(msg) from None
    elif timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    return timeout


def _fd_of(obj):
    if isinstance(obj, int):
        return obj
    return operator.index(obj.fileno())


def _wait_many(masks, deadline):
    """Park until one of ``masks`` ({fd: epoll events}) may be ready; False once ``deadline`` passed."""
    ep = _orig_epoll()
    try:
        for fd, ev in masks.items():
            try:
                ep.register(fd, ev)
            except OSError as e:
                if e.errno == errno.EPERM:   # a regular file: poll/select call it always ready
                    return True
                if e.errno == errno.EBADF:   # the original reports it (EBADF / POLLNVAL)
                    return True
                raise
        return wait_fd_deadline(ep.fileno(), MODE_R, deadline)
    finally:
        ep.close()


def select(rlist, wlist, xlist, timeout=None):
    if type(getcurrent()) is not _WG:
        return _orig_select(rlist, wlist, xlist, timeout)
    t = _deadline_seconds(timeout, "timeout must be a float or None")
    if t is not None and t < 0:
        raise ValueError("timeout must be non-negative")
    res = _orig_select(rlist, wlist, xlist, 0)
    if res[0] or res[1] or res[2] or t == 0:
        return res
    deadline = None if t is None else nanotime() + t
    masks = {}
    for objs, ev in ((rlist, _EPOLLIN), (wlist, _EPOLLOUT), (xlist, _EPOLLPRI)):
        for o in objs:
            fd = _fd_of(o)
            masks[fd] = masks.get(fd, 0) | ev
    if not masks:
        _sleep_until(deadline)
        return res
    while True:
        ready = _wait_many(masks, deadline)
        res = _orig_select(rlist, wlist, xlist, 0)
        if res[0] or res[1] or res[2] or not ready:
            return res


def _sleep_until(deadline):
    """No fd to wait for: just the timeout (forever if None), as the originals do."""
    from .._runtime.api import sleep
    sleep(float("inf") if deadline is None else max(0.0, deadline - nanotime()))


select.__doc__ = _orig_select.__doc__


def _deadline_ms(timeout):
    """poll()'s timeout in ms: None or negative waits forever."""
    if timeout is None:
        return None
    if not isinstance(timeout, float):
        try:
            timeout = operator.index(timeout)
        except TypeError:
            raise TypeError("timeout must be an integer or None") from None
    elif timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    if timeout < 0:
        return None
    return math.ceil(timeout) / 1000.0 if isinstance(timeout, float) else timeout / 1000.0


class poll:
    """select.poll() object whose blocking ``poll`` parks inside goroutines."""

    __slots__ = ("_p", "_masks", "_running")

    def __init__(self):
        self._p = _orig_poll()
        self._masks = {}            # fd -> event mask as registered; one dict store per call
        self._running = False       # a goroutine is in poll(): the original refuses a second one

    def register(self, fd, eventmask=_sel.POLLIN | _sel.POLLPRI | _sel.POLLOUT):
        self._p.register(fd, eventmask)
        self._masks[_fd_of(fd)] = eventmask

    def modify(self, fd, eventmask):
        self._p.modify(fd, eventmask)
        self._masks[_fd_of(fd)] = eventmask

    def unregister(self, fd):
        self._p.unregister(fd)
        self._masks.pop(_fd_of(fd), None)

    def poll(self, timeout=None):
        if type(getcurrent()) is not _WG:
            return self._p.poll(timeout)
        t = _deadline_ms(timeout)
        if self._running:
            raise RuntimeError("concurrent poll() invocation")
        res = self._p.poll(0)
        if res or t == 0:
            return res
        deadline = None if t is None else nanotime() + t
        self._running = True
        try:
            while True:
                masks = {fd: (m & _POLL_TO_EPOLL) for fd, m in self._masks.items()}
                if not masks:
                    _sleep_until(deadline)
                    return []
                ready = _wait_many(masks, deadline)
                res = self._p.poll(0)
                if res or not ready:
                    return res
        finally:
            self._running = False


class epoll:
    """select.epoll whose blocking ``poll`` parks inside goroutines (its fd on the netpoller).

    A wrapper (select.epoll cannot be subclassed) with the original's methods and attributes.
    ``_gw`` (the FdWaiter) is made on the first goroutine wait (``_fdwait.waiter_of``).
    """

    __slots__ = ("_ep", "_gw", "__weakref__")

    def __init__(self, sizehint=-1, flags=0):
        self._ep = _orig_epoll(sizehint, flags)
        self._gw = None

    @classmethod
    def fromfd(cls, fd):
        self = cls.__new__(cls)
        self._ep = _orig_epoll.fromfd(fd)
        self._gw = None
        return self

    @property
    def closed(self):
        return self._ep.closed

    def fileno(self):
        return self._ep.fileno()

    def register(self, fd, eventmask=_EPOLLIN | _EPOLLPRI | _EPOLLOUT):
        return self._ep.register(fd, eventmask)

    def modify(self, fd, eventmask):
        return self._ep.modify(fd, eventmask)

    def unregister(self, fd):
        return self._ep.unregister(fd)

    def poll(self, timeout=None, maxevents=-1):
        ep = self._ep
        if type(getcurrent()) is not _WG:
            return ep.poll(timeout, maxevents)
        t = _deadline_seconds(timeout, "timeout must be an integer or None")
        if t is not None and t < 0:
            t = None
        res = ep.poll(0, maxevents)
        if res or t == 0:
            return res
        deadline = None if t is None else nanotime() + t
        w = self._waiter()
        mu = w.mu[MODE_R]
        mu.lock()
        try:
            while True:
                try:
                    w.park(MODE_R, deadline)
                except TimeoutError:
                    return ep.poll(0, maxevents)
                res = ep.poll(0, maxevents)
                if res:
                    return res
        finally:
            mu.unlock()

    def _waiter(self):
        return self._gw or waiter_of(self)

    def close(self):
        w, self._gw = self._gw, None
        if w is not None:
            w.close()
        self._ep.close()

    def __enter__(self):
        self._ep.__enter__()
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_gw", None) is not None:
            self.close()


def patch():
    patch_attr(_sel, "select", select)
    patch_attr(_sel, "poll", poll)
    patch_attr(_sel, "epoll", epoll)
    patch_attr(_selectors.PollSelector, "_selector_cls", poll, name="selectors.PollSelector")
    patch_attr(_selectors.EpollSelector, "_selector_cls", epoll, name="selectors.EpollSelector")
    if _selectors.SelectSelector.__dict__.get("_select") is _orig_select:     # bound at class creation
        patch_attr(_selectors.SelectSelector, "_select", staticmethod(select), name="selectors.SelectSelector")
