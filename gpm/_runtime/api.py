"""The runtime surface behind ``gpm`` (layer L5): run, go, gosched, sleep, current,
Goroutine, ...

Public modules (gpm/__init__.py, sync, context, net, _time) call only these
functions and the Sudog/sema/timer primitives.

This is the one place that builds and tears down a runtime:
  start_runtime   builds a Sched, registers it (clock.py), builds its Ms and
                  sysmon and starts them (Ctrl-C held back meanwhile);
  teardown        after Sched.stop: joins the Ms, sysmon and syscall-pool
                  threads (bounded), closes the netpoller once no M can use it,
                  gives the preemption tool id back, discards what is left and
                  releases the registration.  gpm.run's ``_shutdown`` and
                  ``stop_background`` both use it.

Goroutine is the public handle (API.md: id, done, join, repr) over the
internal G, which stays private.  Invariants:
  * a handle refers to its G; the G never refers to a handle (no reference
    cycle, and a handle the caller drops is freed at once: spawn allocates no
    object that outlives ``gpm.go`` but the G).  Handles of one G compare equal
    and hash alike (``gpm.go`` and ``gpm.current()`` make one each);
  * ``_bg_lock`` (rank "bg") serializes starting the background runtime;
  * a runtime's threads are started by ``start_threads`` and joined by
    ``join_threads`` only: sysmon first, then the Ms; the Ms are joined only
    once every M's ``start()`` returned (``Sysmon.ms_started``).
"""

import functools
import os
import signal
import sys
import threading
import time
import logging
from typing import Any, Callable, Generic, ParamSpec, TypeVar

from greenlet import getcurrent

from . import clock as _clock
from . import gcpace as _gcpace
from . import preempt as _preempt
from . import sched as _s
from .debugflags import default_procs
from .locks import new_lock
from .duration import check_duration, check_timeout
from .g import WaitReason, WorkerGreenlet
from .m import mstart
from .sudog import current_waiter
from .sysmon import Sysmon, start_sysmon
from .timers import RTimer, modtimer
from .trace import serve_stack_reqs, write_stderr

P = ParamSpec("P")
T = TypeVar("T")

__all__ = ["duration", "run", "go", "gosched", "sleep", "current", "gomaxprocs", "num_goroutine", "ensure_runtime",
           "Goroutine", "start_runtime", "stop_background"]

log = logging.getLogger("gpm")

_bg_lock = new_lock("bg")
_getframe = sys._getframe
_os_sleep = time.sleep            # the original, bound before gpm.monkey can patch time


def _after_fork_child():
    global _bg_lock
    _bg_lock = new_lock("bg")


os.register_at_fork(after_in_child=_after_fork_child)


def _check_procs(procs):
    if procs is None:
        return default_procs()
    if isinstance(procs, bool) or not isinstance(procs, int):
        raise TypeError(f"gpm.run: procs must be an int, got {type(procs).__name__}")
    if procs < 1:
        raise ValueError(f"gpm.run: procs must be >= 1, got {procs}")
    return procs


def _created_at(depth):
    f = sys._getframe(depth)
    return (f.f_code.co_filename, f.f_lineno, f.f_code.co_qualname)


class Goroutine(Generic[T]):
    """A goroutine's handle (API.md): ``id``, ``done()``, ``join(timeout=None)``.

    ``Goroutine[T]`` for type checkers, where ``join()`` returns ``T``.  Two
    handles of one goroutine are equal (``gpm.go``'s and ``gpm.current()``'s);
    the internal G is not reachable through a public name.
    """

    __slots__ = ("_g", "__weakref__")

    def __init__(self, gp):
        self._g = gp

    @property
    def id(self) -> int:
        return self._g.goid

    def done(self) -> bool:
        """True once the goroutine's function has returned or raised."""
        return self._g._done

    def join(self, timeout: float | None = None) -> T:
        """Wait for the goroutine to finish and return its result.

        Works from a goroutine (parks it) or a plain thread (blocks it).
        Raises TimeoutError if ``timeout`` seconds pass first.  If the
        goroutine raised, its exception is raised here too (the run is
        aborted by it regardless: joining does not catch a panic).  Raises
        RuntimeError ("... was discarded ...") at once if the goroutine was
        still alive when its runtime stopped (Go: program exit), or when that
        happens while waiting.
        """
        timeout = check_timeout(timeout, "Goroutine.join: timeout")
        gp = self._g
        if not gp._done:
            lock = gp.sched.allglock
            lock.acquire()
            if not gp._done and not gp.discarded:
                sg = current_waiter()
                if sg.g is gp:
                    lock.release()
                    raise RuntimeError(f"goroutine {gp.goid} cannot join itself")
                if gp.joiners is None:
                    gp.joiners = []
                gp.joiners.append(sg)
                if not sg.block(lock, WaitReason.JOIN, timeout, functools.partial(_join_cancel, gp)):
                    raise TimeoutError(f"join: goroutine {gp.goid} still running after {timeout}s")
            else:
                lock.release()
            if gp.discarded and not gp._done:
                raise RuntimeError(f"join: goroutine {gp.goid} was discarded: its runtime stopped "
                                   "(gpm.run returned) before it finished")
        if gp.exc is not None:
            raise gp.exc
        return gp.result

    def __eq__(self, other: object) -> bool:
        return type(other) is Goroutine and other._g is self._g

    def __hash__(self) -> int:
        return hash(self._g)

    def __repr__(self) -> str:
        return repr(self._g).replace("<G ", "<Goroutine ", 1)


