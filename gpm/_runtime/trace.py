"""schedtrace/scheddetail lines and goroutine dumps (Go's schedtrace and tracebackothers).
Layer L4: imports clock, g, locks only; the scheduler reaches ``serve_stack_reqs``
through ``Sched.serve_stack_reqs`` (injected by api.py).

  schedtrace_tick(sched, now, sm)   sysmon's hook: print a SCHED line when one is due
                                (the cadence is ``Sysmon.last_trace``)
  schedtrace(sched, detail)     the text of one trace (classic line, plus P/M/G lines)
  dump_goroutines(sched=None)   every goroutine with state, wait, creator and Python stack
  goroutine_stacks(sched=None)  the same data as records (gpm.debug builds profiles on it)

Reads are racy by design, as Go's schedtrace ("may be inconsistent"): the
counters are written by their owner M without a lock (stats.py), and a G's
status/waitreason/waitsince are single reference reads.  Only ``allgs`` is
copied under ``allglock``, because a dict must not be iterated while another
thread resizes it.  Nothing here takes a runtime lock while holding another,
and nothing here is called on a hot path.

Stacks.  A parked G's Python stack is its worker greenlet's saved frame
(``gr.gr_frame``), readable from any thread; a running G's is the current
frame of its M's thread (``sys._current_frames()``); both chains end at the
greenlet's first frame (``Sched.gmain``: greenlet#304).  Frames of the runtime
itself (``gpm/_runtime``, ``gpm/debug.py``) are hidden, as Go hides runtime
frames unless GOTRACEBACK=system, so a sleeping G shows the user's
``gpm.sleep(...)`` line on top.

Whose frames may be read (issue 10).  With a GIL, a thread holding it may read
any thread's frames: the owner of a greenlet cannot resume it meanwhile (what
faulthandler does).  On a free-threaded build that is a crash (``PyFrame_GetCode``
on a frame its owner M is popping: 3 of 4 runs of a dump beside 8 ping-pong
pairs segfaulted), so there (``SNAPSHOT``) a dump reads only its own thread's
greenlets and asks every other M for a snapshot of its own: it appends a
``StackReq`` to each P's ``stack_reqs`` and wakes the P; the M answers at its
next scheduling point (``findnext``, which every switch runs, and findrunnable's
loop), where every greenlet of its thread but the caller's is suspended and
only that thread could resume them.  A goroutine running on an M that does not
reach a scheduling point within ``SNAPSHOT_WAIT`` (a CPU loop, a long C call)
shows "stack unavailable".  The dumper serves its own P's requests while it
waits, so two dumps on two Ms do not wait for each other.

Field guards:
  _stack_lock     a leaf: guards every P's ``stack_reqs`` list (swapped out by its M)
  StackReq.lock   a leaf: guards ``frames`` and ``pending``; ``done`` is set once
                  pending reaches 0
"""

import dataclasses
import linecache
import os
import sys
import threading
from typing import Any

from greenlet import getcurrent

from .g import Gstatus, WaitReason
from .locks import new_lock
from .clock import current_sched, getg, nanotime

__all__ = [
    "schedtrace_tick", "schedtrace", "dump_goroutines", "write_stderr", "goroutine_stacks", "GoroutineRecord",
    "runtime_threads",
]

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_HIDDEN_FILES = (os.path.join(os.path.dirname(_RUNTIME_DIR.rstrip(os.sep)), "debug.py"),)

# A dump beside running Ms snapshots through them (module doc); tests may set it.
SNAPSHOT = bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED")) and not (
    getattr(sys, "_is_gil_enabled", lambda: False)())
SNAPSHOT_WAIT = 0.5                 # seconds a dump waits for the other Ms' snapshots
_stack_lock = new_lock()

# The schedtrace cadence lives on the Sysmon (``last_trace``); the lock keeps a
# test calling the tick directly from racing sysmon.
_trace_lock = new_lock("trace")


# -- SCHED lines ------------------------------------------------------------

def runtime_threads(sched):
    """All live runtime threads: Ms, sysmon, blocking-call pool (for ``threads=``)."""
    threads = list(sched.ms)
    sm = getattr(sched, "sysmon", None)
    if sm is not None and getattr(sm, "thread", None) is not None:
        threads.append(sm.thread)
    pool = getattr(sched, "syscall_pool", None)
    if pool is not None:
        try:
            threads.extend(pool.threads())
        except Exception:          # noqa: BLE001 - observability must not crash sysmon
            pass
    return [t for t in threads if t.ident is not None and t.is_alive()]


