"""clock (layer L0): the runtime clock, the running G, and which runtime is running.

Every runtime module may import this one; it imports only ``locks`` and
greenlet.  It holds what used to make a dozen modules import sched.py:

  nanotime()        the runtime clock (API.md: ``time.monotonic``)
  getg()            the running G, or None on a plain thread or a scheduler greenlet
  current_sched()   the caller's runtime (its goroutine's, else gpm.run's, else the
                    background one, else None)
  the registry      which Sched is gpm.run's (``_current``) and which is the
                    background one gpm.go started outside gpm.run (``_background``);
                    api.py registers and releases them (``register``/``release``)

Invariants (guard: ``_rt_lock``, rank "rt"):
  * at most one runtime of each kind is registered;
  * ``_current`` / ``_background`` are written only under ``_rt_lock``; any
    thread reads them without it, as one reference each (a single load: a
    stale value is a runtime that is stopping, which every caller tolerates:
    its operations fail with "the runtime is stopping" or are discarded);
  * in a fork child the registry is emptied (``_after_fork_child``): the
    parent's runtimes have no threads there.
"""

import os
import time

from greenlet import getcurrent

from .locks import new_lock

__all__ = ["nanotime", "getg", "current_sched", "plain_sched", "runtimes", "register", "release"]

nanotime = time.monotonic          # the runtime clock (API.md: time.monotonic)

_rt_lock = new_lock("rt")
_current = None                    # gpm.run's runtime (guarded by _rt_lock for writes)
_background = None                 # gpm.go's background runtime (same)


def getg():
    """The running G, or None on a plain thread or a scheduler greenlet.  Any thread."""
    return getattr(getcurrent(), "gp", None)


def current_sched():
    """The caller's runtime: a goroutine's own, else gpm.run's, else the
    background one, else None.  Any thread (racy reads of one reference each)."""
    pp = getattr(getcurrent(), "pp", None)
    if pp is not None:
        return pp.sched
    return _current or _background


def plain_sched():
    """The runtime a plain thread uses: gpm.run's, else the background one, else None."""
    return _current or _background


def runtimes():
    """(gpm.run's runtime, the background one); either may be None.  Any thread."""
    return _current, _background


def register(sched, background):
    """Register ``sched`` as gpm.run's (or the background) runtime.  api.py only.

    Raises RuntimeError if one of that kind is registered."""
    global _current, _background
    with _rt_lock:
        if (_background if background else _current) is not None:
            raise RuntimeError("gpm: a runtime is already running")
        if background:
            _background = sched
        else:
            _current = sched


def release(sched):
    """Forget ``sched`` (whichever slot it is in).  api.py only; idempotent."""
    global _current, _background
    with _rt_lock:
        if _current is sched:
            _current = None
        if _background is sched:
            _background = None


def _after_fork_child():
    """In a fork child only the forking thread exists: every runtime of the
    parent is gone.  Mark them (their threads do not exist here; their locks
    may be held by threads that vanished, so nothing of theirs is locked) and
    forget them, so a new gpm.run or gpm.go works."""
    global _current, _background, _rt_lock
    for sched in (_current, _background):
        if sched is not None:
            sched.forked = True
            sched.stopping = True
    _current = _background = None
    _rt_lock = new_lock("rt")


os.register_at_fork(after_in_child=_after_fork_child)
