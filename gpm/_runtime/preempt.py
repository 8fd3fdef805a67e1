"""preempt: asynchronous preemption of a goroutine that holds its P past the time slice.

Go 1.14's sysmon calls ``preemptone(pp)`` when one G has run on a P for
``forcePreemptNS`` (10 ms); the G stops at its next safe point and goes back
to a run queue (``gopreempt_m``, which is ``goschedImpl``).  gpm does the same
on CPython 3.12+ with ``sys.monitoring`` (PEP 669).  A request travels
sysmon -> flag -> event -> yield:

  1. sysmon (``preempt_tick``, called from ``sysmon_tick`` every round) sees a
     P whose current G has run for TIME_SLICE while something else waits for
     that P (its local queue, a due timer, the global queue with no idle P, or
     the run is stopping).  It records ``PreemptReq(gp, tick)`` in
     ``pp.preempt_req``; ``tick`` is ``pp.executed`` at that moment, so a
     request for a G that has since left the P is recognisably stale.
  2. It arms monitoring events (JUMP and CALL) for gpm's tool id:
       "local" (builds with a GIL): holding the GIL, it reads the M thread's
         current frame (``sys._current_frames``, as blockwarn does) and enables
         local events (``set_local_events``) on the code objects of the
         goroutine's *user* frames that sit directly above its worker base
         (``Sched.gmain``), the "safe prefix".  Under the GIL the other thread
         cannot pop a frame while we read it.  Arms are refcounted per code
         object: several requests may share code.
       "global" (free-threaded builds): reading another thread's live frames
         is a crash hazard there, so sysmon enables the two events globally
         for the tool instead (CPython stops the world to instrument every
         thread's executing code); the first callback on the hog's own thread
         narrows them to local events on its own safe prefix (its own frames
         are safe to read) and turns the global ones off.  A global arm
         nobody answers within GLOBAL_ARM_MAX is dropped and retried a slice
         later, so other threads pay for it only briefly.
  3. The callback runs on whatever thread hits an armed event.  It returns at
     once unless the running greenlet is the requested G on the requested P
     with the same tick.  A *safe point* is an event whose whole stack, from
     the event's frame down to ``Sched.gmain``, is user code (not gpm, not
     the standard library, not site-packages; see ``is_user_file``) or a
     registered call-out frame of gpm (``register_callouts``: WaitGroup.go's
     wrapper), with room left below the recursion limit.  That excludes every
     frame where gpm holds a runtime lock (a ``__del__`` run by the GC inside
     runtime code, say) and library code that may hold a ``threading`` lock.
     At a safe point it disarms the request and yields.
  4. The yield is ``gosched()`` (the G goes to its home ring's tail and runs
     again later on the same P: it is pinned), called through
     ``sys.call_tracing``.  CPython raises ``tstate->tracing`` around every
     monitoring callback and greenlet does not save that counter; switching
     greenlets right inside the callback would leave it raised for the
     goroutines that run next, so no ``sys.monitoring`` tool (coverage, a
     debugger, our own preemption) and no ``sys.settrace`` function would
     see their events until the preempted G resumed (measured on 3.12.1 and
     3.13.0: tests/runtime/test_preempt.py).  ``call_tracing`` resets the
     counter to 0 around the call and restores it on return, so every switch
     happens with it at 0 and each greenlet gets its own value back.

Cost: with no request pending no event is enabled anywhere: a program with no
hog runs exactly the code it ran without preemption (sysmon's check is a few
attribute reads per P per round).  A preemption costs sysmon one frame walk
and a few ``set_local_events`` calls (tens of microseconds), and the hog one
callback, one stack walk and one gosched.

Unavailable (``available()`` is False): Python < 3.12, or
``GPM_DEBUG=asyncpreemptoff=1`` (checked per runtime), or no free tool id
(ids 3 and 4, the ones PEP 669 leaves to no one; one warning).  A G inside
one long C call never reaches an event: blockwarn still reports it.

Field guards:
  _lock        the last lock rank ("preempt": nothing is acquired under it;
               set_local_events and set_events are C calls that run no user
               code; the callback takes it under whatever lock its thread holds).  Guards
               ``pp.preempt_req`` of every P, ``_armed``, ``_nglobal``, the
               fields of every PreemptReq, and the tool state below.
  _tool        tool id in use, None before first use / after release
  _failed      True once no tool id could be had (warned once per process)
  _armed       code object -> number of requests that armed it (local events)
  _nglobal     requests holding the global arm
  _user_cache  filename -> bool; dict item reads and writes are atomic, and a
               racing duplicate computation stores the same value
  _callouts    code objects of gpm frames that call user code holding no lock
               (set at import time, read-only after)
  pp.preempted owner M only (the callback runs on it); read racily by stats
"""

