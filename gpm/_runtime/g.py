"""G (layer L1, data only): a goroutine, its states and wait reasons.

The public handle is api.Goroutine (it refers to the G, never the reverse); joining and everything
that parks lives above this module, which imports only L0 modules.

A G is *free* from ``newproc`` until it first runs: it has no greenlet and may
sit in any P's queue or in the global queue, and thieves may move it.  On its
first ``execute`` it gets a worker greenlet of the M that runs it and becomes
*pinned*: ``gp.pp`` is its home P for life (a started greenlet cannot change
threads; P_i is driven by M_i).  ``gp.pp is None`` <=> free.

Worker greenlets are reused: when a goroutine's function returns, its worker
goes back to its M's free list and later runs the next fresh G on that M (Go's
gfree list; creating a greenlet costs ~12 us here, a switch ~0.6 us).

Field guards:
  goid fn args kwargs parent created   set once in newproc, read-only after
  pp                                   set once by the executing M (free -> pinned)
  status waitreason waitsince          written by the G's own M or by the single
                                       waker that readies it (the Sudog protocol
                                       guarantees one waker); read racily by stats
  gr                                   owner M only
  result exc _done joiners             guarded by ``sched.allglock``
  ctx                                  set once in newproc (a copy of the spawner's
                                       contextvars context); entered only by the G
  locals                               the G's own gpm.local dicts (glocal.py);
                                       written by the G, dropped at goexit
  discarded                            guarded by ``sched.allglock``; set once by
                                       Sched.discard when the run ends with the G alive
                                       (api.Goroutine), or lazily by api.current
  waiting                              the G's own (set before it parks on a patched
                                       threading lock, cleared when it returns); read
                                       racily by sysmon.stuckwarn while the G is parked
"""

from typing import Any

import greenlet

from .errors import FatalError


__all__ = ["G", "Gstatus", "WaitReason", "WorkerGreenlet", "G0Greenlet", "casgstatus", "TRANSITIONS"]


class Gstatus:
    """G states, numbered as Go's runtime2.go."""
    RUNNABLE = 1    # in a run queue
    RUNNING = 2     # on an M
    SYSCALL = 3     # parked in gpm.syscall
    WAITING = 4     # parked (gopark) with a wait reason
    DEAD = 6        # finished

    NAMES = {1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 6: "dead"}


# Legal G status transitions and who performs each (docs/ARCHITECTURE.md, "G states").
# A G is born RUNNABLE (newproc): Go's _Gidle lasts only inside newproc, so gpm has no such state.
TRANSITIONS = {
    (Gstatus.RUNNABLE, Gstatus.RUNNING): "execute: the M of the P that took it from a queue",
    (Gstatus.RUNNING, Gstatus.RUNNABLE): "gosched: the G itself, on its own M",
    (Gstatus.RUNNING, Gstatus.WAITING): "gopark: the G itself, before releasing the wait lock",
    (Gstatus.RUNNING, Gstatus.SYSCALL): "gpm.syscall: the G itself, before releasing pool.lock",
    (Gstatus.RUNNING, Gstatus.DEAD): "goexit: the G's own M after its function returned",
    (Gstatus.WAITING, Gstatus.RUNNABLE): "goready: the single waker (any thread)",
    (Gstatus.SYSCALL, Gstatus.RUNNABLE): "goready: the syscall pool thread that ran the call",
}


def casgstatus(gp, old, new):
    """Change ``gp.status`` from ``old`` (a status or a tuple of them) to ``new``, checked.

    Go's casgstatus.  Called only under ``GPM_DEBUG=checks=1`` (the call
    sites store ``gp.status = new`` directly otherwise, so the check costs one
    global test when off).  An illegal change is a fatal runtime error naming
    both states: it aborts the run (FatalError from ``gpm.run``) and raises.
    The read-then-store is not atomic: a racing illegal change may go
    unnoticed, but a legal one is never reported (the Sudog protocol admits a
    single writer at a time).
    """
    cur = gp.status
    if (cur == old if type(old) is int else cur in old) and (cur, new) in TRANSITIONS:
        gp.status = new
        return
    names = Gstatus.NAMES
    want = names.get(old, old) if type(old) is int else "|".join(names.get(o, str(o)) for o in old)
    _badstatus(gp, f"casgstatus: goroutine {gp.goid}: bad transition from {names.get(cur, cur)} "
                   f"to {names.get(new, new)} (expected from {want})")