def schedtrace(sched, detail=False, now=None) -> str:
    """Go's schedtrace text: one SCHED line, with ``detail`` a line per P, M and G.

    Any thread.  The SCHED line keeps Go's classic fields:
    ms since the runtime started, gomaxprocs, idleprocs (Ps on the idle list),
    threads (live runtime threads: Ms + sysmon + syscall pool), spinningthreads,
    idlethreads (Ms parked on their note plus idle blocking-pool threads), runqueue (global queue length), and
    each P's local queue length (runnext not counted).
    """
    if now is None:
        now = nanotime()
    allp = sched.allp
    threads = runtime_threads(sched)
    idle_ms = sum(1 for pp in allp if pp.parked)
    pool = getattr(sched, "syscall_pool", None)
    idle_ms += len(getattr(pool, "idle", ()) or ())     # racy len of a list: a hint, as Go's
    line = (f"SCHED {int((now - sched.start_time) * 1000)}ms: gomaxprocs={sched.procs} "
            f"idleprocs={sched.npidle} threads={len(threads)} spinningthreads={sched.nmspinning} "
            f"idlethreads={idle_ms} runqueue={sched.runqsize} "
            f"[{' '.join(str(len(pp.runq)) for pp in allp)}]")
    if not detail:
        return line
    out = [line]
    for pp in allp:
        curg = pp.curg
        rn = pp.runq.runnext
        held = f" held={_fmt_dur(now - pp.curg_since)}" if curg is not None else ""
        out.append(
            f"  P{pp.id}: status={pp.status} schedtick={pp.schedtick} m={pp.id} "
            f"runqsize={len(pp.runq)} runnext={'G%d' % rn.goid if rn is not None else 'nil'} "
            f"timerslen={pp.ntimers} executed={pp.executed} steals={pp.steals} "
            f"stolen={pp.stolen} spawned={pp.spawned} preempted={pp.preempted} "
            f"curg={'G%d' % curg.goid if curg is not None else 'nil'}{held}")
    mid = 0
    for pp in allp:
        curg = pp.curg
        out.append(
            f"  M{mid}: p={pp.id} curg={curg.goid if curg is not None else 'nil'} "
            f"spinning={str(pp.spinning).lower()} blocked={str(pp.parked).lower()} "
            f"name=gpm-M{pp.id}")
        mid += 1
    for t in threads:
        if t.name.startswith("gpm-M"):
            continue
        out.append(f"  M{mid}: p=nil curg=nil spinning=false blocked=false name={t.name}")
        mid += 1
    running = {pp.curg.goid: pp.id for pp in allp if pp.curg is not None}
    for gp in _copy_allgs(sched):
        st = gp.status
        reason = gp.waitreason if st in (Gstatus.WAITING, Gstatus.SYSCALL) or (
            st == Gstatus.RUNNABLE and gp.waitreason == WaitReason.PREEMPTED) else ""
        m = running.get(gp.goid) if st == Gstatus.RUNNING else None
        home = gp.pp.id if gp.pp is not None else "nil"
        out.append(f"  G{gp.goid}: status={st}({reason or ''}) m={'nil' if m is None else m} "
                   f"home={home}")
    return "\n".join(out)


def schedtrace_tick(sched, now, sm=None):
    """sysmon's hook, called every round: print a trace if ``schedtrace`` ms passed.

    ``sm`` keeps the cadence (``last_trace``; defaults to ``sched.sysmon``).

    sysmon thread (any thread is safe).  Prints to stderr as Go does, the first
    trace at the first tick.  Returns the text printed, or None.
    """
    period = sched.debug.schedtrace
    if period <= 0:
        return None
    if sm is None:
        sm = sched.sysmon
    with _trace_lock:
        last = sm.last_trace
        if last is not None and now - last < period / 1000.0:
            return None
        # Keep the cadence: the next one is due period ms after the previous
        # due time, unless sysmon slept past it.
        sm.last_trace = now if last is None or now - last > 2 * period / 1000.0 \
            else last + period / 1000.0
    text = schedtrace(sched, bool(sched.debug.scheddetail), now)
    write_stderr(text + "\n")
    return text


def write_stderr(text: str, stream: Any = None) -> None:
    """Write ``text`` to stderr straight to its fd, as Go's runtime does.  Any thread.

    Two threads writing one ``TextIOWrapper`` at once can lose text (its
    pending buffer has no lock), and sysmon's warnings, a dump signal and a
    progress bar may all write stderr together; ``os.write`` of the whole
    text avoids that.  Falls back to ``stream.write`` when there is no real fd
    (pytest's capture, a StringIO).  Best-effort: errors are ignored.
    """
    stream = stream if stream is not None else sys.stderr
    try:
        fd = stream.fileno()
        stream.flush()
    except (AttributeError, OSError, ValueError):     # io.UnsupportedOperation is an OSError
        fd = None
    try:
        if fd is None:
            stream.write(text)
            stream.flush()
            return
        data = text.encode("utf-8", "backslashreplace")
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except (AttributeError, OSError, ValueError):     # stderr closed or gone
        pass