_new_handle = object.__new__          # Goroutine's own __new__ (Generic adds none)


def _join_cancel(gp, sg) -> bool:
    """Timeout path of join: remove ``sg`` if no waker took it yet."""
    with gp.sched.allglock:
        try:
            gp.joiners.remove(sg)
        except (ValueError, AttributeError):
            return False
        return True


# -- building and tearing down a runtime ----------------------------------------

def _sigint_held(fn):
    """Run ``fn()`` with SIGINT's Python handler held back; call it afterwards if the signal
    came.  Main thread with a callable handler only (elsewhere no KeyboardInterrupt lands)."""
    if threading.current_thread() is not threading.main_thread():
        return fn()
    try:
        old = signal.getsignal(signal.SIGINT)
    except (ValueError, AttributeError):
        return fn()
    if not callable(old):
        return fn()
    got = []
    signal.signal(signal.SIGINT, lambda signum, frame: got.append(frame))
    try:
        return fn()
    finally:
        signal.signal(signal.SIGINT, old)
        if got:
            old(signal.SIGINT, got[0])


def start_runtime(procs, background=False, seed=None):
    """Build and register a Sched: gpm.run's, or (``background``) gpm.go's outside
    gpm.run.  Raises RuntimeError if one of that kind is running.  Its threads
    start with ``start_threads``."""
    sched = _s.Sched(procs, background=background, seed=seed, serve_stack_reqs=serve_stack_reqs)
    _clock.register(sched, background)
    _s.set_debug_flags(sched)
    if sched.randomize:
        write_stderr(f"gpm: GPM_DEBUG randomize=1 seed={sched.seed} "
                     f"(replay: GPM_DEBUG=randomize=1,seed={sched.seed})\n")
    return sched


def start_threads(sched):
    """Build sysmon and the Ms and start them: sysmon first, so it watches the Ps
    (preemption, blockwarn) from the first G on (on a free-threaded build M0 runs the
    main G at once and this thread's ``Thread.start()`` of the next M may not return
    until that G blocks: 180-280 ms, issue 10).  ``sysmon.ms_started`` is set once
    every M's start() returned; the teardown joins the Ms only after it (joining a
    Thread whose start() has not returned raises RuntimeError: issue 10 bug 2).  A
    Ctrl-C meanwhile is held until every thread started (``_sigint_held``): one
    landing inside ``Thread.start()`` left a started M nobody joined (bug 4)."""
    for pp in sched.allp:
        t = threading.Thread(target=mstart, args=(sched, pp), name=f"gpm-M{pp.id}", daemon=True)
        sched.ms.append(t)
    sched.sysmon = Sysmon(sched)
    sched.preexisting = frozenset(threading.enumerate())

    def start_all():
        start_sysmon(sched, sched.sysmon)
        try:
            # M0 last; the others wait (m.mstart) until M0 ran its first G: on a free-threaded
            # build a Thread.start() made while another thread runs Python returns only after
            # 160-290 ms (3.13t at load 3-12, measured without gpm; 0.3 ms with the GIL), so
            # with M0 running the main G at once each later M came that much later, and the
            # first P ran nearly all of a fan-out alone (9619 of 10000 goroutines at procs=4,
            # Jain 0.35).  Started last, M0 still finds the main G first.
            for t in sched.ms[1:] + sched.ms[:1]:
                t.start()
        finally:
            sched.sysmon.ms_started.set()
    _sigint_held(start_all)


