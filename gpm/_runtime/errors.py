"""Exceptions of the runtime.

User errors raise documented exceptions (Go's panics); a broken runtime
invariant calls ``throw(msg)``, which raises FatalError.  FatalError derives
from BaseException so that ``except Exception`` in user code cannot hide it.
"""

from typing import NoReturn

__all__ = ["Deadlock", "ClosedChannelError", "FatalError", "throw"]


class Deadlock(RuntimeError):
    """Every goroutine is blocked forever (Go: "all goroutines are asleep - deadlock!")."""


class ClosedChannelError(RuntimeError):
    """Send on, or close of, a closed (or nil) channel."""


class FatalError(BaseException):
    """A runtime invariant was broken: a bug in gpm, not in the program."""


def throw(msg: str) -> NoReturn:
    """Abort with a FatalError (Go's ``throw``)."""
    raise FatalError("gpm: fatal error: " + msg)
