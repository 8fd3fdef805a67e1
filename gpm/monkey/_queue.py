"""queue, patched: Queue, LifoQueue, PriorityQueue and SimpleQueue on gpm.monkey's Lock.

The classes are the interpreter's own (``queue.Queue`` and friends, and ``queue._PySimpleQueue``
for the C ``SimpleQueue``), rebuilt as subclasses whose functions see a ``threading`` whose Lock,
Condition and Semaphore are those of ``gpm.monkey._threading``: a goroutine blocked in ``get`` or
``put`` parks, a plain thread blocks, and one queue may be shared by both at once.  Every
message, exception (``queue.Empty``, ``queue.Full``) and argument check is the original's.
This works whether or not ``threading`` itself is patched.

``SimpleQueue`` loses the C version's guarantee that ``put`` never blocks and is reentrant (it
takes the Semaphore's lock briefly), as ``queue._PySimpleQueue``, the interpreter's own fallback.
"""

import heapq
import queue as _q
import types
from collections import deque
from typing import Any

from . import _registry
from ._threading import Condition, Lock, RLock, Semaphore, _rebind

__all__ = ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue", "patch"]

_threading = types.SimpleNamespace(Lock=Lock, RLock=RLock, Condition=Condition, Semaphore=Semaphore)
_ns: dict[str, Any] = dict(vars(_q))
_ns["threading"] = _threading
Queue = _rebind(_q.Queue, _ns, "Queue", "queue")
_ns["Queue"] = Queue

# -- put/get: the original's no-wait path inlined --------------------------------------------
#
# The original put/get take ``with self.not_full``/``not_empty`` (Condition.__enter__ and
# __exit__, Lock.acquire/release: four Python frames, against C locks unpatched), then call
# ``_qsize``/``_put``/``_get`` and ``notify``.  The fast path does exactly what the original does
# when it needs no wait: default timeout, the mutex free (a try of its C lock), room or an item
# there, not shut down (3.13); ``notify`` only if the Condition has waiters (the original's
# notify with none does nothing; ``_waiters`` only changes under the mutex, which we hold).
# Anything else (a wait, a timeout to validate, a full or empty queue, a contended mutex) goes to
# the original function, unchanged.  The container operation is the C function the class's own
# ``_put``/``_get`` calls (``_gpm_put``/``_gpm_get``: deque append/popleft for Queue, list
# append/pop for LifoQueue, heappush/heappop for PriorityQueue); a subclass that defines its own
# _init/_qsize/_put/_get takes the original path (``_gpm_fast`` False, set per class).

_SHUTDOWN = hasattr(_q.Queue, "shutdown")          # 3.13+: put/get check is_shutdown first
_orig_put = Queue.put     # the interpreter's Queue.put/get (LifoQueue and PriorityQueue share them)
_orig_get = Queue.get
_HOOKS = ("_init", "_qsize", "_put", "_get")


def _fast_put(self: Any, item: Any, block: bool = True, timeout: Any = None) -> None:
    m = self.mutex
    if timeout is None and self._gpm_fast and type(m) is Lock and m._l.acquire(False):
        lk = m._l
        try:
            q = self.queue
            if (self.maxsize <= 0 or len(q) < self.maxsize) and not (_SHUTDOWN and self.is_shutdown):
                self._gpm_put(q, item)
                self.unfinished_tasks += 1
                ne = self.not_empty
                if ne._waiters:
                    ne.notify()
                return
        finally:
            lk.release()
            if m._waiters:
                m._wake_one()
    _orig_put(self, item, block, timeout)


def _fast_get(self: Any, block: bool = True, timeout: Any = None) -> Any:
    m = self.mutex
    if timeout is None and self._gpm_fast and type(m) is Lock and m._l.acquire(False):
        lk = m._l
        try:
            q = self.queue
            if q:
                item = self._gpm_get(q)
                nf = self.not_full
                if nf._waiters:
                    nf.notify()
                return item
        finally:
            lk.release()
            if m._waiters:
                m._wake_one()
    return _orig_get(self, block, timeout)


_fast_put.__doc__ = _orig_put.__doc__
_fast_get.__doc__ = _orig_get.__doc__


def _install_fast(cls: Any, put_c: Any, get_c: Any) -> None:
    """Give ``cls`` the fast put/get over its container's C operations (see above)."""
    hooks = {h: getattr(cls, h) for h in _HOOKS}

    def init_subclass(sub: Any, /, **kw: Any) -> None:
        super(cls, sub).__init_subclass__(**kw)
        sub._gpm_fast = all(getattr(sub, h) is hooks[h] for h in _HOOKS)
    cls._gpm_put = staticmethod(put_c)
    cls._gpm_get = staticmethod(get_c)
    cls._gpm_fast = True
    cls.__init_subclass__ = classmethod(init_subclass)
    cls.put = _fast_put
    cls.get = _fast_get


LifoQueue = _rebind(_q.LifoQueue, _ns, "LifoQueue", "queue")
PriorityQueue = _rebind(_q.PriorityQueue, _ns, "PriorityQueue", "queue")
_install_fast(Queue, deque.append, deque.popleft)
_install_fast(LifoQueue, list.append, list.pop)
_install_fast(PriorityQueue, heapq.heappush, heapq.heappop)
SimpleQueue = _rebind(_q._PySimpleQueue, _ns, "SimpleQueue", "queue")  # type: ignore[attr-defined]


def patch() -> None:
    for name, obj in (("Queue", Queue), ("LifoQueue", LifoQueue), ("PriorityQueue", PriorityQueue),
                      ("SimpleQueue", SimpleQueue)):
        _registry.patch_attr(_q, name, obj)