def join_threads(sched, timeout=5.0):
    """Join the Ms, sysmon and the syscall pool's threads (bounded), then close the
    netpoller (no M can use it any more) and give the preemption tool id back.
    After Sched.stop.  Any thread but those."""
    deadline = time.monotonic() + timeout
    me = threading.current_thread()
    sm = sched.sysmon
    threads = []
    if sm is not None and sm.thread is not None:
        threads.append(sm.thread)
        if sm.ms_started.wait(timeout):       # else an M's start() still runs: leave the Ms
            threads.extend(sched.ms)
    if sched.syscall_pool is not None:
        threads.extend(sched.syscall_pool.threads())
    for t in threads:
        if t is me or t.ident is None:
            continue
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            log.warning("gpm: thread %s did not stop within %.1fs (a goroutine is blocking it)",
                        t.name, timeout)
    np = sched.netpoller
    ms_done = (sm is None or sm.ms_started.is_set()) and not any(t.is_alive() for t in sched.ms)
    if np is not None and ms_done:
        np.close()
    if ms_done:
        for pp in sched.allp:
            pp.note.close()             # an FdNote's eventfd (free-threaded builds); no M sleeps on it now
    if sm is not None and sm.preempt and not (sm.thread is not None and sm.thread.is_alive()):
        _preempt.release()


def stop_background(timeout=5.0):
    """Stop the background runtime (if any): join its threads, discard its
    goroutines, release it.  Tests, fork and atexit; any thread."""
    sched = _clock.runtimes()[1]
    if sched is None:
        return
    sched.finish()
    join_threads(sched, timeout)
    sched.discard_all()
    _clock.release(sched)
    sched.run_exit_hooks()           # as gpm.run's end does (gpm.signal restores its handlers)


def run(main: Callable[..., T], *args: Any, procs: int | None = None, **kwargs: Any) -> T:
    """Run ``main(*args, **kwargs)`` as goroutine 1 on ``procs`` Ps; return its result."""
    if type(getcurrent()) is WorkerGreenlet:
        raise RuntimeError("gpm.run called from inside a goroutine")
    if not callable(main):
        raise TypeError(f"gpm.run: main must be callable, got {type(main).__name__}")
    procs = _check_procs(procs)
    sched = start_runtime(procs)
    interrupted = None
    try:
        _gcpace.enter(sched)            # full GCs paced by live goroutines (gcpace.py)
        gp = sched.newproc(main, args, kwargs, _created_at(2))
        gp.is_main = True
        start_threads(sched)
        done = sched.done
        while not done.acquire(True, 0.05):
            if sched.main_calls:        # racy hint; run_main_calls takes the lock
                sched.run_main_calls()
    except BaseException as e:          # KeyboardInterrupt and friends: stop promptly, re-raise
        interrupted = e
    finally:
        again = _shutdown(sched)
        _gcpace.exit(sched)             # the user's gc thresholds are back
        try:
            sched.run_main_calls()      # callers are discarded goroutines; run them anyway
            sched.run_exit_hooks()
        except BaseException as e:      # noqa: BLE001 - a hook's failure is the run's failure
            if again is None:
                again = e
    if interrupted is None:
        interrupted = again
    if interrupted is not None:
        raise interrupted
    if sched.panic_exc is not None:
        raise sched.panic_exc
    return sched.main_result


def _shutdown(sched):
    """Stop ``sched``, join its threads, discard what is left and release it.

    Returns a KeyboardInterrupt (or other BaseException) that arrived meanwhile,
    or None.  A second Ctrl-C while the threads are joined stops the waiting
    (the threads are daemons and exit on their own) but never skips the
    release, so the next gpm.run works (issue 8, bug 5).
    """
    caught = None
    release = functools.partial(_clock.release, sched)
    join = functools.partial(join_threads, sched)
    for step in (sched.stop, join, sched.discard_all, release):
        # Each step is idempotent: retried if an interrupt cut it short, except
        # the join, which a second Ctrl-C means to cut short.
        for _ in range(1 if step is join else 3):
            try:
                step()
                break
            except BaseException as e:  # noqa: BLE001 - re-raised by run once released
                if caught is None:
                    caught = e
    return caught


def ensure_runtime() -> Any:
    """The runtime for a plain thread: gpm.run's if one is in progress, else the
    background one, started on first use."""
    sched = _clock.plain_sched()
    if sched is not None:
        return sched
    with _bg_lock:
        sched = _clock.plain_sched()
        if sched is None:
            sched = start_runtime(default_procs(), background=True)
            start_threads(sched)
    return sched