import logging
import os
import site
import sys
import sysconfig

from greenlet import getcurrent

from .g import WaitReason
from .clock import nanotime
from .locks import new_lock
from .sched import Sched, TIME_SLICE, gosched

__all__ = [
    "SUPPORTED", "MODE", "PreemptReq", "available", "preempt_tick", "request", "cancel",
    "preempt_all", "release", "register_callouts", "is_user_file", "TOOL_NAME", "next_check",
]

log = logging.getLogger("gpm")

SUPPORTED = sys.version_info >= (3, 12) and hasattr(sys, "monitoring")
_FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and not (
    getattr(sys, "_is_gil_enabled", lambda: False)())
# "local" reads the hog's frames from sysmon under the GIL; "global" never
# reads another thread's frames (module doc).  Tests may set it to either.
MODE = "global" if _FREE_THREADED else "local"

TOOL_NAME = "gpm-preempt"
_TOOL_IDS = (4, 3)                 # PEP 669 reserves 0 debugger, 1 coverage, 2 profiler, 5 optimizer
GLOBAL_ARM_MAX = 0.002             # seconds a global arm may stay unanswered
STACK_MARGIN = 50                  # frames kept free below the recursion limit at a safe point
MAX_WALK = 100_000                 # bound on any frame walk
_INF = float("inf")

_lock = new_lock("preempt")
_tool = None
_failed = False
_armed: dict = {}
_nglobal = 0
_user_cache: dict = {}
_callouts: set = set()
_gmain_code = None                 # Sched.gmain's code: the base of every goroutine stack
_EVENTS = 0
if SUPPORTED:
    _M = sys.monitoring                  # type: ignore[attr-defined]  # 3.12+
    _EVENTS = _M.events.JUMP | _M.events.CALL


class PreemptReq:
    """One preemption request for ``gp`` running on ``pp`` (guarded by ``_lock``)."""
    __slots__ = ("gp", "pp", "tick", "codes", "glob", "armed_at")

    def __init__(self, gp, pp, tick, now):
        self.gp = gp
        self.pp = pp
        self.tick = tick          # pp.executed when requested: a later execute makes it stale
        self.codes = []           # code objects this request armed (local events)
        self.glob = False         # holds the global arm
        self.armed_at = now       # when it was last armed (sysmon's clock)


# -- which code is "user" code ------------------------------------------------

def _excluded_dirs():
    dirs = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = paths.get(key)
        if p:
            dirs.add(p)
    for p in (sys.base_prefix, sys.base_exec_prefix):
        dirs.add(os.path.join(p, "lib"))
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:        # some embedded/venv sites lack it
        pass
    try:
        dirs.add(site.getusersitepackages())
    except AttributeError:
        pass
    gpm_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # gpm/
    dirs.add(gpm_dir)
    out = []
    for d in dirs:
        d = os.path.abspath(d)
        out.append(d.rstrip(os.sep) + os.sep)
        rp = os.path.realpath(d)
        if rp != d:
            out.append(rp.rstrip(os.sep) + os.sep)
    return tuple(out)


_EXCLUDED = _excluded_dirs()


def is_user_file(filename) -> bool:
    """True if code from ``filename`` is the program's own (a place to preempt).

    Not user code: gpm itself, the standard library, site-packages (library
    code may hold a ``threading`` lock that another goroutine of the same M
    would then block on), frozen modules.  Any thread.
    """
    r = _user_cache.get(filename)
    if r is None:
        if filename.startswith("<frozen"):
            r = False
        elif filename.startswith("<"):
            r = True                               # exec/compile of the user's strings
        else:
            f = os.path.abspath(filename)
            r = not f.startswith(_EXCLUDED)
        _user_cache[filename] = r
    return r


def register_callouts(*fns):
    """Mark the functions nested in ``fns`` as transparent call-out frames.

    For gpm frames whose only job is to call user code while holding no lock
    (WaitGroup.go's wrapper): a safe point may have them below it.
    Import time only.
    """
    for fn in fns:
        for const in fn.__code__.co_consts:
            if hasattr(const, "co_code"):
                _callouts.add(const)


def _gmain():
    global _gmain_code
    if _gmain_code is None:
        _gmain_code = Sched.gmain.__code__
    return _gmain_code


