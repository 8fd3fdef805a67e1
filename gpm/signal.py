"""gpm.signal: Go's os/signal for goroutines.

Public names: notify stop

``notify(ch, *signums)`` relays the given signals (every catchable one when none is given) to the
gpm.Chan ``ch``; a delivery to a full channel is dropped (use a buffered channel).  While any
channel wants a signal, its previous handler is not called (SIGINT raises no KeyboardInterrupt).
``stop(ch)`` ends the relay to ``ch`` and restores a signal's previous handler once no channel
wants it.  Values sent are ``signal.Signals`` members.

How a signal travels (Go: the signal handler queues it, the os/signal goroutine relays it):
  1. Python runs our handler on the main thread (the C-level handler only sets a flag; the main
     thread blocked in gpm.run wakes within its 50 ms wait, or at once when the wait is
     interrupted).  The handler only writes the signal number to a non-blocking pipe: it may
     interrupt any Python code of the main thread, including runtime code holding a runtime lock,
     so it takes no lock and touches no channel.  A full pipe drops the byte (Go drops too).
  2. One relay goroutine per runtime parks on the pipe's read end (the netpoller), reads the
     numbers and, for each, does a non-blocking send to every channel registered for it.
     Like Go's signal-loop goroutine it lives until the run ends, so a program waiting for a
     signal is never reported as a deadlock.
Handlers can only be installed on the main thread: ``notify``/``stop`` called there install them
directly; called from a goroutine while the main thread is inside ``gpm.run``, they hand the
installation to that thread (Sched.call_on_main) and park until it is done.  When the run ends,
gpm.run's thread restores every previous handler (Sched.at_exit; a background runtime's hooks
run when it is stopped).  In a fork child, or after a background runtime stopped off the main
thread, nothing relays: each of our handlers puts the previous one back on its next signal and
hands it that signal (``_orphaned``).

Shared state (``_mu``, a leaf lock, guards all of it): ``_chans`` signal -> channels in
registration order; ``_prev`` signal -> the handler our handler replaced; ``_sched`` the runtime
the registrations belong to; ``_relay_started`` for that runtime.  Handler installation itself
happens with ``_mu`` released (signal.signal may run pending Python handlers).
"""

import os
import signal as _signal
import threading
from types import FrameType
from typing import Any, Callable, TypeVar

from ._runtime.api import go as _go
from ._runtime.chan import Chan
from ._runtime.g import WorkerGreenlet
from ._runtime.locks import new_lock
from ._runtime.clock import current_sched
from ._runtime.select import default, select
from greenlet import getcurrent

__all__ = ["notify", "stop"]

_mu = new_lock()
_chans: dict[int, list[Chan[Any]]] = {}   # signum -> [Chan]                     (guarded by _mu)
_prev: dict[int, Any] = {}                # signum -> previous handler            (guarded by _mu)
_sched: Any = None         # runtime owning the registrations      (guarded by _mu)
_relay_started = False     # the relay goroutine of _sched runs    (guarded by _mu)
_pipe: tuple[int, int] | None = None   # (read fd, write fd), made once, non-blocking, close-on-exec
_UNCATCHABLE = {_signal.SIGKILL, _signal.SIGSTOP}
_T = TypeVar("_T")


def _handler(signum: int, frame: FrameType | None) -> None:
    """The Python-level handler: record the signal, nothing else (module doc, step 1)."""
    sched = _sched             # one reference, read without the lock (the handler takes none)
    if sched is not None and (sched.forked or (sched.background and sched.stopping)):
        _orphaned(signum, frame)
        return
    try:
        assert _pipe is not None
        os.write(_pipe[1], bytes((signum,)))
    except BlockingIOError:
        pass                   # pipe full: dropped, as Go drops when its queue is full


def _orphaned(signum: int, frame: FrameType | None) -> None:
    """The runtime that owned the registrations is gone without its exit hook: in a fork child
    (only the forking thread exists there, now the main one) or a stopped background runtime.
    Nothing relays any more, so put the previous handler back and give it this signal: the
    default action (SIGTERM ends the process), default_int_handler's KeyboardInterrupt, the
    user's function, or nothing for SIG_IGN.  Takes no lock (``_mu`` may have been held by a
    thread that does not exist in a fork child); ``_prev`` is read, not changed."""
    prev = _prev.get(signum)
    if prev is None:
        prev = _signal.SIG_DFL
    _signal.signal(signum, prev)
    if prev == _signal.SIG_DFL:
        os.kill(os.getpid(), signum)         # delivered again, now to the default action
    elif callable(prev):
        prev(signum, frame)


def _relay(rfd: int) -> None:
    from .net import wait_read
    while True:
        try:
            data = os.read(rfd, 512)
        except BlockingIOError:
            wait_read(rfd)
            continue
        for signum in data:
            with _mu:
                chans = list(_chans.get(signum, ()))
            sig = _signal.Signals(signum)
            for ch in chans:
                select((ch.send, sig), default)      # full: dropped (Go)