# -- goroutine dumps --------------------------------------------------------

@dataclasses.dataclass
class GoroutineRecord:
    """One goroutine as seen by a dump (plain data; frames innermost first)."""
    goid: int
    status: str                   # Go's status word: runnable running syscall waiting
    waitreason: str | None
    since: float | None           # seconds in this state (waiting/syscall/running), else None
    parent: int                   # goid of the creator, 0 for a plain thread
    created: tuple | None         # (filename, lineno, qualname) of the go() call
    frames: list                  # [(filename, lineno, qualname)], innermost first
    note: str | None              # why there is no stack ("not started", "stack unavailable")
    pid: int | None               # P running it (running) or home P (pinned), None if free
    current: bool = False         # the goroutine that asked for the dump


def _copy_allgs(sched):
    with sched.allglock:
        gs = list(sched.allgs.values())
    gs.sort(key=lambda g: g.goid)
    return gs


def _hidden(filename):
    return filename.startswith(_RUNTIME_DIR) or filename in _HIDDEN_FILES


def _walk(frame):
    """(filename, lineno, qualname) innermost first, runtime frames dropped."""
    out = []
    f = frame
    while f is not None:
        code = f.f_code
        fn = code.co_filename
        if not _hidden(fn):
            out.append((fn, f.f_lineno, code.co_qualname))
        f = f.f_back
    return out


class StackReq:
    """One dump's request for the stacks of other Ms' goroutines (module doc)."""

    __slots__ = ("lock", "frames", "pending", "done")

    def __init__(self, pending):
        self.lock = new_lock()
        self.frames = {}            # goid -> frames, written by the answering Ms
        self.pending = pending      # Ms yet to answer
        self.done = threading.Event()

    def answer(self, frames):
        with self.lock:
            self.frames.update(frames)
            self.pending -= 1
            last = self.pending == 0
        if last:
            self.done.set()


def _own_stacks(sched, pp):
    """goid -> frames of every started goroutine pinned to ``pp``.  ``pp``'s M only:
    its other greenlets are suspended and only this thread can resume them."""
    me = getcurrent()
    with sched.allglock:
        gs = [gp for gp in sched.allgs.values() if gp.pp is pp]
    out = {}
    for gp in gs:
        gr = gp.gr
        if gr is None or getattr(gr, "pp", None) is not pp or getattr(gr, "gp", None) is not gp:
            continue
        fr = sys._getframe() if gr is me else gr.gr_frame
        out[gp.goid] = _walk(fr)
    return out


def serve_stack_reqs(pp):
    """Answer the pending StackReqs of ``pp`` (its M only, at a scheduling point)."""
    with _stack_lock:
        reqs = pp.stack_reqs
        pp.stack_reqs = []
    if reqs:
        frames = _own_stacks(pp.sched, pp)
        for req in reqs:
            req.answer(frames)


def _snapshot(sched):
    """goid -> frames from every M (free-threaded builds; module doc).  Any thread."""
    mine = getattr(getcurrent(), "pp", None)
    if mine is not None and mine.sched is not sched:
        mine = None
    others = [pp for pp in sched.allp if pp is not mine and pp.g0 is not None]
    req = StackReq(len(others))
    for pp in others:
        with _stack_lock:
            pp.stack_reqs.append(req)
        pp.wake()
    frames = {}
    if mine is not None:
        if mine.stack_reqs:
            serve_stack_reqs(mine)      # a dumping goroutine is its M's scheduling point
        frames = _own_stacks(sched, mine)
    deadline = nanotime() + SNAPSHOT_WAIT
    while others and not req.done.wait(0.002):
        if mine is not None and mine.stack_reqs:
            serve_stack_reqs(mine)
        if nanotime() >= deadline:
            break
    for pp in others:                   # withdraw it where it was not answered
        with _stack_lock:
            if req in pp.stack_reqs:
                pp.stack_reqs.remove(req)
    with req.lock:
        frames.update(req.frames)
    return frames


