"""gpm.syscall and the blocking-call pool (Ms without a P; threads ``gpm-syscall-<n>``).

Go hands the P of a G in a syscall to another M; a started greenlet cannot
change threads, so gpm does the opposite (DESIGN.md): the G parks (sched's
``gopark`` with status SYSCALL, wait reason "syscall"), ``fn`` runs on a pool thread, and the pool
thread readies the G with the result or exception.  The P keeps running its
other goroutines meanwhile.

Pool (one per runtime, ``Sched.syscall_pool``, created on first use):
  * ``size`` threads run calls (env GPM_SYSCALL_THREADS, default min(32, CPUs + 4));
    requests beyond that wait in a FIFO queue while the pool makes progress;
  * growth on demand, up to ``cap`` threads (env GPM_SYSCALL_MAX_THREADS, default
    MAX_THREADS = 256; never below ``size``), as Go starts an M for every
    syscall that blocks: while requests wait, a runtime timer checks every
    GROW_AFTER seconds whether any call completed; if none did, every
    thread is blocked (calls that wait on each other would otherwise hang
    forever) and up to max(1, threads/4) threads are added.  CPU-heavy
    calls keep completing, so they never grow the pool past ``size``.
    At the cap the pool warns once (logger "gpm") and waits;
  * an idle thread exits after IDLE_EXIT seconds, and all exit on ``shutdown``
    (called by Sched.stop); a thread still inside ``fn`` then finishes that
    call and exits (Sched.join_threads waits for it, bounded);
  * pool threads are plain threads: gpm channels used inside ``fn`` block
    the OS thread.

Accounting: ``Sched.nsyscall`` (guarded by Sched.lock) is incremented before
the G parks and decremented by the pool thread only after ``goready`` of that
G, so checkdead never sees a G that is neither counted nor runnable.

Field guards (SyscallPool):
  lock        guards queue, idle, nthreads, all_threads, shut, nextid,
              completed, seen, grow_armed, warned
  completed   calls finished so far; ``seen`` is its value when the grow
              timer was armed (no change: no progress)
  grow_armed  the grow timer is pending (at most one)
  grow_timer  the RTimer, set once
  queue       pending requests (FIFO)
  idle        binary semaphores (locks held) of idle threads, LIFO
  nthreads    threads alive (started, not yet exited)
  all_threads every thread started (for join_threads)
  size cap    set once

Lock order: SyscallPool.lock and Sched.lock are never nested (the submit path
holds only pool.lock; the completion path takes Sched.lock after goready).
"""

import collections
import contextvars
import logging
import os
import threading
from typing import Callable, ParamSpec, TypeVar

from greenlet import getcurrent

from . import sched as _s
from .clock import nanotime
from .errors import FatalError
from .g import Gstatus, WaitReason, WorkerGreenlet
from .locks import new_lock, new_sema
from .timers import RTimer, modtimer

__all__ = ["syscall", "SyscallPool", "DEFAULT_THREADS"]

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("gpm")

# Python's ThreadPoolExecutor default (min(32, cpus + 4)), which asyncio.to_thread
# also uses.  Measured here (2 CPUs, 200 x sha256(1 MiB) through gpm.syscall):
# 64 threads 130 ms, 6 threads 93 ms: GIL hand-offs between many runnable
# threads cost more than the parallelism gains.  Raise it with
# GPM_SYSCALL_THREADS for many concurrent slow blocking calls.
DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)
IDLE_EXIT = 10.0          # tokio: an idle blocking thread exits after 10 s
MAX_THREADS = 256         # growth cap (Go's limit is 10000 Ms; a thread here costs a stack)
GROW_AFTER = 0.010        # no call completed for this long while requests wait: grow

_init_lock = new_lock("syscallinit")


