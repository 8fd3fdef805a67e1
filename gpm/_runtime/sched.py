"""Sched (Go's schedt) and the scheduler (layer L2): schedule, findnext,
findrunnable, run_on, gopark, goready, gosched, newproc, wakep, stopm, checkdead.

Shape (docs/ARCHITECTURE.md has the picture): ``procs`` Ps, each driven for
the runtime's whole life by its own M thread, which runs ``schedule`` on its
g0 greenlet.  Goroutines are free until first run, then pinned to their P.
This module imports only L0/L1 modules; api.py builds the Ms and sysmon and
tears them down, and injects what the scheduler calls upward
(``serve_stack_reqs``); the netpoller is reached as ``Sched.netpoller``.

The switch (every path goes through the same two functions):
  findnext(pp, now)   what runs next: hold-time accounting, stack requests,
                      timers, the global queue every 61st tick, the local
                      queue (runnext inherits the slice).  Used by schedule
                      on g0, by gopark and goexit (gmain) on the leaving
                      goroutine's stack, by gosched (``yielding``).
  run_on(pp, gp, ...) Go's execute plus the switch: pin a free G to a worker
                      greenlet, account, switch; from g0 or a goroutine's stack.
  Anything findnext cannot answer on a goroutine's stack (a due timer,
  stopping, an empty local queue) goes to g0, whose ``schedule`` continues
  with ``findrunnable`` (netpoll, steal, other Ps' timers, stopm).

Sched fields and their guards:
  lock          guards runq/runqsize, pidle/npidle, nmspinning, P.status,
                P.spinning, nsyscall, foreign, stopping-time bookkeeping
  allglock      guards allgs, goidgen, and each G's result/exc/_done/joiners
                (one lock for the whole exit, so goexit takes one lock)
  runq          global run queue: free Gs only (pinned Gs never go global)
  npidle, nmspinning, runqsize
                written under ``lock``; read without it as hints on hot paths
                (wakep's fast path, findrunnable's global check).  A stale
                read is safe because of the "announce, then recheck" protocol
                of stopm (Go's "delicate dance", proc.go): an M going idle first
                joins pidle and stops spinning under ``lock``, then rechecks the
                global queue and every P's free Gs; a producer first publishes
                its G, then reads npidle/nmspinning.  One of the two always
                sees the other.
  stopping      set once (under ``lock``) when the run ends; read racily by Ms,
                which are then woken through their notes

Parking an idle M (stopm), step by step:
  1. under Sched.lock: give up spinning, put the P on pidle;
  2. recheck the global queue and every other P's free Gs (steal targets);
  3. under the P's runq lock: if the local queue is empty, set ``parked``;
     a goready that forwards a G to this P reads ``parked`` under the same
     lock and wakes the note;
  4. sleep on the P's note until woken or until the earliest timer of this
     P or of any non-idle P (a busy P's goroutine may never yield: the idle
     M then fires its timers in findrunnable, steal_timers);
  5. leave pidle under Sched.lock (wakep may already have taken it off).
"""

import _thread
import atexit
import collections
import contextvars
import logging
import os
import random
import sys
import threading
import time
import traceback

import greenlet
from greenlet import getcurrent, GreenletExit

from . import clock
from .clock import nanotime
from .debugflags import parse_debug
from .errors import Deadlock, FatalError, throw
from .g import G, Gstatus, WaitReason, WorkerGreenlet, G0Greenlet, casgstatus
from .locks import new_lock, new_sema, release_held
from .p import P, Pstatus
from .timers import check_timers, run_timers

__all__ = [
    "Sched", "gopark", "goready", "goready_list", "runqput_home", "gosched", "findnext", "run_on",
    "set_debug_flags", "note_foreign_thread", "background_busy", "fork_child_exit", "raw_thread_delta",
]

log = logging.getLogger("gpm")

_os_sleep = time.sleep            # the original, bound before gpm.monkey can patch time

TIME_SLICE = 0.010                 # Go's forcePreemptNS: runnext stops inheriting after 10 ms
GLOBAL_CHECK_TICKS = 61            # Go: check the global queue every 61st schedtick
STEAL_PASSES = 4                   # Go's stealWork tries 4 rounds over all Ps
MAX_FREE_WORKERS = 64              # Go's per-P gfree list cap
UNWIND_TRIES = 3                   # GreenletExit throws into a discarded G that parks again
UNWIND_SYSCALL_WAIT = 0.5          # an exiting M waits this long for its Gs' gpm.syscall calls
TEARDOWN_WAIT = 1.0                # s: teardown's wait for a runtime lock once the run crashed
FOREIGN_RECHECK = 0.1              # idle re-check period while plain threads could wake a G
# Wait reasons of objects that plain threads may release without registering (checkdead).
EXTERNAL_WAITS = frozenset({WaitReason.THREADING_LOCK})

_INF = float("inf")
_copy_context = contextvars.copy_context

# Plain threads started through gpm.monkey's patched ``_thread.start_new_thread`` whose function
# has not returned yet, counted from before the start: checkdead sees such a thread before it
# runs, when it is in neither threading.enumerate() nor _thread._count().  Guarded by _raw_lock.
_raw_lock = new_lock()
_raw_threads = 0


def raw_thread_delta(d):
    """Count (+1, before the start) or uncount (-1, when its function returned or the start
    failed) a thread of gpm.monkey's ``_thread.start_new_thread``.  Any thread."""
    global _raw_threads
    with _raw_lock:
        _raw_threads += d


# GPM_DEBUG=checks=1 of the running runtime: G status changes go through
# casgstatus.  Set by start_runtime before any G exists; a module global so the
# unchecked hot path pays one global test.
_checks = False
# GPM_DEBUG=randomize=1 of the running runtime: run-queue order is perturbed
# (RunQueue.perturb, seeded) at each schedule.  Same rule as _checks.
_randomize = False
# GPM_DEBUG=seed=N or randomize=1: the runnext time slice is counted in
# executes (SEEDED_SLICE inherited runs), not wall time, so that with procs=1
# the schedule depends on the seed only.  Same rule as _checks.
_seeded = False
SEEDED_SLICE = 64
_READY_FROM = (Gstatus.WAITING, Gstatus.SYSCALL)
_RUNNABLE, _RUNNING = Gstatus.RUNNABLE, Gstatus.RUNNING   # one global load on the switch paths