def _check_signums(signums: tuple[int, ...]) -> list[int]:
    valid = _signal.valid_signals()
    out = []
    for s in signums:
        if isinstance(s, bool) or not isinstance(s, int):
            raise TypeError(f"gpm.signal.notify: signums must be signal numbers, got {type(s).__name__}")
        if s not in valid:
            raise ValueError(f"gpm.signal.notify: {s} is not a valid signal number")
        if s in _UNCATCHABLE:
            raise ValueError(f"gpm.signal.notify: {_signal.Signals(s).name} cannot be caught")
        out.append(int(s))
    return out


def _on_main(fn: Callable[[], _T]) -> _T:
    """Run ``fn()`` on the main thread and return its result (or raise its exception)."""
    if threading.current_thread() is threading.main_thread():
        return fn()
    sched = current_sched()
    if (sched is None or type(getcurrent()) is not WorkerGreenlet or sched.background
            or sched.owner_ident != threading.main_thread().ident):
        raise RuntimeError("gpm.signal: signal handlers are installed on the main thread; call this "
                           "from the main thread, or from a goroutine of a gpm.run running there")
    done: Chan[tuple[bool, Any]] = Chan(1)

    def call() -> None:
        try:
            done.send((True, fn()))
        except BaseException as e:          # noqa: BLE001 - handed back to the caller
            done.send((False, e))
    sched.call_on_main(call)
    res = done.recv()
    assert res is not None
    ok, val = res
    if not ok:
        raise val
    return val  # type: ignore[no-any-return]


def _install(signums: list[int]) -> list[int]:
    """On the main thread: our handler for each of ``signums`` not yet ours.  Returns the installed."""
    installed: list[int] = []
    for s in signums:
        with _mu:
            if s in _prev:
                installed.append(s)
                continue
        try:
            prev = _signal.signal(s, _handler)
        except (OSError, ValueError, RuntimeError):
            continue               # not catchable here (only possible for the "all signals" case)
        with _mu:
            _prev[s] = prev
        installed.append(s)
    return installed


def _restore(signums: list[int]) -> None:
    """On the main thread: put back the previous handler of each signal nobody wants any more."""
    for s in signums:
        with _mu:
            if _chans.get(s) or s not in _prev:
                continue
            prev = _prev.pop(s)
        _signal.signal(s, prev if prev is not None else _signal.SIG_DFL)


def _reset_at_exit() -> None:
    """The runtime's exit hook: drop every registration and restore the previous handlers.  On a
    thread other than the main one (a background runtime stopped there) the handlers stay ours
    and ``_orphaned`` restores each one on its next signal."""
    global _sched, _relay_started
    if threading.current_thread() is not threading.main_thread():
        return
    with _mu:
        sigs = list(_prev)
        _chans.clear()
        _sched = None
        _relay_started = False
    _restore(sigs)


def notify(ch: Chan[Any], *signums: int) -> None:
    """Relay ``signums`` (all catchable signals when none is given) to the gpm.Chan ``ch``."""
    global _sched, _relay_started, _pipe
    if not isinstance(ch, Chan):
        raise TypeError(f"gpm.signal.notify: ch must be a gpm.Chan, got {type(ch).__name__}")
    sigs = _check_signums(signums)
    explicit = bool(sigs)
    if not explicit:
        sigs = sorted(int(s) for s in _signal.valid_signals() if s not in _UNCATCHABLE)
    sched = current_sched()
    if sched is None:
        raise RuntimeError("gpm.signal.notify: no gpm runtime is running (call it inside gpm.run)")
    with _mu:
        if _sched is not sched:        # registrations of an ended runtime are void
            _chans.clear()
            _sched = sched
            _relay_started = False
        if _pipe is None:
            r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            _pipe = (r, w)
        start_relay = not _relay_started
        _relay_started = True
    assert _pipe is not None
    if start_relay:
        sched.at_exit(_reset_at_exit)
        _go(_relay, _pipe[0])
    installed = _on_main(lambda: _install(sigs))
    if explicit and len(installed) != len(sigs):
        missing = sorted(set(sigs) - set(installed))
        raise ValueError(f"gpm.signal.notify: cannot catch signal(s) {missing}")
    with _mu:
        for s in installed:
            lst = _chans.setdefault(s, [])
            if not any(c is ch for c in lst):
                lst.append(ch)


def stop(ch: Chan[Any]) -> None:
    """Stop relaying to ``ch``; a signal nobody wants gets its previous handler back."""
    if not isinstance(ch, Chan):
        raise TypeError(f"gpm.signal.stop: ch must be a gpm.Chan, got {type(ch).__name__}")
    freed: list[int] = []
    with _mu:
        for s, lst in _chans.items():
            kept = [c for c in lst if c is not ch]
            if len(kept) != len(lst):
                _chans[s] = kept
                if not kept:
                    freed.append(s)
        for s in freed:
            del _chans[s]
    if freed:
        _on_main(lambda: _restore(freed))