def _env_count(name, default):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        n = int(raw)
        if n < 1:
            raise ValueError
    except ValueError:
        log.warning("%s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return n


def pool_size():
    return _env_count("GPM_SYSCALL_THREADS", DEFAULT_THREADS)


def pool_cap():
    return _env_count("GPM_SYSCALL_MAX_THREADS", MAX_THREADS)


class _Req:
    __slots__ = ("fn", "args", "kwargs", "gp", "result", "exc", "ctx", "go")

    def __init__(self, fn, args, kwargs, gp):
        self.ctx = contextvars.copy_context()  # fn runs in a copy of the caller's context (asyncio.to_thread)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.gp = gp
        self.result = None
        self.exc = None
        self.go = None            # held until the caller may be readied (a new thread's first call)


class SyscallPool:
    def __init__(self, sched, size=None, cap=None):
        self.sched = sched
        self.size = size if size is not None else pool_size()
        self.cap = max(self.size, cap if cap is not None else pool_cap())
        self.completed = 0
        self.seen = 0
        self.grow_armed = False
        self.grow_timer = RTimer(_grow_fire, self)
        self.warned = False
        self.grown = 0            # threads started beyond ``size`` (tests, stats)
        self.lock = new_lock("syscallpool")
        self.queue = collections.deque()
        self.idle = []
        self.nthreads = 0
        self.all_threads = []
        self.shut = False
        self.nextid = 0

    def submit_locked(self, req):
        """Hand ``req`` to a thread.  Requires self.lock (released by the caller).

        Returns None when an idle thread was woken or ``req`` waits in the queue (the pool is at
        its size; then the grow timer is armed, see ``arm_grow``), or a new, counted, unstarted
        thread whose first call is ``req``.  The caller
        starts that thread after releasing self.lock, and releases ``req.go`` once it may be
        readied: ``Thread.start`` waits on an Event, which gpm.monkey may have made one that parks
        the calling goroutine, and no goroutine may park holding a runtime lock.
        """
        if self.idle:
            self.queue.append(req)
            self.idle.pop().release()
            return None
        if self.nthreads >= self.size:
            self.queue.append(req)
            if not self.grow_armed and self.nthreads < self.cap:
                self.grow_armed = True
                self.seen = self.completed
            return None
        self.nthreads += 1
        self.nextid += 1
        req.go = new_sema()
        req.go.acquire()
        t = threading.Thread(target=self._worker, args=(req,), name=f"gpm-syscall-{self.nextid}",
                             daemon=True)
        self.all_threads.append(t)
        return t

    def _worker(self, first):
        sema = new_sema()
        sema.acquire()
        lock = self.lock
        counted = True                        # still counted in nthreads
        try:
            ran = first is not None
            if ran:
                first.go.acquire()            # the caller is (about to be) parked
                self._run(first)
            while True:
                lock.acquire()
                if ran:
                    self.completed += 1
                    ran = False
                if self.shut:
                    lock.release()
                    return
                if self.queue:
                    req = self.queue.popleft()
                    lock.release()
                    self._run(req)
                    ran = True
                    continue
                self.idle.append(sema)
                lock.release()
                if sema.acquire(True, IDLE_EXIT):
                    continue
                with lock:
                    try:
                        self.idle.remove(sema)
                        popped = False
                    except ValueError:
                        popped = True         # a submitter popped us: its release is coming
                    if not popped and not self.queue:
                        # Exit, uncounted under the same lock as the check, so a
                        # submitter that queues after this starts a new thread.
                        self.nthreads -= 1
                        counted = False
                        return
                if popped:
                    sema.acquire()
        except BaseException as e:            # noqa: BLE001 - a runtime bug: abort the run
            fe = FatalError(f"gpm: syscall thread crashed: {e!r}")
            fe.__cause__ = e
            self.sched.crash(fe)
        finally:
            if counted:
                with lock:
                    self.nthreads -= 1

    def _run(self, req):
        try:
            req.result = req.ctx.run(req.fn, *req.args, **req.kwargs)
        except BaseException as e:            # noqa: BLE001 - handed back to the caller
            req.exc = e
        sched = self.sched
        _s.goready(req.gp)
        with sched.lock:
            sched.nsyscall -= 1

    def grow(self, now):
        """The grow timer fired: add threads if no call completed since it was armed.

        Runs on an M's scheduler greenlet (a timer callback): starting a
        thread blocks only until it exists.  Re-arms itself while requests
        wait and the pool is below its cap.
        """
        start = []
        warn = None
        lock = self.lock
        lock.acquire()
        self.grow_armed = False
        if self.shut or not self.queue or self.idle:
            lock.release()
            return
        if self.completed == self.seen:
            room = self.cap - self.nthreads
            k = min(len(self.queue), max(1, self.nthreads // 4), room)
            for _ in range(k):
                self.nthreads += 1
                self.nextid += 1
                t = threading.Thread(target=self._worker, args=(None,),
                                     name=f"gpm-syscall-{self.nextid}", daemon=True)
                self.all_threads.append(t)
                start.append(t)
            self.grown += k
            if self.nthreads >= self.cap and len(self.queue) > k and not self.warned:
                self.warned = True
                warn = (self.nthreads, len(self.queue) - k)
        rearm = self.nthreads < self.cap and len(self.queue) > len(start)
        if rearm:
            self.grow_armed = True
            self.seen = self.completed
        lock.release()
        for t in start:
            t.start()                         # each takes requests from the queue
        if warn is not None:
            log.warning("gpm.syscall: all %d pool threads (the cap, GPM_SYSCALL_MAX_THREADS) are "
                        "busy and %d calls wait; calls that wait on each other can hang", *warn)
        if rearm:
            self.arm_grow(now)

    def arm_grow(self, now):
        """Arm the grow timer GROW_AFTER from ``now``.  No pool lock held (timers lock inside)."""
        pp = self.grow_timer.pp
        if pp is None:
            pp = self.sched.allp[0]
        modtimer(self.grow_timer, now + GROW_AFTER, 0.0, pp, getattr(getcurrent(), "pp", None))

    def shutdown(self):
        """Stop every thread (idle ones now, busy ones after their call).  Any thread."""
        with self.lock:
            self.shut = True
            idle, self.idle = self.idle, []
            self.queue.clear()
        for sema in idle:
            sema.release()

    def threads(self):
        with self.lock:
            return list(self.all_threads)


class _ArmAfter:
    """gopark's ``unlock`` for a call that armed the grow timer: release the
    pool's lock, then set the timer (no pool lock held)."""
    __slots__ = ("lock", "pool")

    def __init__(self, lock, pool):
        self.lock = lock
        self.pool = pool

    def release(self):
        self.lock.release()
        self.pool.arm_grow(nanotime())


def _getpool(sched):
    pool = sched.syscall_pool
    if pool is not None:
        return pool
    with _init_lock:
        pool = sched.syscall_pool
        if pool is None:
            pool = sched.syscall_pool = SyscallPool(sched)
    return pool


def _grow_fire(pool, now):
    pool.grow(now)


def syscall(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` on a pool thread while this goroutine is parked.

    Any thread: from a goroutine the P keeps running other goroutines; from a
    plain thread ``fn`` is simply called.  Returns fn's result or raises its
    exception.
    """
    if not callable(fn):
        raise TypeError(f"gpm.syscall: fn must be callable, got {type(fn).__name__}")
    gr = getcurrent()
    if type(gr) is not WorkerGreenlet:
        return fn(*args, **kwargs)
    gp = gr.gp
    sched = gp.sched
    pool = _getpool(sched)
    req = _Req(fn, args, kwargs, gp)
    with sched.lock:
        sched.nsyscall += 1
    lock = pool.lock
    lock.acquire()
    if pool.shut:
        lock.release()
        with sched.lock:
            sched.nsyscall -= 1
        raise RuntimeError("gpm.syscall: the runtime is stopping")
    armed = pool.grow_armed
    t = pool.submit_locked(req)
    if t is not None:
        lock.release()
        t.start()                             # no lock held (see submit_locked)
        lock = req.go
    if t is None and pool.grow_armed and not armed:
        # This call armed the grow timer (under pool.lock); the timer itself
        # is set once pool.lock is released (the timers lock is a leaf).
        lock = _ArmAfter(lock, pool)
    # gopark with status SYSCALL: the pool thread can take req only after we
    # release pool.lock (or req.go), which gopark does after setting the status.
    _s.gopark(lock, WaitReason.SYSCALL, Gstatus.SYSCALL)
    exc = req.exc
    if exc is not None:
        req.exc = None
        try:
            raise exc
        finally:
            exc = None
    return req.result