class Sched:
    def __init__(self, procs, background=False, debug=None, seed=None, serve_stack_reqs=None):
        self.lock = new_lock("sched")
        self.allglock = new_lock("allg")
        self.procs = procs
        self.background = background          # started by gpm.go outside gpm.run: no main, no checkdead
        self.owner_ident = threading.get_ident()  # the thread that started the runtime (blocked in gpm.run)
        self.hooklock = new_lock()            # guards main_calls and exit_hooks (a leaf)
        self.main_calls = collections.deque() # fns for the thread blocked in gpm.run (gpm.signal)
        self.exit_hooks = []                  # fns run on that thread after the run ends
        self.gmain_run = self.gmain           # one bound method shared by every worker greenlet (set once)
        self.debug = debug if debug is not None else parse_debug(os.environ.get("GPM_DEBUG"))
        if seed is None:
            seed = self.debug.seed
        if seed is None and self.debug.randomize:
            seed = random.SystemRandom().randrange(1 << 32)     # fresh, printed by start_runtime
        self.seed = seed                      # every random choice comes from it (None: unseeded)
        self.randomize = bool(self.debug.randomize)
        # Plain threads' random choices (select poll order); the Ps' are P.rng (seed + i).
        self.rng = random.Random(None if seed is None else seed + procs)
        self.allp = [P(self, i, None if seed is None else seed + i) for i in range(procs)]
        self.runq = collections.deque()       # global run queue (free Gs), guarded by lock
        self.runqsize = 0
        self.pidle = []                       # idle Ps, guarded by lock
        self.npidle = 0
        self.nmspinning = 0
        self.nsyscall = 0                     # goroutines inside gpm.syscall (guarded by lock)
        self.netpoll_waiters = 0              # goroutines parked on the netpoller (netpoll owns it)
        self.netpoller = None                 # netpoll_epoll.Netpoll, created on first use (netpoll.netpollget;
                                              # set once, under netpoll's init lock; read racily: one reference)
        self.foreign = {}                     # plain threads that used gpm objects: ident -> Thread
        self.preexisting = None               # threads alive when api started the Ms (set once there)
        self.allgs = {}                       # goid -> live G (guarded by allglock)
        self.goidgen = 1
        self.stopping = False
        self.forked = False                   # set in a fork child: this runtime's threads are gone there
        self.start_time = nanotime()
        self.ms = []                          # M threads (set by api.start_runtime before any starts)
        self.sysmon = None                    # the Sysmon (set by api.start_runtime)
        # Answers goroutine-stack requests at scheduling points (trace.serve_stack_reqs,
        # injected by api: the scheduler does not import the tracer).
        self.serve_stack_reqs = serve_stack_reqs or _no_stack_server
        self.sysmon_deep = False              # sysmon sleeps until a P leaves idle (guarded by lock)
        self.syscall_pool = None
        # outcome of a gpm.run (guarded by lock; set once)
        self.done = new_sema()
        self.done.acquire()
        self.finished = False
        self.main_result = None
        self.panic_exc = None                 # first uncaught goroutine exception / Deadlock / FatalError
        # Set once by crash() (any thread), never cleared: a runtime thread died
        # of a FatalError and may have left runtime locks held.  Teardown then
        # takes them with a bounded wait (teardown_lock) instead of hanging.
        self.crashed = False

    # -- stopping (api.py starts the threads and joins them) --------------

    def stop(self):
        """Begin shutdown: every M leaves its loop at its next schedule.  Any thread."""
        got = self.teardown_lock(self.lock)
        self.stopping = True
        if got:
            self.lock.release()
        for pp in self.allp:
            pp.wake()
        if self.sysmon is not None:
            self.sysmon.wake()
        if self.syscall_pool is not None:
            self.syscall_pool.shutdown()

    def finish(self, result=None, exc=None):
        """Record the run's outcome (first one wins) and stop.  Any thread."""
        got = self.teardown_lock(self.lock)
        try:
            if self.finished:
                return
            self.finished = True
            self.main_result = result
            self.panic_exc = exc
        finally:
            if got:
                self.lock.release()
        self.stop()
        self.done.release()

    def crash(self, exc):
        """A runtime thread (M, sysmon, syscall pool) dies of ``exc``, a
        FatalError: abort the run.  The dying thread, from its except block.

        The code that failed may have left runtime locks held (hot paths take
        them by hand, without ``with``).  Go exits the process on a throw;
        gpm.run raises the FatalError instead, so nothing may then wait
        forever for such a lock: under lockrank=1 this thread's ranked locks
        are released here (and named); otherwise every teardown step waits at
        most TEARDOWN_WAIT for a lock and skips its work without it.
        """
        left = release_held()
        if left:
            log.error("gpm: the crashed thread held runtime locks %s: released", ", ".join(left))
        self.crashed = True
        self.finish(exc=exc)

    def teardown_lock(self, lock):
        """Acquire ``lock`` for a teardown step; return whether it was.  Blocks
        as usual, or at most TEARDOWN_WAIT once the run crashed (see crash)."""
        if not self.crashed:
            lock.acquire()
            return True
        if lock.acquire(True, TEARDOWN_WAIT):
            return True
        log.error("gpm: a runtime lock stays held by a crashed thread; teardown goes on without it")
        return False

    def call_on_main(self, fn):
        """Queue ``fn()`` for the thread blocked in gpm.run, which runs it within 50 ms.  Any thread.

        For what only that thread may do (Python installs signal handlers on the main thread
        only).  Returns False when no thread waits in gpm.run (a background runtime).  ``fn``
        reports its own outcome; it also runs, late, if the run ends first.
        """
        if self.background:
            return False
        with self.hooklock:
            self.main_calls.append(fn)
        return True

    def run_main_calls(self):
        """Run the queued main-thread calls (the thread blocked in gpm.run only)."""
        while True:
            with self.hooklock:
                if not self.main_calls:
                    return
                fn = self.main_calls.popleft()
            fn()

    def at_exit(self, fn):
        """Run ``fn()`` on gpm.run's thread once the run has ended (its threads joined).  Any thread."""
        with self.hooklock:
            self.exit_hooks.append(fn)

    def run_exit_hooks(self):
        with self.hooklock:
            hooks, self.exit_hooks = self.exit_hooks, []
        for fn in hooks:
            fn()


    # -- discarding goroutines at exit (Go: the program exits) ----------------

    def discard(self, gs):
        """Mark live ``gs`` discarded, drop them from allgs and wake their joiners
        that would otherwise wait forever: plain threads and goroutines of
        another runtime (those of this one are discarded too).  Any thread."""
        wake = []
        if not self.teardown_lock(self.allglock):
            return
        try:
            for gp in gs:
                if gp._done or gp.discarded:
                    continue
                gp.discarded = True
                self.allgs.pop(gp.goid, None)
                js = gp.joiners
                gp.joiners = None
                if js:
                    wake.extend(sg for sg in js if sg.g is None or sg.g.sched is not self)
        finally:
            self.allglock.release()
        for sg in wake:
            sg.wake()

    def discard_all(self):
        """After the Ms stopped: discard every G left (never run, or pinned to an
        M that could not unwind it).  A G still running on a stuck M (it blocks
        its thread in user code) is left alone: it may still finish.  Any thread."""
        if not self.teardown_lock(self.allglock):
            return
        try:
            gs = [gp for gp in self.allgs.values() if gp.status != Gstatus.RUNNING]
        finally:
            self.allglock.release()
        self.discard(gs)

    def unwind(self, pp, withdraw=None):
        """Unwind every greenlet of ``pp``'s M before its thread exits.  Owner M
        only, after ``schedule`` returned (its g0 is dead).

        A started greenlet can be thrown into only from its own thread, and one
        left suspended on an exited thread keeps its frames, and through them
        the whole runtime, alive forever (issue 8, bug 7).  So: idle workers get
        GreenletExit between goroutines and die at once; each goroutine parked
        or queued on this P is discarded (joiners told) and gets GreenletExit at
        its park point, so its ``finally`` blocks and ``with`` exits run on its
        own M.  One that parks again while unwinding is thrown into again, up to
        UNWIND_TRIES times, then left (logged).  A G inside gpm.syscall cannot
        be thrown into while its call runs on a pool thread (its ``finally``
        blocks would run beside the call, e.g. close a file the call reads):
        after the others are unwound, the M waits up to UNWIND_SYSCALL_WAIT for
        those calls to return (the pool thread readies the G, which wakes this
        P's note), then unwinds those Gs the same way; one whose call is still
        running is left (logged): its greenlet stays suspended on the exited
        thread.  ``withdraw(gr)``, if given, runs first on each discarded G's
        parked stack (m.py withdraws its channel waits).
        """
        fw = pp.free_workers
        idle = list(fw)
        fw.clear()
        for gr in idle:
            if not gr.dead:
                gr.throw(GreenletExit)
        if not self.teardown_lock(self.allglock):
            return
        try:
            mine = [gp for gp in self.allgs.values() if gp.pp is pp]
        finally:
            self.allglock.release()
        insys = [gp for gp in mine if gp.status == Gstatus.SYSCALL]
        if insys:
            mine = [gp for gp in mine if gp.status != Gstatus.SYSCALL]
        self._unwind_gs(pp, mine, withdraw)
        if insys:
            returned = self._await_syscalls(pp, insys, UNWIND_SYSCALL_WAIT)
            for gp in insys:
                if gp.status == Gstatus.SYSCALL:
                    log.warning("gpm: goroutine %d was still inside gpm.syscall %.1f s after its run "
                                "ended; its stack is left unwound", gp.goid, UNWIND_SYSCALL_WAIT)
            self._unwind_gs(pp, returned, withdraw)

    def _await_syscalls(self, pp, gs, timeout):
        """Wait up to ``timeout`` seconds until no G of ``gs`` is in status SYSCALL;
        return those that left it.  ``pp``'s M only, in ``unwind``.

        The pool thread's goready puts the G on this P's queue and, under the
        queue's lock, reads ``pp.parked`` to wake the note (as for stopm): the
        status is checked under that lock before sleeping, so no wake-up is lost.
        """
        deadline = nanotime() + timeout
        runq = pp.runq
        while True:
            with runq.lock:
                waiting = any(gp.status == Gstatus.SYSCALL for gp in gs)
                if waiting:
                    pp.parked = True
            left = deadline - nanotime()
            if not waiting or left <= 0:
                break
            pp.note.sleep(left)
            with runq.lock:
                pp.parked = False
        with runq.lock:
            pp.parked = False
        return [gp for gp in gs if gp.status != Gstatus.SYSCALL]

    def _unwind_gs(self, pp, mine, withdraw):
        """Discard ``mine`` (Gs of ``pp``, none inside a syscall) and throw
        GreenletExit into each at its park point.  ``pp``'s M only, in ``unwind``."""
        self.discard(mine)
        for gp in mine:
            gr = gp.gr
            if gr is None or not gp.discarded:
                continue
            if withdraw is not None:
                try:
                    withdraw(gr)
                except Exception:              # noqa: BLE001 - best effort; the unwind goes on
                    log.exception("gpm: withdrawing the channel waits of goroutine %d failed", gp.goid)
            status = gp.status
            for _ in range(UNWIND_TRIES):
                if gr.dead:
                    break
                # Not a scheduler transition: the G runs once more, on its own M,
                # only to unwind; afterwards it keeps its old status so a late
                # goready from a plain thread stays harmless.
                gp.status = Gstatus.RUNNING
                pp.curg = gp
                gr.throw(GreenletExit)
            else:
                if not gr.dead:
                    log.warning("gpm: goroutine %d kept parking while being discarded at exit; "
                                "its stack is left unwound", gp.goid)
            pp.curg = None
            if gp.status == Gstatus.RUNNING:
                gp.status = status
            gp.gr = None

    # -- goroutine creation and exit ---------------------------------------

    def newproc(self, fn, args, kwargs, created=None, cur=None):
        """Create a G running fn(*args, **kwargs) and queue it.  Any thread.

        ``kwargs`` may be None (no keyword arguments: saves a dict per G).
        ``cur``: the caller's ``getcurrent()`` if it has it (gpm.go).

        On an M it goes into the current P's runnext (the spawner keeps
        running, the new G runs next: Go's newproc); from a plain thread it
        goes to the global queue.  Then wakep, so an idle P can steal it.
        """
        if cur is None:
            cur = getcurrent()
        if type(cur) is WorkerGreenlet:       # a goroutine spawns (no getattr calls)
            pp = cur.pp
            parent = cur.gp
        else:
            pp = getattr(cur, "pp", None)     # g0 (a timer's after_func) or a plain thread
            parent = None
        ctx = _copy_context()                 # asyncio's Task rule (API.md "Goroutine context")
        lock = self.allglock
        lock.acquire()                        # not ``with``: half the cost on this hot path
        try:
            if self.stopping and type(cur) is not G0Greenlet:
                # Checked under allglock, which discard_all takes after stopping
                # is set: a G is either registered before it (and discarded by it,
                # so its join says so) or refused here.  Never silently lost.
                # (On g0 a due after_func timer spawns: registered, then discarded.)
                raise RuntimeError("gpm.go: the runtime is stopping (its gpm.run is returning)")
            goid = self.goidgen
            self.goidgen = goid + 1
            gp = G(self, goid, fn, args, kwargs, parent.goid if parent is not None else 0, created, ctx)
            self.allgs[goid] = gp
        finally:
            lock.release()
        if pp is not None and pp.sched is self:
            pp.spawned += 1
            batch = pp.runq.put(gp, True)
            if batch:
                self.globrunqputbatch(batch)
        else:
            self.globrunqputbatch([gp])
        if self.npidle and not self.nmspinning:
            self.wakep()
        return gp

    def goexit(self, pp, gp, result, exc):
        """Finish ``gp`` on its M: publish the result, wake joiners, report a panic."""
        if exc is not None:
            self.gopanic(gp, exc)
        lock = self.allglock
        lock.acquire()
        gp.result = result
        gp.exc = exc
        gp._done = True
        joiners = gp.joiners
        gp.joiners = None
        if _checks:
            casgstatus(gp, Gstatus.RUNNING, Gstatus.DEAD)
        else:
            gp.status = Gstatus.DEAD
        self.allgs.pop(gp.goid, None)         # absent if discarded (unwound at exit)
        lock.release()
        # sleep_timer: its arg is gp, a cycle refcounting cannot free.
        gp.fn = gp.args = gp.kwargs = gp.ctx = gp.locals = gp.sleep_timer = gp.sudog = gp.selcache = None
        if joiners:
            for sg in joiners:
                sg.wake()
        if gp.is_main and exc is None:
            self.finish(result)

    def gopanic(self, gp, exc):
        """An uncaught exception in ``gp``: abort the run (Go's unrecovered panic)."""
        try:
            exc.add_note(f"gpm: raised in goroutine {gp.goid} "
                         f"({getattr(gp.fn, '__qualname__', None) or 'goroutine'})")
        except Exception:
            pass
        if self.background:
            # No gpm.run to re-raise from: report it as threading.excepthook does
            # for a thread; join() on the goroutine re-raises it.
            print(f"gpm: exception in goroutine {gp.goid}:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            return
        self.finish(exc=exc)

    # -- run queues --------------------------------------------------------

    def globrunqputbatch(self, gs):
        """Put free Gs on the global queue.  Any thread."""
        with self.lock:
            self.runq.extend(gs)
            self.runqsize += len(gs)

    def globrunqget(self, pp, maxn):
        """Take a batch from the global queue for ``pp``; return the first G or None.

        Batch size as Go: min(n, n/procs + 1, half the ring); with maxn 1 just one.
        """
        with self.lock:
            n = self.runqsize
            if n == 0:
                return None
            k = 1 if maxn == 1 else min(n, n // self.procs + 1, pp.runq.cap // 2)
            q = self.runq
            batch = [q.popleft() for _ in range(k)]
            self.runqsize = n - k
        if k > 1:
            spill = pp.runq.put_batch(batch[1:])
            if spill:
                self.globrunqputbatch(spill)
        return batch[0]

    # -- waking idle Ps -----------------------------------------------------

    def wakep(self):
        """Wake an idle P's M as a spinner if nobody spins.  Any thread."""
        with self.lock:
            if self.nmspinning or not self.pidle or self.stopping:
                return
            pp = self.pidle.pop()
            self.npidle -= 1
            pp.status = Pstatus.RUNNING
            pp.spinning = True
            self.nmspinning += 1
            deep = self.sysmon_deep
            self.sysmon_deep = False
        pp.wake()
        if deep:
            self.sysmon.wake()

    def resetspinning(self, pp):
        """A spinning M found work: stop spinning and wake another spinner (cascade)."""
        with self.lock:
            if pp.spinning:
                pp.spinning = False
                self.nmspinning -= 1
        if self.npidle and not self.nmspinning:
            self.wakep()

    # -- the scheduler loop (runs on each M's g0) --------------------------

    def schedule(self, pp):
        """The M's loop on g0: findnext, else findrunnable; run_on; repeat until stopping.

        A free G that a goroutine's stack could not start (run_on: no free worker)
        arrives here in ``pp.handoff`` (with ``handoff_inherit``, ``handoff_now``)
        and is started on a new worker.  P fields, not a switch argument: an
        argument tuple would stay referenced from the parked goroutine's stack,
        one object per parked G (two: greenlet's args tuple too).
        """
        g0 = pp.g0
        findrunnable = self.findrunnable
        while True:
            gp = pp.handoff
            if gp is not None:
                pp.handoff = None
                inherit = pp.handoff_inherit
                now = pp.handoff_now
            else:
                now = nanotime()
                gp, inherit = findnext(pp, now, True)
                if gp is None:
                    gp, inherit = findrunnable(pp)
                    if gp is None:
                        return
                    now = nanotime()
                if pp.spinning:
                    self.resetspinning(pp)
            run_on(pp, gp, inherit, now, g0)


    def findrunnable(self, pp):
        """The slow part of Go's findRunnable (after findnext found nothing): local,
        global, netpoll, steal, other Ps' timers, idle (stopm).  On g0 only.

        Returns (gp, inherit) or (None, False) when the runtime stops.
        """
        while True:
            if self.stopping:
                return None, False
            if pp.stack_reqs:
                self.serve_stack_reqs(pp)     # an idle M is woken for a dump's snapshot
            now = nanotime()
            if pp.timer0 <= now:
                check_timers(pp, now)
            gp, inherit = pp.runq.get(True)
            if gp is not None:
                return gp, inherit
            if self.runqsize:
                gp = self.globrunqget(pp, 0)
                if gp is not None:
                    return gp, False
            np = self.netpoller
            if np is not None and self.netpoll_waiters:
                ready = np.netpoll(0.0)
                if ready:
                    goready_list(ready)
                    continue
            # Steal: only if already spinning or spinners are under half the busy Ps.
            if pp.spinning or 2 * self.nmspinning < self.procs - self.npidle:
                if not pp.spinning:
                    with self.lock:
                        pp.spinning = True
                        self.nmspinning += 1
                gp = self.stealwork(pp)
                if gp is not None:
                    return gp, False
            # Other Ps' due timers (Go's stealWork runs them in its last
            # pass): a P whose goroutine does not yield cannot fire its own,
            # and their callbacks may ready Gs pinned here.
            if self.procs > 1 and self.steal_timers(pp, now):
                continue
            self.stopm(pp)

    def steal_timers(self, pp, now):
        """Fire the due timers of every other P; return how many fired.  ``pp``'s M only.

        Lock order: each P's timers lock is taken alone (a leaf) and released
        before the callbacks run, exactly as when the owner fires them
        (timers.py: any M may fire any P's timers).  ``timer0`` is read
        without the lock as a hint (timers.py explains why that is safe).
        """
        fired = 0
        for p2 in self.allp:
            if p2 is not pp and p2.timer0 <= now:
                fired += run_timers(p2, now)
        return fired

    def others_timer0(self, pp):
        """Earliest timer hint of the other non-idle Ps (inf if none).

        An idle P's own M wakes for that P's timers; a running P may be held
        by a goroutine that never yields, so idle Ms wake for its timers too
        and fire them (steal_timers).  Racy reads of status and timer0: a
        stale value costs one early wakeup or, if a P just turned busy, a
        timer is caught at the next wakeup of any idle M or by that P itself.
        """
        t0 = _INF
        for p2 in self.allp:
            if p2 is not pp and p2.status != Pstatus.IDLE:
                w = p2.timer0
                if w < t0:
                    t0 = w
        return t0

    def stealwork(self, pp):
        """Steal half of a random victim's free Gs (Go's runqsteal), 4 passes."""
        allp = self.allp
        n = len(allp)
        if n == 1:
            return None
        rng = pp.rng
        for attempt in range(STEAL_PASSES):
            last = attempt == STEAL_PASSES - 1
            start = rng.randrange(n)
            for i in range(n):
                victim = allp[(start + i) % n]
                if victim is pp:
                    continue
                vq = victim.runq
                # Hint read without the lock; grab() re-checks under it.
                if vq.nfree == 0 and not (last and vq.runnext is not None):
                    continue
                got = vq.grab(steal_runnext=last)
                if got:
                    pp.steals += 1
                    pp.stolen += len(got)
                    if len(got) > 1:
                        spill = pp.runq.put_batch(got[1:])
                        if spill:
                            self.globrunqputbatch(spill)
                    return got[0]
            if self.stopping:
                return None
        return None


    def stopm(self, pp):
        """Idle this P's M until woken (see module doc for the protocol)."""
        with self.lock:
            if self.stopping:
                return
            if self.runqsize:
                return
            if pp.spinning:
                pp.spinning = False
                self.nmspinning -= 1
            pp.status = Pstatus.IDLE
            self.pidle.append(pp)
            self.npidle += 1
        # Recheck after announcing idle (delicate dance).
        if self.runqsize or self._any_stealable(pp):
            self._leave_idle(pp)
            return
        runq = pp.runq
        with runq.lock:
            if not runq.empty():
                busy = True
            else:
                busy = False
                pp.parked = True
        if busy:
            self._leave_idle(pp)
            return
        timeout = None
        t0 = pp.timer0
        if self.procs > 1:
            t0 = min(t0, self.others_timer0(pp))
        if t0 != _INF:
            timeout = max(0.0, t0 - nanotime())
        np = self.netpoller
        if np is not None and self.netpoll_waiters:
            # At most one idle M blocks in epoll (the poller owner) until an fd,
            # its P's next timer or a wake (P.wake); None: another M owns it.
            ready = np.block(pp, timeout)
            if ready is not None:
                with runq.lock:
                    pp.parked = False
                self._leave_idle(pp)
                if ready:
                    goready_list(ready)
                return
        if timeout is None and not self.background:
            verdict = self.checkdead()
            if verdict == "dead":
                with runq.lock:
                    pp.parked = False
                self._leave_idle(pp)
                self.finish(exc=Deadlock("all goroutines are asleep - deadlock!"))
                return
            if verdict == "foreign":
                timeout = FOREIGN_RECHECK
                sm = self.sysmon
                if sm is not None:
                    sm.stuckwarn(nanotime())  # names goroutines stuck on patched locks
        pp.note.sleep(timeout)
        with runq.lock:
            pp.parked = False
        self._leave_idle(pp)


    def _any_stealable(self, pp):
        """stopm's recheck: a free G another P holds that stealwork could take, in its
        ring or in its runnext (stealwork's last pass takes a free runnext).  Racy reads:
        stopm announced idle under Sched.lock first (module doc)."""
        for p2 in self.allp:
            if p2 is not pp:
                q = p2.runq
                if q.nfree:
                    return True
                # Without this, a G spawned into runnext just before this M joined pidle
                # (the spawner read npidle == 0: no wakep) waited for the spawner to yield
                # or for sysmon's retake (100 ms): a lost wakeup.
                nxt = q.runnext
                if nxt is not None and nxt.pp is None:
                    return True
        return False

    def _leave_idle(self, pp):
        with self.lock:
            if pp.status == Pstatus.IDLE:
                self.pidle.remove(pp)
                self.npidle -= 1
                pp.status = Pstatus.RUNNING
            deep = self.sysmon_deep
            self.sysmon_deep = False
        if deep:
            self.sysmon.wake()

    def checkdead(self):
        """Go's checkdead, run by the last M going idle with no timer to wait for.

        Returns "dead" (nothing can ever run again), "foreign" (only a live
        plain thread that used gpm objects could still wake a goroutine: check
        again later) or "alive".  Never a false positive: every source of a
        future goready is counted.  "foreign" becomes "dead" when no plain
        thread could help either (``_owned_deadlock``).
        """
        verdict = self._checkdead()
        if verdict == "foreign" and self._owned_deadlock():
            return "dead"
        return verdict

    def _owned_deadlock(self):
        """Every live goroutine is parked for good, whatever any plain thread does.

        A goroutine is stuck for good when it is parked on an *owned* lock (one only its owner
        may release: the Sudog's ``c`` answers ``_gpm_owner()`` with the owning G, as
        gpm.monkey's RLock does; a Lock has no owner and answers nothing) whose owner is stuck
        for good or has exited, or when it joins a goroutine stuck for good; following owners
        and join targets back to a goroutine already on the path is a cycle: all of it is
        stuck.  Nobody else can release an owned lock, so plain threads cannot end such a wait
        and the run is a deadlock beside them too (a lock-order inversion of RLocks beside a
        live bystander thread).  Called only with every P idle, no timer, no netpoll waiter
        and nothing in gpm.syscall (checkdead's "foreign"), so no goroutine runs meanwhile and
        the fields read (status, waitreason, waiting, the lock's owner: each written by its
        parked goroutine before it parked) stand still.  Takes allglock (nothing under it but
        the owner reads); requires no lock held.
        """
        WAITING, DEAD = Gstatus.WAITING, Gstatus.DEAD
        JOIN = WaitReason.JOIN
        with self.allglock:
            gs = []
            for gp in self.allgs.values():
                st = gp.status
                if st == DEAD:
                    continue
                if st != WAITING or (gp.waitreason != JOIN and gp.waitreason not in EXTERNAL_WAITS):
                    return False              # the common answer, after one goroutine
                gs.append(gp)
            if not gs:
                return False
            joins = {}
            for gp in self.allgs.values():
                for sg in gp.joiners or ():
                    if sg.g is not None:
                        joins[sg.g] = gp
            memo = {}
            for gp in gs:
                path = []
                g = gp
                while True:
                    r = memo.get(g)
                    if r is not None:
                        break
                    if g.status == DEAD:
                        r = True              # an owner that exited holding the lock
                        break
                    if g.status != WAITING or g in path:
                        r = g.status == WAITING   # back on the path: a cycle
                        break
                    path.append(g)
                    nxt = None
                    if g.waitreason == JOIN:
                        nxt = joins.get(g)
                    elif g.waitreason in EXTERNAL_WAITS:
                        sg = g.waiting
                        owner = getattr(sg.c, "_gpm_owner", None) if sg is not None else None
                        nxt = owner() if owner is not None else None
                    if nxt is None:
                        r = False
                        break
                    g = nxt
                for x in path:
                    memo[x] = r
                if not r:
                    return False
            return True

    def _checkdead(self):
        """checkdead's verdict before ``_owned_deadlock``.

        The background runtime is looked at first, before this runtime's own queues: a
        background G that exits drops out of its allgs before it wakes its joiners (goexit),
        and its P goes idle only after those wakes.  So either that P is seen busy, or the
        wake into this runtime's queues happened before and the checks below see it.  (Checked
        after them, a false Deadlock came in 5 of 300 runs on 3.13t: main joined a background
        G whose exit had left allgs but not yet readied main.)
        """
        bg_busy = background_busy(self)
        with self.lock:
            if self.stopping or self.npidle != self.procs or self.runqsize:
                return "alive"
            if self.nsyscall or self.netpoll_waiters:
                return "alive"
            for p2 in self.allp:
                q = p2.runq
                with q.lock:
                    if not q.empty() or q.overflow:
                        return "alive"
                if p2.ntimers:
                    return "alive"
            for ident, th in list(self.foreign.items()):
                if th.is_alive():
                    return "foreign"
                del self.foreign[ident]
        transit, external = self._scan_gs()
        if transit:
            return "foreign"
        if self._new_plain_thread():
            return "foreign"
        if external and self._plain_thread_alive():
            return "foreign"
        if bg_busy:
            return "foreign"                  # a background goroutine could still wake one
        return "dead"

    def _own_threads(self):
        """This runtime's threads: its Ms, sysmon's, its syscall pool's."""
        mine = set(self.ms)
        sm = self.sysmon
        if sm is not None and sm.thread is not None:
            mine.add(sm.thread)
        pool = self.syscall_pool
        if pool is not None:
            mine.update(pool.threads())
        return mine

    def _new_plain_thread(self):
        """A live plain thread started after this runtime (issue 10 bug 3).

        Such a thread may be about to make its first gpm call, or hold a gpm Mutex it took on
        the fast path (which registers nothing): either way it may still wake a goroutine, so
        checkdead must not call the run dead while it lives.  Threads that existed before the
        run and never used a gpm object on a slow path are not counted (pytest's and other
        libraries' helper threads would otherwise turn every deadlock into a hang).  Runtime
        threads are not counted (this runtime's; another's answer through background_busy).
        Requires no lock held (``threading.enumerate`` takes threading's own lock).
        """
        pre = self.preexisting or ()
        mine = self._own_threads()
        for th in threading.enumerate():
            if th in pre or th in mine or th.ident == self.owner_ident:
                continue
            if th.name.startswith("gpm-"):
                continue                      # another runtime's threads (background_busy)
            return True                       # enumerate(): alive, or started and not yet running
        return False

    def _scan_gs(self):
        """One pass over allgs: (transit, external).  Requires no lock held (takes allglock,
        a leaf here).

        transit: a G marked runnable that is not in a queue yet.  goready and newproc set the
        status (or register the G), then queue it, under no lock checkdead holds, so a readier
        is mid-way: look again (100 ms).  Without it, a goready from a plain thread between its
        status write and its append was a false Deadlock when checkdead read the queues before
        the append and the status after the write (3.13t, issue 10:
        test_goroutine_waits_on_lock_held_by_a_plain_thread_is_no_deadlock).

        external: a goroutine is parked on an object any plain thread may release unannounced.
        gpm.monkey's patched locks give plain threads the original C fast path, so such a thread
        never registers in ``foreign``.  Any live plain thread could release one, so while a
        goroutine waits on one and any plain thread lives (``_plain_thread_alive``),
        checkdead answers "foreign" (re-check every 100 ms).  With no plain thread left, a
        deadlock of patched locks alone is "dead" (gpm.Deadlock).
        """
        transit = external = False
        runnable, waiting = Gstatus.RUNNABLE, Gstatus.WAITING
        with self.allglock:
            for gp in self.allgs.values():
                st = gp.status
                if st == runnable:
                    transit = True
                    break
                if st == waiting and gp.waitreason in EXTERNAL_WAITS:
                    external = True
        return transit, external

    def plain_threads(self):
        """The live ``threading.enumerate()`` threads that are no runtime's and not the one
        blocked in gpm.run (what sysmon.stuckwarn names).  Requires no lock held."""
        mine = self._own_threads()
        return [th for th in threading.enumerate()
                if th not in mine and th.ident != self.owner_ident and not th.name.startswith("gpm-")]

    def _plain_thread_alive(self):
        """Some plain thread may still run: one that existed before the run included.

        Counted: every thread in ``threading.enumerate()`` (started or starting) but this
        runtime's own, other runtimes' (background_busy's answer) and the one blocked in
        gpm.run; threads of gpm.monkey's ``_thread.start_new_thread`` from before their start
        (``_raw_threads``); and raw threads started otherwise, which ``_thread._count()`` has
        and enumerate() has not once they run.  Errs towards True (a thread just leaving
        enumerate() is still in ``_count()``).  Requires no lock held.
        """
        if _raw_threads:
            return True
        mine = self._own_threads()
        main = threading.main_thread()
        running = 0                           # enumerate()'s threads that _thread._count() has
        for th in threading.enumerate():
            if th.ident is not None and th is not main and not isinstance(th, threading._DummyThread):
                running += 1
            if th in mine or th.ident == self.owner_ident or th.name.startswith("gpm-"):
                continue
            return True
        return _thread._count() > running

    # -- goroutine body ------------------------------------------------------

    def gmain(self):
        """Body of a worker greenlet: run goroutines one after another, starting
        with the one run_on pinned to it (``me.gp``)."""
        me = getcurrent()
        gp = me.gp
        pp = me.pp
        g0 = pp.g0
        while True:
            try:
                # Each G runs in its own Context: this worker switches to it
                # (greenlet's gr_context; cheaper than Context.run, measured:
                # +5% vs +19% on spawn), so nothing a G sets is seen by the
                # next G this worker runs.
                me.gr_context = gp.ctx
                # Explicit arguments when there are few: CPython 3.11+ runs a
                # Python callee of fn(a, b) in this C frame, while fn(*args)
                # recurses into a new one, which every switch of the G saves
                # and restores (368 bytes of C stack per parked G, measured).
                a = gp.args
                kw = gp.kwargs
                if kw:
                    result = gp.fn(*a, **kw)
                elif not a:
                    result = gp.fn()
                elif len(a) == 1:
                    result = gp.fn(a[0])
                elif len(a) == 2:
                    result = gp.fn(a[0], a[1])
                else:
                    result = gp.fn(*a)
                exc = None
            except BaseException as e:          # noqa: BLE001 - handed to gopanic, never dropped
                if gp.discarded:
                    # Unwound at exit by Sched.unwind: the run is over, no goexit.
                    if not isinstance(e, GreenletExit):
                        log.warning("gpm: goroutine %d raised %r while being discarded at exit",
                                    gp.goid, e)
                    me.gp = None
                    return None
                result = None
                exc = e
                if isinstance(e, FatalError):
                    self.finish(exc=e)
            if self.forked:
                fork_child_exit(exc)          # the goroutine that forked ended in the child
            self.goexit(pp, gp, result, exc)     # no bound-method local: one object less per parked G
            me.gp = None
            gp = result = exc = a = kw = None
            # Schedule from here, without g0 (one switch instead of two): a
            # free G runs right on this worker (run_on pins it to ``me``).
            fw = pp.free_workers
            if len(fw) >= MAX_FREE_WORKERS:
                return None                   # g0 takes over; this worker ends
            now = nanotime()
            gp, inherit = findnext(pp, now)
            if gp is not None:
                gp = run_on(pp, gp, inherit, now, me, True)
            elif self.stopping:
                return None
            else:
                me.gr_context = None          # an idle worker keeps no dead G's values alive
                fw.append(me)
                g0.switch()
                gp = me.gp                    # pinned to this worker by run_on
            if gp is None:
                return None

# -- the park/ready/yield primitives --------------------------------------

def _no_stack_server(pp):
    throw("a goroutine-stack request reached a runtime built without a stack server")


def gopark(unlock, reason, status=Gstatus.WAITING):
    """Park the running goroutine with ``reason``; release ``unlock`` (if any) first.

    Goroutine only.  ``status``: WAITING, or SYSCALL for gpm.syscall.  ``unlock``
    is anything with ``release()`` (a lock, api's sleep timer, syscall's
    hand-over), called once the G has its new status.  Releasing before the
    switch is safe: a waker can only put the G on its home P's queue, and only
    this M (busy running the G until the switch) can resume it.  Returns when
    the G runs again.
    """
    gr = getcurrent()
    gp = gr.gp
    gp.waitreason = reason
    gp.waitsince = now = nanotime()
    if _checks:
        casgstatus(gp, Gstatus.RUNNING, status)
    else:
        gp.status = status
    if unlock is not None:
        unlock.release()
    pp = gr.pp
    nxt, inherit = findnext(pp, now)
    if nxt is None:
        pp.g0.switch()
    else:
        run_on(pp, nxt, inherit, now, gr)


def findnext(pp, now, on_g0=False, yielding=None):
    """What ``pp`` runs next, from the places every switch looks first.  Owner M only.

    The one fast half of Go's findRunnable, used by every switch path:
    ``schedule`` on g0 (``on_g0``), gopark and goexit on the leaving
    goroutine's stack, gosched with the ``yielding`` G (RUNNABLE).  In order:
      1. hold-time accounting of the G that leaves (``curg``), ``last_sched``;
      2. pending goroutine-stack requests (trace.py) are answered;
      3. stopping, or a timer due: on g0 the due timers fire here; elsewhere
         the answer is "go to g0" (timer callbacks may spawn goroutines, and
         a spawn must not copy the leaving goroutine's context);
      4. the global queue, every GLOBAL_CHECK_TICKS-th tick, after a yield
         (``check_global``) or when ``yielding`` and it holds Gs (Go's
         Gosched puts the G on the global queue; gpm queues a pinned G at
         its home ring's tail instead and looks at the global queue first);
      5. the local queue: runnext inherits the time slice while it lasts
         (TIME_SLICE, or SEEDED_SLICE executes when seeded).
    Returns (gp, inherit), or (None, False): on g0 the caller goes on to
    ``findrunnable`` (netpoll, steal, idle); on a goroutine's stack it
    switches to g0.  ``yielding`` is queued behind the local queue by the time
    this returns, unless it is itself the answer (nothing else to run).
    """
    sched = pp.sched
    if pp.curg is not None:
        held = now - pp.curg_since
        if held > pp.longest_hold:
            pp.longest_hold = held
        pp.curg = None
    pp.last_sched = now
    if pp.stack_reqs:
        sched.serve_stack_reqs(pp)
    if pp.timer0 <= now:
        if not on_g0 or sched.stopping:
            if yielding is not None:
                _requeue(pp, yielding)
            return None, False
        check_timers(pp, now)
    if sched.stopping:
        if yielding is not None:
            _requeue(pp, yielding)
        return None, False
    if sched.runqsize and (pp.check_global or yielding is not None
                           or pp.schedtick % GLOBAL_CHECK_TICKS == 0):
        if yielding is not None:
            _requeue(pp, yielding)
            yielding = None
        pp.check_global = False
        gp = sched.globrunqget(pp, 1)
        if gp is not None:
            return gp, False
    pp.check_global = False
    ok = (now - pp.slice_start < TIME_SLICE) if not _seeded else (pp.executed - pp.slice_exec < SEEDED_SLICE)
    q = pp.runq
    if yielding is not None:
        if not _randomize:
            nxt = q.yield_get(yielding, ok)   # requeue + get under one lock
            if nxt is not None:
                return nxt
        _requeue(pp, yielding)
    if _randomize:
        q.perturb(pp.rng)
    return q.get(ok)


def _requeue(pp, gp):
    """A yielding ``gp`` goes behind ``pp``'s local queue; the P looks at the global
    queue on its next tick.  Owner M only."""
    batch = pp.runq.put(gp, False)
    pp.check_global = True
    if batch:
        sched = pp.sched
        sched.globrunqputbatch(batch)
        sched.wakep()


def run_on(pp, gp, inherit, now, me, exiting=False):
    """Go's execute plus the switch: run ``gp`` on ``pp``.  Owner M only.

    ``me`` is the calling greenlet: ``pp.g0``, a goroutine's worker that
    parked or yielded, or (``exiting``) a worker whose goroutine just finished.
      1. a free ``gp`` (never run) is pinned to ``pp`` for life: an exiting
         ``me`` takes it itself; else a worker from the free list; else g0
         makes a new one (from a goroutine's stack, ``gp`` is handed to g0's
         ``schedule``, which calls run_on again: a greenlet started from a
         goroutine's stack would inherit its recursion depth, and chains of
         them overflow);
      2. accounting: a new time slice unless ``inherit``; ``executed``,
         ``curg``; RUNNABLE -> RUNNING;
      3. the switch (none if ``gp`` runs on ``me``: an exiting worker's new
         G, or a yield that picked itself); an exiting ``me`` first joins
         the free list.
    Returns, once ``me`` runs again: on g0 nothing useful (a handoff comes in
    ``pp.handoff``); for an exiting worker the G it runs next (``me.gp``,
    pinned to it by whoever resumed it); otherwise nothing useful.
    """
    gr = gp.gr
    if gr is None:
        if exiting:
            gr = me
        elif pp.free_workers:
            gr = pp.free_workers.pop()
        elif me is pp.g0:
            gr = WorkerGreenlet(pp.sched.gmain_run, me)
            gr.pp = pp
        else:
            pp.handoff = gp                   # for g0's schedule (owner M only)
            pp.handoff_inherit = inherit
            pp.handoff_now = now
            return pp.g0.switch()
        gp.pp = pp
        gr.gp = gp
        gp.gr = gr
    if not inherit:
        pp.schedtick += 1
        pp.slice_start = now
        pp.slice_exec = pp.executed
    pp.executed += 1
    pp.curg = gp
    pp.curg_since = now
    if _checks:
        casgstatus(gp, Gstatus.RUNNABLE, Gstatus.RUNNING)
    else:
        gp.status = _RUNNING
    if gr is me:
        return gp
    if exiting:
        me.gr_context = None                  # an idle worker keeps no dead G's values alive
        pp.free_workers.append(me)
        gr.switch()
        return me.gp
    return gr.switch()


def goready(gp):
    """Make a parked ``gp`` runnable on its home P.  Any thread.

    On the home P's own M it goes to runnext (Go's locality rule: the woken
    partner runs next); from anywhere else it goes to the home P's ring tail
    and the home M is woken if it sleeps.
    """
    if _checks:
        casgstatus(gp, _READY_FROM, Gstatus.RUNNABLE)
    else:
        gp.status = _RUNNABLE
    pp = gp.pp
    if getattr(getcurrent(), "pp", None) is pp:
        rb = pp.readybatch
        if rb is not None:
            rb.append(gp)           # the P fires its timers: readied in fire order
            return
        pp.runqput_next(gp)
        return
    q = pp.runq
    with q.lock:
        q._append(gp)
        wake = pp.parked
    if wake:
        pp.wake()


def goready_list(gs):
    """Make many parked Gs runnable at once (Go's injectglist).  Any thread.

    For close, Cond.broadcast, WaitGroup release and netpoll: each G goes to
    its home P's queue tail in order (no runnext: one woken partner is not
    singled out), one lock acquisition and at most one wake per home P, so
    readying N Gs costs O(N) (RunQueue._extend).  Every G must be pinned
    (a parked G has run, so it is).  A single G takes goready's path.
    """
    if len(gs) == 1:
        goready(gs[0])
        return
    if _checks:
        for gp in gs:
            casgstatus(gp, _READY_FROM, Gstatus.RUNNABLE)
    else:
        runnable = Gstatus.RUNNABLE
        for gp in gs:
            gp.status = runnable
    runqput_home(gs)


def runqput_home(gs):
    """Queue runnable (already marked) pinned Gs on their home Ps, in order.  Any thread.

    A lone G readied on its home P's own M takes runnext, as goready does;
    otherwise one ``_extend`` per home P under its runq lock, and a wake if
    that P's M is parked.
    """
    if len(gs) == 1:
        gp = gs[0]
        pp = gp.pp
        if getattr(getcurrent(), "pp", None) is pp:
            pp.runqput_next(gp)
            return
    byp = {}
    for gp in gs:
        lst = byp.get(gp.pp)
        if lst is None:
            byp[gp.pp] = [gp]
        else:
            lst.append(gp)
    for pp, lst in byp.items():
        q = pp.runq
        q.lock.acquire()
        q._extend(lst)
        wake = pp.parked
        q.lock.release()
        if wake:
            pp.wake()


def gosched() -> None:
    """Yield the P.  The G goes behind the local queue and the P looks at the
    global queue first (findnext's ``yielding``).

    Go puts a yielding G on the global queue, where any M may take it; a
    pinned G could only be run by its own M, so gpm puts it at its home
    ring's tail (Go's goyield) and makes that P check the global queue first
    (ANCHORS.md 7.3).  Both keep Go's fairness: the yielding G runs
    again only after every G queued before it, and global work is not starved.
    """
    gr = getcurrent()
    if type(gr) is not WorkerGreenlet:        # a plain thread (or a fork child's old worker)
        _os_sleep(0)
        return
    gp = gr.gp
    pp = gr.pp
    if _checks:
        casgstatus(gp, Gstatus.RUNNING, Gstatus.RUNNABLE)
    else:
        gp.status = _RUNNABLE
    now = nanotime()
    nxt, inherit = findnext(pp, now, False, gp)
    if nxt is None:
        pp.g0.switch()
    else:
        run_on(pp, nxt, inherit, now, gr)


def note_foreign_thread():
    """Record that the calling plain thread uses gpm objects (checkdead counts it)."""
    th = None
    for sched in clock.runtimes():
        if sched is None:
            continue
        if th is None:
            th = threading.current_thread()
        if th.ident not in sched.foreign:
            with sched.lock:
                sched.foreign[th.ident] = th


# -- runtime lifetime (api.py builds, starts and tears down) ----------------

def set_debug_flags(sched):
    """Make ``sched``'s GPM_DEBUG checks/randomize/seed the scheduler's module flags
    (read once per switch as module globals).  api.start_runtime, before any G runs."""
    global _checks, _randomize, _seeded
    _checks = bool(sched.debug.checks)
    _randomize = sched.randomize
    _seeded = sched.seed is not None


def background_busy(sched):
    """True if a background runtime other than ``sched`` has live goroutines or a P not
    idle (either could still wake one of ``sched``'s: an exiting G has left allgs before
    it wakes its joiners, on a running P).  Any thread; racy reads of one dict's truth and
    one int (checkdead says why the order of its reads makes that enough)."""
    bg = clock.runtimes()[1]
    return bg is not None and bg is not sched and (bool(bg.allgs) or bg.npidle != bg.procs)


# -- fork (os.register_at_fork) ------------------------------------------------

class ForkChildGreenlet(greenlet.greenlet):
    """What a goroutine's worker that called os.fork() becomes in the child:
    a plain greenlet of a plain thread (same layout as WorkerGreenlet)."""
    __slots__ = ("gp", "pp")


def _after_fork_child():
    """In a fork child (clock.py forgets the parent's runtimes first): a
    goroutine that forked goes on in the child as plain code on a plain thread
    (gpm.current() is None there); when its function returns, the child exits
    (fork_child_exit)."""
    gr = getcurrent()
    if type(gr) is WorkerGreenlet:
        gr.__class__ = ForkChildGreenlet
        gr.gp = gr.pp = None


def fork_child_exit(exc=None):
    """End a fork child whose forking goroutine is done, as a Python program
    ends: atexit handlers run, stdio is flushed; status 0, or 1 with the
    traceback if the goroutine raised (SystemExit: its code).  Never returns."""
    code = 0
    if isinstance(exc, SystemExit):
        c = exc.code
        if c is None or isinstance(c, int):
            code = c or 0
        else:
            print(c, file=sys.stderr)
            code = 1
    elif exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
    finally:
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:               # noqa: BLE001 - a closed stream cannot be flushed
                pass
        os._exit(code)


os.register_at_fork(after_in_child=_after_fork_child)
