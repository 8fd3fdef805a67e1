"""gpm.debug: goroutine dumps on a signal and goroutine profiles.

  install_dump_signal(signum, file=None)   print gpm.dump_goroutines() on a signal
                                           (Go's SIGQUIT dump, without exiting)
  goroutine_profile(path, by_state=True)   write every goroutine's stack in the
                                           collapsed ("folded") format that
                                           flamegraph.pl, inferno and speedscope read

py-spy samples only the greenlet running on each thread; these two show the
parked goroutines too.  Example::

    import signal, gpm, gpm.debug
    gpm.debug.install_dump_signal(signal.SIGUSR1)   # then: kill -USR1 <pid>
    ...
    gpm.debug.goroutine_profile("goroutines.folded") # from any goroutine or thread
"""

import os
import signal
import sys
from types import FrameType
from typing import IO, Any, Callable

from ._runtime.clock import current_sched
from ._runtime.trace import dump_goroutines, goroutine_stacks, write_stderr

__all__ = ["install_dump_signal", "goroutine_profile"]


_Handler = Callable[[int, FrameType | None], Any] | int | None     # what signal.signal returns


def install_dump_signal(signum: int, file: IO[str] | None = None) -> _Handler:
    """Print ``gpm.dump_goroutines()`` to stderr (or ``file``) whenever ``signum`` arrives.

    The program keeps running (unlike Go's SIGQUIT).  Call from the main
    thread (a rule of :mod:`signal`); the handler runs on the main thread,
    which ``gpm.run`` keeps responsive.  Returns the previous handler.

    Raises:
        ValueError: ``signum`` is not a valid signal, or not on the main thread.
    """
    signum = signal.Signals(signum)

    def _dump(sig: int, frame: FrameType | None) -> None:
        text = dump_goroutines()
        if not text:
            text = "gpm: no runtime is running; no goroutines to dump\n"
        write_stderr(f"gpm: {signal.Signals(sig).name} received\n{text}", file)

    return signal.signal(signum, _dump)


def _short(filename: str) -> str:
    """py-spy style short file name: relative to the longest sys.path entry holding it."""
    best = ""
    for p in sys.path:
        if p and filename.startswith(p.rstrip(os.sep) + os.sep) and len(p) > len(best):
            best = p.rstrip(os.sep) + os.sep
    return filename[len(best):] if best else filename


def _clean(s: str) -> str:
    # ';' separates frames and the last ' ' the count: keep names parseable.
    return s.replace(";", ",").replace("\n", " ")


def folded_stacks(by_state: bool = True) -> list[str]:
    """Lines ``frame;frame;... count`` (root first), one per distinct stack; any thread."""
    counts: dict[str, int] = {}
    for r in goroutine_stacks(current_sched()):
        parts = []
        if by_state:
            state = r.waitreason if r.status in ("waiting", "syscall") and r.waitreason else r.status
            parts.append(f"[{state}]")
        frames = list(reversed(r.frames))
        if not frames:
            parts.append(f"<{r.note or 'no stack'}>")
        for fn, ln, name in frames:
            parts.append(f"{name} ({_short(fn)}:{ln})")
        if r.note == "not started":
            parts.append("<not started>")
        key = ";".join(_clean(p) for p in parts)
        counts[key] = counts.get(key, 0) + 1
    return [f"{k} {n}" for k, n in sorted(counts.items())]


def goroutine_profile(path: "str | os.PathLike[str] | IO[str]", by_state: bool = True) -> int:
    """Write every goroutine's stack to ``path`` in collapsed ("folded") stack format.

    One line per distinct stack: frames root first, separated by ``;``, then a
    space and the number of goroutines with that stack (so the counts add up
    to the goroutines alive).  A frame is ``function (file:line)`` as py-spy
    writes it; with ``by_state`` the root frame is the goroutine's state or
    wait reason (``[sleep]``, ``[chan receive]``, ``[running]``), so parked
    work is grouped by what it waits for.  Open the file with speedscope,
    ``flamegraph.pl`` or ``inferno-flamegraph``.

    ``path`` is a file name or a text file object.  Any thread; best-effort
    snapshot.  Returns the number of goroutines written (0 if no runtime runs).
    """
    lines = folded_stacks(by_state)
    text = "".join(line + "\n" for line in lines)
    if hasattr(path, "write"):
        path.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return sum(int(line.rsplit(" ", 1)[1]) for line in lines)
