"""gpm.monkey time item: ``time.sleep`` parks on a runtime timer inside goroutines.

On a plain thread (or with no runtime) the original ``time.sleep`` runs.  Inside a goroutine the
argument is checked with the original's rules and messages, then the goroutine sleeps on its P's
timer heap (``gpm.sleep``); ``time.sleep(0)`` yields the P, as ``gpm.sleep(0)`` does.
"""

import operator
import time as _tm

from greenlet import getcurrent

from .._runtime.api import sleep as _gsleep
from ._fdwait import WorkerGreenlet as _WG
from ._registry import patch_attr

__all__ = ["sleep", "patch"]

_orig_sleep = _tm.sleep
_NS_MAX = 2 ** 63 - 1


def _seconds(secs):
    """time.sleep's argument checks (CPython's _PyTime_FromSecondsObject and sleep's own).

    A value it rejects is handed to the original, which raises before sleeping at all, so the
    exception is the running interpreter's own (its messages differ between releases: for
    10**30, 3.12 says "C _PyTime_t", 3.13.0 "C PyTime_t", 3.13.15 "platform time_t")."""
    tp = type(secs)
    if tp is not float and tp is not int:
        secs = float(secs) if isinstance(secs, float) else operator.index(secs)
    if secs != secs or secs in (float("inf"), float("-inf")) or abs(secs) * 1e9 > _NS_MAX or secs < 0:
        _orig_sleep(secs)
        raise OverflowError("timestamp too large to convert to C _PyTime_t")   # not reached
    return float(secs)


def sleep(secs):
    """time.sleep that parks the goroutine (a timer) instead of blocking its M."""
    if type(getcurrent()) is not _WG:
        return _orig_sleep(secs)
    _gsleep(_seconds(secs))


sleep.__doc__ = _orig_sleep.__doc__


def patch():
    patch_attr(_tm, "sleep", sleep)
