"""gpm: Go's G/P/M scheduler as a Python library.

Public names (the contract is shared/API.md):

  run go gosched sleep syscall gomaxprocs num_goroutine current local stats
  dump_goroutines Goroutine Stats Deadlock ClosedChannelError
  Chan nilchan select default after Timer after_func Ticker
  submodules: gpm.sync gpm.context gpm.net gpm.debug
  __version__ (not in __all__)
"""

from ._version import __version__ as __version__

from ._runtime.api import run as run, go as go, gosched as gosched, sleep as sleep
from ._runtime.api import current as current, gomaxprocs as gomaxprocs, num_goroutine as num_goroutine
from ._runtime.errors import Deadlock as Deadlock, ClosedChannelError as ClosedChannelError
from ._runtime.api import Goroutine as Goroutine
from ._runtime.glocal import local as local
from ._runtime.stats import Stats as Stats, snapshot as stats
from ._runtime.syscall import syscall as syscall
from ._runtime.trace import dump_goroutines as dump_goroutines
from ._runtime.chan import Chan as Chan, nilchan as nilchan
from ._runtime.select import select as select, default as default
from ._time import after as after, Timer as Timer, after_func as after_func, Ticker as Ticker
from . import sync as sync, context as context, net as net, debug as debug

__all__ = [
    "run", "go", "gosched", "sleep", "current", "gomaxprocs", "num_goroutine", "local",
    "Goroutine", "Deadlock", "ClosedChannelError", "stats", "Stats",
    "syscall", "dump_goroutines", "Chan", "nilchan", "select", "default",
    "after", "Timer", "after_func", "Ticker",
]