def go(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Goroutine[T]:
    """Spawn a goroutine running fn(*args, **kwargs); return its Goroutine handle."""
    if not callable(fn):
        raise TypeError(f"gpm.go: fn must be callable, got {type(fn).__name__}")
    cur = getcurrent()
    pp = cur.pp if type(cur) is WorkerGreenlet else getattr(cur, "pp", None)   # Ms' greenlets only
    sched = pp.sched if pp is not None else (_clock.plain_sched() or ensure_runtime())
    f = _getframe(1)
    code = f.f_code
    h = _new_handle(Goroutine)      # Goroutine(gp) without its __init__ frame: one call less per go()
    h._g = sched.newproc(fn, args, kwargs or None, (code.co_filename, f.f_lineno, code.co_qualname), cur)
    return h


gosched: Callable[[], None] = _s.gosched


def _sleep_fire(gp, now):
    _s.goready(gp)


class _SleepTimer(RTimer):
    """A goroutine's reusable sleep timer (``G.sleep_timer``), armed by gopark.

    gopark calls ``release()`` once the G is WAITING (Go's ``resetForSleep``,
    the unlockf of timeSleep's gopark): any M may fire any P's timers
    (steal_timers), so a timer armed while the G still ran could be fired by
    another M before the park, and goready would find the G RUNNING (a fatal
    casgstatus error under checks=1).  ``due`` and ``home`` are the owner G's
    only: set by ``sleep`` and read in ``release`` on the G's own M, before
    the timer is armed.  It is the RTimer itself (not a wrapper around one):
    one tracked object less per sleeping goroutine.
    """

    __slots__ = ("due", "home")

    def __init__(self, gp):
        RTimer.__init__(self, _sleep_fire, gp)
        self.due = 0.0              # deadline of the pending sleep
        self.home = None            # the G's home P (the timer's P once armed)

    def release(self):
        home = self.home
        modtimer(self, self.due, 0.0, home, home)


def duration(what: str, seconds: object) -> float:
    """Validate a duration in seconds (int or float, not NaN) and return it as float.

    Kept for callers of the old name; the rules live in duration.check_duration.
    """
    return check_duration(seconds, f"{what}: seconds")


# time.sleep refuses long waits (OverflowError past time_t, EINVAL near
# TIMEOUT_MAX): a plain thread sleeps a far duration in chunks of this.
OS_SLEEP_CHUNK = 1e6                # seconds (~11.6 days), as netpoll's MAX_BLOCK


def plain_sleep(d, sleep=None, clock=None, chunk=OS_SLEEP_CHUNK):
    """Block the calling OS thread for at least ``d`` seconds (``inf``: forever).

    Any thread.  ``sleep``/``clock`` default to the original time.sleep and
    the runtime clock (tests inject fakes).
    """
    sleep = _os_sleep if sleep is None else sleep
    if d <= chunk:
        sleep(max(d, 0.0))
        return
    clock = _clock.nanotime if clock is None else clock
    end = clock() + d                 # inf stays inf: never returns
    while True:
        left = end - clock()
        if left <= 0:
            return
        sleep(min(left, chunk))


def sleep(seconds: float) -> None:
    """Park the goroutine for at least ``seconds`` (a timer, not an OS sleep)."""
    d = check_duration(seconds, "gpm.sleep: seconds")
    gr = getcurrent()
    gp = getattr(gr, "gp", None)
    if gp is None:
        plain_sleep(d)                # a plain thread blocks (API.md: plain threads block)
        return
    if d <= 0:
        _s.gosched()
        return
    st = gp.sleep_timer
    if st is None:
        st = gp.sleep_timer = _SleepTimer(gp)
    st.home = gr.pp  # type: ignore[attr-defined]   # a goroutine's greenlet is a WorkerGreenlet
    st.due = _clock.nanotime() + d
    _s.gopark(st, WaitReason.SLEEP)   # arms the timer once the G is WAITING (see _SleepTimer)


def current() -> Goroutine[Any] | None:
    """The running Goroutine, or None on a plain thread."""
    gp = getattr(getcurrent(), "gp", None)
    return None if gp is None else Goroutine(gp)


def _sched_or_error(name):
    sched = _clock.current_sched()
    if sched is None:
        raise RuntimeError(f"gpm.{name}: no runtime is running")
    return sched


def gomaxprocs() -> int:
    """Number of Ps of the running runtime."""
    return _sched_or_error("gomaxprocs").procs


def num_goroutine() -> int:
    """Goroutines that exist (not finished)."""
    sched = _clock.current_sched()
    if sched is None:
        return 0
    return len(sched.allgs)
