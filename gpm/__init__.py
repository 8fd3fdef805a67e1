"""gpm: Go's G/P/M scheduler as a Python library.

Public names (the contract is shared/API.md):

  run go gosched sleep syscall gomaxprocs num_goroutine current stats
  dump_goroutines Goroutine Stats Deadlock ClosedChannelError
  Chan nilchan select default after Timer after_func Ticker
  submodules: gpm.sync gpm.context gpm.net gpm.debug
"""

from ._runtime.api import run as run, go as go, gosched as gosched, sleep as sleep
from ._runtime.api import current as current, gomaxprocs as gomaxprocs, num_goroutine as num_goroutine
from ._runtime.errors import Deadlock as Deadlock, ClosedChannelError as ClosedChannelError
from ._runtime.g import G as Goroutine
from ._runtime.stats import Stats as Stats, snapshot as stats

__all__ = [
    "run", "go", "gosched", "sleep", "current", "gomaxprocs", "num_goroutine",
    "Goroutine", "Deadlock", "ClosedChannelError", "stats", "Stats",
]