def goroutine_stacks(sched: Any = None) -> "list[GoroutineRecord]":
    """A record per live goroutine, the caller's own goroutine first, then by id.

    Any thread.  Best-effort snapshot (see the module doc).
    """
    sched = sched or current_sched()
    if sched is None:
        return []
    now = nanotime()
    me = getg()
    myident = threading.get_ident()
    snap = _snapshot(sched) if SNAPSHOT else None
    frames_by_thread = sys._current_frames() if snap is None else {}
    running = {}
    for pp in sched.allp:
        gp = pp.curg
        if gp is not None and pp.id < len(sched.ms):
            running[gp.goid] = (pp, sched.ms[pp.id].ident)
    recs = []
    for gp in _copy_allgs(sched):
        st = gp.status
        reason = None
        since = None
        note = None
        frames = []
        pid = gp.pp.id if gp.pp is not None else None
        if gp is me:
            st = Gstatus.RUNNING
            frames = _walk(sys._getframe() if snap is not None else frames_by_thread.get(myident))
            pp = gp.pp
            since = now - pp.curg_since if pp is not None and pp.curg is gp else None
        elif st == Gstatus.RUNNING:
            pp, ident = running.get(gp.goid, (None, None))
            if pp is not None:
                since = now - pp.curg_since
                pid = pp.id
                frames = _walk(frames_by_thread.get(ident)) if snap is None else snap.get(gp.goid, [])
                if pp.curg is not gp:
                    frames = []
            if not frames:
                note = "goroutine running on other thread; stack unavailable"
        else:
            if st in (Gstatus.WAITING, Gstatus.SYSCALL) or (
                    st == Gstatus.RUNNABLE and gp.waitreason == WaitReason.PREEMPTED):
                # A preempted G is runnable; the reason says why it is not running.
                reason = gp.waitreason
                since = now - gp.waitsince if gp.waitsince else None
            gr = gp.gr
            if gr is None:
                fn = gp.fn
                code = getattr(fn, "__code__", None)
                if code is not None:
                    frames = [(code.co_filename, code.co_firstlineno, code.co_qualname)]
                note = "not started"
            else:
                if snap is not None:
                    frames = snap.get(gp.goid, [])
                else:
                    fr = gr.gr_frame if getattr(gr, "gp", None) is gp else None
                    frames = _walk(fr)
                if not frames:
                    note = "stack unavailable"
        recs.append(GoroutineRecord(
            goid=gp.goid, status=Gstatus.NAMES.get(st, str(st)), waitreason=reason, since=since,
            parent=gp.parent, created=gp.created, frames=frames, note=note, pid=pid,
            current=gp is me))
    recs.sort(key=lambda r: (not r.current, r.goid))
    return recs


def _fmt_dur(d):
    if d < 1.0:
        return f"{d * 1000:.0f}ms"
    if d < 60.0:
        return f"{d:.2f}s"
    m = int(d // 60)
    return f"{m} minute" if m == 1 else f"{m} minutes"


def _fmt_frame(filename, lineno, name, source=True):
    s = f'  File "{filename}", line {lineno}, in {name}'
    if source:
        text = linecache.getline(filename, lineno).strip()
        if text:
            s += "\n    " + text
    return s


def format_record(r) -> str:
    """Go's goroutine header, then the stack innermost first, then "created by"."""
    state = r.waitreason if r.status in ("waiting", "syscall") and r.waitreason else r.status
    if r.status == "runnable" and r.waitreason:
        state = f"runnable ({r.waitreason})"          # e.g. "runnable (preempted)"
    head = f"goroutine {r.goid} [{state}"
    if r.since is not None:
        head += f", {_fmt_dur(r.since)}"
    if r.pid is not None:
        head += f", P{r.pid}"
    head += "]:"
    lines = [head]
    if r.note == "not started":
        lines.append("  (not started)")
    elif r.note:
        lines.append(f"  ({r.note})")
    for fr in r.frames:
        lines.append(_fmt_frame(*fr))
    if r.created is not None:
        fn, ln, q = r.created
        who = f"in goroutine {r.parent}" if r.parent else "on a plain thread"
        lines.append(f"created by {q} {who}")
        lines.append(_fmt_frame(fn, ln, q, source=False))
    return "\n".join(lines)


def dump_goroutines(sched: Any = None) -> str:
    """Text of every goroutine, like Go's SIGQUIT dump (any thread; best-effort).

    Per goroutine: ``goroutine <id> [<state or wait reason>, <time in it>, P<n>]:``,
    its Python stack (most recent call first; parked goroutines too), and
    ``created by <function> in goroutine <id>`` with the go() call's location.
    The caller's own goroutine comes first.  Empty string when no runtime runs.
    """
    sched = sched or current_sched()
    if sched is None:
        return ""
    recs = goroutine_stacks(sched)
    head = (f"gpm: {len(recs)} goroutines, gomaxprocs={sched.procs}, "
            f"uptime {_fmt_dur(nanotime() - sched.start_time)} (stacks: most recent call first)")
    return head + "\n\n" + "\n\n".join(format_record(r) for r in recs) + "\n"