def _badstatus(gp, msg):
    fe = FatalError("gpm: fatal error: " + msg)
    sched = getattr(gp, "sched", None)
    if sched is not None:
        sched.finish(exc=fe)         # abort the run even if the raise lands on a plain thread
    raise fe


class WaitReason:
    """Wait reasons; the text matches Go's where Go has one.  Never reuse one."""
    CHAN_RECEIVE = "chan receive"
    CHAN_SEND = "chan send"
    CHAN_RECEIVE_NIL = "chan receive (nil chan)"
    CHAN_SEND_NIL = "chan send (nil chan)"
    SELECT = "select"
    SELECT_NO_CASES = "select (no cases)"
    SLEEP = "sleep"
    IO_WAIT = "IO wait"
    SEMACQUIRE = "semacquire"
    MUTEX_LOCK = "sync.Mutex.Lock"
    RWMUTEX_RLOCK = "sync.RWMutex.RLock"
    RWMUTEX_LOCK = "sync.RWMutex.Lock"
    WAITGROUP_WAIT = "sync.WaitGroup.Wait"
    COND_WAIT = "sync.Cond.Wait"
    JOIN = "goroutine join"
    SYSCALL = "syscall"
    THREADING_LOCK = "threading.Lock.acquire"     # gpm.monkey's patched threading/queue objects
    PREEMPTED = "preempted"     # runnable again after a preemption (shown with status runnable)


class WorkerGreenlet(greenlet.greenlet):
    """A greenlet of one M that runs goroutines one after another (see module doc)."""
    __slots__ = ("gp", "pp")
    gp: Any                         # the G it runs now (owner M only)
    pp: Any                         # its M's P (set once)


class G0Greenlet(greenlet.greenlet):
    """The scheduler greenlet of an M (Go's g0)."""
    __slots__ = ("pp",)
    pp: Any                         # its M's P (set once)


class G:
    """A goroutine (Go's g): what the scheduler, channels and dumps see.
    Users see it only through its handle (api.Goroutine)."""

    __slots__ = (
        "goid", "fn", "args", "kwargs", "parent", "created",
        "pp", "gr", "status", "waitreason", "waitsince",
        "result", "exc", "_done", "joiners",
        "sched", "is_main", "param", "sleep_timer", "ctx", "locals", "discarded", "sudog", "selcache",
        "waiting",
        "__weakref__",
    )
    result: Any                     # fn's return value (guarded by sched.allglock)
    exc: BaseException | None       # fn's exception (guarded by sched.allglock)

    def __init__(self, sched, goid, fn, args, kwargs, parent=0, created=None, ctx=None):
        self.sched = sched
        self.goid = goid
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.parent = parent          # goid of the creator (0: a plain thread)
        self.created = created        # (filename, lineno, funcname) of the go() call
        self.pp = None                # home P once pinned
        self.gr = None                # worker greenlet once running
        self.status = Gstatus.RUNNABLE
        self.waitreason = None
        self.waitsince = 0.0
        self.result = None
        self.exc = None
        self._done = False
        self.joiners = None           # Sudogs waiting in join() (list, made on first join)
        self.is_main = False
        self.param = None             # value handed over by a waker (owned by the parked G)
        self.sleep_timer = None       # reused by gpm.sleep (api._SleepTimer, armed by gopark)
        self.ctx = ctx                # contextvars.Context the G runs in (a copy of the spawner's)
        self.locals = None            # gpm.local storage {_Impl: dict} (glocal.py), dropped at exit
        self.discarded = False        # still alive when its runtime stopped (Sched.discard)
        self.sudog = None             # the Sudog its channel ops reuse (sudog.park_on; the G's own)
        self.selcache = None          # its last all-receive select's (cases, scases, locks, unlock)
        #                               (select.py; the G's own, dropped at exit)
        self.waiting = None           # the Sudog it is parked in on a patched threading lock (Go's
        #                               gp.waiting; ``c`` names the lock): written by the G itself,
        #                               read racily by sysmon's stuck warning

    def __repr__(self) -> str:
        fn = getattr(self.fn, "__qualname__", None) or repr(self.fn)
        return f"<G {self.goid} {Gstatus.NAMES.get(self.status, self.status)} {fn}>"
