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

import queue as _q
import types
from typing import Any

from . import _registry
from ._threading import Condition, Lock, RLock, Semaphore, _rebind

__all__ = ["Queue", "LifoQueue", "PriorityQueue", "SimpleQueue", "patch"]

_threading = types.SimpleNamespace(Lock=Lock, RLock=RLock, Condition=Condition, Semaphore=Semaphore)
_ns: dict[str, Any] = dict(vars(_q))
_ns["threading"] = _threading
Queue = _rebind(_q.Queue, _ns, "Queue", "queue")
_ns["Queue"] = Queue
LifoQueue = _rebind(_q.LifoQueue, _ns, "LifoQueue", "queue")
PriorityQueue = _rebind(_q.PriorityQueue, _ns, "PriorityQueue", "queue")
SimpleQueue = _rebind(_q._PySimpleQueue, _ns, "SimpleQueue", "queue")  # type: ignore[attr-defined]


def patch() -> None:
    for name, obj in (("Queue", Queue), ("LifoQueue", LifoQueue), ("PriorityQueue", PriorityQueue),
                      ("SimpleQueue", SimpleQueue)):
        _registry.patch_attr(_q, name, obj)