def _safe_prefix(frame):
    """Code objects of the user frames directly above gmain in ``frame``'s chain.

    Returns None if the chain does not end in gmain (not a goroutine's stack).
    The caller must be the frames' own thread, or hold the GIL on a GIL build.
    """
    gmain = _gmain()
    chain = []
    f = frame
    n = 0
    while f is not None and n < MAX_WALK:
        chain.append(f.f_code)
        f = f.f_back
        n += 1
    f = None
    try:
        base = chain.index(gmain)
    except ValueError:
        return None
    codes = []
    seen = set()
    callouts = _callouts
    for i in range(base - 1, -1, -1):
        c = chain[i]
        if c in callouts:
            continue
        if not is_user_file(c.co_filename):
            break
        if c not in seen:
            seen.add(c)
            codes.append(c)
    return codes


def _is_safe_point(frame):
    """True if every frame from ``frame`` down to gmain is user code or a
    call-out, with STACK_MARGIN frames left below the recursion limit.
    Runs on the frame's own thread."""
    gmain = _gmain()
    callouts = _callouts
    user = is_user_file
    limit = sys.getrecursionlimit() - STACK_MARGIN
    f = frame
    depth = 0
    while f is not None:
        code = f.f_code
        if code is gmain:
            return depth < limit
        if code not in callouts and not user(code.co_filename):
            return False
        depth += 1
        if depth >= limit:
            return False
        f = f.f_back
    return False


# -- tool id ---------------------------------------------------------------------

def _acquire_tool():
    """Take a free tool id and register the callbacks.  Requires _lock held."""
    global _tool, _failed
    if _tool is not None:
        return _tool
    if _failed:
        return None
    M = _M
    for tid in _TOOL_IDS:
        if M.get_tool(tid) is not None:
            continue
        try:
            M.use_tool_id(tid, TOOL_NAME)
        except ValueError:        # taken meanwhile
            continue
        M.register_callback(tid, M.events.JUMP, _on_event)
        M.register_callback(tid, M.events.CALL, _on_event)
        _tool = tid
        return tid
    _failed = True
    log.warning("gpm: preemption is off: sys.monitoring tool ids %s are all in use "
                "(blockwarn still reports goroutines that hold their P)",
                " and ".join(str(t) for t in _TOOL_IDS))
    return None


def available(sched) -> bool:
    """Whether preemption may be used for ``sched`` (before any tool id is taken)."""
    return SUPPORTED and not sched.debug.asyncpreemptoff and not _failed


def release():
    """Drop every arm and give the tool id back (the run has ended).  Any thread."""
    global _tool, _nglobal
    with _lock:
        tid = _tool
        if tid is None:
            return
        M = _M
        try:
            for code in _armed:
                M.set_local_events(tid, code, 0)
            if _nglobal:
                M.set_events(tid, 0)
            M.register_callback(tid, M.events.JUMP, None)
            M.register_callback(tid, M.events.CALL, None)
            M.free_tool_id(tid)
        except ValueError:        # someone freed our id under us: nothing left to undo
            pass
        _armed.clear()
        _nglobal = 0
        _tool = None


# -- arming ------------------------------------------------------------------------

def _arm_codes(req, codes):
    """Enable local events on ``codes`` for ``req``.  Requires _lock held."""
    M = _M
    tid = _tool
    for code in codes:
        n = _armed.get(code, 0)
        if n == 0:
            try:
                M.set_local_events(tid, code, _EVENTS)
            except (ValueError, SystemError):   # tool freed under us / a shim code object
                continue
        _armed[code] = n + 1
        req.codes.append(code)


def _disarm_locked(req):
    """Drop everything ``req`` armed.  Requires _lock held."""
    global _nglobal
    M = _M
    tid = _tool
    for code in req.codes:
        n = _armed.get(code, 0) - 1
        if n <= 0:
            _armed.pop(code, None)
            if tid is not None:
                try:
                    M.set_local_events(tid, code, 0)
                except ValueError:
                    pass
        else:
            _armed[code] = n
    req.codes = []
    if req.glob:
        req.glob = False
        _nglobal -= 1
        if _nglobal == 0 and tid is not None:
            try:
                M.set_events(tid, 0)
            except ValueError:
                pass


def _arm(sched, req, now):
    """Arm events for ``req`` (sysmon thread).  Requires _lock held."""
    global _nglobal
    req.armed_at = now
    if MODE == "global":
        if _nglobal == 0:
            try:
                _M.set_events(_tool, _EVENTS)
            except ValueError:            # our tool id was freed under us
                return
        _nglobal += 1
        req.glob = True
        return
    pp = req.pp
    try:
        ident = sched.ms[pp.id].ident
    except IndexError:
        return
    frame = sys._current_frames().get(ident)
    if frame is None:
        return
    codes = _safe_prefix(frame)
    frame = None
    if codes:
        _arm_codes(req, codes)


