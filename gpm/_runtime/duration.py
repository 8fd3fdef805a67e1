"""One validator for every duration and deadline the package accepts.

Public to gpm's modules (not to users):
  check_duration(value, name) -> float          seconds (sleep, Timer, with_timeout, ...)
  check_timeout(value, name) -> float | None    as check_duration, None passes (join, dial)
  check_deadline(value, name) -> float          a time.monotonic() value (with_deadline)
  check_opt_deadline(value, name) -> float | None   as check_deadline, None passes

Rules (the same for all): an ``int`` or ``float`` (any ``numbers.Real``, e.g.
``fractions.Fraction`` or a numpy float) is accepted and returned as float
(an int too large for a float becomes +-inf);
``bool`` is rejected although it is an int (``sleep(True)`` is a bug, not one
second), as are ``str`` and every other type (TypeError); NaN raises
ValueError; +-inf are accepted (``inf``: never).  ``name`` names the
parameter in the message, e.g. ``"gpm.sleep: seconds"``.  Validation has no
side effect, so callers run it before taking any lock.

Huge finite values (beyond ``threading.TIMEOUT_MAX``) are valid here: where
the OS wait is made the runtime clamps them.
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["check_duration", "check_timeout", "check_deadline", "check_opt_deadline"]

_isnan = math.isnan


def _check(value: object, name: str, what: str) -> float:
    tp = type(value)
    if tp is float:                    # fast path: no ABC check
        d: float = value               # type: ignore[assignment]
    elif tp is bool or not isinstance(value, Real):
        raise TypeError(f"{name} must be {what} (int or float), got {tp.__name__}")
    else:
        try:
            d = float(value)
        except OverflowError:          # an int beyond float range: longer than any wait
            if not isinstance(value, int):
                raise
            d = math.inf if value > 0 else -math.inf
    if _isnan(d):
        raise ValueError(f"{name} is NaN")
    return d


def check_duration(value: object, name: str) -> float:
    """Validate a duration in seconds and return it as a float.  Any thread.

    Raises:
        TypeError: ``value`` is a bool, a str or not a real number.
        ValueError: ``value`` is NaN.
    """
    return _check(value, name, "a number of seconds")


def check_timeout(value: object, name: str) -> float | None:
    """check_duration, except that None (no timeout) is returned as is."""
    if value is None:
        return None
    return _check(value, name, "None or a number of seconds")


def check_deadline(value: object, name: str) -> float:
    """Validate a deadline on the ``time.monotonic()`` clock; return it as float."""
    return _check(value, name, "a time.monotonic() value")


def check_opt_deadline(value: object, name: str) -> float | None:
    """check_deadline, except that None (no deadline) is returned as is."""
    if value is None:
        return None
    return _check(value, name, "None or a time.monotonic() value")
