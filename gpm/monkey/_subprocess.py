"""gpm.monkey subprocess item: ``Popen.wait``, ``communicate``, ``run``, ``check_output`` park.

Patched on ``subprocess.Popen`` itself (so code that imported ``Popen`` early is covered), and
``subprocess._PopenSelector`` (the selector ``communicate`` uses for its pipes) becomes a
``PollSelector`` on the parking ``select.poll`` of the select item:

  * ``Popen._wait`` (behind ``wait``, ``run``, ``call``, ``__exit__``): inside a goroutine the
    child's exit is awaited on a ``os.pidfd_open`` fd parked on the netpoller, then reaped with
    ``waitpid(WNOHANG)`` under the original's ``_waitpid_lock``; where pidfds are missing the
    original ``_wait`` runs in the ``gpm.syscall`` pool.  A timeout raises ``TimeoutExpired``.
  * ``communicate``: the pipes wait on the netpoller through ``_PopenSelector``.  The original
    skips the selector when at most one pipe is used and no timeout is given (a plain blocking
    ``read``/``write`` of that pipe, which would block the M); inside a goroutine that case
    takes the selector path, as the original does when given a timeout.

  * ``Popen._execute_child`` (the fork/exec and the blocking read that waits for the child's
    ``exec``, milliseconds): inside a goroutine it runs in the ``gpm.syscall`` pool, unless a
    ``preexec_fn`` is given (then the interpreter runs its at-fork hooks around the fork, which
    must see the goroutine's own thread: the original runs on the M).

On a plain thread, or with no runtime, everything is the original code.
"""

import os
import selectors as _selectors
import subprocess as _sp

from greenlet import getcurrent

from .._runtime.api import sleep as _gsleep
from .._runtime.syscall import syscall
from ._fdwait import WorkerGreenlet as _WG, MODE_R, nanotime, wait_fd_deadline
from ._registry import patch_attr
from ._select import poll as _parking_poll

__all__ = ["patch"]

_Popen = _sp.Popen
_orig_wait = _Popen._wait  # type: ignore[attr-defined]  # the POSIX private behind wait()
_orig_communicate = _Popen.communicate
_orig_execute_child = _Popen._execute_child  # type: ignore[attr-defined]
_pidfd_open = getattr(os, "pidfd_open", None)


class _ParkingPollSelector(_selectors.PollSelector):
    """The selector of Popen.communicate: parks on the netpoller inside goroutines."""
    _selector_cls = _parking_poll


def _wait(self, timeout):
    if type(getcurrent()) is not _WG or self.returncode is not None:
        return _orig_wait(self, timeout)
    pidfd = None
    if _pidfd_open is not None:
        try:
            pidfd = _pidfd_open(self.pid)
        except OSError:
            pidfd = None          # no pidfds here (ENOSYS) or the pid is gone: the pool path
    if pidfd is None:
        return syscall(_orig_wait, self, timeout)
    deadline = None if timeout is None else nanotime() + timeout
    try:
        while True:
            lock = self._waitpid_lock
            if lock.acquire(False):
                try:
                    if self.returncode is not None:
                        break
                    pid, sts = self._try_wait(os.WNOHANG)
                    if pid == self.pid:
                        self._handle_exitstatus(sts)
                        break
                finally:
                    lock.release()
                if not wait_fd_deadline(pidfd, MODE_R, deadline):
                    raise _sp.TimeoutExpired(self.args, timeout)
            else:
                # Another thread or goroutine is reaping: give it a moment, then look again.
                if deadline is not None and nanotime() >= deadline:
                    raise _sp.TimeoutExpired(self.args, timeout)
                _gsleep(0.001)
    finally:
        os.close(pidfd)
    return self.returncode


def communicate(self, input=None, timeout=None):
    if (type(getcurrent()) is not _WG or self._communication_started or timeout is not None
            or (self.stdin, self.stdout, self.stderr).count(None) != 2):
        return _orig_communicate(self, input, timeout)
    # Exactly one pipe and no timeout: the original would block in its read/write.
    try:
        stdout, stderr = self._communicate(input, None, None)
    finally:
        self._communication_started = True
    self.wait()
    return (stdout, stderr)


communicate.__doc__ = _orig_communicate.__doc__


def _execute_child(self, *args):
    # args: (args, executable, preexec_fn, close_fds, ...) as Popen.__init__ passes them.
    if type(getcurrent()) is _WG and args[2] is None:
        return syscall(_orig_execute_child, self, *args)
    return _orig_execute_child(self, *args)


def patch():
    patch_attr(_Popen, "_wait", _wait, name="subprocess.Popen")
    patch_attr(_Popen, "communicate", communicate, name="subprocess.Popen")
    patch_attr(_Popen, "_execute_child", _execute_child, name="subprocess.Popen")
    patch_attr(_sp, "_PopenSelector", _ParkingPollSelector)