def request(sched, pp, gp, tick, now):
    """Request preemption of ``gp`` on ``pp`` (Go's preemptone).  sysmon thread.

    Returns the PreemptReq, or None if preemption is unavailable.
    """
    with _lock:
        if pp.preempt_req is not None:
            return pp.preempt_req
        if _acquire_tool() is None:
            return None
        req = PreemptReq(gp, pp, tick, now)
        pp.preempt_req = req
        _arm(sched, req, now)
        return req


def cancel(req):
    """Withdraw ``req`` if it is still pending; True if this call did it.  Any thread."""
    with _lock:
        if req.pp.preempt_req is not req:
            return False
        req.pp.preempt_req = None
        _disarm_locked(req)
        return True


def _others_waiting(sched, pp, now):
    """Something other than the running G wants this P (racy hints, as Go's retake)."""
    if not pp.runq.empty() or pp.timer0 <= now or sched.stopping:
        return True
    return bool(sched.runqsize) and not sched.npidle


def preempt_tick(sched, now, force=False):
    """sysmon's step: request preemption of Gs past the slice; tidy stale requests.

    Returns the list of P ids a request was made for this round.  sysmon
    thread.  ``force`` requests it for every running G (the run is stopping).
    """
    made = []
    for pp in sched.allp:
        req = pp.preempt_req
        gp = pp.curg
        tick = pp.executed
        if req is not None:
            if req.gp is not gp or req.tick != tick:
                cancel(req)                       # stale: that G left the P
            else:
                _refresh(sched, req, now)
                continue
        if gp is None:
            continue
        if not force and (now - pp.curg_since < TIME_SLICE or not _others_waiting(sched, pp, now)):
            continue
        if request(sched, pp, gp, tick, now) is not None:
            made.append(pp.id)
    return made


def _refresh(sched, req, now):
    """A pending request: drop an unanswered global arm, re-arm an empty one."""
    global _nglobal
    with _lock:
        if req.pp.preempt_req is not req:
            return
        if req.glob:
            if now - req.armed_at > GLOBAL_ARM_MAX:
                _disarm_locked(req)               # the hog is in C code: retry a slice later
            return
        if not req.codes and now - req.armed_at >= (TIME_SLICE if MODE == "global" else 0.0):
            _arm(sched, req, now)


def next_check(sched, now):
    """When sysmon should look again: the earliest end of a running G's time
    slice, or for a G already past it, its P's next timer.  sysmon thread."""
    if _failed:
        return _INF
    t = _INF
    for pp in sched.allp:
        if pp.curg is None:
            continue
        req = pp.preempt_req
        if req is not None:
            cand = req.armed_at + GLOBAL_ARM_MAX if req.glob else _INF
        else:
            cand = pp.curg_since + TIME_SLICE
            if cand <= now:
                cand = pp.timer0
        if now < cand < t:
            t = cand
    return t


def preempt_all(sched):
    """Request preemption of every running G (the run stops: let the Ms exit)."""
    if not available(sched):
        return []
    return preempt_tick(sched, nanotime(), force=True)


# -- the event ----------------------------------------------------------------------

def _on_event(code, offset, *rest):
    """sys.monitoring callback for JUMP and CALL (any thread; returns None)."""
    gr = getcurrent()
    gp = getattr(gr, "gp", None)
    if gp is None:
        return None
    pp = gr.pp
    req = pp.preempt_req
    if req is None:
        return None                        # armed for another P's G (shared code)
    if req.gp is not gp or req.tick != pp.executed:
        cancel(req)
        return None
    frame = sys._getframe(1)
    if not _is_safe_point(frame):
        if req.glob:
            _narrow(req, frame)
        frame = None
        return None
    frame = None
    if not cancel(req):
        return None                        # sysmon withdrew it meanwhile
    pp.preempted += 1
    sys.call_tracing(_preempt_yield, (gp,))
    return None


def _narrow(req, frame):
    """Global arm answered outside a safe point: switch to local events on
    this thread's own safe prefix and drop the global arm."""
    codes = _safe_prefix(frame)
    with _lock:
        if req.pp.preempt_req is not req or not req.glob:
            return
        _disarm_locked(req)
        if codes:
            _arm_codes(req, codes)


def _preempt_yield(gp):
    """Yield the P as gosched does, marked as preempted (dumps show it)."""
    now = nanotime()
    gp.waitreason = WaitReason.PREEMPTED
    gp.waitsince = now
    # The preempted G's slice is over: a new one starts for whoever runs
    # next, so the G woken meanwhile (runnext, e.g. by a due timer) runs
    # first, as after Go's gopreempt_m, instead of being sent behind the
    # preempted G for having "used up" a slice that was not its own.
    gp.pp.slice_start = now
    try:
        gosched()
    finally:
        if gp.waitreason is WaitReason.PREEMPTED:
            gp.waitreason = None
